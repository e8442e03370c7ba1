/* Layers of lib/nn: every kind's output against a straightforward double computation on small
 * shapes, gradients against finite differences (the input is a parameter too), FLOP counts
 * against hand-computed figures, PyTorch-style initialisation, every GEMM backend against the
 * reference, and the argument and shape checks of ad_layer_init(). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check_util.h"
#include "lib/core/context.h"
#include "lib/core/tensor.h"
#include "lib/kernels/vector_math.h"
#include "lib/nn/attention.h"
#include "lib/nn/batchnorm.h"
#include "lib/nn/chain.h"
#include "lib/nn/layer.h"
#include "lib/nn/layer_kinds.h"
#include "lib/nn/linear.h"
#include "lib/nn/patch_embed.h"
#include "lib/nn/residual.h"
#include "lib/nn/transformer.h"

/* ---- fixtures ----------------------------------------------------------- */

typedef struct {
    ad_param_list params;
    ad_layer layer;
    ad_attention attention; /* used instead of `layer` when is_attention */
    bool is_attention;
    adapt_tensor *x; /* the input, a parameter so that gradcheck perturbs it too */
    int training;
} fixture;

static adapt_layer_params layer_of(int32_t kind)
{
    adapt_layer_params p;
    adapt_layer_params_init(&p, sizeof p);
    p.kind = kind;
    return p;
}

static void make_input(fixture *f, const ad_dims *in, int64_t batch, float lo, float hi)
{
    int64_t shape[ADAPT_MAX_DIMS] = {batch};
    memcpy(shape + 1, in->d, (size_t)in->ndim * sizeof *shape);
    f->x = tu_param(in->ndim + 1, shape, 5, lo, hi);
}

static void setup_named(fixture *f, adapt_layer_params p, ad_dims in, int64_t batch,
                        const ad_layer_names *names)
{
    memset(f, 0, sizeof *f);
    ad_params_init(&f->params, 77, INT64_MAX);
    TU_OK(ad_layer_init(&f->layer, &p, &in, &f->params, names, "test"));
    make_input(f, &in, batch, -1.0f, 1.0f);
}

static void setup(fixture *f, adapt_layer_params p, ad_dims in, int64_t batch)
{
    setup_named(f, p, in, batch, &(ad_layer_names){.prefix = ""});
}

static void teardown(fixture *f)
{
    adapt_tensor_free(f->x);
    ad_params_free(&f->params);
}

static adapt_tensor *param(const fixture *f, const char *name)
{
    for (int32_t i = 0; i < f->params.count; i++)
        if (strcmp(f->params.items[i].name, name) == 0)
            return f->params.items[i].tensor;
    ck_abort_msg("no parameter named %s", name);
    return NULL;
}

static float *data(const fixture *f, const char *name)
{
    return adapt_tensor_data(param(f, name));
}

static void expect_param(const fixture *f, const char *name, int32_t ndim, const int64_t *shape)
{
    adapt_tensor *t = param(f, name);
    ck_assert_int_eq(adapt_tensor_ndim(t), ndim);
    for (int32_t i = 0; i < ndim; i++)
        ck_assert_int_eq(adapt_tensor_dim(t, i), shape[i]);
}

/* Replaces the initial values (mostly 0 and 1 for norms) by random ones so that every
 * parameter matters; running variances stay positive. */
static void randomise(fixture *f)
{
    for (int32_t i = 0; i < f->params.count; i++) {
        adapt_tensor *t = f->params.items[i].tensor;
        bool var = strstr(f->params.items[i].name, "running_var") != NULL;
        tu_fill(adapt_tensor_data(t), adapt_tensor_numel(t), 100 + (uint64_t)i,
                var ? 0.5f : -0.5f, var ? 1.5f : 0.5f);
    }
}

static adapt_status run_fixture(adapt_tensor **out, adapt_context *ctx, adapt_tensor **p,
                                void *arg)
{
    const fixture *f = arg;
    adapt_status st = adapt_context_set_training(ctx, f->training);
    ctx->rng_stream = 0; /* the same dropout mask on every pass */
    if (st)
        return st;
    adapt_tensor *y = NULL;
    st = f->is_attention ? ad_attention_forward(&y, ctx, &f->attention, tu_record(p[0]))
                         : ad_layer_forward(&y, ctx, &f->layer, tu_record(p[0]));
    if (!st)
        *out = tu_handle(y);
    return st;
}

/* The output values on `backend` (malloc'ed), after checking the output shape. */
static float *forward_values(fixture *f, adapt_backend backend, int64_t *numel)
{
    adapt_context *ctx = tu_context(backend);
    adapt_tensor *y;
    TU_OK(run_fixture(&y, ctx, &f->x, f));
    const ad_dims *out = f->is_attention ? NULL : &f->layer.out;
    if (out) {
        ck_assert_int_eq(adapt_tensor_ndim(y), out->ndim + 1);
        ck_assert_int_eq(adapt_tensor_dim(y, 0), adapt_tensor_dim(f->x, 0));
        for (int32_t i = 0; i < out->ndim; i++)
            ck_assert_int_eq(adapt_tensor_dim(y, i + 1), out->d[i]);
    }
    *numel = adapt_tensor_numel(y);
    float *v = malloc((size_t)*numel * sizeof *v);
    memcpy(v, adapt_tensor_data(y), (size_t)*numel * sizeof *v);
    adapt_context_free(ctx);
    return v;
}

static void gradcheck(fixture *f, double h, double tol)
{
    adapt_tensor *p[64] = {f->x};
    ck_assert_int_lt(f->params.count, 63);
    for (int32_t i = 0; i < f->params.count; i++)
        p[i + 1] = f->params.items[i].tensor;
    tu_gradcheck(run_fixture, p, f->params.count + 1, f, h, tol, 40);
}

static void expect_close(const float *got, const double *want, int64_t n, double tol)
{
    for (int64_t i = 0; i < n; i++)
        ck_assert_msg(fabs(got[i] - want[i]) <= tol * fmax(1.0, fabs(want[i])),
                      "element %lld: got %.7g, want %.7g", (long long)i, (double)got[i],
                      want[i]);
}

/* Forward on the reference backend against `want`. */
static void expect_output(fixture *f, const double *want, double tol)
{
    int64_t n;
    float *got = forward_values(f, ADAPT_BACKEND_REFERENCE, &n);
    expect_close(got, want, n, tol);
    free(got);
}

/* Inference (no tape: the fused paths) on every backend, on one thread and on two,
 * against `want`. */
static void expect_untaped_output(fixture *f, const double *want, double tol)
{
    for (int b = ADAPT_BACKEND_REFERENCE; b <= ADAPT_BACKEND_ONEDNN; b++) {
        for (int32_t threads = 1; threads <= 2 && adapt_backend_available((adapt_backend)b);
             threads++) {
            adapt_context *ctx = tu_context_threads((adapt_backend)b, threads);
            TU_OK(adapt_context_set_grad(ctx, 0));
            adapt_tensor *y;
            TU_OK(run_fixture(&y, ctx, &f->x, f));
            expect_close(adapt_tensor_data(y), want, adapt_tensor_numel(y), tol);
            adapt_context_free(ctx);
        }
    }
}

/* Inference (no tape) gives the taped pass's values bit for bit, on the reference backend:
 * for layers whose untaped path fuses ops rather than reorders arithmetic. */
static void untaped_gives_the_same_bits(fixture *f)
{
    float *values[2];
    int64_t n[2];
    for (int grad = 0; grad < 2; grad++) {
        adapt_context *ctx = tu_context(ADAPT_BACKEND_REFERENCE);
        TU_OK(adapt_context_set_grad(ctx, grad));
        adapt_tensor *y;
        TU_OK(run_fixture(&y, ctx, &f->x, f));
        n[grad] = adapt_tensor_numel(y);
        values[grad] = malloc((size_t)n[grad] * sizeof(float));
        memcpy(values[grad], adapt_tensor_data(y), (size_t)n[grad] * sizeof(float));
        adapt_context_free(ctx);
    }
    ck_assert_int_eq(n[0], n[1]);
    ck_assert_mem_eq(values[0], values[1], (size_t)n[0] * sizeof(float));
    free(values[0]);
    free(values[1]);
}

static void backends_match(fixture *f)
{
    int64_t n, m;
    float *ref = forward_values(f, ADAPT_BACKEND_REFERENCE, &n);
    for (int b = ADAPT_BACKEND_OPENBLAS; b <= ADAPT_BACKEND_ONEDNN; b++) {
        if (!adapt_backend_available((adapt_backend)b))
            continue;
        float *got = forward_values(f, (adapt_backend)b, &m);
        ck_assert_int_eq(m, n);
        for (int64_t i = 0; i < n; i++)
            ck_assert_msg(fabs(got[i] - ref[i]) <= 1e-4 * fmax(1.0, fabs(ref[i])),
                          "backend %d element %lld: %g vs %g", b, (long long)i,
                          (double)got[i], (double)ref[i]);
        free(got);
    }
    free(ref);
}

/* ---- double references ---------------------------------------------------- */

static double *to_double(const float *x, int64_t n)
{
    double *y = malloc((size_t)n * sizeof *y);
    for (int64_t i = 0; i < n; i++)
        y[i] = x[i];
    return y;
}

static void ref_linear(const double *x, int64_t rows, int64_t in, const float *w, const float *b,
                       int64_t out, double *y)
{
    for (int64_t r = 0; r < rows; r++)
        for (int64_t o = 0; o < out; o++) {
            double acc = b ? b[o] : 0.0;
            for (int64_t i = 0; i < in; i++)
                acc += x[r * in + i] * w[o * in + i];
            y[r * out + o] = acc;
        }
}

static void ref_layernorm(const double *x, int64_t rows, int64_t d, const float *g,
                          const float *b, double *y)
{
    for (int64_t r = 0; r < rows; r++) {
        double mean = 0.0, var = 0.0;
        for (int64_t i = 0; i < d; i++)
            mean += x[r * d + i] / (double)d;
        for (int64_t i = 0; i < d; i++)
            var += (x[r * d + i] - mean) * (x[r * d + i] - mean) / (double)d;
        for (int64_t i = 0; i < d; i++)
            y[r * d + i] = (x[r * d + i] - mean) / sqrt(var + 1e-5) * g[i] + b[i];
    }
}

static double ref_gelu(double v)
{
    return 0.5 * v * (1.0 + erf(v / sqrt(2.0)));
}

typedef struct {
    int64_t n, c, h, w, cout, k, s, p, oh, ow;
} conv_geom;

static conv_geom geom(int64_t n, int64_t c, int64_t hw, int64_t cout, int64_t k, int64_t s,
                      int64_t p)
{
    int64_t o = (hw + 2 * p - k) / s + 1;
    return (conv_geom){n, c, hw, hw, cout, k, s, p, o, o};
}

static double conv_at(const conv_geom *g, const double *xn, const float *wo, int64_t i,
                      int64_t j)
{
    double acc = 0.0;
    for (int64_t c = 0; c < g->c; c++)
        for (int64_t u = 0; u < g->k; u++)
            for (int64_t v = 0; v < g->k; v++) {
                int64_t r = i * g->s - g->p + u, q = j * g->s - g->p + v;
                if (r >= 0 && r < g->h && q >= 0 && q < g->w)
                    acc += xn[(c * g->h + r) * g->w + q] * wo[(c * g->k + u) * g->k + v];
            }
    return acc;
}

static void ref_conv(const conv_geom *g, const double *x, const float *w, const float *b,
                     double *y)
{
    for (int64_t n = 0; n < g->n; n++)
        for (int64_t o = 0; o < g->cout; o++)
            for (int64_t i = 0; i < g->oh; i++)
                for (int64_t j = 0; j < g->ow; j++)
                    y[((n * g->cout + o) * g->oh + i) * g->ow + j] =
                        conv_at(g, x + n * g->c * g->h * g->w, w + o * g->c * g->k * g->k, i,
                                j) + (b ? b[o] : 0.0);
}

/* In place, with running statistics. */
static void ref_bn_eval(double *x, int64_t n, int64_t c, int64_t plane, const ad_batchnorm2d *bn)
{
    const float *g = adapt_tensor_data(bn->weight), *b = adapt_tensor_data(bn->bias);
    const float *mean = adapt_tensor_data(bn->running_mean);
    const float *var = adapt_tensor_data(bn->running_var);
    for (int64_t s = 0; s < n; s++)
        for (int64_t ch = 0; ch < c; ch++)
            for (int64_t i = 0; i < plane; i++) {
                double *v = &x[(s * c + ch) * plane + i];
                *v = (*v - mean[ch]) / sqrt(var[ch] + 1e-5) * g[ch] + b[ch];
            }
}

/* Softmax attention of one head: queries/keys/values are rows of qkv [t, 3d] at columns
 * off, d + off, 2d + off; writes hd columns of y [t, d] at off. */
static void ref_head(const double *qkv, int64_t t, int64_t d, int64_t hd, int64_t off,
                     double *y)
{
    double *p = malloc((size_t)t * sizeof *p);
    for (int64_t i = 0; i < t; i++) {
        double max = -INFINITY, sum = 0.0;
        for (int64_t j = 0; j < t; j++) {
            p[j] = 0.0;
            for (int64_t c = 0; c < hd; c++)
                p[j] += qkv[i * 3 * d + off + c] * qkv[j * 3 * d + d + off + c];
            p[j] /= sqrt((double)hd);
            max = fmax(max, p[j]);
        }
        for (int64_t j = 0; j < t; j++)
            sum += p[j] = exp(p[j] - max);
        for (int64_t c = 0; c < hd; c++) {
            double acc = 0.0;
            for (int64_t j = 0; j < t; j++)
                acc += p[j] / sum * qkv[j * 3 * d + 2 * d + off + c];
            y[i * d + off + c] = acc;
        }
    }
    free(p);
}

static void ref_attention(const ad_attention *a, const double *x, int64_t n, int64_t t,
                          double *y)
{
    const int64_t d = a->dim, hd = d / a->heads;
    double *qkv = malloc((size_t)(n * t * 3 * d) * sizeof *qkv);
    double *mixed = malloc((size_t)(n * t * d) * sizeof *mixed);
    ref_linear(x, n * t, d, adapt_tensor_data(a->qkv.weight), adapt_tensor_data(a->qkv.bias),
               3 * d, qkv);
    for (int64_t s = 0; s < n; s++)
        for (int64_t h = 0; h < a->heads; h++)
            ref_head(qkv + s * t * 3 * d, t, d, hd, h * hd, mixed + s * t * d);
    ref_linear(mixed, n * t, d, adapt_tensor_data(a->proj.weight),
               adapt_tensor_data(a->proj.bias), d, y);
    free(qkv);
    free(mixed);
}

/* ---- linear, convolution ---------------------------------------------------- */

START_TEST(linear_flattens_and_matches_loops)
{
    fixture f;
    adapt_layer_params p = layer_of(ADAPT_LAYER_LINEAR);
    p.out_features = 4;
    setup(&f, p, ad_dims2(2, 3), 3);
    expect_param(&f, "weight", 2, (int64_t[]){4, 6});
    expect_param(&f, "bias", 1, (int64_t[]){4});
    ck_assert_int_eq(f.layer.flops, 2 * 6 * 4);
    ck_assert_int_eq(f.layer.n_params, 28);
    ck_assert(f.layer.kind->flattens);
    randomise(&f);
    double *x = to_double(adapt_tensor_data(f.x), 18), want[12];
    ref_linear(x, 3, 6, data(&f, "weight"), data(&f, "bias"), 4, want);
    expect_output(&f, want, 1e-5);
    expect_untaped_output(&f, want, 1e-5);
    gradcheck(&f, 1e-2, 2e-3);
    backends_match(&f);
    free(x);
    teardown(&f);
}
END_TEST

/* The taped linear record against the three public ops it replaces (product, bias,
 * activation): the same outputs bit for bit and the same gradients of input, weight and bias;
 * finite differences agree with it too. */
static adapt_status three_ops(adapt_tensor **out, adapt_context *ctx, adapt_tensor **p,
                              ad_act act)
{
    adapt_tensor *y;
    adapt_status st = adapt_op_matmul(&y, ctx, p[0], p[1], ADAPT_MATMUL_TRANS_B);
    if (!st)
        st = adapt_op_add(&y, ctx, y, p[2]);
    if (!st && act == AD_ACT_RELU)
        st = adapt_op_relu(&y, ctx, y);
    if (!st && act == AD_ACT_GELU)
        st = adapt_op_gelu(&y, ctx, y);
    if (!st)
        *out = y;
    return st;
}

static adapt_status one_record(adapt_tensor **out, adapt_context *ctx, adapt_tensor **p,
                               void *arg)
{
    const ad_linear l = {p[1], p[2], 24, 40};
    adapt_tensor *y;
    adapt_status st = ad_linear_forward_act(&y, ctx, &l, tu_record(p[0]), *(ad_act *)arg);
    if (!st)
        *out = tu_handle(y);
    return st;
}

/* Output and gradients of sum(y * r) into `values` (y, dx, dW, db in turn). */
static void run_linear(float *values, adapt_tensor **p, ad_act act, bool fused)
{
    adapt_context *ctx = tu_context_threads(ADAPT_BACKEND_DEFAULT, 2);
    ck_assert_int_eq(adapt_context_set_grad(ctx, 1), ADAPT_OK);
    for (int i = 0; i < 3; i++)
        adapt_param_zero_grad(p[i]);
    adapt_tensor *y, *weights, *product, *loss;
    ck_assert_int_eq(fused ? one_record(&y, ctx, p, &act) : three_ops(&y, ctx, p, act),
                     ADAPT_OK);
    float r[3 * 5 * 40];
    tu_fill(r, 3 * 5 * 40, 77, -1.0f, 1.0f);
    ck_assert_int_eq(adapt_tensor_input(&weights, ctx, 3, (int64_t[]){3, 5, 40}, r), ADAPT_OK);
    ck_assert_int_eq(adapt_op_mul(&product, ctx, y, weights), ADAPT_OK);
    ck_assert_int_eq(adapt_op_sum(&loss, ctx, product, ADAPT_AXIS_ALL), ADAPT_OK);
    ck_assert_int_eq(adapt_backward(ctx, loss), ADAPT_OK);
    memcpy(values, adapt_tensor_data(y), 600 * sizeof(float));
    int64_t at = 600;
    for (int i = 0; i < 3; i++) {
        memcpy(values + at, adapt_tensor_grad(p[i]), (size_t)adapt_tensor_numel(p[i]) * 4);
        at += adapt_tensor_numel(p[i]);
    }
    adapt_context_free(ctx);
}

START_TEST(taped_linear_matches_its_three_ops)
{
    const ad_act act = (ad_act)_i;
    adapt_tensor *p[] = {tu_param(3, (int64_t[]){3, 5, 24}, 1, -1.0f, 1.0f),
                         tu_param(2, (int64_t[]){40, 24}, 2, -0.3f, 0.3f),
                         tu_param(1, (int64_t[]){40}, 3, -0.5f, 0.5f)};
    enum { VALUES = 600 + 360 + 960 + 40 };
    float *fused = malloc(VALUES * sizeof(float)), *ops = malloc(VALUES * sizeof(float));
    run_linear(fused, p, act, true);
    run_linear(ops, p, act, false);
    for (int i = 0; i < 600; i++)
        ck_assert_msg(fused[i] == ops[i], "output %d: %.9g against %.9g", i, fused[i], ops[i]);
    for (int i = 600; i < VALUES; i++)
        ck_assert_msg(fabsf(fused[i] - ops[i]) <= 1e-5f * fmaxf(1.0f, fabsf(ops[i])),
                      "gradient value %d: %.9g against %.9g", i, fused[i], ops[i]);
    ad_act a = act;
    if (act != AD_ACT_RELU) /* a step across ReLU's kink would not measure its slope */
        tu_gradcheck(one_record, p, 3, &a, 1e-2, 2e-3, 40);
    free(fused);
    free(ops);
    for (int i = 0; i < 3; i++)
        adapt_tensor_free(p[i]);
}
END_TEST

/* Every token of [2, 3] through one product: the same as rows of a 6-sample batch. */
START_TEST(token_linear_maps_the_last_axis)
{
    fixture f;
    adapt_layer_params p = layer_of(ADAPT_LAYER_TOKEN_LINEAR);
    p.out_features = 4;
    setup(&f, p, ad_dims2(2, 3), 3);
    expect_param(&f, "weight", 2, (int64_t[]){4, 3});
    expect_param(&f, "bias", 1, (int64_t[]){4});
    ck_assert_int_eq(f.layer.out.ndim, 2);
    ck_assert_int_eq(f.layer.out.d[0], 2);
    ck_assert_int_eq(f.layer.out.d[1], 4);
    ck_assert_int_eq(f.layer.flops, 2 * 2 * 3 * 4);
    ck_assert(!f.layer.kind->flattens);
    randomise(&f);
    double *x = to_double(adapt_tensor_data(f.x), 18), want[24];
    ref_linear(x, 6, 3, data(&f, "weight"), data(&f, "bias"), 4, want);
    expect_output(&f, want, 1e-5);
    expect_untaped_output(&f, want, 1e-5);
    gradcheck(&f, 1e-2, 2e-3);
    backends_match(&f);
    free(x);
    teardown(&f);
}
END_TEST

/* stride, padding, expected FLOPs (2 * Cout * OH * OW * Cin * 9, worked out by hand). */
static const struct {
    int32_t stride, padding;
    int64_t flops;
} conv_cases[] = {{1, 0, 972}, {2, 1, 972}, {1, 2, 5292}, {1, 1, 2700}};

START_TEST(conv2d_matches_loops)
{
    fixture f;
    adapt_layer_params p = layer_of(ADAPT_LAYER_CONV2D);
    p.out_features = 3;
    p.kernel = 3;
    p.stride = conv_cases[_i].stride;
    p.padding = conv_cases[_i].padding;
    setup(&f, p, ad_dims3(2, 5, 5), 2);
    conv_geom g = geom(2, 2, 5, 3, 3, p.stride, p.padding);
    ck_assert_int_eq(f.layer.out.d[1], g.oh);
    ck_assert_int_eq(f.layer.flops, conv_cases[_i].flops);
    expect_param(&f, "weight", 4, (int64_t[]){3, 2, 3, 3});
    expect_param(&f, "bias", 1, (int64_t[]){3});
    double *x = to_double(adapt_tensor_data(f.x), 100);
    double *want = malloc((size_t)(2 * 3 * g.oh * g.ow) * sizeof *want);
    ref_conv(&g, x, data(&f, "weight"), data(&f, "bias"), want);
    expect_output(&f, want, 1e-5);
    gradcheck(&f, 1e-2, 2e-3);
    backends_match(&f);
    free(x);
    free(want);
    teardown(&f);
}
END_TEST

START_TEST(conv2d_without_bias_for_batch_norm)
{
    fixture f;
    adapt_layer_params p = layer_of(ADAPT_LAYER_CONV2D);
    p.out_features = 3;
    p.padding = 1;
    setup_named(&f, p, ad_dims3(2, 4, 4), 1,
                &(ad_layer_names){.prefix = "stem.0.", .conv_without_bias = true});
    ck_assert_int_eq(f.params.count, 1);
    ck_assert_str_eq(f.params.items[0].name, "stem.0.weight");
    ck_assert_ptr_null(AD_LAYER_STATE(&f.layer, ad_conv2d)->bias);
    teardown(&f);
}
END_TEST

/* ---- normalisation ------------------------------------------------------------ */

static void ref_bn_train(const fixture *f, const double *x, int64_t n, int64_t c, int64_t plane,
                         double *y, double *mean, double *var)
{
    const float *g = data(f, "weight"), *b = data(f, "bias");
    const double m = (double)(n * plane);
    for (int64_t ch = 0; ch < c; ch++) {
        double sum = 0.0, sq = 0.0;
        for (int64_t s = 0; s < n; s++)
            for (int64_t i = 0; i < plane; i++)
                sum += x[(s * c + ch) * plane + i];
        mean[ch] = sum / m;
        for (int64_t s = 0; s < n; s++)
            for (int64_t i = 0; i < plane; i++)
                sq += pow(x[(s * c + ch) * plane + i] - mean[ch], 2.0);
        var[ch] = sq / m;
        for (int64_t s = 0; s < n; s++)
            for (int64_t i = 0; i < plane; i++) {
                int64_t k = (s * c + ch) * plane + i;
                y[k] = (x[k] - mean[ch]) / sqrt(var[ch] + 1e-5) * g[ch] + b[ch];
            }
        var[ch] = sq / (m - 1.0); /* running statistics take the unbiased variance */
    }
}

START_TEST(batchnorm_eval_and_training)
{
    fixture f;
    setup(&f, layer_of(ADAPT_LAYER_BATCHNORM2D), ad_dims3(3, 2, 2), 4);
    f.training = _i;
    randomise(&f);
    ck_assert_int_eq(f.layer.flops, 0);
    ck_assert_int_eq(f.layer.n_params, 12);
    ck_assert(!ad_requires_grad(param(&f, "running_mean")));
    ck_assert(!ad_requires_grad(param(&f, "running_var")));
    ck_assert(ad_requires_grad(param(&f, "weight")));
    double *x = to_double(adapt_tensor_data(f.x), 48), want[48], mean[3], var[3];
    double old_mean[3], old_var[3];
    for (int c = 0; c < 3; c++)
        old_mean[c] = data(&f, "running_mean")[c], old_var[c] = data(&f, "running_var")[c];
    memcpy(want, x, sizeof want);
    if (f.training)
        ref_bn_train(&f, x, 4, 3, 4, want, mean, var);
    else
        ref_bn_eval(want, 4, 3, 4, AD_LAYER_STATE(&f.layer, ad_batchnorm2d));
    expect_output(&f, want, 1e-5);
    for (int c = 0; c < 3 && f.training; c++) { /* momentum 0.1 */
        ck_assert_double_eq_tol(data(&f, "running_mean")[c], 0.9 * old_mean[c] + 0.1 * mean[c],
                                1e-6);
        ck_assert_double_eq_tol(data(&f, "running_var")[c], 0.9 * old_var[c] + 0.1 * var[c],
                                1e-6);
    }
    for (int c = 0; c < 3 && !f.training; c++)
        ck_assert_float_eq(data(&f, "running_mean")[c], (float)old_mean[c]);
    gradcheck(&f, 1e-2, 5e-3);
    free(x);
    teardown(&f);
}
END_TEST

START_TEST(layernorm_matches_loops)
{
    fixture f;
    setup(&f, layer_of(ADAPT_LAYER_LAYERNORM), ad_dims2(3, 5), 2);
    expect_param(&f, "weight", 1, (int64_t[]){5});
    expect_param(&f, "bias", 1, (int64_t[]){5});
    randomise(&f);
    double *x = to_double(adapt_tensor_data(f.x), 30), want[30];
    ref_layernorm(x, 6, 5, data(&f, "weight"), data(&f, "bias"), want);
    expect_output(&f, want, 1e-5);
    gradcheck(&f, 1e-2, 5e-3);
    free(x);
    teardown(&f);
}
END_TEST

/* ---- pooling, elementwise, reshaping ---------------------------------------- */

/* _i: bit 0 = average, bits 1-2 = window case. */
static const int32_t pool_windows[][3] = {{2, 2, 0}, {3, 2, 1}, {3, 1, 1}};

static double ref_pool_at(const double *plane, int64_t hw, const int32_t *win, bool avg,
                          int64_t i, int64_t j)
{
    double acc = avg ? 0.0 : -INFINITY;
    for (int64_t u = 0; u < win[0]; u++)
        for (int64_t v = 0; v < win[0]; v++) {
            int64_t r = i * win[1] - win[2] + u, q = j * win[1] - win[2] + v;
            if (r < 0 || r >= hw || q < 0 || q >= hw)
                continue; /* padding: ignored by max, zero in the average */
            acc = avg ? acc + plane[r * hw + q] : fmax(acc, plane[r * hw + q]);
        }
    return avg ? acc / (double)(win[0] * win[0]) : acc;
}

START_TEST(pooling_matches_loops)
{
    const bool avg = _i & 1;
    const int32_t *win = pool_windows[_i >> 1];
    adapt_layer_params p = layer_of(avg ? ADAPT_LAYER_AVGPOOL2D : ADAPT_LAYER_MAXPOOL2D);
    p.kernel = win[0], p.stride = win[1], p.padding = win[2];
    fixture f;
    setup(&f, p, ad_dims3(2, 5, 5), 2);
    float *xs = adapt_tensor_data(f.x);
    for (int64_t i = 0; i < 100; i++) /* distinct values 0.05 apart: no ties near a kink */
        xs[i] = (float)((i * 37) % 100) * 0.05f - 2.5f;
    const int64_t o = (5 + 2 * win[2] - win[0]) / win[1] + 1;
    ck_assert_int_eq(f.layer.out.d[1], o);
    ck_assert_int_eq(f.layer.flops, 0);
    double *x = to_double(xs, 100), *want = malloc((size_t)(4 * o * o) * sizeof *want);
    for (int64_t pl = 0; pl < 4; pl++)
        for (int64_t i = 0; i < o; i++)
            for (int64_t j = 0; j < o; j++)
                want[(pl * o + i) * o + j] = ref_pool_at(x + pl * 25, 5, win, avg, i, j);
    expect_output(&f, want, 1e-6);
    gradcheck(&f, 1e-3, 1e-2);
    free(x);
    free(want);
    teardown(&f);
}
END_TEST

START_TEST(global_avgpool_means_each_plane)
{
    fixture f;
    setup(&f, layer_of(ADAPT_LAYER_GLOBAL_AVGPOOL), ad_dims3(3, 2, 3), 2);
    ck_assert_int_eq(f.layer.out.ndim, 1);
    ck_assert_int_eq(f.layer.out.d[0], 3);
    const float *x = adapt_tensor_data(f.x);
    double want[6] = {0};
    for (int64_t i = 0; i < 36; i++)
        want[i / 6] += x[i] / 6.0;
    expect_output(&f, want, 1e-6);
    gradcheck(&f, 1e-2, 2e-3);
    teardown(&f);
}
END_TEST

START_TEST(dropout_modes)
{
    fixture f;
    adapt_layer_params p = layer_of(ADAPT_LAYER_DROPOUT);
    p.p = 0.5f;
    setup(&f, p, ad_dims1(100), 4);
    const float *x = adapt_tensor_data(f.x);
    int64_t n;
    float *eval = forward_values(&f, ADAPT_BACKEND_REFERENCE, &n);
    ck_assert_mem_eq(eval, x, (size_t)n * sizeof *x);
    f.training = 1;
    float *train = forward_values(&f, ADAPT_BACKEND_REFERENCE, &n);
    int64_t dropped = 0;
    for (int64_t i = 0; i < n; i++) {
        ck_assert(train[i] == 0.0f || fabsf(train[i] - 2.0f * x[i]) <= 1e-6f);
        dropped += train[i] == 0.0f;
    }
    ck_assert_int_gt(dropped, 120);
    ck_assert_int_lt(dropped, 280);
    gradcheck(&f, 1e-2, 2e-3);
    free(eval);
    free(train);
    teardown(&f);
}
END_TEST

START_TEST(zero_dropout_is_the_identity)
{
    fixture f;
    adapt_layer_params p = layer_of(ADAPT_LAYER_DROPOUT);
    p.p = 0.0f;
    setup(&f, p, ad_dims1(10), 2);
    adapt_context *ctx = tu_context(ADAPT_BACKEND_REFERENCE);
    TU_OK(adapt_context_set_training(ctx, 1));
    adapt_tensor *y;
    TU_OK(ad_layer_forward(&y, ctx, &f.layer, f.x));
    ck_assert_ptr_eq(y, f.x); /* no operation, no copy */
    adapt_context_free(ctx);
    teardown(&f);
}
END_TEST

START_TEST(activations_match_formulas)
{
    const bool gelu = _i;
    fixture f;
    setup(&f, layer_of(gelu ? ADAPT_LAYER_GELU : ADAPT_LAYER_RELU), ad_dims2(3, 4), 2);
    float *xs = adapt_tensor_data(f.x);
    for (int64_t i = 0; i < 24; i++) /* away from relu's kink at 0 */
        xs[i] = 2.0f * xs[i] + (xs[i] < 0.0f ? -0.2f : 0.2f);
    double want[24];
    for (int64_t i = 0; i < 24; i++)
        want[i] = gelu ? ref_gelu(xs[i]) : fmax(0.0, xs[i]);
    expect_output(&f, want, 1e-6);
    ck_assert_int_eq(f.layer.flops, 0);
    gradcheck(&f, 1e-2, 2e-3);
    teardown(&f);
}
END_TEST

START_TEST(flatten_keeps_values)
{
    fixture f;
    setup(&f, layer_of(ADAPT_LAYER_FLATTEN), ad_dims3(2, 3, 4), 2);
    ck_assert_int_eq(f.layer.out.ndim, 1);
    ck_assert_int_eq(f.layer.out.d[0], 24);
    double *want = to_double(adapt_tensor_data(f.x), 48);
    expect_output(&f, want, 0.0);
    gradcheck(&f, 1e-2, 2e-3);
    free(want);
    teardown(&f);
}
END_TEST

START_TEST(class_token_picks_token_zero)
{
    fixture f;
    setup(&f, layer_of(ADAPT_LAYER_CLASS_TOKEN), ad_dims2(3, 4), 2);
    ck_assert_int_eq(f.layer.out.ndim, 1);
    ck_assert_int_eq(f.layer.out.d[0], 4);
    const float *x = adapt_tensor_data(f.x);
    double want[8];
    for (int64_t s = 0; s < 2; s++)
        for (int64_t d = 0; d < 4; d++)
            want[s * 4 + d] = x[s * 12 + d];
    expect_output(&f, want, 0.0);
    gradcheck(&f, 1e-2, 2e-3);
    teardown(&f);
}
END_TEST

/* ---- attention and transformer blocks ------------------------------------------- */

static const int64_t attention_heads[] = {1, 2, 3};

/* Two shapes: 2 sequences of 4 tokens, and one of 5, whose rows split over two threads do not
 * fill the blocks asked for (4 blocks of 2 rows would reach row 8). */
START_TEST(attention_matches_loops)
{
    const bool one_sequence = _i >= 3;
    const int64_t n = one_sequence ? 1 : 2, t = one_sequence ? 5 : 4, d = 6;
    const int64_t heads = attention_heads[_i % 3];
    fixture f = {.is_attention = true};
    ad_params_init(&f.params, 9, INT64_MAX);
    TU_OK(ad_attention_init(&f.attention, &f.params, "attn.", d, heads));
    ck_assert_str_eq(f.params.items[0].name, "attn.qkv.weight");
    expect_param(&f, "attn.qkv.weight", 2, (int64_t[]){3 * d, d});
    expect_param(&f, "attn.qkv.bias", 1, (int64_t[]){3 * d});
    expect_param(&f, "attn.proj.weight", 2, (int64_t[]){d, d});
    /* qkv 2*T*D*3D = 864, QK^T and AV 2 * 2*T*T*D = 384, projection 2*T*D*D = 288 */
    ck_assert_int_eq(ad_attention_flops(&f.attention, 4), 1536);
    randomise(&f);
    make_input(&f, &(ad_dims){2, {t, d}}, n, -1.0f, 1.0f);
    double *x = to_double(adapt_tensor_data(f.x), n * t * d), want[48];
    ref_attention(&f.attention, x, n, t, want);
    expect_output(&f, want, 1e-5);
    expect_untaped_output(&f, want, 1e-5);
    gradcheck(&f, 1e-2, 5e-3);
    backends_match(&f);
    free(x);
    teardown(&f);
}
END_TEST

/* Untaped attention's output under the default backend on `threads` threads, copied out. */
static float *untaped_attention(fixture *f, int32_t threads)
{
    adapt_context *ctx = tu_context_threads(ADAPT_BACKEND_DEFAULT, threads);
    TU_OK(adapt_context_set_grad(ctx, 0));
    adapt_tensor *y;
    TU_OK(run_fixture(&y, ctx, &f->x, f));
    const size_t bytes = (size_t)adapt_tensor_numel(y) * sizeof(float);
    float *v = malloc(bytes);
    memcpy(v, adapt_tensor_data(y), bytes);
    adapt_context_free(ctx);
    return v;
}

/* One sequence of 13 tokens, 3 heads: one thread runs whole heads, two split each head's
 * query rows into blocks. Where the small-product kernel runs the heads (default backend,
 * AVX-512) the rows keep their bits; elsewhere they agree to rounding. */
START_TEST(attention_rows_keep_their_bits_on_threads)
{
    const int64_t t = 13, d = 12;
    fixture f = {.is_attention = true};
    ad_params_init(&f.params, 9, INT64_MAX);
    TU_OK(ad_attention_init(&f.attention, &f.params, "attn.", d, 3));
    randomise(&f);
    make_input(&f, &(ad_dims){2, {t, d}}, 1, -1.0f, 1.0f);
    float *one = untaped_attention(&f, 1), *two = untaped_attention(&f, 2);
    for (int64_t i = 0; i < t * d; i++) {
        const float tol = ad_has_avx512() ? 0.0f : 1e-5f * fmaxf(1.0f, fabsf(one[i]));
        ck_assert_msg(fabsf(two[i] - one[i]) <= tol, "element %lld: %.9g on 1 thread, %.9g on 2",
                      (long long)i, (double)one[i], (double)two[i]);
    }
    free(one), free(two);
    teardown(&f);
}
END_TEST

/* x + attn(ln1(x)), then + mlp(ln2(.)), in double. */
static void ref_transformer(const fixture *f, const double *x, int64_t n, int64_t t, double *y)
{
    const ad_transformer_block *b = AD_LAYER_STATE(&f->layer, ad_transformer_block);
    const int64_t d = b->attn.dim, hidden = b->fc1.out_features, rows = n * t;
    double *h = malloc((size_t)(rows * d) * sizeof *h), *a = malloc((size_t)(rows * d) * sizeof *a);
    double *m = malloc((size_t)(rows * hidden) * sizeof *m);
    ref_layernorm(x, rows, d, adapt_tensor_data(b->norm1.weight),
                  adapt_tensor_data(b->norm1.bias), h);
    ref_attention(&b->attn, h, n, t, a);
    for (int64_t i = 0; i < rows * d; i++)
        a[i] += x[i];
    ref_layernorm(a, rows, d, adapt_tensor_data(b->norm2.weight),
                  adapt_tensor_data(b->norm2.bias), h);
    ref_linear(h, rows, d, adapt_tensor_data(b->fc1.weight), adapt_tensor_data(b->fc1.bias),
               hidden, m);
    for (int64_t i = 0; i < rows * hidden; i++)
        m[i] = ref_gelu(m[i]);
    ref_linear(m, rows, hidden, adapt_tensor_data(b->fc2.weight),
               adapt_tensor_data(b->fc2.bias), d, y);
    for (int64_t i = 0; i < rows * d; i++)
        y[i] += a[i];
    free(h);
    free(a);
    free(m);
}

START_TEST(transformer_block_matches_loops)
{
    fixture f;
    adapt_layer_params p = layer_of(ADAPT_LAYER_TRANSFORMER_BLOCK);
    p.heads = 2;
    p.mlp_ratio = 2.0f;
    p.p = _i ? 0.5f : 0.0f; /* dropout is the identity in inference */
    setup(&f, p, ad_dims2(4, 6), 2);
    expect_param(&f, "norm1.weight", 1, (int64_t[]){6});
    expect_param(&f, "attn.qkv.weight", 2, (int64_t[]){18, 6});
    expect_param(&f, "attn.proj.bias", 1, (int64_t[]){6});
    expect_param(&f, "norm2.bias", 1, (int64_t[]){6});
    expect_param(&f, "mlp.fc1.weight", 2, (int64_t[]){12, 6});
    expect_param(&f, "mlp.fc2.weight", 2, (int64_t[]){6, 12});
    ck_assert_str_eq(f.params.items[0].name, "norm1.weight");
    /* attention 1536 + MLP 2 * (2*T*D*hidden) = 2 * 576 */
    ck_assert_int_eq(f.layer.flops, 1536 + 1152);
    randomise(&f);
    double *x = to_double(adapt_tensor_data(f.x), 48), want[48];
    ref_transformer(&f, x, 2, 4, want);
    expect_output(&f, want, 1e-5);
    expect_untaped_output(&f, want, 1e-5);
    if (_i) { /* training: dropout changes the output */
        int64_t n;
        f.training = 1;
        float *train = forward_values(&f, ADAPT_BACKEND_REFERENCE, &n);
        bool differs = false;
        for (int64_t i = 0; i < n; i++)
            differs |= fabs(train[i] - want[i]) > 1e-3;
        ck_assert(differs);
        free(train);
    }
    gradcheck(&f, 1e-2, 1e-2);
    backends_match(&f);
    free(x);
    teardown(&f);
}
END_TEST

/* ---- patch embedding and residual blocks ------------------------------------------ */

static void ref_patch_embed(const fixture *f, const float *x, int64_t n, double *y)
{
    const ad_patch_embed *pe = AD_LAYER_STATE(&f->layer, ad_patch_embed);
    const int64_t c = 2, h = 8, w = 4, p = 4, d = 5, t = 3;
    const float *wt = adapt_tensor_data(pe->proj.weight), *b = adapt_tensor_data(pe->proj.bias);
    const float *cls = adapt_tensor_data(pe->cls_token), *pos = adapt_tensor_data(pe->pos_embed);
    for (int64_t s = 0; s < n; s++)
        for (int64_t tok = 0; tok < t; tok++)
            for (int64_t o = 0; o < d; o++) {
                double acc = tok ? b[o] : cls[o];
                const int64_t gi = (tok - 1) / (w / p), gj = (tok - 1) % (w / p);
                for (int64_t ch = 0; tok && ch < c; ch++)
                    for (int64_t u = 0; u < p; u++)
                        for (int64_t v = 0; v < p; v++)
                            acc += (double)wt[((o * c + ch) * p + u) * p + v] *
                                   x[((s * c + ch) * h + gi * p + u) * w + gj * p + v];
                y[(s * t + tok) * d + o] = acc + pos[tok * d + o];
            }
}

START_TEST(patch_embedding_matches_loops)
{
    fixture f;
    adapt_layer_params p = layer_of(ADAPT_LAYER_PATCH_EMBED);
    p.out_features = 5;
    p.kernel = 4;
    setup(&f, p, ad_dims3(2, 8, 4), 2);
    ck_assert_str_eq(f.params.items[0].name, "cls_token");
    ck_assert_str_eq(f.params.items[1].name, "pos_embed");
    expect_param(&f, "cls_token", 3, (int64_t[]){1, 1, 5});
    expect_param(&f, "pos_embed", 3, (int64_t[]){1, 3, 5});
    expect_param(&f, "proj.weight", 4, (int64_t[]){5, 2, 4, 4});
    expect_param(&f, "proj.bias", 1, (int64_t[]){5});
    ck_assert_int_eq(f.layer.out.d[0], 3);
    ck_assert_int_eq(f.layer.flops, 2 * 2 * 5 * 2 * 16); /* 2 * T * dim * C*p*p */
    randomise(&f);
    double want[30];
    ref_patch_embed(&f, adapt_tensor_data(f.x), 2, want);
    expect_output(&f, want, 1e-5);
    gradcheck(&f, 1e-2, 2e-3);
    backends_match(&f);
    teardown(&f);
}
END_TEST

START_TEST(patch_embedding_names_tokens_apart)
{
    fixture f;
    adapt_layer_params p = layer_of(ADAPT_LAYER_PATCH_EMBED);
    p.out_features = 4;
    p.kernel = 2;
    setup_named(&f, p, ad_dims3(1, 4, 4), 1,
                &(ad_layer_names){.prefix = "patch_embed.", .token_prefix = ""});
    const char *want[] = {"cls_token", "pos_embed", "patch_embed.proj.weight",
                          "patch_embed.proj.bias"};
    ck_assert_int_eq(f.params.count, 4);
    for (int i = 0; i < 4; i++)
        ck_assert_str_eq(f.params.items[i].name, want[i]);
    teardown(&f);
}
END_TEST

/* in channels, out channels, stride, FLOPs worked out by hand:
 * 3->3 s1 on 5x5: 2 * 2*3*25*3*9 = 8100; 2->3 s2: 972 + 1458 + 1x1 shortcut 108 = 2538;
 * 2->3 s1: 2700 + 4050 + 300 = 7050. */
static const int64_t residual_cases[][4] = {{3, 3, 1, 8100}, {2, 3, 2, 2538}, {2, 3, 1, 7050}};

static void ref_residual(const fixture *f, const double *x, int64_t n, double *y)
{
    const ad_residual_block *b = AD_LAYER_STATE(&f->layer, ad_residual_block);
    const int64_t *rc = residual_cases[b->projected ? (b->conv1.stride == 2 ? 1 : 2) : 0];
    conv_geom g1 = geom(n, rc[0], 5, rc[1], 3, rc[2], 1);
    conv_geom g2 = geom(n, rc[1], g1.oh, rc[1], 3, 1, 1);
    const int64_t plane = g1.oh * g1.ow, size = n * rc[1] * plane;
    double *h = malloc((size_t)size * sizeof *h), *s = malloc((size_t)size * sizeof *s);
    ref_conv(&g1, x, adapt_tensor_data(b->conv1.weight), NULL, h);
    ref_bn_eval(h, n, rc[1], plane, &b->bn1);
    for (int64_t i = 0; i < size; i++)
        h[i] = fmax(0.0, h[i]);
    ref_conv(&g2, h, adapt_tensor_data(b->conv2.weight), NULL, y);
    ref_bn_eval(y, n, rc[1], plane, &b->bn2);
    conv_geom gs = geom(n, rc[0], 5, rc[1], 1, rc[2], 0);
    if (b->projected) {
        ref_conv(&gs, x, adapt_tensor_data(b->shortcut_conv.weight), NULL, s);
        ref_bn_eval(s, n, rc[1], plane, &b->shortcut_bn);
    }
    for (int64_t i = 0; i < size; i++)
        y[i] = fmax(0.0, y[i] + (b->projected ? s[i] : x[i]));
    free(h);
    free(s);
}

/* Batch-norm shifts of +-3 keep every ReLU input far from the kink (with +-3 alternating by
 * channel, both sides of it are exercised), so finite differences never straddle it. */
static void keep_relus_off_the_kink(const ad_batchnorm2d *bn, int64_t channels)
{
    for (int64_t c = 0; c < channels; c++) {
        adapt_tensor_data(bn->weight)[c] = 0.3f;
        adapt_tensor_data(bn->bias)[c] = c % 2 ? -3.0f : 3.0f;
    }
}

START_TEST(residual_block_matches_loops)
{
    const int64_t *rc = residual_cases[_i];
    fixture f;
    adapt_layer_params p = layer_of(ADAPT_LAYER_RESIDUAL_BLOCK);
    p.out_features = rc[1];
    p.stride = (int32_t)rc[2];
    setup(&f, p, ad_dims3(rc[0], 5, 5), 2);
    ck_assert_int_eq(f.layer.flops, rc[3]);
    ck_assert_int_eq(AD_LAYER_STATE(&f.layer, ad_residual_block)->projected, _i != 0);
    expect_param(&f, "conv1.weight", 4, (int64_t[]){rc[1], rc[0], 3, 3});
    expect_param(&f, "bn2.running_var", 1, (int64_t[]){rc[1]});
    ck_assert_str_eq(f.params.items[f.params.count - 1].name,
                     _i ? "shortcut.1.running_var" : "bn2.running_var");
    if (_i)
        expect_param(&f, "shortcut.0.weight", 4, (int64_t[]){rc[1], rc[0], 1, 1});
    randomise(&f);
    keep_relus_off_the_kink(&AD_LAYER_STATE(&f.layer, ad_residual_block)->bn1, rc[1]);
    keep_relus_off_the_kink(&AD_LAYER_STATE(&f.layer, ad_residual_block)->bn2, rc[1]);
    const int64_t o = f.layer.out.d[1], size = 2 * rc[1] * o * o;
    double *x = to_double(adapt_tensor_data(f.x), 2 * rc[0] * 25);
    double *want = malloc((size_t)size * sizeof *want);
    ref_residual(&f, x, 2, want);
    expect_output(&f, want, 1e-5);
    expect_untaped_output(&f, want, 1e-5);
    untaped_gives_the_same_bits(&f); /* conv, batch norm, add and ReLU in one pass */
    gradcheck(&f, 1e-2, 1e-2);
    f.training = 1;
    gradcheck(&f, 1e-2, 1e-2);
    f.training = 0;
    backends_match(&f);
    free(x);
    free(want);
    teardown(&f);
}
END_TEST

/* ---- initialisation, kinds and errors --------------------------------------------- */

static void moments(const float *x, int64_t n, double *mean, double *std)
{
    double s = 0.0, sq = 0.0;
    for (int64_t i = 0; i < n; i++)
        s += x[i], sq += (double)x[i] * x[i];
    *mean = s / (double)n;
    *std = sqrt(sq / (double)n - *mean * *mean);
}

static void expect_uniform(const adapt_tensor *t, double bound)
{
    double mean, std;
    const float *x = adapt_tensor_data(t);
    for (int64_t i = 0; i < adapt_tensor_numel(t); i++)
        ck_assert(fabs(x[i]) <= bound);
    moments(x, adapt_tensor_numel(t), &mean, &std);
    ck_assert_double_eq_tol(std, bound / sqrt(3.0), 0.05 * bound); /* uniform's deviation */
}

START_TEST(initialisation_follows_pytorch)
{
    fixture f;
    adapt_layer_params p = layer_of(ADAPT_LAYER_PATCH_EMBED);
    p.out_features = 16;
    p.kernel = 2;
    setup(&f, p, ad_dims3(3, 64, 64), 1);
    double mean, std;
    moments(data(&f, "pos_embed"), 1025 * 16, &mean, &std);
    ck_assert_double_eq_tol(mean, 0.0, 1e-3);
    ck_assert_double_eq_tol(std, 0.02, 5e-4);
    expect_uniform(param(&f, "proj.weight"), 1.0 / sqrt(12.0)); /* fan_in = C * p * p */
    teardown(&f);
    p = layer_of(ADAPT_LAYER_RESIDUAL_BLOCK);
    p.out_features = 32;
    p.stride = 2;
    setup(&f, p, ad_dims3(16, 4, 4), 1);
    expect_uniform(param(&f, "conv2.weight"), 1.0 / sqrt(32.0 * 9.0));
    expect_uniform(param(&f, "shortcut.0.weight"), 1.0 / sqrt(16.0));
    for (int64_t c = 0; c < 32; c++) {
        ck_assert_float_eq(data(&f, "bn1.weight")[c], 1.0f);
        ck_assert_float_eq(data(&f, "bn1.bias")[c], 0.0f);
        ck_assert_float_eq(data(&f, "bn1.running_mean")[c], 0.0f);
        ck_assert_float_eq(data(&f, "bn1.running_var")[c], 1.0f);
    }
    teardown(&f);
}
END_TEST

START_TEST(same_seed_same_weights)
{
    adapt_layer_params p = layer_of(ADAPT_LAYER_TRANSFORMER_BLOCK);
    p.heads = 2;
    ad_param_list lists[3];
    ad_layer layers[3];
    const uint64_t seeds[] = {5, 5, 6};
    for (int i = 0; i < 3; i++) {
        ad_params_init(&lists[i], seeds[i], INT64_MAX);
        TU_OK(ad_layer_init(&layers[i], &p, &(ad_dims){2, {3, 8}}, &lists[i],
                            &(ad_layer_names){.prefix = "b."}, "test"));
    }
    for (int32_t k = 0; k < lists[0].count; k++) {
        adapt_tensor *a = lists[0].items[k].tensor, *b = lists[1].items[k].tensor;
        ck_assert_mem_eq(adapt_tensor_data(a), adapt_tensor_data(b),
                         (size_t)adapt_tensor_numel(a) * sizeof(float));
    }
    const float *w0 = adapt_tensor_data(lists[0].items[2].tensor);
    const float *w2 = adapt_tensor_data(lists[2].items[2].tensor);
    ck_assert(memcmp(w0, w2, 24 * 8 * sizeof(float)) != 0);
    /* different parameters of one model use different streams */
    ck_assert(memcmp(w0, adapt_tensor_data(lists[0].items[4].tensor), 8 * sizeof(float)) != 0);
    for (int i = 0; i < 3; i++)
        ad_params_free(&lists[i]);
}
END_TEST

START_TEST(kind_names_round_trip)
{
    ck_assert_int_eq(ad_layer_kind_count(), ADAPT_LAYER_CONCAT + 1);
    for (int32_t k = 0; k < ad_layer_kind_count(); k++) {
        const ad_layer_kind *kind = ad_layer_kind_of(k);
        ck_assert_ptr_nonnull(kind);
        ck_assert_int_eq(ad_layer_kind_from_name(kind->name), k);
        ck_assert_ptr_nonnull(kind->shape);
        ck_assert_ptr_nonnull(kind->forward);
    }
    ck_assert_ptr_null(ad_layer_kind_of(ad_layer_kind_count()));
    ck_assert_ptr_null(ad_layer_kind_of(-1));
    ck_assert_int_eq(ad_layer_kind_from_name("conv3d"), -1);
    ck_assert_int_eq(ad_layer_kind_from_name(NULL), -1);
    const ad_layer_kind *t = ad_layer_kind_of(ADAPT_LAYER_TRANSFORMER_BLOCK);
    ck_assert_int_eq(t->n_fields, 3);
    ck_assert_str_eq(t->fields[0].name, "heads");
    ck_assert_str_eq(t->fields[1].name, "mlp_ratio");
    ck_assert_str_eq(t->fields[2].name, "p");
}
END_TEST

typedef struct {
    adapt_layer_params p;
    ad_dims in;
    adapt_status status;
} bad_case;

static bad_case bad(int32_t kind, ad_dims in, adapt_status status)
{
    bad_case c = {layer_of(kind), in, status};
    c.p.out_features = 4;
    return c;
}

/* Cases that each break one rule. */
static int32_t bad_cases(bad_case *c)
{
    const ad_dims img = ad_dims3(2, 5, 5), seq = ad_dims2(4, 6), vec = ad_dims1(6);
    int32_t n = 0;
    c[n++] = bad(99, vec, ADAPT_ERR_INVALID_ARGUMENT);
    c[n++] = bad(-1, vec, ADAPT_ERR_INVALID_ARGUMENT);
    c[n] = bad(ADAPT_LAYER_LINEAR, vec, ADAPT_ERR_INVALID_ARGUMENT), c[n++].p.out_features = 0;
    c[n] = bad(ADAPT_LAYER_LINEAR, vec, ADAPT_ERR_OVERFLOW), c[n++].p.out_features = INT64_MAX / 2;
    c[n] = bad(ADAPT_LAYER_CONV2D, img, ADAPT_ERR_INVALID_ARGUMENT), c[n++].p.kernel = 0;
    c[n] = bad(ADAPT_LAYER_CONV2D, img, ADAPT_ERR_INVALID_ARGUMENT), c[n++].p.stride = 0;
    c[n] = bad(ADAPT_LAYER_CONV2D, img, ADAPT_ERR_INVALID_ARGUMENT), c[n++].p.padding = -1;
    c[n] = bad(ADAPT_LAYER_CONV2D, img, ADAPT_ERR_SHAPE), c[n++].p.kernel = 7;
    c[n++] = bad(ADAPT_LAYER_CONV2D, seq, ADAPT_ERR_SHAPE);
    c[n] = bad(ADAPT_LAYER_MAXPOOL2D, img, ADAPT_ERR_INVALID_ARGUMENT), c[n++].p.padding = 2;
    c[n++] = bad(ADAPT_LAYER_AVGPOOL2D, vec, ADAPT_ERR_SHAPE);
    c[n++] = bad(ADAPT_LAYER_BATCHNORM2D, seq, ADAPT_ERR_SHAPE);
    c[n++] = bad(ADAPT_LAYER_LAYERNORM, (ad_dims){0, {0}}, ADAPT_ERR_SHAPE);
    c[n++] = bad(ADAPT_LAYER_GLOBAL_AVGPOOL, vec, ADAPT_ERR_SHAPE);
    c[n] = bad(ADAPT_LAYER_DROPOUT, vec, ADAPT_ERR_NONFINITE), c[n++].p.p = NAN;
    c[n] = bad(ADAPT_LAYER_DROPOUT, vec, ADAPT_ERR_INVALID_ARGUMENT), c[n++].p.p = 1.0f;
    c[n] = bad(ADAPT_LAYER_DROPOUT, vec, ADAPT_ERR_INVALID_ARGUMENT), c[n++].p.p = -0.1f;
    c[n] = bad(ADAPT_LAYER_RESIDUAL_BLOCK, img, ADAPT_ERR_INVALID_ARGUMENT), c[n++].p.stride = 0;
    c[n++] = bad(ADAPT_LAYER_RESIDUAL_BLOCK, seq, ADAPT_ERR_SHAPE);
    c[n] = bad(ADAPT_LAYER_PATCH_EMBED, img, ADAPT_ERR_INVALID_ARGUMENT), c[n++].p.kernel = 0;
    c[n] = bad(ADAPT_LAYER_PATCH_EMBED, img, ADAPT_ERR_SHAPE), c[n++].p.kernel = 2;
    c[n] = bad(ADAPT_LAYER_TRANSFORMER_BLOCK, seq, ADAPT_ERR_INVALID_ARGUMENT), c[n++].p.heads = 0;
    c[n] = bad(ADAPT_LAYER_TRANSFORMER_BLOCK, seq, ADAPT_ERR_SHAPE), c[n++].p.heads = 4;
    c[n] = bad(ADAPT_LAYER_TRANSFORMER_BLOCK, seq, ADAPT_ERR_NONFINITE),
    c[n++].p.mlp_ratio = INFINITY;
    c[n] = bad(ADAPT_LAYER_TRANSFORMER_BLOCK, seq, ADAPT_ERR_INVALID_ARGUMENT),
    c[n++].p.mlp_ratio = 0.0f;
    c[n] = bad(ADAPT_LAYER_TRANSFORMER_BLOCK, seq, ADAPT_ERR_INVALID_ARGUMENT),
    c[n++].p.mlp_ratio = 0.1f; /* 0.6 hidden units */
    c[n] = bad(ADAPT_LAYER_TRANSFORMER_BLOCK, seq, ADAPT_ERR_NONFINITE), c[n++].p.p = NAN;
    c[n++] = bad(ADAPT_LAYER_TRANSFORMER_BLOCK, img, ADAPT_ERR_SHAPE);
    c[n++] = bad(ADAPT_LAYER_CLASS_TOKEN, img, ADAPT_ERR_SHAPE);
    c[n] = bad(ADAPT_LAYER_TOKEN_LINEAR, seq, ADAPT_ERR_INVALID_ARGUMENT),
    c[n++].p.out_features = -3;
    c[n++] = bad(ADAPT_LAYER_TOKEN_LINEAR, (ad_dims){0, {0}}, ADAPT_ERR_SHAPE);
    return n;
}

START_TEST(init_rejects_bad_layers)
{
    bad_case cases[48];
    const int32_t n = bad_cases(cases);
    ad_param_list list;
    ad_params_init(&list, 1, INT64_MAX);
    ad_layer layer;
    memset(&layer, 0x5a, sizeof layer);
    ad_layer untouched = layer;
    for (int32_t i = 0; i < n; i++) {
        TU_FAILS(ad_layer_init(&layer, &cases[i].p, &cases[i].in, &list,
                               &(ad_layer_names){.prefix = ""}, "test"),
                 cases[i].status);
        ck_assert_msg(list.count == 0 && list.values == 0, "case %d left parameters", (int)i);
        ck_assert_msg(memcmp(&layer, &untouched, sizeof layer) == 0, "case %d wrote", (int)i);
    }
    ad_params_free(&list);
}
END_TEST

/* ---- inference fusion ------------------------------------------------------ */

/* [linear, activation] without a tape (bias and activation fused into the product's output)
 * against the same layers with one (separate ops), for each untaped strategy: small (four
 * outputs: the narrow kernel, as the op takes it: the same bits), medium (output columns split
 * over two threads, a partial last block), large (64 rows, 512 outputs of 1024 inputs); the
 * last two equal to rounding. The narrow kernel gives the same bits on one thread and two. */
static float *linear_act_values(ad_layer layers[2], adapt_tensor *x, int grad,
                                int32_t n_threads)
{
    adapt_context *ctx = tu_context_threads(ADAPT_BACKEND_DEFAULT, n_threads);
    TU_OK(adapt_context_set_grad(ctx, grad));
    adapt_tensor *y;
    ad_chain_plan plan;
    ad_chain_plan_make(&plan, layers, 2);
    ck_assert_int_eq(plan.n_steps, 1);
    ck_assert_int_eq(plan.steps[0].kind, AD_STEP_LINEAR_ACT);
    TU_OK(ad_chain_forward(&y, ctx, &plan, layers, tu_record(x)));
    y = tu_handle(y);
    const int64_t n = adapt_tensor_numel(y);
    float *v = malloc((size_t)n * sizeof *v);
    memcpy(v, adapt_tensor_data(y), (size_t)n * sizeof *v);
    adapt_context_free(ctx);
    return v;
}

START_TEST(inference_fuses_linear_and_activation)
{
    const bool gelu = _i & 1;
    const int size = _i / 2;
    const int64_t rows = (int64_t[]){5, 7, 64}[size], in = (int64_t[]){6, 512, 1024}[size];
    const int64_t out = (int64_t[]){4, 80, 512}[size];
    ad_param_list list;
    ad_params_init(&list, 9, INT64_MAX);
    ad_layer layers[2];
    adapt_layer_params p = layer_of(ADAPT_LAYER_LINEAR);
    p.out_features = out;
    const ad_dims dims_in = ad_dims1(in);
    TU_OK(ad_layer_init(&layers[0], &p, &dims_in, &list, &(ad_layer_names){.prefix = ""},
                        "test"));
    p = layer_of(gelu ? ADAPT_LAYER_GELU : ADAPT_LAYER_RELU);
    TU_OK(ad_layer_init(&layers[1], &p, &layers[0].out, &list, &(ad_layer_names){.prefix = ""},
                        "test"));
    adapt_tensor *x = tu_param(2, (int64_t[]){rows, in}, 3, -2.0f, 2.0f);
    float *taped = linear_act_values(layers, x, 1, 1);
    float *fused = linear_act_values(layers, x, 0, 1);
    float *fused2 = linear_act_values(layers, x, 0, 2);
    for (int64_t i = 0; i < rows * out; i++) {
        const float tol = size > 0 ? 1e-5f * fmaxf(1.0f, fabsf(taped[i])) : 0.0f;
        ck_assert_msg(fabsf(fused[i] - taped[i]) <= tol && fabsf(fused2[i] - taped[i]) <= tol,
                      "element %lld: %.9g and %.9g fused (1, 2 threads), %.9g taped",
                      (long long)i, (double)fused[i], (double)fused2[i], (double)taped[i]);
        if (size == 0) /* one thread runs the others as one GEMM */
            ck_assert_msg(fused2[i] == fused[i], "element %lld differs on two threads",
                          (long long)i);
    }
    free(taped), free(fused), free(fused2);
    adapt_tensor_free(x);
    ad_params_free(&list);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("layers");
    TCase *tc = tcase_create("layers");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, linear_flattens_and_matches_loops);
    tcase_add_loop_test(tc, taped_linear_matches_its_three_ops, AD_ACT_NONE, AD_ACT_GELU + 1);
    tcase_add_test(tc, token_linear_maps_the_last_axis);
    tcase_add_loop_test(tc, conv2d_matches_loops, 0, 4);
    tcase_add_test(tc, conv2d_without_bias_for_batch_norm);
    tcase_add_loop_test(tc, batchnorm_eval_and_training, 0, 2);
    tcase_add_test(tc, layernorm_matches_loops);
    tcase_add_loop_test(tc, pooling_matches_loops, 0, 6);
    tcase_add_test(tc, global_avgpool_means_each_plane);
    tcase_add_test(tc, dropout_modes);
    tcase_add_test(tc, zero_dropout_is_the_identity);
    tcase_add_loop_test(tc, activations_match_formulas, 0, 2);
    tcase_add_test(tc, flatten_keeps_values);
    tcase_add_test(tc, class_token_picks_token_zero);
    tcase_add_loop_test(tc, attention_matches_loops, 0, 6);
    tcase_add_test(tc, attention_rows_keep_their_bits_on_threads);
    tcase_add_loop_test(tc, transformer_block_matches_loops, 0, 2);
    tcase_add_test(tc, patch_embedding_matches_loops);
    tcase_add_test(tc, patch_embedding_names_tokens_apart);
    tcase_add_loop_test(tc, residual_block_matches_loops, 0, 3);
    tcase_add_test(tc, initialisation_follows_pytorch);
    tcase_add_test(tc, same_seed_same_weights);
    tcase_add_test(tc, kind_names_round_trip);
    tcase_add_test(tc, init_rejects_bad_layers);
    tcase_add_loop_test(tc, inference_fuses_linear_and_activation, 0, 6);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
