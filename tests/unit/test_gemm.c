/* Every GEMM backend against the reference: all transpose combinations,
 * padded leading dimensions, alpha/beta, one thread and a product split over two by rows
 * (in blocks or, for few rows, one by one) or by column blocks (a partial last one). The narrow kernel for
 * products with few output columns against the reference too, and the small-product kernel
 * (both its paths) against a double-precision sum. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_util.h"
#include "lib/kernels/gemm.h"
#include "lib/kernels/gemm_narrow.h"
#include "lib/kernels/gemm_small.h"
#include "lib/kernels/vector_math.h"

typedef struct {
    int64_t m, n, k;
} dims;

/* {65, 192, 768}: a ViT's fc2 at batch 1, split into single rows. */
static const dims cases[] = {{1, 1, 1},      {7, 5, 3},     {33, 17, 65},  {1, 768, 96},
                             {128, 70, 200}, {300, 40, 64}, {20, 500, 64}, {65, 192, 768}};
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

/* ---- small products ------------------------------------------------------ */

typedef void (*small_fn)(int64_t m, int64_t n, int64_t k, const float *a, int64_t lda,
                         const float *b, int64_t ldb, float *c, int64_t ldc, bool accumulate);

static const int64_t small_ms[] = {1, 2, 3, 4, 5, 7, 8, 9, 17, 64, 65};
static const int64_t small_ns[] = {1, 15, 16, 17, 31, 32, 33, 48, 96, 192};
/* 3 and 4 rows: the sweeps of gemm_small.c, as 1 and 2. 300: more than one pass over k
 * (KC = 256), each resuming from the partial sums in C. */
static const int64_t small_ks[] = {0, 1, 3, 32, 192, 300};
#define N_SMALL_M ((int)(sizeof small_ms / sizeof *small_ms))
#define N_SMALL_N ((int)(sizeof small_ns / sizeof *small_ns))
#define N_SMALL_K ((int)(sizeof small_ks / sizeof *small_ks))

/* Operands of a small product with padded rows: the padding of A and B is NaN, so reading it
 * would show; C's padding holds c0's values and must keep them. */
typedef struct {
    int64_t m, n, k, lda, ldb, ldc;
    float *a, *b, *c0;
} small_case;

static small_case small_case_make(int64_t m, int64_t n, int64_t k, uint64_t seed)
{
    small_case s = {m, n, k, k + 3, n + 5, n + 2, NULL, NULL, NULL};
    s.a = malloc((size_t)(m * s.lda + 1) * sizeof(float));
    s.b = malloc((size_t)(k * s.ldb + 1) * sizeof(float));
    s.c0 = malloc((size_t)(m * s.ldc) * sizeof(float));
    tu_fill(s.a, m * s.lda, seed, -1, 1);
    tu_fill(s.b, k * s.ldb, seed + 1, -1, 1);
    tu_fill(s.c0, m * s.ldc, seed + 2, -1, 1);
    for (int64_t i = 0; i < m; i++)
        for (int64_t p = k; p < s.lda; p++)
            s.a[i * s.lda + p] = NAN;
    for (int64_t p = 0; p < k; p++)
        for (int64_t j = n; j < s.ldb; j++)
            s.b[p * s.ldb + j] = NAN;
    return s;
}

static void small_case_free(small_case *s)
{
    free(s->a), free(s->b), free(s->c0);
}

/* C from `fn`: c0 when accumulating, else c0 with the m x n block set to NaN (never read). */
static float *small_run(small_fn fn, const small_case *s, bool accumulate)
{
    float *c = malloc((size_t)(s->m * s->ldc) * sizeof *c);
    for (int64_t i = 0; i < s->m * s->ldc; i++)
        c[i] = accumulate || i % s->ldc >= s->n ? s->c0[i] : NAN;
    fn(s->m, s->n, s->k, s->a, s->lda, s->b, s->ldb, c, s->ldc, accumulate);
    return c;
}

/* Element (i, j) in double, and the sum of its terms' magnitudes (the scale of its rounding). */
static double small_exact(const small_case *s, int64_t i, int64_t j, bool accumulate,
                          double *scale)
{
    double sum = accumulate ? s->c0[i * s->ldc + j] : 0.0;
    *scale = fabs(sum) + 1e-30;
    for (int64_t p = 0; p < s->k; p++) {
        const double t = (double)s->a[i * s->lda + p] * s->b[p * s->ldb + j];
        sum += t, *scale += fabs(t);
    }
    return sum;
}

/* The first element of C that `fn` got wrong (or its padding changed), as a message; NULL if
 * none. One assertion per product: Check reports each assertion to its parent process, which
 * element by element took seconds. */
static const char *small_mismatch(const small_case *s, const float *c, bool accumulate,
                                  char *msg, size_t size)
{
    for (int64_t i = 0; i < s->m; i++)
        for (int64_t j = 0; j < s->ldc; j++) {
            const float got = c[i * s->ldc + j];
            double scale, want = s->c0[i * s->ldc + j];
            const bool ok = j >= s->n ? got == want /* padding left alone */
                                      : fabs(got - (want = small_exact(s, i, j, accumulate,
                                                                       &scale))) <= 1e-5 * scale;
            if (!ok) {
                snprintf(msg, size, "m %lld n %lld k %lld (%lld, %lld): %g, want %g",
                         (long long)s->m, (long long)s->n, (long long)s->k, (long long)i,
                         (long long)j, (double)got, want);
                return msg;
            }
        }
    return NULL;
}

START_TEST(small_products_match_reference)
{
    /* _i: the row count, and whether to accumulate. Every width and depth for each. */
    const int64_t m = small_ms[_i % N_SMALL_M];
    const bool accumulate = _i >= N_SMALL_M;
    const small_fn fns[2] = {ad_gemm_small, ad_gemm_small_portable};
    for (int in = 0; in < N_SMALL_N; in++)
        for (int ik = 0; ik < N_SMALL_K; ik++) {
            small_case s = small_case_make(m, small_ns[in], small_ks[ik], (uint64_t)(_i + 7));
            for (int f = 0; f < 2; f++) {
                float *c = small_run(fns[f], &s, accumulate);
                char msg[160];
                const char *bad = small_mismatch(&s, c, accumulate, msg, sizeof msg);
                ck_assert_msg(!bad, "%s: %s", f ? "portable" : "dispatched", bad);
                free(c);
            }
            small_case_free(&s);
        }
}
END_TEST

/* Rows [first, first + m) of the product `s` on their own, starting from c0, into a fresh
 * buffer of rows ldc apart. */
static float *small_rows(small_fn fn, const small_case *s, int64_t first, int64_t m,
                         bool accumulate)
{
    float *c = malloc((size_t)(m * s->ldc) * sizeof *c);
    memcpy(c, s->c0 + first * s->ldc, (size_t)(m * s->ldc) * sizeof *c);
    fn(m, s->n, s->k, s->a + first * s->lda, s->lda, s->b, s->ldb, c, s->ldc, accumulate);
    return c;
}

START_TEST(small_rows_do_not_depend_on_m)
{
    /* Every row of a 65-row product (tiles of 8 and 7 rows) computed in products of 1, 2, 3
     * and 4 rows (the sweeps), and inside a 17-row product starting 5 rows later (tiles of 6
     * and 5): every bit the same, in both paths, overwriting and accumulating, over widths
     * with each kind of column tile and depths of one and two passes. */
    const small_fn fn = _i & 1 ? ad_gemm_small_portable : ad_gemm_small;
    const bool accumulate = _i & 2;
    static const int64_t ns[] = {33, 48, 17}, ks[] = {192, 300, 13};
    for (int t = 0; t < 3; t++) {
        small_case s = small_case_make(65, ns[t], ks[t], 40 + (uint64_t)t);
        float *whole = small_run(fn, &s, accumulate);
        const size_t row_bytes = (size_t)s.n * sizeof(float);
        for (int64_t m = 1; m <= 4; m++)
            for (int64_t first = 0; first + m <= s.m; first += m) {
                float *some = small_rows(fn, &s, first, m, accumulate);
                for (int64_t r = 0; r < m; r++)
                    ck_assert_mem_eq(some + r * s.ldc, whole + (first + r) * s.ldc, row_bytes);
                free(some);
            }
        float *part = small_rows(fn, &s, 5, 17, accumulate);
        for (int64_t r = 0; r < 17; r++)
            ck_assert_mem_eq(part + r * s.ldc, whole + (r + 5) * s.ldc, row_bytes);
        free(part), free(whole);
        small_case_free(&s);
    }
}
END_TEST

START_TEST(small_portable_matches_avx512)
{
    /* Both paths round each multiply-add in the same order; the AVX-512 one fuses them, so
     * they agree to rounding. Nothing to compare on a machine without AVX-512. */
    if (!ad_has_avx512())
        return;
    static const dims shapes[] = {{65, 192, 192}, {17, 33, 300}, {8, 768, 128}, {3, 15, 64}};
    for (int t = 0; t < 4; t++) {
        small_case s = small_case_make(shapes[t].m, shapes[t].n, shapes[t].k, 60 + (uint64_t)t);
        for (int accumulate = 0; accumulate < 2; accumulate++) {
            float *fast = small_run(ad_gemm_small, &s, accumulate);
            float *plain = small_run(ad_gemm_small_portable, &s, accumulate);
            double worst = 0.0; /* the largest difference relative to its element's scale */
            for (int64_t i = 0; i < s.m; i++)
                for (int64_t j = 0; j < s.n; j++) {
                    double scale;
                    small_exact(&s, i, j, accumulate, &scale);
                    worst = fmax(worst, fabs((double)fast[i * s.ldc + j] - plain[i * s.ldc + j]) /
                                            scale);
                }
            ck_assert_msg(worst <= 1e-6, "shape %d: relative difference %g", t, worst);
            free(fast), free(plain);
        }
        small_case_free(&s);
    }
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
    tcase_add_loop_test(tc, small_products_match_reference, 0, 2 * N_SMALL_M);
    tcase_add_loop_test(tc, small_rows_do_not_depend_on_m, 0, 4);
    tcase_add_test(tc, small_portable_matches_avx512);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run(gemm_suite());
}
