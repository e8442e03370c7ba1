/* Layer and batch normalisation: values against plain double loops and hand
 * computations, running-statistic updates, gradients against finite
 * differences with and without gamma/beta in every mode, and error paths. */
#include <math.h>
#include <stdlib.h>

#include "check_util.h"

static const float eps = 1e-5f;

/* ---- layernorm ---------------------------------------------------------- */

typedef struct {
    int has_gamma, has_beta;
} affine_case;

/* params: x, then gamma and beta when present. */
static adapt_status layernorm_forward(adapt_tensor **out, adapt_context *ctx, adapt_tensor **p,
                                      void *arg)
{
    const affine_case *c = arg;
    adapt_tensor *gamma = c->has_gamma ? p[1] : NULL;
    adapt_tensor *beta = c->has_beta ? p[1 + c->has_gamma] : NULL;
    return adapt_op_layernorm(out, ctx, p[0], gamma, beta, eps);
}

static int32_t make_affine(adapt_tensor **p, const affine_case *c, int64_t d)
{
    int32_t n = 1;
    if (c->has_gamma)
        p[n++] = tu_param(1, &d, 11, 0.5f, 1.5f);
    if (c->has_beta)
        p[n++] = tu_param(1, &d, 12, -1.0f, 1.0f);
    return n;
}

static void free_params(adapt_tensor **p, int32_t n)
{
    for (int32_t i = 0; i < n; i++)
        adapt_tensor_free(p[i]);
}

START_TEST(layernorm_matches_loops)
{
    affine_case c = {_i & 1, (_i >> 1) & 1};
    const int64_t shape[] = {2, 3, 7}, rows = 6, d = 7;
    adapt_tensor *p[3];
    p[0] = tu_param(3, shape, 10, -2.0f, 3.0f);
    int32_t n = make_affine(p, &c, d);
    adapt_context *ctx = tu_context(ADAPT_BACKEND_DEFAULT);
    adapt_tensor *y;
    TU_OK(layernorm_forward(&y, ctx, p, &c));
    ck_assert_int_eq(adapt_tensor_ndim(y), 3);
    const float *x = adapt_tensor_data(p[0]);
    const float *gamma = c.has_gamma ? adapt_tensor_data(p[1]) : NULL;
    const float *beta = c.has_beta ? adapt_tensor_data(p[1 + c.has_gamma]) : NULL;
    for (int64_t r = 0; r < rows; r++) {
        double mean = 0.0, var = 0.0;
        for (int64_t i = 0; i < d; i++)
            mean += x[r * d + i] / (double)d;
        for (int64_t i = 0; i < d; i++)
            var += (x[r * d + i] - mean) * (x[r * d + i] - mean) / (double)d;
        for (int64_t i = 0; i < d; i++) {
            double want = (x[r * d + i] - mean) / sqrt(var + eps);
            want = want * (gamma ? gamma[i] : 1.0) + (beta ? beta[i] : 0.0);
            ck_assert_double_eq_tol(adapt_tensor_data(y)[r * d + i], want, 1e-5);
        }
    }
    adapt_context_free(ctx);
    free_params(p, n);
}
END_TEST

START_TEST(layernorm_hand_case)
{
    /* Row {1, 3}: mean 2, biased variance 1. */
    adapt_context *ctx = tu_context(ADAPT_BACKEND_DEFAULT);
    adapt_tensor *x, *y;
    TU_OK(adapt_tensor_input(&x, ctx, 2, (int64_t[]){1, 2}, (float[]){1.0f, 3.0f}));
    TU_OK(adapt_op_layernorm(&y, ctx, x, NULL, NULL, 0.5f));
    ck_assert_float_eq_tol(adapt_tensor_data(y)[0], -1.0f / sqrtf(1.5f), 1e-6f);
    ck_assert_float_eq_tol(adapt_tensor_data(y)[1], 1.0f / sqrtf(1.5f), 1e-6f);
    adapt_context_free(ctx);
}
END_TEST

START_TEST(layernorm_gradients)
{
    affine_case c = {_i & 1, (_i >> 1) & 1};
    adapt_tensor *p[3];
    p[0] = tu_param(2, (int64_t[]){4, 6}, 20, -2.0f, 2.0f);
    int32_t n = make_affine(p, &c, 6);
    tu_gradcheck(layernorm_forward, p, n, &c, 1e-2, 3e-3, 1000);
    free_params(p, n);
}
END_TEST

START_TEST(layernorm_rejects_bad_arguments)
{
    adapt_context *ctx = tu_context(ADAPT_BACKEND_DEFAULT);
    adapt_tensor *x = tu_param(2, (int64_t[]){3, 4}, 1, -1, 1);
    adapt_tensor *g = tu_param(1, (int64_t[]){4}, 2, -1, 1);
    adapt_tensor *bad = tu_param(1, (int64_t[]){3}, 3, -1, 1);
    adapt_tensor *mat = tu_param(2, (int64_t[]){1, 4}, 4, -1, 1);
    adapt_tensor *scalar = tu_param(0, NULL, 5, -1, 1);
    adapt_tensor *out = (adapt_tensor *)0x1;
    TU_FAILS(adapt_op_layernorm(&out, NULL, x, g, g, eps), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_op_layernorm(NULL, ctx, x, g, g, eps), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_op_layernorm(&out, ctx, NULL, g, g, eps), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_op_layernorm(&out, ctx, x, bad, g, eps), ADAPT_ERR_SHAPE);
    TU_FAILS(adapt_op_layernorm(&out, ctx, x, g, bad, eps), ADAPT_ERR_SHAPE);
    TU_FAILS(adapt_op_layernorm(&out, ctx, x, mat, NULL, eps), ADAPT_ERR_SHAPE);
    TU_FAILS(adapt_op_layernorm(&out, ctx, scalar, NULL, NULL, eps), ADAPT_ERR_SHAPE);
    TU_FAILS(adapt_op_layernorm(&out, ctx, x, g, g, NAN), ADAPT_ERR_NONFINITE);
    TU_FAILS(adapt_op_layernorm(&out, ctx, x, g, g, INFINITY), ADAPT_ERR_NONFINITE);
    TU_FAILS(adapt_op_layernorm(&out, ctx, x, g, g, 0.0f), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_op_layernorm(&out, ctx, x, g, g, -1e-5f), ADAPT_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_eq(out, (adapt_tensor *)0x1);
    TU_OK(adapt_op_layernorm(&out, ctx, x, g, NULL, eps));
    ck_assert_int_eq(adapt_tensor_numel(out), 12);
    free_params((adapt_tensor *[]){x, g, bad, mat, scalar}, 5);
    adapt_context_free(ctx);
}
END_TEST

/* ---- batchnorm ---------------------------------------------------------- */

typedef struct {
    int has_gamma, has_beta, training;
    adapt_tensor *running_mean, *running_var; /* NULL in training gradchecks */
    float momentum;
} bn_case;

static adapt_status batchnorm_forward(adapt_tensor **out, adapt_context *ctx, adapt_tensor **p,
                                      void *arg)
{
    const bn_case *c = arg;
    adapt_tensor *gamma = c->has_gamma ? p[1] : NULL;
    adapt_tensor *beta = c->has_beta ? p[1 + c->has_gamma] : NULL;
    adapt_status st = adapt_context_set_training(ctx, c->training);
    if (st)
        return st;
    return adapt_op_batchnorm(out, ctx, p[0], gamma, beta, c->running_mean, c->running_var,
                              c->momentum, eps);
}

/* Running statistics that should never receive gradients. */
static adapt_tensor *running_stat(int64_t channels, uint64_t seed, float lo, float hi)
{
    adapt_tensor *t = tu_param(1, &channels, seed, lo, hi);
    TU_OK(adapt_param_set_requires_grad(t, 0));
    return t;
}

/* Per-channel mean and biased variance of x[n, c, s] in double. */
static void channel_stats(const float *x, int64_t n, int64_t channels, int64_t s, int64_t c,
                          double *mean, double *var)
{
    double sum = 0.0, sq = 0.0, count = (double)(n * s);
    for (int64_t b = 0; b < n; b++)
        for (int64_t i = 0; i < s; i++)
            sum += x[(b * channels + c) * s + i];
    *mean = sum / count;
    for (int64_t b = 0; b < n; b++)
        for (int64_t i = 0; i < s; i++) {
            double dev = x[(b * channels + c) * s + i] - *mean;
            sq += dev * dev;
        }
    *var = sq / count;
}

static const int64_t bn_shapes[][5] = {{4, 3, 2, 2}, {5, 3}, {2, 3, 2, 1, 3}};
static const int32_t bn_ranks[] = {4, 2, 5};

START_TEST(batchnorm_training_matches_loops)
{
    const int64_t *shape = bn_shapes[_i], channels = 3;
    adapt_tensor *p[3];
    p[0] = tu_param(bn_ranks[_i], shape, 30, -2.0f, 3.0f);
    bn_case c = {1, 1, 1, running_stat(channels, 31, -0.5f, 0.5f),
                 running_stat(channels, 32, 0.5f, 1.5f), 0.1f};
    make_affine(p, &(affine_case){1, 1}, channels);
    float rm0[3], rv0[3];
    TU_OK(adapt_tensor_read(c.running_mean, rm0, 3));
    TU_OK(adapt_tensor_read(c.running_var, rv0, 3));
    adapt_context *ctx = tu_context(ADAPT_BACKEND_DEFAULT);
    adapt_tensor *y;
    TU_OK(batchnorm_forward(&y, ctx, p, &c));
    const int64_t n = shape[0], s = adapt_tensor_numel(p[0]) / (n * channels);
    const float *x = adapt_tensor_data(p[0]), *gamma = adapt_tensor_data(p[1]);
    const float *beta = adapt_tensor_data(p[2]);
    for (int64_t ch = 0; ch < channels; ch++) {
        double mean, var, count = (double)(n * s);
        channel_stats(x, n, channels, s, ch, &mean, &var);
        for (int64_t b = 0; b < n; b++)
            for (int64_t i = 0; i < s; i++) {
                int64_t at = (b * channels + ch) * s + i;
                double want = (x[at] - mean) / sqrt(var + eps) * gamma[ch] + beta[ch];
                ck_assert_double_eq_tol(adapt_tensor_data(y)[at], want, 1e-5);
            }
        double rm = 0.9 * rm0[ch] + 0.1 * mean;
        double rv = 0.9 * rv0[ch] + 0.1 * var * count / (count - 1.0);
        ck_assert_double_eq_tol(adapt_tensor_data(c.running_mean)[ch], rm, 1e-6);
        ck_assert_double_eq_tol(adapt_tensor_data(c.running_var)[ch], rv, 1e-6);
    }
    adapt_context_free(ctx);
    free_params(p, 3);
    free_params((adapt_tensor *[]){c.running_mean, c.running_var}, 2);
}
END_TEST

START_TEST(batchnorm_eval_matches_loops)
{
    const int64_t *shape = bn_shapes[_i], channels = 3;
    adapt_tensor *p[3];
    p[0] = tu_param(bn_ranks[_i], shape, 40, -2.0f, 3.0f);
    bn_case c = {1, 1, 0, running_stat(channels, 41, -0.5f, 0.5f),
                 running_stat(channels, 42, 0.5f, 1.5f), 0.1f};
    make_affine(p, &(affine_case){1, 1}, channels);
    float rm[3], rv[3];
    TU_OK(adapt_tensor_read(c.running_mean, rm, 3));
    TU_OK(adapt_tensor_read(c.running_var, rv, 3));
    adapt_context *ctx = tu_context(ADAPT_BACKEND_DEFAULT);
    adapt_tensor *y;
    TU_OK(batchnorm_forward(&y, ctx, p, &c));
    const int64_t numel = adapt_tensor_numel(p[0]), s = numel / (shape[0] * channels);
    const float *x = adapt_tensor_data(p[0]), *gamma = adapt_tensor_data(p[1]);
    const float *beta = adapt_tensor_data(p[2]);
    for (int64_t at = 0; at < numel; at++) {
        int64_t ch = at / s % channels;
        double want = (x[at] - rm[ch]) / sqrt(rv[ch] + (double)eps) * gamma[ch] + beta[ch];
        ck_assert_double_eq_tol(adapt_tensor_data(y)[at], want, 1e-5);
    }
    for (int ch = 0; ch < 3; ch++) { /* eval never moves the running statistics */
        ck_assert_float_eq(adapt_tensor_data(c.running_mean)[ch], rm[ch]);
        ck_assert_float_eq(adapt_tensor_data(c.running_var)[ch], rv[ch]);
    }
    adapt_context_free(ctx);
    free_params(p, 3);
    free_params((adapt_tensor *[]){c.running_mean, c.running_var}, 2);
}
END_TEST

START_TEST(batchnorm_hand_case)
{
    /* One channel holding {1, 3}: mean 2, biased variance 1, unbiased 2. */
    adapt_context *ctx = tu_context(ADAPT_BACKEND_DEFAULT);
    adapt_tensor *rm = running_stat(1, 1, 0, 0), *rv = running_stat(1, 1, 0, 0);
    adapt_tensor *x, *y;
    TU_OK(adapt_param_write(rv, (float[]){1.0f}, 1));
    TU_OK(adapt_tensor_input(&x, ctx, 2, (int64_t[]){2, 1}, (float[]){1.0f, 3.0f}));
    TU_OK(adapt_context_set_training(ctx, 1));
    TU_OK(adapt_op_batchnorm(&y, ctx, x, NULL, NULL, rm, rv, 0.1f, eps));
    ck_assert_float_eq_tol(adapt_tensor_data(y)[0], -1.0f / sqrtf(1.0f + eps), 1e-6f);
    ck_assert_float_eq_tol(adapt_tensor_data(y)[1], 1.0f / sqrtf(1.0f + eps), 1e-6f);
    ck_assert_float_eq_tol(adapt_tensor_data(rm)[0], 0.2f, 1e-6f);  /* 0.9 * 0 + 0.1 * 2 */
    ck_assert_float_eq_tol(adapt_tensor_data(rv)[0], 1.1f, 1e-6f);  /* 0.9 * 1 + 0.1 * 2 */
    TU_OK(adapt_op_batchnorm(&y, ctx, x, NULL, NULL, rm, rv, 0.0f, eps));
    ck_assert_float_eq_tol(adapt_tensor_data(rm)[0], 0.2f, 1e-6f);  /* momentum 0 keeps */
    TU_OK(adapt_op_batchnorm(&y, ctx, x, NULL, NULL, rm, rv, 1.0f, eps));
    ck_assert_float_eq_tol(adapt_tensor_data(rm)[0], 2.0f, 1e-6f);  /* momentum 1 replaces */
    ck_assert_float_eq_tol(adapt_tensor_data(rv)[0], 2.0f, 1e-6f);
    TU_OK(adapt_context_set_training(ctx, 0));
    TU_OK(adapt_op_batchnorm(&y, ctx, x, NULL, NULL, rm, rv, 0.1f, eps));
    ck_assert_float_eq_tol(adapt_tensor_data(y)[0], -1.0f / sqrtf(2.0f + eps), 1e-6f);
    ck_assert_float_eq_tol(adapt_tensor_data(y)[1], 1.0f / sqrtf(2.0f + eps), 1e-6f);
    free_params((adapt_tensor *[]){rm, rv}, 2);
    adapt_context_free(ctx);
}
END_TEST

START_TEST(batchnorm_gradients)
{
    /* _i: bit 0 gamma, bit 1 beta, bit 2 training. Training checks pass no
     * running statistics, since every probe forward would move them. */
    bn_case c = {_i & 1, (_i >> 1) & 1, (_i >> 2) & 1, NULL, NULL, 0.1f};
    if (!c.training) {
        c.running_mean = running_stat(2, 51, -0.5f, 0.5f);
        c.running_var = running_stat(2, 52, 0.5f, 1.5f);
    }
    adapt_tensor *p[3];
    p[0] = tu_param(4, (int64_t[]){3, 2, 2, 2}, 50, -2.0f, 2.0f);
    int32_t n = make_affine(p, &(affine_case){c.has_gamma, c.has_beta}, 2);
    tu_gradcheck(batchnorm_forward, p, n, &c, 1e-2, 3e-3, 1000);
    free_params(p, n);
    adapt_tensor_free(c.running_mean);
    adapt_tensor_free(c.running_var);
}
END_TEST

START_TEST(batchnorm_running_stats_move_only_in_forward)
{
    /* Running statistics left requiring gradients still get none, and the
     * backward pass does not touch their values. */
    adapt_context *ctx = tu_context(ADAPT_BACKEND_DEFAULT);
    adapt_tensor *x = tu_param(2, (int64_t[]){4, 2}, 60, -1, 1);
    adapt_tensor *beta = tu_param(1, (int64_t[]){2}, 61, -1, 1);
    adapt_tensor *rm = tu_param(1, (int64_t[]){2}, 62, -1, 1);
    adapt_tensor *rv = tu_param(1, (int64_t[]){2}, 63, 1, 2);
    adapt_tensor *y, *loss;
    TU_OK(adapt_context_set_training(ctx, 1));
    TU_OK(adapt_op_batchnorm(&y, ctx, x, NULL, beta, rm, rv, 0.5f, eps));
    float rm1[2], rv1[2];
    TU_OK(adapt_tensor_read(rm, rm1, 2));
    TU_OK(adapt_tensor_read(rv, rv1, 2));
    TU_OK(adapt_op_sum(&loss, ctx, y, ADAPT_AXIS_ALL));
    TU_OK(adapt_backward(ctx, loss));
    for (int c = 0; c < 2; c++) {
        ck_assert_float_eq(adapt_tensor_data(rm)[c], rm1[c]);
        ck_assert_float_eq(adapt_tensor_data(rv)[c], rv1[c]);
        ck_assert_float_eq(adapt_tensor_grad(rm)[c], 0.0f);
        ck_assert_float_eq(adapt_tensor_grad(rv)[c], 0.0f);
        ck_assert_float_eq_tol(adapt_tensor_grad(beta)[c], 4.0f, 1e-6f);
    }
    free_params((adapt_tensor *[]){x, beta, rm, rv}, 4);
    adapt_context_free(ctx);
}
END_TEST

START_TEST(batchnorm_rejects_bad_arguments)
{
    adapt_context *ctx = tu_context(ADAPT_BACKEND_DEFAULT);
    adapt_tensor *x = tu_param(3, (int64_t[]){2, 3, 4}, 1, -1, 1);
    adapt_tensor *v = tu_param(1, (int64_t[]){3}, 2, 0.5f, 1);
    adapt_tensor *rm = tu_param(1, (int64_t[]){3}, 3, -1, 1);
    adapt_tensor *rv = tu_param(1, (int64_t[]){3}, 4, 0.5f, 1);
    adapt_tensor *bad = tu_param(1, (int64_t[]){4}, 5, -1, 1);
    adapt_tensor *flat = tu_param(1, (int64_t[]){3}, 6, -1, 1);
    adapt_tensor *single = tu_param(2, (int64_t[]){1, 3}, 7, -1, 1);
    float rm0[3], rv0[3];
    TU_OK(adapt_tensor_read(rm, rm0, 3));
    TU_OK(adapt_tensor_read(rv, rv0, 3));
    adapt_tensor *out = (adapt_tensor *)0x1;
    TU_OK(adapt_context_set_training(ctx, 1));
    TU_FAILS(adapt_op_batchnorm(&out, NULL, x, v, v, rm, rv, 0.1f, eps),
             ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_op_batchnorm(NULL, ctx, x, v, v, rm, rv, 0.1f, eps),
             ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_op_batchnorm(&out, ctx, NULL, v, v, rm, rv, 0.1f, eps),
             ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_op_batchnorm(&out, ctx, flat, v, v, rm, rv, 0.1f, eps), ADAPT_ERR_SHAPE);
    TU_FAILS(adapt_op_batchnorm(&out, ctx, x, bad, v, rm, rv, 0.1f, eps), ADAPT_ERR_SHAPE);
    TU_FAILS(adapt_op_batchnorm(&out, ctx, x, v, bad, rm, rv, 0.1f, eps), ADAPT_ERR_SHAPE);
    TU_FAILS(adapt_op_batchnorm(&out, ctx, x, v, v, bad, rv, 0.1f, eps), ADAPT_ERR_SHAPE);
    TU_FAILS(adapt_op_batchnorm(&out, ctx, x, v, v, rm, bad, 0.1f, eps), ADAPT_ERR_SHAPE);
    TU_FAILS(adapt_op_batchnorm(&out, ctx, single, v, v, rm, rv, 0.1f, eps), ADAPT_ERR_SHAPE);
    TU_FAILS(adapt_op_batchnorm(&out, ctx, x, v, v, rm, NULL, 0.1f, eps),
             ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_op_batchnorm(&out, ctx, x, v, v, NULL, rv, 0.1f, eps),
             ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_op_batchnorm(&out, ctx, x, v, v, rm, rv, NAN, eps), ADAPT_ERR_NONFINITE);
    TU_FAILS(adapt_op_batchnorm(&out, ctx, x, v, v, rm, rv, 0.1f, NAN), ADAPT_ERR_NONFINITE);
    TU_FAILS(adapt_op_batchnorm(&out, ctx, x, v, v, rm, rv, 0.1f, INFINITY),
             ADAPT_ERR_NONFINITE);
    TU_FAILS(adapt_op_batchnorm(&out, ctx, x, v, v, rm, rv, 1.5f, eps),
             ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_op_batchnorm(&out, ctx, x, v, v, rm, rv, -0.1f, eps),
             ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_op_batchnorm(&out, ctx, x, v, v, rm, rv, 0.1f, 0.0f),
             ADAPT_ERR_INVALID_ARGUMENT);
    TU_OK(adapt_context_set_training(ctx, 0));
    TU_FAILS(adapt_op_batchnorm(&out, ctx, x, v, v, NULL, NULL, 0.1f, eps),
             ADAPT_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_eq(out, (adapt_tensor *)0x1);
    for (int c = 0; c < 3; c++) { /* failed calls leave the running statistics alone */
        ck_assert_float_eq(adapt_tensor_data(rm)[c], rm0[c]);
        ck_assert_float_eq(adapt_tensor_data(rv)[c], rv0[c]);
    }
    TU_OK(adapt_op_batchnorm(&out, ctx, single, NULL, NULL, rm, rv, 0.1f, eps));
    free_params((adapt_tensor *[]){x, v, rm, rv, bad, flat, single}, 7);
    adapt_context_free(ctx);
}
END_TEST

START_TEST(threads_do_not_change_results)
{
    /* Large enough that rows (layernorm) and channels (batchnorm) are split
     * over the pool, and so are gamma's and beta's columns (layernorm);
     * results must be bit-identical to one thread. */
    const int64_t ln_shape[] = {256, 256}, bn_shape[] = {8, 4, 64, 64};
    affine_case ac = {1, 1};
    bn_case bc = {1, 1, 1, NULL, NULL, 0.1f};
    adapt_tensor *p[3];
    p[0] = _i ? tu_param(4, bn_shape, 70, -2, 2) : tu_param(2, ln_shape, 70, -2, 2);
    make_affine(p, &ac, _i ? 4 : 256);
    tu_check_threads(_i ? batchnorm_forward : layernorm_forward, p, 3,
                     _i ? (void *)&bc : (void *)&ac, ADAPT_BACKEND_DEFAULT, 4, 0.0);
    free_params(p, 3);
}
END_TEST

static Suite *norm_suite(void)
{
    Suite *s = suite_create("norm");
    TCase *tc = tcase_create("norm");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, layernorm_matches_loops, 0, 4);
    tcase_add_test(tc, layernorm_hand_case);
    tcase_add_loop_test(tc, layernorm_gradients, 0, 4);
    tcase_add_test(tc, layernorm_rejects_bad_arguments);
    tcase_add_loop_test(tc, batchnorm_training_matches_loops, 0, 3);
    tcase_add_loop_test(tc, batchnorm_eval_matches_loops, 0, 3);
    tcase_add_test(tc, batchnorm_hand_case);
    tcase_add_loop_test(tc, batchnorm_gradients, 0, 8);
    tcase_add_test(tc, batchnorm_running_stats_move_only_in_forward);
    tcase_add_test(tc, batchnorm_rejects_bad_arguments);
    tcase_add_loop_test(tc, threads_do_not_change_results, 0, 2);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run(norm_suite());
}
