/* Versions, statuses, contexts, parameters, the arena and the tape's error
 * contract: everything an op relies on, tested white-box where needed. */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "check_util.h"
#include "lib/core/arena.h"
#include "lib/core/context.h"
#include "lib/core/struct_io.h"

START_TEST(version_matches_header)
{
    ck_assert_uint_eq(adapt_version_number(), ADAPT_VERSION_NUMBER);
    char want[32];
    snprintf(want, sizeof want, "%d.%d.%d", ADAPT_VERSION_MAJOR, ADAPT_VERSION_MINOR,
             ADAPT_VERSION_PATCH);
    ck_assert_str_eq(adapt_version_string(), want);
}
END_TEST

START_TEST(status_strings_are_distinct)
{
    for (int a = ADAPT_ERR_INTERNAL; a <= ADAPT_OK; a++) {
        ck_assert_str_ne(adapt_status_string((adapt_status)a), "unknown status");
        for (int b = ADAPT_ERR_INTERNAL; b < a; b++)
            ck_assert_str_ne(adapt_status_string((adapt_status)a),
                             adapt_status_string((adapt_status)b));
    }
    ck_assert_str_eq(adapt_status_string((adapt_status)-999), "unknown status");
}
END_TEST

START_TEST(context_params_are_validated)
{
    adapt_context *ctx = (adapt_context *)0x1;
    adapt_context_params p;
    adapt_context_params_init(&p, sizeof p);
    p.n_threads = -2;
    TU_FAILS(adapt_context_create(&ctx, &p), ADAPT_ERR_INVALID_ARGUMENT);
    adapt_context_params_init(&p, sizeof p);
    p.backend = 42;
    TU_FAILS(adapt_context_create(&ctx, &p), ADAPT_ERR_INVALID_ARGUMENT);
    adapt_context_params_init(&p, sizeof p);
    p.struct_size = 0;
    TU_FAILS(adapt_context_create(&ctx, &p), ADAPT_ERR_INVALID_ARGUMENT);
    if (!adapt_backend_available(ADAPT_BACKEND_ONEDNN)) {
        adapt_context_params_init(&p, sizeof p);
        p.backend = ADAPT_BACKEND_ONEDNN;
        TU_FAILS(adapt_context_create(&ctx, &p), ADAPT_ERR_UNSUPPORTED);
    }
    ck_assert_ptr_eq(ctx, (adapt_context *)0x1);
    TU_FAILS(adapt_context_create(NULL, NULL), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_context_set_grad(NULL, 1), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_context_set_threads(NULL, 1), ADAPT_ERR_INVALID_ARGUMENT);
    adapt_context_params_init(&p, sizeof p);
    p.n_threads = ADAPT_MAX_THREADS + 1;
    TU_FAILS(adapt_context_create(&ctx, &p), ADAPT_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_eq(ctx, (adapt_context *)0x1);
    adapt_context *one = tu_context_threads(ADAPT_BACKEND_REFERENCE, 1);
    TU_FAILS(adapt_context_set_threads(one, 100000), ADAPT_ERR_INVALID_ARGUMENT);
    TU_OK(adapt_context_set_threads(one, 2));
    adapt_context_free(one);
    adapt_context_free(NULL);
    adapt_context_reset(NULL);
}
END_TEST

START_TEST(older_params_struct_gets_defaults)
{
    /* A caller compiled against a header that ended at `backend`. */
    adapt_context_params p;
    adapt_context_params_init(&p, sizeof p);
    p.struct_size = offsetof(adapt_context_params, seed);
    p.n_threads = 1;
    p.seed = 0xdead; /* beyond the caller's struct: must be ignored */
    p.arena_limit_bytes = 1;
    adapt_context *ctx = NULL;
    TU_OK(adapt_context_create(&ctx, &p));
    ck_assert_int_eq(ctx->n_threads, 1);
    ck_assert_uint_ne(ctx->seed, 0xdead);
    ck_assert_uint_eq(ctx->arena.limit, 0);
    adapt_context_free(ctx);
}
END_TEST

/* A struct of the library's own (24 bytes here) with its defaults. */
typedef struct {
    size_t struct_size;
    uint64_t a, b;
} own_struct;

/* The same from a newer caller, with one more field. */
typedef struct {
    own_struct known;
    uint64_t newer;
} newer_struct;

static const own_struct own_defaults = {.struct_size = 99, .a = 0x1111, .b = 0x2222};

START_TEST(struct_init_writes_exactly_the_callers_size)
{
    unsigned char buf[64];
    /* Smaller than ours: struct_size and the first half of `a`, nothing past them. */
    memset(buf, 0xa5, sizeof buf);
    ad_struct_init(buf, 12, &own_defaults, sizeof own_defaults);
    size_t size;
    memcpy(&size, buf, sizeof size);
    ck_assert_uint_eq(size, 12);
    ck_assert_mem_eq(buf + 8, (const unsigned char *)&own_defaults + 8, 4);
    for (size_t i = 12; i < sizeof buf; i++)
        ck_assert_uint_eq(buf[i], 0xa5);
    /* Larger: the defaults, then zeros up to the caller's size, nothing past it. */
    memset(buf, 0xa5, sizeof buf);
    ad_struct_init(buf, 40, &own_defaults, sizeof own_defaults);
    own_struct got;
    memcpy(&got, buf, sizeof got);
    ck_assert_uint_eq(got.struct_size, 40);
    ck_assert(got.a == own_defaults.a && got.b == own_defaults.b);
    for (size_t i = sizeof got; i < sizeof buf; i++)
        ck_assert_uint_eq(buf[i], i < 40 ? 0 : 0xa5);
    /* No room for struct_size, or no struct: nothing is written. */
    memset(buf, 0xa5, sizeof buf);
    ad_struct_init(buf, sizeof(size_t) - 1, &own_defaults, sizeof own_defaults);
    ad_struct_init(NULL, sizeof buf, &own_defaults, sizeof own_defaults);
    for (size_t i = 0; i < sizeof buf; i++)
        ck_assert_uint_eq(buf[i], 0xa5);
}
END_TEST

START_TEST(struct_read_needs_a_zero_tail_past_its_own_size)
{
    newer_struct user = {.known = {.struct_size = sizeof user, .a = 7, .b = 8}};
    own_struct own = own_defaults;
    TU_OK(ad_struct_read(&own, sizeof own, &user, "own_struct", "f"));
    ck_assert(own.struct_size == sizeof own && own.a == 7 && own.b == 8);
    user.newer = 1;
    own = own_defaults;
    TU_FAILS(ad_struct_read(&own, sizeof own, &user, "own_struct", "f"), ADAPT_ERR_UNSUPPORTED);
    ck_assert_mem_eq(&own, &own_defaults, sizeof own);
    char want[160];
    snprintf(want, sizeof want,
             "f: own_struct has fields this library (%s) does not know set (byte %zu of %zu is "
             "not zero): built against a newer adapt.h?",
             adapt_version_string(), offsetof(newer_struct, newer), sizeof user);
    ck_assert_str_eq(adapt_last_error(), want);
    /* A caller struct ending inside `b` keeps the rest of b's default. */
    user.known.struct_size = offsetof(own_struct, b) + 1;
    own = own_defaults;
    TU_OK(ad_struct_read(&own, sizeof own, &user, "own_struct", "f"));
    ck_assert_uint_eq(own.a, 7);
    ck_assert_mem_eq(&own.b, &user.known.b, 1);
    ck_assert_mem_eq((const char *)&own.b + 1, (const char *)&own_defaults.b + 1, 7);
}
END_TEST

START_TEST(newer_params_struct_needs_a_zero_tail)
{
    /* A caller compiled against a header with one more field, unset and then set. */
    struct {
        adapt_context_params p;
        uint64_t newer;
    } big;
    adapt_context_params_init(&big.p, sizeof big);
    ck_assert_uint_eq(big.p.struct_size, sizeof big);
    ck_assert_uint_eq(big.newer, 0);
    big.p.n_threads = 1;
    adapt_context *ctx = NULL;
    TU_OK(adapt_context_create(&ctx, &big.p));
    ck_assert_int_eq(ctx->n_threads, 1);
    adapt_context_free(ctx);
    big.newer = 3;
    ctx = (adapt_context *)0x1;
    TU_FAILS(adapt_context_create(&ctx, &big.p), ADAPT_ERR_UNSUPPORTED);
    ck_assert_ptr_eq(ctx, (adapt_context *)0x1);
    ck_assert_ptr_nonnull(strstr(adapt_last_error(), "adapt_context_params has fields"));
}
END_TEST

START_TEST(params_reject_bad_shapes_and_values)
{
    adapt_tensor *t = (adapt_tensor *)0x1;
    TU_FAILS(adapt_param_create(&t, 2, (int64_t[]){3, -1}), ADAPT_ERR_SHAPE);
    TU_FAILS(adapt_param_create(&t, ADAPT_MAX_DIMS + 1, (int64_t[9]){1}), ADAPT_ERR_SHAPE);
    TU_FAILS(adapt_param_create(&t, 2, (int64_t[]){INT64_MAX / 4, 3}), ADAPT_ERR_OVERFLOW);
    TU_FAILS(adapt_param_create(&t, 2, NULL), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_param_create(NULL, 1, (int64_t[]){3}), ADAPT_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_eq(t, (adapt_tensor *)0x1);

    adapt_tensor *p = tu_param(1, (int64_t[]){3}, 1, -1, 1);
    float before[3], bad[3] = {1.0f, NAN, 2.0f};
    TU_OK(adapt_tensor_read(p, before, 3));
    TU_FAILS(adapt_param_write(p, bad, 3), ADAPT_ERR_NONFINITE);
    bad[1] = INFINITY;
    TU_FAILS(adapt_param_write(p, bad, 3), ADAPT_ERR_NONFINITE);
    TU_FAILS(adapt_param_write(p, before, 2), ADAPT_ERR_SHAPE);
    TU_FAILS(adapt_tensor_read(p, before, 4), ADAPT_ERR_SHAPE);
    ck_assert_mem_eq(adapt_tensor_data(p), before, sizeof before);
    ck_assert_int_eq(adapt_tensor_dim(p, -1), 3);
    ck_assert_int_eq(adapt_tensor_dim(p, 1), 0);
    ck_assert_int_eq(adapt_tensor_numel(NULL), 0);
    ck_assert_ptr_null(adapt_tensor_data(NULL));
    adapt_tensor_free(p);
    adapt_tensor_free(NULL);
}
END_TEST

START_TEST(inputs_reject_nonfinite_data)
{
    adapt_context *ctx = tu_context(ADAPT_BACKEND_DEFAULT);
    float data[4] = {0, 1, NAN, 3};
    adapt_tensor *t = (adapt_tensor *)0x1;
    TU_FAILS(adapt_tensor_input(&t, ctx, 1, (int64_t[]){4}, data), ADAPT_ERR_NONFINITE);
    data[2] = -INFINITY;
    TU_FAILS(adapt_tensor_input(&t, ctx, 1, (int64_t[]){4}, data), ADAPT_ERR_NONFINITE);
    TU_FAILS(adapt_tensor_input(&t, ctx, 1, (int64_t[]){4}, NULL), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_tensor_input(&t, NULL, 1, (int64_t[]){4}, data), ADAPT_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_eq(t, (adapt_tensor *)0x1);
    adapt_context_free(ctx);
}
END_TEST

START_TEST(stale_and_foreign_tensors_are_refused)
{
    adapt_context *a = tu_context(ADAPT_BACKEND_DEFAULT), *b = tu_context(ADAPT_BACKEND_DEFAULT);
    float v[2] = {1, 2};
    adapt_tensor *x = NULL, *y = NULL;
    TU_OK(adapt_tensor_input(&x, a, 1, (int64_t[]){2}, v));
    TU_FAILS(adapt_op_add(&y, b, x, x), ADAPT_ERR_STATE);
    adapt_context_reset(a);
    TU_FAILS(adapt_op_add(&y, a, x, x), ADAPT_ERR_STATE);
    ck_assert_ptr_null(y);
    adapt_context_free(a);
    adapt_context_free(b);
}
END_TEST

/* Forward pass of a tiny regression: loss = mean((x W^T)^2). */
static adapt_status regression_loss(adapt_context *ctx, adapt_tensor *w, adapt_tensor **loss)
{
    float x[4 * 8];
    tu_fill(x, 32, 7, -1, 1);
    adapt_tensor *in, *h, *sq;
    adapt_status st = adapt_tensor_input(&in, ctx, 2, (int64_t[]){4, 8}, x);
    if (!st)
        st = adapt_op_matmul(&h, ctx, in, w, ADAPT_MATMUL_TRANS_B);
    if (!st)
        st = adapt_op_mul(&sq, ctx, h, h);
    if (!st)
        st = adapt_op_mean(loss, ctx, sq, ADAPT_AXIS_ALL);
    return st;
}

static void regression_step(adapt_context *ctx, adapt_tensor *w)
{
    adapt_tensor *loss;
    adapt_context_reset(ctx);
    TU_OK(regression_loss(ctx, w, &loss));
    TU_OK(adapt_backward(ctx, loss));
}

START_TEST(steady_state_steps_do_not_allocate)
{
    adapt_context *ctx = tu_context(ADAPT_BACKEND_DEFAULT);
    adapt_tensor *w = tu_param(2, (int64_t[]){16, 8}, 3, -1, 1);
    for (int step = 0; step < 2; step++)
        regression_step(ctx, w);
    size_t allocs = ctx->arena.system_allocs;
    for (int step = 0; step < 5; step++)
        regression_step(ctx, w);
    ck_assert_uint_eq(ctx->arena.system_allocs, allocs);
    ck_assert_uint_gt(adapt_context_peak_bytes(ctx), 16 * 8 * sizeof(float));
    ck_assert_uint_ge(adapt_context_reserved_bytes(ctx), adapt_context_peak_bytes(ctx));
    adapt_tensor_free(w);
    adapt_context_free(ctx);
}
END_TEST

/* A rewind frees what it empties, keeping one chunk for the next growth: blocks that grow
 * the arena and are rewound, one after another, reuse that chunk instead of holding or
 * allocating one each. */
START_TEST(arena_rewinds_reuse_the_chunk_they_empty)
{
    ad_arena arena;
    ad_arena_init(&arena, 1 << 20, 0);
    ck_assert_ptr_nonnull(ad_arena_alloc(&arena, 900 << 10)); /* most of the first chunk */
    size_t allocs = 0, reserved = 0;
    for (int block = 0; block < 4; block++) {
        const ad_arena_mark mark = ad_arena_mark_now(&arena);
        ck_assert_ptr_nonnull(ad_arena_alloc(&arena, 3 << 20)); /* needs a chunk of its own */
        ad_arena_rewind(&arena, mark);
        if (block == 0)
            allocs = arena.system_allocs, reserved = arena.reserved;
    }
    ck_assert_uint_eq(arena.system_allocs, allocs);
    ck_assert_uint_eq(arena.reserved, reserved);
    ck_assert_uint_eq(arena.used, 900 << 10);
    ad_arena_release(&arena);
    ck_assert_uint_eq(arena.reserved, 0);
}
END_TEST

START_TEST(failed_backward_leaves_gradients_untouched)
{
    /* A cap that fits the forward pass but not the backward one. */
    adapt_tensor *w = tu_param(2, (int64_t[]){256, 8}, 3, -1, 1), *loss;
    adapt_context_params p;
    adapt_context_params_init(&p, sizeof p);
    p.arena_limit_bytes = 4 * 256 * 8 + 4 * 256 * 4 + 12 * 1024;
    adapt_context *ctx = NULL;
    TU_OK(adapt_context_create(&ctx, &p));
    TU_OK(adapt_context_set_grad(ctx, 1));
    TU_OK(regression_loss(ctx, w, &loss));
    TU_FAILS(adapt_backward(ctx, loss), ADAPT_ERR_OUT_OF_MEMORY);
    for (int64_t i = 0; i < adapt_tensor_numel(w); i++)
        ck_assert_float_eq(adapt_tensor_grad(w)[i], 0.0f);
    /* The context stays usable for work that fits under its cap. */
    adapt_context_reset(ctx);
    adapt_tensor *small = tu_param(1, (int64_t[]){4}, 5, -1, 1), *total;
    TU_OK(adapt_op_sum(&total, ctx, small, ADAPT_AXIS_ALL));
    TU_OK(adapt_backward(ctx, total));
    ck_assert_float_eq(adapt_tensor_grad(small)[3], 1.0f);
    adapt_tensor_free(small);
    adapt_context_free(ctx);
    adapt_tensor_free(w);
}
END_TEST

START_TEST(backward_refuses_bad_losses)
{
    adapt_context *ctx = tu_context(ADAPT_BACKEND_DEFAULT);
    adapt_tensor *w = tu_param(1, (int64_t[]){2}, 1, 1e30f, 2e30f), *sq, *loss;
    TU_OK(adapt_op_mul(&sq, ctx, w, w)); /* overflows to inf */
    TU_FAILS(adapt_backward(ctx, sq), ADAPT_ERR_SHAPE);
    TU_OK(adapt_op_sum(&loss, ctx, sq, ADAPT_AXIS_ALL));
    TU_FAILS(adapt_backward(ctx, loss), ADAPT_ERR_NONFINITE);
    ck_assert_float_eq(adapt_tensor_grad(w)[0], 0.0f);
    TU_FAILS(adapt_backward(NULL, loss), ADAPT_ERR_INVALID_ARGUMENT);
    adapt_tensor *small = tu_param(1, (int64_t[]){1}, 1, -1, 1);
    TU_FAILS(adapt_backward(ctx, small), ADAPT_ERR_STATE); /* a parameter is no loss */
    adapt_context_reset(ctx);
    TU_OK(adapt_context_set_grad(ctx, 0));
    TU_OK(adapt_op_sum(&loss, ctx, small, ADAPT_AXIS_ALL));
    TU_FAILS(adapt_backward(ctx, loss), ADAPT_ERR_STATE);
    adapt_tensor_free(small);
    adapt_tensor_free(w);
    adapt_context_free(ctx);
}
END_TEST

START_TEST(frozen_parameters_get_no_gradient)
{
    adapt_context *ctx = tu_context(ADAPT_BACKEND_DEFAULT);
    adapt_tensor *a = tu_param(1, (int64_t[]){3}, 1, -1, 1);
    adapt_tensor *b = tu_param(1, (int64_t[]){3}, 2, -1, 1), *y, *loss;
    TU_OK(adapt_param_set_requires_grad(b, 0));
    TU_OK(adapt_op_mul(&y, ctx, a, b));
    TU_OK(adapt_op_sum(&loss, ctx, y, ADAPT_AXIS_ALL));
    TU_OK(adapt_backward(ctx, loss));
    for (int i = 0; i < 3; i++) {
        ck_assert_float_eq(adapt_tensor_grad(a)[i], adapt_tensor_data(b)[i]);
        ck_assert_float_eq(adapt_tensor_grad(b)[i], 0.0f);
    }
    adapt_tensor_free(a);
    adapt_tensor_free(b);
    adapt_context_free(ctx);
}
END_TEST

static Suite *core_suite(void)
{
    Suite *s = suite_create("core");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, version_matches_header);
    tcase_add_test(tc, status_strings_are_distinct);
    tcase_add_test(tc, context_params_are_validated);
    tcase_add_test(tc, older_params_struct_gets_defaults);
    tcase_add_test(tc, struct_init_writes_exactly_the_callers_size);
    tcase_add_test(tc, struct_read_needs_a_zero_tail_past_its_own_size);
    tcase_add_test(tc, newer_params_struct_needs_a_zero_tail);
    tcase_add_test(tc, params_reject_bad_shapes_and_values);
    tcase_add_test(tc, inputs_reject_nonfinite_data);
    tcase_add_test(tc, stale_and_foreign_tensors_are_refused);
    tcase_add_test(tc, steady_state_steps_do_not_allocate);
    tcase_add_test(tc, arena_rewinds_reuse_the_chunk_they_empty);
    tcase_add_test(tc, failed_backward_leaves_gradients_untouched);
    tcase_add_test(tc, backward_refuses_bad_losses);
    tcase_add_test(tc, frozen_parameters_get_no_gradient);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run(core_suite());
}
