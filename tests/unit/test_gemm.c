/* Every GEMM backend against the reference: all transpose combinations,
 * padded leading dimensions, alpha/beta, several thread counts. */
#include <math.h>
#include <stdlib.h>

#include "check_util.h"
#include "lib/kernels/gemm.h"

typedef struct {
    int64_t m, n, k;
} dims;

static const dims cases[] = {{1, 1, 1}, {7, 5, 3}, {33, 17, 65}, {1, 768, 96}, {128, 70, 200}};

/* Runs one backend on a fresh copy of c0 and returns the result. */
static float *run_backend(adapt_backend backend, int32_t threads, ad_gemm_args g, const float *c0,
                          size_t c_len)
{
    float *c = malloc(c_len * sizeof *c);
    for (size_t i = 0; i < c_len; i++)
        c[i] = c0[i];
    g.c = c;
    TU_OK(ad_gemm(backend, threads, &g));
    return c;
}

START_TEST(backends_match_reference)
{
    const dims d = cases[_i % 5];
    const bool ta = (_i / 5) & 1, tb = (_i / 10) & 1;
    const int64_t pad = 3; /* leading dimensions wider than the rows */
    int64_t a_rows = ta ? d.k : d.m, a_cols = ta ? d.m : d.k;
    int64_t b_rows = tb ? d.n : d.k, b_cols = tb ? d.k : d.n;
    ad_gemm_args g = {.trans_a = ta, .trans_b = tb, .m = d.m, .n = d.n, .k = d.k,
                      .alpha = 0.75f, .beta = 0.5f, .lda = a_cols + pad, .ldb = b_cols + pad,
                      .ldc = d.n + pad};
    size_t a_len = (size_t)(a_rows * g.lda), b_len = (size_t)(b_rows * g.ldb);
    size_t c_len = (size_t)(d.m * g.ldc);
    float *a = malloc(a_len * sizeof *a), *b = malloc(b_len * sizeof *b);
    float *c0 = malloc(c_len * sizeof *c0);
    tu_fill(a, (int64_t)a_len, 1, -1, 1);
    tu_fill(b, (int64_t)b_len, 2, -1, 1);
    tu_fill(c0, (int64_t)c_len, 3, -1, 1);
    g.a = a, g.b = b;
    float *want = run_backend(ADAPT_BACKEND_REFERENCE, 1, g, c0, c_len);
    for (int be = ADAPT_BACKEND_OPENBLAS; be <= ADAPT_BACKEND_ONEDNN; be++) {
        if (!adapt_backend_available((adapt_backend)be))
            continue;
        for (int32_t threads = 1; threads <= 2; threads++) {
            float *got = run_backend((adapt_backend)be, threads, g, c0, c_len);
            const float tol = 1e-5f * (float)(1 + d.k / 64);
            for (size_t i = 0; i < c_len; i++) {
                if ((int64_t)(i % (size_t)g.ldc) >= d.n) /* padding must be left alone */
                    ck_assert_float_eq(got[i], c0[i]);
                else
                    ck_assert_float_eq_tol(got[i], want[i], tol);
            }
            free(got);
        }
    }
    free(want), free(a), free(b), free(c0);
}
END_TEST

START_TEST(beta_zero_overwrites_garbage)
{
    /* _i = rows of the product: 1 takes the matrix-vector path. */
    float a[4] = {1, 2, 3, 4}, b[4] = {1, 0, 0, 1};
    for (int be = ADAPT_BACKEND_REFERENCE; be <= ADAPT_BACKEND_ONEDNN; be++) {
        if (!adapt_backend_available((adapt_backend)be))
            continue;
        float c[4] = {NAN, NAN, INFINITY, NAN};
        ad_gemm_args g = {.m = _i, .n = 2, .k = 2, .alpha = 1, .a = a, .lda = 2, .b = b,
                          .ldb = 2, .beta = 0, .c = c, .ldc = 2};
        TU_OK(ad_gemm((adapt_backend)be, 1, &g));
        for (int i = 0; i < 2 * _i; i++)
            ck_assert_float_eq(c[i], a[i]);
    }
}
END_TEST

START_TEST(sizes_beyond_int_are_refused)
{
    ad_gemm_args g = {.m = (int64_t)INT32_MAX + 1, .n = 1, .k = 1, .lda = 1, .ldb = 1, .ldc = 1};
    TU_FAILS(ad_gemm_check_sizes(&g, "test"), ADAPT_ERR_OVERFLOW);
    g.m = 1;
    g.ldc = (int64_t)INT32_MAX * 2;
    TU_FAILS(ad_gemm_check_sizes(&g, "test"), ADAPT_ERR_OVERFLOW);
    g.ldc = 1;
    TU_OK(ad_gemm_check_sizes(&g, "test"));
}
END_TEST

START_TEST(backend_selection_is_checked)
{
    adapt_context *ctx = tu_context(ADAPT_BACKEND_DEFAULT);
    TU_FAILS(adapt_context_set_backend(ctx, (adapt_backend)17), ADAPT_ERR_INVALID_ARGUMENT);
    ck_assert(!adapt_backend_available((adapt_backend)17));
    TU_OK(adapt_context_set_backend(ctx, ADAPT_BACKEND_REFERENCE));
    TU_OK(adapt_context_set_threads(ctx, 2));
    TU_OK(adapt_context_set_threads(ctx, 0));
    TU_FAILS(adapt_context_set_threads(ctx, -1), ADAPT_ERR_INVALID_ARGUMENT);
    adapt_context_free(ctx);
}
END_TEST

static Suite *gemm_suite(void)
{
    Suite *s = suite_create("gemm");
    TCase *tc = tcase_create("gemm");
    tcase_add_loop_test(tc, backends_match_reference, 0, 20);
    tcase_add_loop_test(tc, beta_zero_overwrites_garbage, 1, 3);
    tcase_add_test(tc, sizes_beyond_int_are_refused);
    tcase_add_test(tc, backend_selection_is_checked);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run(gemm_suite());
}
