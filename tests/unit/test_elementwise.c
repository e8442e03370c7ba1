/* Elementwise ops, activations, softmax and dropout: values against
 * double-precision loops, gradients against finite differences and against
 * PyTorch's conventions at kinks, independence from the thread count,
 * dropout's mask statistics and reproducibility, and the error contract. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check_util.h"
#include "lib/core/context.h"
#include "lib/kernels/vector_math.h"

/* Every op of the suite; the first UNARY_COUNT map element i to element i. */
typedef enum {
    OP_SCALE, OP_RELU, OP_GELU, OP_SIGMOID, OP_TANH, OP_ABS, OP_CLAMP,
    OP_SOFTMAX, OP_LOG_SOFTMAX, OP_DROPOUT, OP_COUNT
} op_kind;

#define UNARY_COUNT OP_SOFTMAX

static const double pi = 3.14159265358979323846;
static const float scale_factor = -1.75f, clamp_lo = -0.5f, clamp_hi = 0.75f, drop_p = 0.25f;

static adapt_status apply_op(adapt_tensor **out, adapt_context *ctx, adapt_tensor *x, int kind)
{
    switch (kind) {
    case OP_SCALE: return adapt_op_scale(out, ctx, x, scale_factor);
    case OP_RELU: return adapt_op_relu(out, ctx, x);
    case OP_GELU: return adapt_op_gelu(out, ctx, x);
    case OP_SIGMOID: return adapt_op_sigmoid(out, ctx, x);
    case OP_TANH: return adapt_op_tanh(out, ctx, x);
    case OP_ABS: return adapt_op_abs(out, ctx, x);
    case OP_CLAMP: return adapt_op_clamp(out, ctx, x, clamp_lo, clamp_hi);
    case OP_SOFTMAX: return adapt_op_softmax(out, ctx, x);
    case OP_LOG_SOFTMAX: return adapt_op_log_softmax(out, ctx, x);
    default: return adapt_op_dropout(out, ctx, x, drop_p);
    }
}

static double unary_ref(int kind, double x)
{
    switch (kind) {
    case OP_SCALE: return x * scale_factor;
    case OP_RELU: return x > 0.0 ? x : 0.0;
    case OP_GELU: return 0.5 * x * (1.0 + erf(x / sqrt(2.0)));
    case OP_SIGMOID: return 1.0 / (1.0 + exp(-x));
    case OP_TANH: return tanh(x);
    case OP_ABS: return fabs(x);
    default: return fmin(fmax(x, clamp_lo), clamp_hi);
    }
}

/* Derivatives with PyTorch's choices at the kinks. */
static double unary_deriv_ref(int kind, double x)
{
    const double s = 1.0 / (1.0 + exp(-x));
    switch (kind) {
    case OP_SCALE: return scale_factor;
    case OP_RELU: return x > 0.0 ? 1.0 : 0.0;
    case OP_GELU: return 0.5 * (1.0 + erf(x / sqrt(2.0))) + x * exp(-0.5 * x * x) / sqrt(2.0 * pi);
    case OP_SIGMOID: return s * (1.0 - s);
    case OP_TANH: return 1.0 - tanh(x) * tanh(x);
    case OP_ABS: return x > 0.0 ? 1.0 : x < 0.0 ? -1.0 : 0.0;
    default: return x >= clamp_lo && x <= clamp_hi ? 1.0 : 0.0;
    }
}

/* Moves values off the kinks of relu, abs and clamp, so that central
 * differences with a step below `margin` see a smooth function. */
static void avoid_kinks(adapt_tensor *t, float margin)
{
    const float kinks[] = {0.0f, clamp_lo, clamp_hi};
    float *x = adapt_tensor_data(t);
    for (int64_t i = 0; i < adapt_tensor_numel(t); i++)
        for (int k = 0; k < 3; k++)
            if (fabsf(x[i] - kinks[k]) < margin)
                x[i] = kinks[k] + (x[i] >= kinks[k] ? margin : -margin);
}

static adapt_context *threaded_context(int32_t n_threads, uint64_t seed)
{
    adapt_context_params p;
    adapt_context_params_init(&p, sizeof p);
    p.n_threads = n_threads;
    p.seed = seed;
    adapt_context *ctx = NULL;
    TU_OK(adapt_context_create(&ctx, &p));
    TU_OK(adapt_context_set_grad(ctx, 1));
    return ctx;
}

static int64_t count_different(const float *a, const float *b, int64_t n)
{
    int64_t count = 0;
    for (int64_t i = 0; i < n; i++)
        count += a[i] != b[i];
    return count;
}

static int64_t count_nonzero(const float *x, int64_t n)
{
    int64_t count = 0;
    for (int64_t i = 0; i < n; i++)
        count += x[i] != 0.0f;
    return count;
}

/* First i with |got[i] - want[i]| > tol * max(1, |want[i]|), or -1. Large
 * arrays are checked with one assertion because Check records every one. */
static int64_t first_mismatch(const float *got, const double *want, int64_t n, double tol)
{
    for (int64_t i = 0; i < n; i++)
        if (!(fabs(got[i] - want[i]) <= tol * fmax(1.0, fabs(want[i]))))
            return i;
    return -1;
}

static adapt_status op_forward(adapt_tensor **out, adapt_context *ctx, adapt_tensor **p,
                               void *arg)
{
    return apply_op(out, ctx, p[0], *(const int *)arg);
}

START_TEST(unary_values_and_kinks)
{
    /* Forward and d(sum y)/dx against double loops, including x exactly at
     * every kink, saturating inputs and negative zero. */
    const int kind = _i;
    adapt_context *ctx = tu_context(ADAPT_BACKEND_DEFAULT);
    adapt_tensor *x = tu_param(2, (int64_t[]){4, 16}, 11, -4.0f, 4.0f);
    float *xv = adapt_tensor_data(x);
    const float special[] = {0.0f, clamp_lo, clamp_hi, -30.0f, 30.0f, -0.0f, -1e-3f, 1e-3f};
    memcpy(xv, special, sizeof special);
    adapt_tensor *y, *loss;
    TU_OK(apply_op(&y, ctx, x, kind));
    TU_OK(adapt_op_sum(&loss, ctx, y, ADAPT_AXIS_ALL));
    TU_OK(adapt_backward(ctx, loss));
    const float *yv = adapt_tensor_data(y), *g = adapt_tensor_grad(x);
    for (int64_t i = 0; i < adapt_tensor_numel(x); i++) {
        double want = unary_ref(kind, xv[i]), dwant = unary_deriv_ref(kind, xv[i]);
        ck_assert_msg(fabs(yv[i] - want) <= 1e-6 * fmax(1.0, fabs(want)),
                      "op %d at x = %g: %.9g, expected %.9g", kind, (double)xv[i],
                      (double)yv[i], want);
        ck_assert_msg(fabs(g[i] - dwant) <= 1e-5 * fmax(1.0, fabs(dwant)),
                      "op %d gradient at x = %g: %.9g, expected %.9g", kind, (double)xv[i],
                      (double)g[i], dwant);
    }
    adapt_tensor_free(x);
    adapt_context_free(ctx);
}
END_TEST

START_TEST(unary_gradients)
{
    int kind = _i;
    adapt_tensor *x = tu_param(3, (int64_t[]){2, 3, 7}, 21, -2.5f, 2.5f);
    avoid_kinks(x, 0.05f);
    tu_gradcheck(op_forward, &x, 1, &kind, 1e-2, 2e-3, 1000);
    adapt_tensor_free(x);
}
END_TEST

/* The sum of every op applied to the same input: each backward must add to
 * the input's gradient, not overwrite what the others put there. */
static adapt_status all_ops_forward(adapt_tensor **out, adapt_context *ctx, adapt_tensor **p,
                                    void *arg)
{
    adapt_tensor *acc = NULL, *y = NULL;
    adapt_status st = adapt_op_relu(&acc, ctx, p[0]);
    for (int kind = 0; kind < OP_COUNT && !st; kind++) {
        st = apply_op(&y, ctx, p[0], kind);
        if (!st)
            st = adapt_op_add(&acc, ctx, acc, y);
    }
    if (!st)
        *out = acc;
    return st;
}

START_TEST(gradients_accumulate_across_consumers)
{
    adapt_tensor *x = tu_param(2, (int64_t[]){3, 6}, 31, -2.0f, 2.0f);
    avoid_kinks(x, 0.05f);
    tu_gradcheck(all_ops_forward, &x, 1, NULL, 1e-2, 2e-3, 1000);
    adapt_tensor_free(x);
}
END_TEST

/* Softmax of each row of x[rows, d] in double, shifted by the row max. */
static void softmax_ref(const float *x, int64_t rows, int64_t d, double *p, double *logp)
{
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = x + r * d;
        double m = xr[0], sum = 0.0;
        for (int64_t i = 1; i < d; i++)
            m = fmax(m, xr[i]);
        for (int64_t i = 0; i < d; i++)
            sum += exp(xr[i] - m);
        for (int64_t i = 0; i < d; i++) {
            logp[r * d + i] = xr[i] - m - log(sum);
            p[r * d + i] = exp(logp[r * d + i]);
        }
    }
}

/* The softmax kinds of check_large: values and the standard backward formulas. */
static void softmax_large_ref(int kind, const float *x, const float *r, int64_t rows,
                              int64_t d, double *want_y, double *want_g)
{
    double *p = malloc((size_t)(rows * d) * sizeof *p);
    double *logp = malloc((size_t)(rows * d) * sizeof *logp);
    softmax_ref(x, rows, d, p, logp);
    for (int64_t row = 0; row < rows; row++) {
        double dot = 0.0, sum = 0.0;
        for (int64_t k = row * d; k < (row + 1) * d; k++)
            dot += p[k] * r[k], sum += r[k];
        for (int64_t k = row * d; k < (row + 1) * d; k++) {
            want_y[k] = kind == OP_SOFTMAX ? p[k] : logp[k];
            want_g[k] = kind == OP_SOFTMAX ? p[k] * (r[k] - dot) : r[k] - p[k] * sum;
        }
    }
    free(p);
    free(logp);
}

/* Output and gradient of sum(op(x) * r) for x[300, 400], in double, compared
 * with what the op produced. Dropout's mask is read back from its output. */
static void check_large(int kind, const float *x, const float *r, const float *y,
                        const float *g)
{
    const int64_t rows = 300, d = 400, n = rows * d;
    double *want_y = malloc((size_t)n * sizeof *want_y);
    double *want_g = malloc((size_t)n * sizeof *want_g);
    if (kind == OP_SOFTMAX || kind == OP_LOG_SOFTMAX)
        softmax_large_ref(kind, x, r, rows, d, want_y, want_g);
    for (int64_t i = 0; kind < UNARY_COUNT && i < n; i++) {
        want_y[i] = unary_ref(kind, x[i]);
        want_g[i] = unary_deriv_ref(kind, x[i]) * r[i];
    }
    for (int64_t i = 0; kind == OP_DROPOUT && i < n; i++) {
        double factor = y[i] != 0.0f ? 1.0 / (1.0 - drop_p) : 0.0;
        want_y[i] = x[i] * factor;
        want_g[i] = r[i] * factor;
    }
    int64_t bad_y = first_mismatch(y, want_y, n, 2e-6), bad_g = first_mismatch(g, want_g, n, 2e-6);
    ck_assert_msg(bad_y < 0, "op %d element %lld: %.9g, expected %.9g", kind,
                  (long long)bad_y, (double)y[bad_y], want_y[bad_y]);
    ck_assert_msg(bad_g < 0, "op %d gradient %lld: %.9g, expected %.9g", kind,
                  (long long)bad_g, (double)g[bad_g], want_g[bad_g]);
    free(want_y);
    free(want_g);
}

/* Output and input gradient of sum(op(x) * r) on `ctx`, copied out. */
static void run_large(adapt_context *ctx, int kind, adapt_tensor *x, const float *r, float *y,
                      float *grad)
{
    const int64_t n = adapt_tensor_numel(x);
    adapt_tensor *out, *rt, *prod, *loss;
    TU_OK(adapt_param_zero_grad(x));
    TU_OK(apply_op(&out, ctx, x, kind));
    TU_OK(adapt_tensor_input(&rt, ctx, 2, (int64_t[]){300, 400}, r));
    TU_OK(adapt_op_mul(&prod, ctx, out, rt));
    TU_OK(adapt_op_sum(&loss, ctx, prod, ADAPT_AXIS_ALL));
    TU_OK(adapt_backward(ctx, loss));
    memcpy(y, adapt_tensor_data(out), (size_t)n * sizeof *y);
    memcpy(grad, adapt_tensor_grad(x), (size_t)n * sizeof *grad);
    adapt_context_reset(ctx);
}

START_TEST(large_tensors_independent_of_threads)
{
    /* 120k elements take the threaded path: results must be bit-identical to
     * the single-threaded ones and match the double-precision references. */
    const int kind = _i;
    const int64_t n = 300 * 400;
    adapt_tensor *x = tu_param(2, (int64_t[]){300, 400}, 41, -3.0f, 3.0f);
    float *r = malloc((size_t)n * sizeof *r), *buf = malloc(4 * (size_t)n * sizeof *buf);
    tu_fill(r, n, 42, -1.0f, 1.0f);
    adapt_context *one = threaded_context(1, 5), *four = threaded_context(4, 5);
    TU_OK(adapt_context_set_training(one, 1));
    TU_OK(adapt_context_set_training(four, 1));
    run_large(one, kind, x, r, buf, buf + n);
    run_large(four, kind, x, r, buf + 2 * n, buf + 3 * n);
    ck_assert_msg(memcmp(buf, buf + 2 * n, (size_t)n * sizeof *buf) == 0,
                  "op %d: forward differs between 1 and 4 threads", kind);
    ck_assert_msg(memcmp(buf + n, buf + 3 * n, (size_t)n * sizeof *buf) == 0,
                  "op %d: gradient differs between 1 and 4 threads", kind);
    check_large(kind, adapt_tensor_data(x), r, buf, buf + n);
    adapt_context_free(one);
    adapt_context_free(four);
    free(r);
    free(buf);
    adapt_tensor_free(x);
}
END_TEST

START_TEST(softmax_values)
{
    adapt_context *ctx = tu_context(ADAPT_BACKEND_DEFAULT);
    adapt_tensor *x = tu_param(2, (int64_t[]){4, 6}, 51, -5.0f, 5.0f);
    const float extreme[] = {1000.0f, 999.0f, 0.0f, -1000.0f, 1000.0f, 998.0f};
    memcpy(adapt_tensor_data(x) + 6, extreme, sizeof extreme);
    double p[24], logp[24];
    softmax_ref(adapt_tensor_data(x), 4, 6, p, logp);
    adapt_tensor *s, *ls;
    TU_OK(adapt_op_softmax(&s, ctx, x));
    TU_OK(adapt_op_log_softmax(&ls, ctx, x));
    const float *sv = adapt_tensor_data(s), *lv = adapt_tensor_data(ls);
    for (int64_t r = 0; r < 4; r++) {
        double row_sum = 0.0;
        for (int64_t i = 0; i < 6; i++) {
            int64_t k = r * 6 + i;
            ck_assert(isfinite(sv[k]) && isfinite(lv[k]));
            ck_assert_double_eq_tol(sv[k], p[k], 1e-6);
            ck_assert_double_eq_tol(lv[k], logp[k], 1e-5 * fmax(1.0, fabs(logp[k])));
            if (sv[k] > 1e-30f) /* log(softmax) where softmax did not underflow */
                ck_assert_double_eq_tol(lv[k], log(sv[k]), 1e-5 * fmax(1.0, fabs(lv[k])));
            row_sum += sv[k];
        }
        ck_assert_double_eq_tol(row_sum, 1.0, 1e-6);
    }
    ck_assert_float_eq(sv[6], sv[10]); /* the two tied maxima */
    adapt_tensor_free(x);
    adapt_context_free(ctx);
}
END_TEST

START_TEST(softmax_shapes)
{
    /* Rank 1 is a single row; empty rows or batches produce empty outputs. */
    adapt_context *ctx = tu_context(ADAPT_BACKEND_DEFAULT);
    adapt_tensor *v = tu_param(1, (int64_t[]){3}, 1, 0.0f, 0.0f);
    adapt_tensor *empty_rows = tu_param(2, (int64_t[]){2, 0}, 1, 0, 1);
    adapt_tensor *no_rows = tu_param(2, (int64_t[]){0, 5}, 1, 0, 1);
    adapt_tensor *y;
    TU_OK(adapt_op_softmax(&y, ctx, v));
    for (int i = 0; i < 3; i++)
        ck_assert_float_eq_tol(adapt_tensor_data(y)[i], 1.0f / 3.0f, 1e-7f);
    TU_OK(adapt_op_log_softmax(&y, ctx, v));
    ck_assert_float_eq_tol(adapt_tensor_data(y)[0], -logf(3.0f), 1e-6f);
    TU_OK(adapt_op_softmax(&y, ctx, empty_rows));
    ck_assert_int_eq(adapt_tensor_numel(y), 0);
    ck_assert_int_eq(adapt_tensor_dim(y, 0), 2);
    TU_OK(adapt_op_log_softmax(&y, ctx, no_rows));
    ck_assert_int_eq(adapt_tensor_numel(y), 0);
    adapt_tensor_free(v);
    adapt_tensor_free(empty_rows);
    adapt_tensor_free(no_rows);
    adapt_context_free(ctx);
}
END_TEST

START_TEST(softmax_gradients)
{
    int kind = OP_SOFTMAX + _i;
    adapt_tensor *x = tu_param(3, (int64_t[]){2, 3, 5}, 61, -3.0f, 3.0f);
    tu_gradcheck(op_forward, &x, 1, &kind, 1e-2, 2e-3, 1000);
    adapt_tensor_free(x);
}
END_TEST

START_TEST(dropout_identity_outside_training)
{
    /* _i: 0 = evaluation with p > 0, 1 = training with p == 0. */
    adapt_context *ctx = tu_context(ADAPT_BACKEND_DEFAULT);
    TU_OK(adapt_context_set_training(ctx, _i));
    const float p = _i ? 0.0f : 0.5f;
    adapt_tensor *x = tu_param(2, (int64_t[]){50, 40}, 71, -1.0f, 1.0f);
    adapt_tensor *y, *loss;
    float ones[2000];
    for (int i = 0; i < 2000; i++)
        ones[i] = 1.0f;
    TU_OK(adapt_op_dropout(&y, ctx, x, p));
    ck_assert_ptr_ne(y, x); /* a copy, not the input itself */
    ck_assert_int_eq(memcmp(adapt_tensor_data(y), adapt_tensor_data(x), 2000 * sizeof(float)), 0);
    TU_OK(adapt_op_sum(&loss, ctx, y, ADAPT_AXIS_ALL));
    TU_OK(adapt_backward(ctx, loss));
    ck_assert_int_eq(count_different(adapt_tensor_grad(x), ones, 2000), 0);
    adapt_tensor_free(x);
    adapt_context_free(ctx);
}
END_TEST

START_TEST(dropout_keep_fraction)
{
    /* Kept count within 3 sigma of the binomial mean; kept values scaled. */
    const float ps[] = {0.1f, 0.5f, 0.9f};
    const float p = ps[_i];
    const int64_t n = 100000;
    adapt_context *ctx = threaded_context(1, 1234);
    TU_OK(adapt_context_set_training(ctx, 1));
    adapt_tensor *x = tu_param(1, &n, 81, 0.5f, 1.5f), *y;
    TU_OK(adapt_op_dropout(&y, ctx, x, p));
    const float *xv = adapt_tensor_data(x), *yv = adapt_tensor_data(y);
    const int64_t kept = count_nonzero(yv, n);
    const double mean = n * (1.0 - p), sigma = sqrt(n * p * (1.0 - p));
    ck_assert_msg(fabs(kept - mean) <= 3.0 * sigma, "p = %g kept %lld of %lld", (double)p,
                  (long long)kept, (long long)n);
    double *want = malloc((size_t)n * sizeof *want);
    for (int64_t i = 0; i < n; i++)
        want[i] = yv[i] != 0.0f ? xv[i] / (1.0 - p) : 0.0;
    int64_t bad = first_mismatch(yv, want, n, 1e-6);
    ck_assert_msg(bad < 0, "kept element %lld is %.9g, expected %.9g", (long long)bad,
                  (double)yv[bad], want[bad]);
    free(want);
    adapt_tensor_free(x);
    adapt_context_free(ctx);
}
END_TEST

/* Dropout of x on `ctx` in training mode, output copied into y. */
static void dropout_into(adapt_context *ctx, adapt_tensor *x, float *y)
{
    adapt_tensor *out;
    TU_OK(adapt_context_set_training(ctx, 1));
    TU_OK(adapt_op_dropout(&out, ctx, x, 0.5f));
    memcpy(y, adapt_tensor_data(out), (size_t)adapt_tensor_numel(x) * sizeof *y);
}

START_TEST(dropout_masks_reproducible)
{
    /* Same seed: same masks call by call, whatever the thread count (the
     * counter-based stream is indexed by element). Successive calls and
     * other seeds: different masks. */
    const int64_t n = 100000;
    adapt_tensor *x = tu_param(1, &n, 91, 0.5f, 1.5f);
    float *y = malloc(5 * (size_t)n * sizeof *y);
    adapt_context *a = threaded_context(1, 7), *b = threaded_context(2, 7);
    adapt_context *c = threaded_context(1, 8);
    dropout_into(a, x, y);
    dropout_into(a, x, y + n);
    dropout_into(b, x, y + 2 * n);
    dropout_into(b, x, y + 3 * n);
    dropout_into(c, x, y + 4 * n);
    ck_assert_int_eq(count_different(y, y + 2 * n, n), 0);
    ck_assert_int_eq(count_different(y + n, y + 3 * n, n), 0);
    ck_assert_int_gt(count_different(y, y + n, n), n / 4);
    ck_assert_int_gt(count_different(y, y + 4 * n, n), n / 4);
    adapt_context_free(a);
    adapt_context_free(b);
    adapt_context_free(c);
    free(y);
    adapt_tensor_free(x);
}
END_TEST

START_TEST(dropout_backward_uses_forward_mask)
{
    /* Another dropout call between forward and backward advances the stream;
     * the backward must still regenerate the first call's mask. */
    const float p = 0.4f;
    adapt_context *ctx = threaded_context(2, 99);
    TU_OK(adapt_context_set_training(ctx, 1));
    adapt_tensor *x = tu_param(2, (int64_t[]){1000, 100}, 101, 0.5f, 1.5f);
    float *r = malloc(100000 * sizeof *r);
    tu_fill(r, 100000, 102, -1.0f, 1.0f);
    adapt_tensor *y, *other, *rt, *prod, *loss;
    TU_OK(adapt_op_dropout(&y, ctx, x, p));
    TU_OK(adapt_op_dropout(&other, ctx, x, p));
    TU_OK(adapt_tensor_input(&rt, ctx, 2, (int64_t[]){1000, 100}, r));
    TU_OK(adapt_op_mul(&prod, ctx, y, rt));
    TU_OK(adapt_op_sum(&loss, ctx, prod, ADAPT_AXIS_ALL));
    TU_OK(adapt_backward(ctx, loss));
    const float *yv = adapt_tensor_data(y), *g = adapt_tensor_grad(x);
    double *want = malloc(100000 * sizeof *want);
    for (int64_t i = 0; i < 100000; i++)
        want[i] = yv[i] != 0.0f ? r[i] / (1.0 - p) : 0.0;
    int64_t bad = first_mismatch(g, want, 100000, 1e-6);
    ck_assert_msg(bad < 0, "gradient %lld is %.9g, expected %.9g", (long long)bad,
                  (double)g[bad], want[bad]);
    free(want);
    free(r);
    adapt_tensor_free(x);
    adapt_context_free(ctx);
}
END_TEST

/* Training-mode dropout with the context's stream counter pinned, so that
 * every probe of the gradient check draws the same mask. */
static adapt_status pinned_dropout_forward(adapt_tensor **out, adapt_context *ctx,
                                           adapt_tensor **p, void *arg)
{
    TU_OK(adapt_context_set_training(ctx, 1));
    ctx->rng_stream = 0;
    return adapt_op_dropout(out, ctx, p[0], drop_p);
}

START_TEST(dropout_gradients_in_training)
{
    adapt_tensor *x = tu_param(2, (int64_t[]){8, 9}, 111, -1.0f, 1.0f);
    tu_gradcheck(pinned_dropout_forward, &x, 1, NULL, 1e-2, 2e-3, 1000);
    adapt_tensor_free(x);
}
END_TEST

START_TEST(rejects_bad_tensors)
{
    const int kind = _i;
    adapt_context *ctx = tu_context(ADAPT_BACKEND_DEFAULT);
    adapt_tensor *x = tu_param(2, (int64_t[]){2, 3}, 1, -1.0f, 1.0f);
    adapt_tensor *stale, *out = (adapt_tensor *)0x1;
    TU_OK(adapt_tensor_input(&stale, ctx, 2, (int64_t[]){2, 3}, adapt_tensor_data(x)));
    adapt_context_reset(ctx);
    TU_FAILS(apply_op(&out, NULL, x, kind), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(apply_op(NULL, ctx, x, kind), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(apply_op(&out, ctx, NULL, kind), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(apply_op(&out, ctx, stale, kind), ADAPT_ERR_STATE);
    ck_assert_ptr_eq(out, (adapt_tensor *)0x1);
    TU_OK(apply_op(&out, ctx, x, kind));
    ck_assert_int_eq(adapt_tensor_dim(out, 1), 3);
    adapt_tensor_free(x);
    adapt_context_free(ctx);
}
END_TEST

START_TEST(rejects_when_arena_is_full)
{
    const int kind = _i;
    adapt_context_params params;
    adapt_context_params_init(&params, sizeof params);
    params.n_threads = 1;
    params.arena_limit_bytes = 4096;
    adapt_context *ctx = NULL;
    TU_OK(adapt_context_create(&ctx, &params));
    adapt_tensor *x = tu_param(1, (int64_t[]){4096}, 1, -1.0f, 1.0f);
    adapt_tensor *out = (adapt_tensor *)0x1;
    TU_FAILS(apply_op(&out, ctx, x, kind), ADAPT_ERR_OUT_OF_MEMORY);
    ck_assert_ptr_eq(out, (adapt_tensor *)0x1);
    adapt_tensor_free(x);
    adapt_context_free(ctx);
}
END_TEST

START_TEST(rejects_bad_scalars)
{
    adapt_context *ctx = tu_context(ADAPT_BACKEND_DEFAULT);
    adapt_tensor *x = tu_param(2, (int64_t[]){2, 3}, 1, -1.0f, 1.0f);
    adapt_tensor *scalar = tu_param(0, NULL, 1, -1.0f, 1.0f);
    adapt_tensor *out = (adapt_tensor *)0x1;
    TU_FAILS(adapt_op_scale(&out, ctx, x, NAN), ADAPT_ERR_NONFINITE);
    TU_FAILS(adapt_op_scale(&out, ctx, x, INFINITY), ADAPT_ERR_NONFINITE);
    TU_FAILS(adapt_op_clamp(&out, ctx, x, 1.0f, -1.0f), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_op_clamp(&out, ctx, x, NAN, 1.0f), ADAPT_ERR_NONFINITE);
    TU_FAILS(adapt_op_clamp(&out, ctx, x, -1.0f, NAN), ADAPT_ERR_NONFINITE);
    TU_FAILS(adapt_op_clamp(&out, ctx, x, -INFINITY, 1.0f), ADAPT_ERR_NONFINITE);
    TU_FAILS(adapt_op_softmax(&out, ctx, scalar), ADAPT_ERR_SHAPE);
    TU_FAILS(adapt_op_log_softmax(&out, ctx, scalar), ADAPT_ERR_SHAPE);
    TU_FAILS(adapt_op_dropout(&out, ctx, x, -0.1f), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_op_dropout(&out, ctx, x, 1.0f), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_op_dropout(&out, ctx, x, NAN), ADAPT_ERR_NONFINITE);
    TU_FAILS(adapt_op_dropout(&out, ctx, x, INFINITY), ADAPT_ERR_NONFINITE);
    ck_assert_ptr_eq(out, (adapt_tensor *)0x1);
    /* Boundary values that are valid: lo == hi, p == 0, a zero factor. */
    TU_OK(adapt_op_clamp(&out, ctx, x, 0.25f, 0.25f));
    ck_assert_float_eq(adapt_tensor_data(out)[0], 0.25f);
    TU_OK(adapt_op_dropout(&out, ctx, x, 0.0f));
    TU_OK(adapt_op_scale(&out, ctx, x, 0.0f));
    ck_assert_float_eq(adapt_tensor_data(out)[1], 0.0f);
    adapt_tensor_free(x);
    adapt_tensor_free(scalar);
    adapt_context_free(ctx);
}
END_TEST

START_TEST(vector_exp_matches_libm)
{
    double worst = 0.0;
    for (double x = AD_VEXP_MIN; x < AD_VEXP_MAX; x += 1e-3) {
        const float f = (float)x;
        const double want = exp((double)f);
        worst = fmax(worst, fabs(ad_vexp(f) - want) / want);
    }
    ck_assert_msg(worst < 2.5e-7, "relative error %.3g", worst); /* ~2 ulp */
    ck_assert_float_eq(ad_vexp(0.0f), 1.0f);
    ck_assert_float_eq(ad_vexp(-87.0f), 0.0f);
    ck_assert_float_eq(ad_vexp(-INFINITY), 0.0f);
    ck_assert(isinf(ad_vexp(88.73f)) && isinf(ad_vexp(INFINITY)));
    ck_assert(isnan(ad_vexp(NAN)));
}
END_TEST

START_TEST(vector_erf_matches_libm)
{
    double worst = 0.0;
    for (double x = -8.0; x < 8.0; x += 1e-4)
        worst = fmax(worst, fabs(ad_verf((float)x) - erf((double)(float)x)));
    ck_assert_msg(worst < 2e-7, "absolute error %.3g", worst);
    ck_assert_float_eq(ad_verf(0.0f), 0.0f);
    ck_assert_float_eq(ad_verf(INFINITY), 1.0f);
    ck_assert_float_eq(ad_verf(-INFINITY), -1.0f);
    ck_assert(isnan(ad_verf(NAN)));
}
END_TEST

static Suite *elementwise_suite(void)
{
    Suite *s = suite_create("elementwise");
    TCase *tc = tcase_create("elementwise");
    tcase_add_test(tc, vector_exp_matches_libm);
    tcase_add_test(tc, vector_erf_matches_libm);
    tcase_add_loop_test(tc, unary_values_and_kinks, 0, UNARY_COUNT);
    tcase_add_loop_test(tc, unary_gradients, 0, UNARY_COUNT);
    tcase_add_test(tc, gradients_accumulate_across_consumers);
    tcase_add_loop_test(tc, large_tensors_independent_of_threads, 0, OP_COUNT);
    tcase_add_test(tc, softmax_values);
    tcase_add_test(tc, softmax_shapes);
    tcase_add_loop_test(tc, softmax_gradients, 0, 2);
    tcase_add_loop_test(tc, dropout_identity_outside_training, 0, 2);
    tcase_add_loop_test(tc, dropout_keep_fraction, 0, 3);
    tcase_add_test(tc, dropout_masks_reproducible);
    tcase_add_test(tc, dropout_backward_uses_forward_mask);
    tcase_add_test(tc, dropout_gradients_in_training);
    tcase_add_loop_test(tc, rejects_bad_tensors, 0, OP_COUNT);
    tcase_add_loop_test(tc, rejects_when_arena_is_full, 0, OP_COUNT);
    tcase_add_test(tc, rejects_bad_scalars);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run(elementwise_suite());
}
