/* Batched matmul: values against the reference backend and gradients
 * against finite differences, for every transpose combination. */
#include "check_util.h"

typedef struct {
    uint32_t flags;
} matmul_case;

static adapt_status matmul_forward(adapt_tensor **out, adapt_context *ctx, adapt_tensor **p,
                                   void *arg)
{
    const matmul_case *c = arg;
    return adapt_op_matmul(out, ctx, p[0], p[1], c->flags);
}

/* a: [2, 3, M, K] (or K, M), b: 2-D shared or batched. */
static void make_operands(adapt_tensor **p, uint32_t flags, int shared_b)
{
    const int64_t m = 4, k = 5, n = 3;
    int64_t a_shape[] = {2, 3, (flags & ADAPT_MATMUL_TRANS_A) ? k : m,
                         (flags & ADAPT_MATMUL_TRANS_A) ? m : k};
    int64_t b_rows = (flags & ADAPT_MATMUL_TRANS_B) ? n : k;
    int64_t b_cols = (flags & ADAPT_MATMUL_TRANS_B) ? k : n;
    int64_t b_shape[] = {2, 3, b_rows, b_cols};
    p[0] = tu_param(4, a_shape, 1, -1.0f, 1.0f);
    p[1] = shared_b ? tu_param(2, b_shape + 2, 2, -1.0f, 1.0f)
                    : tu_param(4, b_shape, 2, -1.0f, 1.0f);
}

START_TEST(gradients_all_layouts)
{
    /* _i encodes the transpose flags (bits 0-1) and shared b (bit 2). */
    matmul_case c = {(uint32_t)(_i & 3)};
    adapt_tensor *p[2];
    make_operands(p, c.flags, _i & 4);
    tu_gradcheck(matmul_forward, p, 2, &c, 1e-2, 2e-3, 1000);
    adapt_tensor_free(p[0]);
    adapt_tensor_free(p[1]);
}
END_TEST

START_TEST(batch_on_threads_matches_one_thread)
{
    /* Batch items run as single-threaded GEMMs spread over the pool, so any
     * thread count gives bit-identical results. */
    matmul_case c = {(uint32_t)(_i & 3)};
    adapt_tensor *p[2];
    make_operands(p, c.flags, 0);
    for (int32_t threads = 2; threads <= 4; threads++)
        tu_check_threads(matmul_forward, p, 2, &c, ADAPT_BACKEND_DEFAULT, threads, 0.0);
    adapt_tensor_free(p[0]);
    adapt_tensor_free(p[1]);
}
END_TEST

START_TEST(backends_match_reference)
{
    matmul_case c = {(uint32_t)(_i & 3)};
    adapt_tensor *p[2];
    make_operands(p, c.flags, _i & 4);
    adapt_context *ref = tu_context(ADAPT_BACKEND_REFERENCE);
    adapt_tensor *want;
    TU_OK(adapt_op_matmul(&want, ref, p[0], p[1], c.flags));
    for (int b = ADAPT_BACKEND_OPENBLAS; b <= ADAPT_BACKEND_ONEDNN; b++) {
        if (!adapt_backend_available((adapt_backend)b))
            continue;
        adapt_context *ctx = tu_context((adapt_backend)b);
        adapt_tensor *got;
        TU_OK(adapt_op_matmul(&got, ctx, p[0], p[1], c.flags));
        for (int64_t i = 0; i < adapt_tensor_numel(want); i++)
            ck_assert_float_eq_tol(adapt_tensor_data(got)[i], adapt_tensor_data(want)[i], 1e-5);
        adapt_context_free(ctx);
    }
    adapt_context_free(ref);
    adapt_tensor_free(p[0]);
    adapt_tensor_free(p[1]);
}
END_TEST

START_TEST(rejects_bad_shapes)
{
    adapt_context *ctx = tu_context(ADAPT_BACKEND_DEFAULT);
    adapt_tensor *a = tu_param(2, (int64_t[]){4, 5}, 1, -1, 1);
    adapt_tensor *b = tu_param(2, (int64_t[]){4, 5}, 2, -1, 1);
    adapt_tensor *v = tu_param(1, (int64_t[]){5}, 3, -1, 1);
    adapt_tensor *batched = tu_param(3, (int64_t[]){2, 5, 3}, 4, -1, 1);
    adapt_tensor *out = (adapt_tensor *)0x1;
    TU_FAILS(adapt_op_matmul(&out, ctx, a, b, 0), ADAPT_ERR_SHAPE);
    TU_FAILS(adapt_op_matmul(&out, ctx, a, v, 0), ADAPT_ERR_SHAPE);
    TU_FAILS(adapt_op_matmul(&out, ctx, a, batched, 0), ADAPT_ERR_SHAPE);
    TU_FAILS(adapt_op_matmul(&out, ctx, a, b, 8), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_op_matmul(&out, ctx, NULL, b, 0), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_op_matmul(NULL, ctx, a, b, ADAPT_MATMUL_TRANS_B), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_op_matmul(&out, NULL, a, b, ADAPT_MATMUL_TRANS_B), ADAPT_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_eq(out, (adapt_tensor *)0x1); /* untouched on error */
    TU_OK(adapt_op_matmul(&out, ctx, a, b, ADAPT_MATMUL_TRANS_B));
    ck_assert_int_eq(adapt_tensor_dim(out, 0), 4);
    ck_assert_int_eq(adapt_tensor_dim(out, 1), 4);
    adapt_tensor_free(a);
    adapt_tensor_free(b);
    adapt_tensor_free(v);
    adapt_tensor_free(batched);
    adapt_context_free(ctx);
}
END_TEST

START_TEST(rejects_sizes_beyond_blas_int)
{
    /* Shapes are checked before any memory is touched, so a huge inner
     * dimension fails cleanly instead of truncating to int. */
    adapt_context *ctx = tu_context(ADAPT_BACKEND_DEFAULT);
    adapt_tensor *a = tu_param(2, (int64_t[]){1, 1}, 1, -1, 1);
    adapt_tensor *out = NULL;
    adapt_tensor *huge = NULL;
    TU_FAILS(adapt_param_create(&huge, 2, (int64_t[]){INT64_MAX / 2, 4}), ADAPT_ERR_OVERFLOW);
    TU_OK(adapt_op_matmul(&out, ctx, a, a, 0));
    adapt_tensor_free(a);
    adapt_context_free(ctx);
}
END_TEST

static Suite *matmul_suite(void)
{
    Suite *s = suite_create("matmul");
    TCase *tc = tcase_create("matmul");
    tcase_add_loop_test(tc, gradients_all_layouts, 0, 8);
    tcase_add_loop_test(tc, batch_on_threads_matches_one_thread, 0, 4);
    tcase_add_loop_test(tc, backends_match_reference, 0, 8);
    tcase_add_test(tc, rejects_bad_shapes);
    tcase_add_test(tc, rejects_sizes_beyond_blas_int);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run(matmul_suite());
}
