/* Handles (lib/core/handle.c): a released activation is refused by every public function that
 * takes a tensor, also when a new activation took its record's place, and the tag that tells
 * them apart survives the wrap of its low bits; parameters' handles are their records. */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "check_util.h"
#include "lib/core/context.h"
#include "lib/core/tensor.h"

static adapt_context *inference_context(void)
{
    adapt_context *ctx = tu_context(ADAPT_BACKEND_REFERENCE);
    TU_OK(adapt_context_set_grad(ctx, 0));
    return ctx;
}

static adapt_tensor *input(adapt_context *ctx, float first)
{
    const float v[6] = {first, 2, 3, 4, 5, 6};
    adapt_tensor *t = NULL;
    TU_OK(adapt_tensor_input(&t, ctx, 2, (int64_t[]){2, 3}, v));
    return t;
}

/* The last error names `fn` and says the tensor was released. */
static void assert_released(const char *fn)
{
    const char *message = adapt_last_error();
    ck_assert_msg(strstr(message, fn) == message, "\"%s\" does not start with %s", message, fn);
    ck_assert_msg(strstr(message, "released by adapt_context_reset") != NULL, "\"%s\"", message);
}

/* Every accessor and a sample of the functions taking tensors refuse `stale`. */
static void assert_refused(adapt_context *ctx, adapt_tensor *stale, adapt_tensor *live)
{
    ck_assert_int_eq(adapt_tensor_ndim(stale), 0);
    assert_released("adapt_tensor_ndim");
    ck_assert_int_eq(adapt_tensor_dim(stale, 0), 0);
    assert_released("adapt_tensor_dim");
    ck_assert_int_eq(adapt_tensor_numel(stale), 0);
    assert_released("adapt_tensor_numel");
    ck_assert_ptr_null(adapt_tensor_data(stale));
    assert_released("adapt_tensor_data");
    ck_assert_ptr_null(adapt_tensor_grad(stale));
    assert_released("adapt_tensor_grad");
    float out[6] = {0};
    TU_FAILS(adapt_tensor_read(stale, out, 6), ADAPT_ERR_STATE);
    assert_released("adapt_tensor_read");
    ck_assert_float_eq(out[0], 0.0f);
    adapt_tensor *y = (adapt_tensor *)0x1;
    TU_FAILS(adapt_op_relu(&y, ctx, stale), ADAPT_ERR_STATE);
    assert_released("adapt_op_relu");
    TU_FAILS(adapt_op_add(&y, ctx, live, stale), ADAPT_ERR_STATE);
    TU_FAILS(adapt_op_concat(&y, ctx, (adapt_tensor *[]){live, stale}, 2, 0), ADAPT_ERR_STATE);
    TU_FAILS(adapt_op_layernorm(&y, ctx, live, stale, NULL, 1e-5f), ADAPT_ERR_STATE);
    TU_FAILS(adapt_backward(ctx, stale), ADAPT_ERR_STATE);
    TU_FAILS(adapt_param_write(stale, out, 6), ADAPT_ERR_STATE);
    ck_assert_ptr_eq(y, (adapt_tensor *)0x1);
    adapt_tensor_free(stale); /* ignored, as for any activation */
}

/* `live` is the activation input(ctx, first) made, intact. */
static void assert_live(adapt_context *ctx, adapt_tensor *live, float first)
{
    ck_assert_int_eq(adapt_tensor_ndim(live), 2);
    ck_assert_int_eq(adapt_tensor_numel(live), 6);
    ck_assert_float_eq(adapt_tensor_data(live)[0], first);
    adapt_tensor *y = NULL;
    TU_OK(adapt_op_scale(&y, ctx, live, 2.0f));
    ck_assert_float_eq(adapt_tensor_data(y)[0], 2.0f * first);
}

START_TEST(a_released_handle_is_refused_where_its_record_was_reused)
{
    adapt_context *ctx = inference_context();
    adapt_tensor *old = input(ctx, 1.0f);
    const adapt_tensor *old_record = tu_record(old);
    adapt_context_reset(ctx);
    adapt_tensor *now = input(ctx, -7.0f);
    ck_assert_ptr_eq(tu_record(now), old_record); /* the same slot, a new activation */
    ck_assert_ptr_ne(now, old);
    assert_refused(ctx, old, now);
    assert_live(ctx, now, -7.0f);
    adapt_model *mlp = NULL;
    TU_OK(adapt_model_create_sequential(&mlp, 1, (int64_t[]){3}, 1));
    adapt_layer_params lp;
    adapt_layer_params_init(&lp, sizeof lp);
    lp.kind = ADAPT_LAYER_LINEAR, lp.out_features = 2;
    TU_OK(adapt_model_append(mlp, &lp));
    adapt_tensor *logits = NULL;
    TU_FAILS(adapt_model_forward(&logits, ctx, mlp, old), ADAPT_ERR_STATE);
    assert_released("adapt_model_forward");
    TU_OK(adapt_model_forward(&logits, ctx, mlp, now));
    adapt_model_free(mlp);
    adapt_context_free(ctx);
}
END_TEST

START_TEST(a_released_handle_is_refused_before_its_record_is_reused)
{
    adapt_context *ctx = inference_context();
    adapt_tensor *old = input(ctx, 1.0f);
    adapt_context_reset(ctx);
    adapt_tensor *other = NULL;
    TU_OK(adapt_param_create(&other, 2, (int64_t[]){2, 3}));
    assert_refused(ctx, old, other);
    adapt_tensor_free(other);
    adapt_context_free(ctx);
}
END_TEST

/* A step that needed more than one arena chunk has them replaced at the reset: the records of
 * its activations stay readable (and refused), which the sanitizer run checks. */
START_TEST(a_released_handle_of_a_consolidated_step_is_refused)
{
    adapt_context *ctx = inference_context();
    adapt_tensor *old = input(ctx, 1.0f), *big = NULL;
    static float zeros[1 << 19]; /* 2 MiB: more than the first chunk holds */
    TU_OK(adapt_tensor_input(&big, ctx, 1, (int64_t[]){1 << 19}, zeros));
    adapt_context_reset(ctx);
    assert_refused(ctx, old, input(ctx, 3.0f));
    ck_assert_int_eq(adapt_tensor_numel(big), 0);
    adapt_context_free(ctx);
}
END_TEST

/* After 2^k resets a new activation takes the record of one made before them; its handle is
 * refused for every k the tag covers (6 low bits, then 16 high ones on 64-bit targets). */
START_TEST(the_tag_outlives_the_wrap_of_its_low_bits)
{
    const int k = (int[]){1, 6, 7, 12, 16}[_i];
    adapt_context *ctx = inference_context();
    adapt_tensor *old = input(ctx, 1.0f);
    const adapt_tensor *record = tu_record(old);
    for (int64_t r = 0; r < (int64_t)1 << k; r++)
        adapt_context_reset(ctx);
    adapt_tensor *now = input(ctx, 5.0f);
    ck_assert_ptr_eq(tu_record(now), record);
    const bool wide = UINTPTR_MAX > 0xffffffffu && (uintptr_t)record >> 48 == 0;
    if (wide || k < 6) { /* the narrow form holds the low bits only */
        ck_assert_ptr_ne(now, old);
        float out[6];
        TU_FAILS(adapt_tensor_read(old, out, 6), ADAPT_ERR_STATE);
    }
    assert_live(ctx, now, 5.0f);
    adapt_context_free(ctx);
}
END_TEST

/* The bound the header states: 2^22 resets apart, the two handles are the same. */
START_TEST(handles_agree_after_two_to_the_22_resets)
{
    adapt_context *ctx = inference_context();
    adapt_tensor *old = input(ctx, 1.0f);
    const adapt_tensor *record = tu_record(old);
    for (int64_t r = 0; r < (int64_t)1 << 22; r++)
        adapt_context_reset(ctx);
    adapt_tensor *now = input(ctx, 5.0f);
    ck_assert_ptr_eq(tu_record(now), record);
    if (UINTPTR_MAX > 0xffffffffu && (uintptr_t)record >> 48 == 0)
        ck_assert_ptr_eq(now, old);
    adapt_context_free(ctx);
}
END_TEST

START_TEST(parameters_are_their_records_and_activations_are_not)
{
    adapt_context *ctx = inference_context();
    adapt_tensor *p = NULL, *x = input(ctx, 1.0f);
    TU_OK(adapt_param_create(&p, 1, (int64_t[]){3}));
    ck_assert_ptr_eq(tu_record(p), p);
    ck_assert_ptr_ne(tu_record(x), x);
    ck_assert_uint_eq((uintptr_t)tu_record(x) % 128, 0);
    ck_assert_uint_eq((uintptr_t)tu_record(p) % 128, 0);
    /* A parameter's address with tag bits set leads to no tensor. */
    TU_FAILS(adapt_param_zero_grad((adapt_tensor *)((uintptr_t)p | 2)),
             ADAPT_ERR_INVALID_ARGUMENT);
    adapt_tensor_free(p);
    adapt_context_free(ctx);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("handles");
    TCase *tc = tcase_create("handles");
    tcase_add_test(tc, a_released_handle_is_refused_where_its_record_was_reused);
    tcase_add_test(tc, a_released_handle_is_refused_before_its_record_is_reused);
    tcase_add_test(tc, a_released_handle_of_a_consolidated_step_is_refused);
    tcase_add_loop_test(tc, the_tag_outlives_the_wrap_of_its_low_bits, 0, 5);
    tcase_add_test(tc, handles_agree_after_two_to_the_22_resets);
    tcase_add_test(tc, parameters_are_their_records_and_activations_are_not);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
