/* Every GEMM backend against the reference: all transpose combinations,
 * padded leading dimensions, alpha/beta, one thread and a product split over two by rows
 * or by column blocks (a partial last one). The narrow kernel for
 * products with few output columns against the reference too. */
#include <math.h>
#include <stdlib.h>

#include "check_util.h"
#include "lib/kernels/gemm.h"
#include "lib/kernels/gemm_narrow.h"

typedef struct {
    int64_t m, n, k;
} dims;

static const dims cases[] = {{1, 1, 1},      {7, 5, 3},      {33, 17, 65}, {1, 768, 96},
                             {128, 70, 200}, {300, 40, 64}, {20, 500, 64}};
#define N_CASES (int)(sizeof cases / sizeof cases[0])

/* Runs one backend on a fresh copy of c0 and returns the result. */
static float *run_backend(adapt_backend backend, int32_t threads, ad_gemm_args g, const float *c0,
                          size_t c_len)
{
    float *c = malloc(c_len * sizeof *c);
    for (size_t i = 0; i < c_len; i++)
        c[i] = c0[i];
    g.c = c;
    ad_pool *pool = ad_pool_create(threads);
    TU_OK(ad_gemm_pooled(pool, backend, &g, NULL, NULL));
    ad_pool_free(pool);
    return c;
}

START_TEST(backends_match_reference)
{
    const dims d = cases[_i % N_CASES];
    const bool ta = (_i / N_CASES) & 1, tb = (_i / (2 * N_CASES)) & 1;
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
        TU_OK(ad_gemm((adapt_backend)be, &g));
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

/* ---- narrow products ----------------------------------------------------- */

static const dims narrow_cases[] = {{1, 1, 1},  {5, 10, 7},  {8, 16, 64},
                                    {17, 10, 300}, {64, 3, 33}, {256, 10, 256}};
#define N_NARROW ((int)(sizeof narrow_cases / sizeof *narrow_cases))

/* x [m][k] w[n][k]^T + bias, with ReLU when asked, by the narrow kernel on `threads`
 * threads into rows ldy = n + 2 apart; the two columns past each row must stay untouched. */
static float *narrow_product(const dims *d, const float *x, const float *w, const float *bias,
                             bool relu, int32_t threads)
{
    adapt_context *ctx = tu_context_threads(ADAPT_BACKEND_DEFAULT, threads);
    const int64_t ldy = d->n + 2;
    float *y = malloc((size_t)(d->m * ldy) * sizeof *y);
    for (int64_t i = 0; i < d->m * ldy; i++)
        y[i] = 7.0f;
    const ad_narrow_product p = {d->m, d->n, d->k, x, w, bias,
                                 relu ? AD_ACT_RELU : AD_ACT_NONE, y, ldy};
    ad_gemm_narrow(ctx, &p);
    for (int64_t r = 0; r < d->m; r++)
        ck_assert(y[r * ldy + d->n] == 7.0f && y[r * ldy + d->n + 1] == 7.0f);
    adapt_context_free(ctx);
    return y;
}

START_TEST(narrow_products_match_reference)
{
    const dims d = narrow_cases[_i % N_NARROW];
    const bool relu = _i >= N_NARROW;
    float *x = malloc((size_t)(d.m * d.k) * sizeof *x), *w = malloc((size_t)(d.n * d.k) * 4);
    float *bias = malloc((size_t)d.n * sizeof *bias), *want = malloc((size_t)(d.m * d.n) * 4);
    tu_fill(x, d.m * d.k, 11, -1, 1);
    tu_fill(w, d.n * d.k, 12, -1, 1);
    tu_fill(bias, d.n, 13, -1, 1);
    const ad_gemm_args g = {.trans_b = true, .m = d.m, .n = d.n, .k = d.k, .alpha = 1.0f,
                            .a = x, .lda = d.k, .b = w, .ldb = d.k, .c = want, .ldc = d.n};
    ck_assert(ad_gemm_narrow_suits(ADAPT_BACKEND_DEFAULT, &g));
    ck_assert(!ad_gemm_narrow_suits(ADAPT_BACKEND_REFERENCE, &g));
    ad_gemm_reference(&g);
    float *one = narrow_product(&d, x, w, bias, relu, 1);
    float *two = narrow_product(&d, x, w, bias, relu, 2);
    const int64_t ldy = d.n + 2;
    for (int64_t r = 0; r < d.m; r++)
        for (int64_t c = 0; c < d.n; c++) {
            float v = want[r * d.n + c] + bias[c];
            v = relu && v < 0.0f ? 0.0f : v;
            ck_assert_float_eq_tol(one[r * ldy + c], v, 1e-5f * (float)(1 + d.k / 64));
            ck_assert(one[r * ldy + c] == two[r * ldy + c]); /* threads change no bit */
        }
    free(x), free(w), free(bias), free(want), free(one), free(two);
}
END_TEST

START_TEST(narrow_rows_do_not_depend_on_their_neighbours)
{
    /* Rows 3 .. 12 of a product of 17 rows, alone: every bit the same, whatever block of
     * rows each fell in. */
    const dims all = {17, 10, 300}, part = {10, 10, 300};
    float *x = malloc((size_t)(all.m * all.k) * sizeof *x), *w = malloc((size_t)(10 * 300) * 4);
    tu_fill(x, all.m * all.k, 21, -1, 1);
    tu_fill(w, all.n * all.k, 22, -1, 1);
    float *whole = narrow_product(&all, x, w, NULL, false, 2);
    float *some = narrow_product(&part, x + 3 * all.k, w, NULL, false, 2);
    const int64_t ldy = all.n + 2;
    for (int64_t r = 0; r < part.m; r++)
        ck_assert_mem_eq(some + r * ldy, whole + (r + 3) * ldy, (size_t)all.n * sizeof(float));
    free(x), free(w), free(whole), free(some);
}
END_TEST

START_TEST(narrow_takes_only_what_it_computes)
{
    const ad_gemm_args base = {.trans_b = true, .m = 4, .n = 16, .k = 8, .alpha = 1.0f,
                               .lda = 8, .ldb = 8, .ldc = 16};
    ck_assert(ad_gemm_narrow_suits(ADAPT_BACKEND_OPENBLAS, &base));
    ad_gemm_args g = base;
    g.n = 17, g.ldc = 17; /* too wide */
    ck_assert(!ad_gemm_narrow_suits(ADAPT_BACKEND_DEFAULT, &g));
    g = base, g.trans_b = false, g.ldb = 16;
    ck_assert(!ad_gemm_narrow_suits(ADAPT_BACKEND_DEFAULT, &g));
    g = base, g.trans_a = true, g.lda = 4;
    ck_assert(!ad_gemm_narrow_suits(ADAPT_BACKEND_DEFAULT, &g));
    g = base, g.beta = 1.0f;
    ck_assert(!ad_gemm_narrow_suits(ADAPT_BACKEND_DEFAULT, &g));
    g = base, g.alpha = 2.0f;
    ck_assert(!ad_gemm_narrow_suits(ADAPT_BACKEND_DEFAULT, &g));
    g = base, g.lda = 9; /* padded rows */
    ck_assert(!ad_gemm_narrow_suits(ADAPT_BACKEND_DEFAULT, &g));
}
END_TEST

static Suite *gemm_suite(void)
{
    Suite *s = suite_create("gemm");
    TCase *tc = tcase_create("gemm");
    tcase_add_loop_test(tc, backends_match_reference, 0, 4 * N_CASES);
    tcase_add_loop_test(tc, beta_zero_overwrites_garbage, 1, 3);
    tcase_add_test(tc, sizes_beyond_int_are_refused);
    tcase_add_test(tc, backend_selection_is_checked);
    tcase_add_loop_test(tc, narrow_products_match_reference, 0, 2 * N_NARROW);
    tcase_add_test(tc, narrow_rows_do_not_depend_on_their_neighbours);
    tcase_add_test(tc, narrow_takes_only_what_it_computes);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run(gemm_suite());
}
