/* Interval bound propagation (lib/ops/interval*.c, lib/nn/interval_layers.c, the kinds'
 * interval entries, lib/models/interval.c, lib/train/certify.c): soundness against millions
 * of points inside the boxes (corners included, where rounding bites), for point and interval
 * weights; gradients of the taped bounds; the worst-case logits; certification against
 * sampling; and refusals. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check_util.h"
#include "lib/core/context.h"
#include "lib/core/rng.h"
#include "lib/core/tensor.h"
#include "lib/nn/interval_layers.h"
#include "lib/ops/ops.h"
#include "lib/train/ibp.h"

static adapt_layer_params layer(int32_t kind, int64_t out_features)
{
    adapt_layer_params p;
    adapt_layer_params_init(&p, sizeof p);
    p.kind = kind, p.out_features = out_features;
    return p;
}

static void append(adapt_model *m, adapt_layer_params p)
{
    TU_OK(adapt_model_append(m, &p));
}

static adapt_model *mlp(int64_t in, int64_t hidden, int64_t out, uint64_t seed)
{
    adapt_model *m = NULL;
    TU_OK(adapt_model_create_sequential(&m, 1, (int64_t[]){in}, seed));
    append(m, layer(ADAPT_LAYER_LINEAR, hidden));
    append(m, layer(ADAPT_LAYER_RELU, 0));
    append(m, layer(ADAPT_LAYER_LINEAR, hidden));
    append(m, layer(ADAPT_LAYER_RELU, 0));
    append(m, layer(ADAPT_LAYER_DROPOUT, 0));
    append(m, layer(ADAPT_LAYER_LINEAR, out));
    return m;
}

/* conv, batch norm, relu, max pool, conv, relu, avg pool, flatten, linear on 1 x 12 x 12. */
static adapt_model *small_cnn(uint64_t seed)
{
    adapt_model *m = NULL;
    TU_OK(adapt_model_create_sequential(&m, 3, (int64_t[]){1, 12, 12}, seed));
    adapt_layer_params conv = layer(ADAPT_LAYER_CONV2D, 4);
    conv.padding = 1;
    append(m, conv);
    append(m, layer(ADAPT_LAYER_BATCHNORM2D, 0));
    append(m, layer(ADAPT_LAYER_RELU, 0));
    adapt_layer_params pool = layer(ADAPT_LAYER_MAXPOOL2D, 0);
    pool.kernel = 2, pool.stride = 2;
    append(m, pool);
    conv.out_features = 6, conv.stride = 2;
    append(m, conv);
    append(m, layer(ADAPT_LAYER_RELU, 0));
    pool.kind = ADAPT_LAYER_AVGPOOL2D, pool.padding = 1;
    append(m, pool);
    append(m, layer(ADAPT_LAYER_FLATTEN, 0));
    append(m, layer(ADAPT_LAYER_LINEAR, 5));
    return m;
}

/* The library's ResNet-style CNN on 2 x 8 x 8: stem, a plain and a projected residual block. */
static adapt_model *resnet(uint64_t seed)
{
    adapt_cnn_params p;
    adapt_cnn_params_init(&p, sizeof p);
    p.in_channels = 2, p.image_size = 8, p.n_classes = 3, p.stem_channels = 4, p.n_stages = 2;
    p.stage_channels = (int32_t[]){4, 6}, p.stage_blocks = (int32_t[]){1, 1};
    p.stage_strides = (int32_t[]){1, 2}, p.seed = seed;
    adapt_model *m = NULL;
    TU_OK(adapt_model_create_cnn(&m, &p));
    return m;
}

/* Batch norms with statistics and affine weights of either sign, as after training. */
static void randomise_norms(adapt_model *m, uint64_t seed)
{
    for (int32_t i = 0; i < adapt_model_param_count(m); i++) {
        const char *name = adapt_model_param_name(m, i);
        adapt_tensor *t = adapt_model_param(m, i);
        const int64_t n = adapt_tensor_numel(t);
        if (strstr(name, "running_var"))
            tu_fill(adapt_tensor_data(t), n, seed + (uint64_t)i, 0.2f, 2.0f);
        else if (strstr(name, "running_mean") || (strstr(name, "bn") && strstr(name, "weight")))
            tu_fill(adapt_tensor_data(t), n, seed + (uint64_t)i, -1.0f, 1.0f);
    }
}

typedef struct {
    int64_t points, checked, outside;
} tally;

/* Row i of `points` (per_sample values): each value uniform in [lo, hi], or at one of its
 * ends when `corners`. */
static void draw_points(float *points, int64_t rows, const float *lo, const float *hi,
                        int64_t per_sample, uint64_t seed, int corners)
{
    for (int64_t r = 0; r < rows; r++)
        for (int64_t j = 0; j < per_sample; j++) {
            const float u = ad_uniform(seed, (uint64_t)r, (uint64_t)j);
            const float t = corners ? (u < 0.5f ? 0.0f : 1.0f) : u;
            const float v = lo[j] + t * (hi[j] - lo[j]);
            points[r * per_sample + j] = fminf(fmaxf(v, lo[j]), hi[j]);
        }
}

/* Bounds of m over one box around a random centre (a single sample), then `n` points of the
 * box through the ordinary forward, counted against them. */
static void sample_box(tally *t, adapt_context *ctx, adapt_model *m, const int64_t *shape,
                       int32_t ndim, float radius, int64_t n, uint64_t seed)
{
    int64_t per_sample = 1;
    for (int32_t i = 1; i < ndim; i++)
        per_sample *= shape[i];
    float *centre = malloc((size_t)per_sample * 3 * sizeof *centre);
    ck_assert_ptr_nonnull(centre);
    float *lo = centre + per_sample, *hi = lo + per_sample;
    tu_fill(centre, per_sample, seed, 0.0f, 1.0f);
    for (int64_t j = 0; j < per_sample; j++) /* clipped to [0, 1]: some boxes are flat */
        lo[j] = fmaxf(centre[j] - radius, 0.0f), hi[j] = fminf(centre[j] + radius, 1.0f);
    adapt_context_reset(ctx);
    adapt_tensor *xl, *xm, *xh, *yl, *ym, *yh;
    TU_OK(adapt_tensor_input(&xl, ctx, ndim, shape, lo));
    TU_OK(adapt_tensor_input(&xm, ctx, ndim, shape, centre));
    TU_OK(adapt_tensor_input(&xh, ctx, ndim, shape, hi));
    TU_OK(adapt_model_forward_interval(&yl, &ym, &yh, ctx, m, xl, xm, xh));
    const int64_t outs = adapt_tensor_numel(yl);
    float *bound = malloc((size_t)outs * 3 * sizeof *bound);
    ck_assert_ptr_nonnull(bound);
    TU_OK(adapt_tensor_read(yl, bound, outs));
    TU_OK(adapt_tensor_read(ym, bound + outs, outs));
    TU_OK(adapt_tensor_read(yh, bound + 2 * outs, outs));
    for (int64_t k = 0; k < outs; k++)
        ck_assert(bound[k] <= bound[outs + k] && bound[outs + k] <= bound[2 * outs + k]);
    enum { CHUNK = 512 };
    float *points = malloc((size_t)(CHUNK * per_sample) * sizeof *points);
    ck_assert_ptr_nonnull(points);
    int64_t chunk_shape[ADAPT_MAX_DIMS];
    memcpy(chunk_shape, shape, (size_t)ndim * sizeof *shape);
    for (int64_t done = 0; done < n; done += CHUNK) {
        const int64_t rows = n - done < CHUNK ? n - done : CHUNK;
        draw_points(points, rows, lo, hi, per_sample, seed * 7919u + (uint64_t)done,
                    (done / CHUNK) % 2);
        adapt_context_reset(ctx);
        adapt_tensor *x, *y;
        chunk_shape[0] = rows;
        TU_OK(adapt_tensor_input(&x, ctx, ndim, chunk_shape, points));
        TU_OK(adapt_model_forward(&y, ctx, m, x));
        const float *v = adapt_tensor_data(y);
        t->points += rows;
        for (int64_t r = 0; r < rows; r++)
            for (int64_t k = 0; k < outs; k++) {
                const float z = v[r * outs + k];
                t->outside += z < bound[k] || z > bound[2 * outs + k];
                t->checked++;
            }
    }
    free(points);
    free(bound);
    free(centre);
}

static void check_sound(adapt_model *m, int32_t ndim, const int64_t *sample_shape, int32_t boxes,
                        int64_t points_per_box, int64_t min_points)
{
    adapt_context *ctx = tu_context_threads(ADAPT_BACKEND_DEFAULT, 2);
    TU_OK(adapt_context_set_grad(ctx, 0));
    int64_t shape[ADAPT_MAX_DIMS] = {1};
    memcpy(shape + 1, sample_shape, (size_t)ndim * sizeof *shape);
    tally t = {0, 0, 0};
    const float radii[] = {0.0f, 1e-3f, 0.01f, 0.1f, 0.5f};
    for (int32_t b = 0; b < boxes; b++)
        sample_box(&t, ctx, m, shape, ndim + 1, radii[b % 5], points_per_box, 1000u + (uint64_t)b);
    ck_assert_msg(t.outside == 0, "%lld of %lld point outputs outside their bounds",
                  (long long)t.outside, (long long)t.checked);
    ck_assert_int_ge(t.points, min_points);
    adapt_context_free(ctx);
}

START_TEST(mlp_bounds_hold_every_point)
{
    adapt_model *m = mlp(16, 32, 4, 3);
    check_sound(m, 1, (int64_t[]){16}, 50, 20480, 1000000);
    adapt_model_free(m);
    m = mlp(784, 64, 10, 4);
    check_sound(m, 1, (int64_t[]){784}, 10, 4096, 40000);
    adapt_model_free(m);
}
END_TEST

START_TEST(cnn_bounds_hold_every_point)
{
    adapt_model *m = small_cnn(5);
    randomise_norms(m, 6);
    check_sound(m, 3, (int64_t[]){1, 12, 12}, 20, 4096, 80000);
    adapt_model_free(m);
    m = resnet(7);
    randomise_norms(m, 8);
    check_sound(m, 3, (int64_t[]){2, 8, 8}, 10, 2048, 20000);
    adapt_model_free(m);
}
END_TEST

/* The least and the largest x w^T + b of output o of row n over the boxes (x >= 0): each term
 * at the corner that reaches it, summed in double, whose products of floats are exact. */
static void extremes(double *lo, double *hi, const ad_interval *w, const ad_interval *b,
                     const ad_interval *x, int64_t n, int64_t o, int64_t in)
{
    *lo = b->lo->data[o], *hi = b->hi->data[o];
    for (int64_t j = 0; j < in; j++) {
        const double wl = w->lo->data[o * in + j], wh = w->hi->data[o * in + j];
        const double xl = x->lo->data[n * in + j], xh = x->hi->data[n * in + j];
        *lo += fmin(wl * xl, wl * xh);
        *hi += fmax(wh * xl, wh * xh);
    }
}

/* y = x w^T + b for interval weights: random boxes of weights and of inputs >= 0, random
 * weights and inputs inside (corners half the time), the point product through the ops. */
/* Without a tape the affine steps run stacked products (interval_untaped.c); with one, the
 * composed operations: the same bounds but for the products' rounding. */
static void compare_paths(adapt_model *m, const int64_t *shape, int32_t ndim)
{
    int64_t n = 1;
    for (int32_t i = 0; i < ndim; i++)
        n *= shape[i];
    float *v = malloc((size_t)n * 3 * sizeof *v);
    ck_assert_ptr_nonnull(v);
    tu_fill(v + n, n, 21, 0.05f, 0.95f);
    for (int64_t i = 0; i < n; i++)
        v[i] = v[n + i] - 0.05f, v[2 * n + i] = v[n + i] + 0.05f;
    const float *got[2][3];
    adapt_context *ctx[2];
    for (int taped = 0; taped < 2; taped++) {
        ctx[taped] = tu_context_threads(ADAPT_BACKEND_DEFAULT, 2);
        TU_OK(adapt_context_set_grad(ctx[taped], taped));
        adapt_tensor *in[3], *out[3];
        for (int k = 0; k < 3; k++)
            TU_OK(adapt_tensor_input(&in[k], ctx[taped], ndim, shape, v + k * n));
        TU_OK(adapt_model_forward_interval(&out[0], &out[1], &out[2], ctx[taped], m, in[0],
                                           in[1], in[2]));
        for (int k = 0; k < 3; k++)
            got[taped][k] = adapt_tensor_data(out[k]);
        if (taped)
            for (int k = 0; k < 3; k++)
                for (int64_t i = 0; i < adapt_tensor_numel(out[k]); i++)
                    ck_assert_msg(fabsf(got[0][k][i] - got[1][k][i]) <=
                                      1e-5f * (1.0f + fabsf(got[1][k][i])),
                                  "part %d value %lld: %g untaped, %g taped", k, (long long)i,
                                  (double)got[0][k][i], (double)got[1][k][i]);
    }
    adapt_context_free(ctx[0]);
    adapt_context_free(ctx[1]);
    free(v);
}

START_TEST(untaped_and_taped_bounds_agree)
{
    adapt_model *m = mlp(784, 64, 10, 4);
    compare_paths(m, (int64_t[]){3, 784}, 2);
    adapt_model_free(m);
    m = small_cnn(5);
    randomise_norms(m, 6);
    compare_paths(m, (int64_t[]){3, 1, 12, 12}, 4);
    adapt_model_free(m);
}
END_TEST

START_TEST(interval_weight_bounds_hold_every_point)
{
    enum { N = 64, IN = 40, OUT = 12, TRIALS = 400 };
    adapt_context *ctx = tu_context(ADAPT_BACKEND_DEFAULT);
    TU_OK(adapt_context_set_grad(ctx, 0));
    const ad_interval_product p = {ad_linear_interval_product, NULL};
    int64_t outside = 0, checked = 0;
    for (int trial = 0; trial < TRIALS; trial++) {
        const uint64_t s = 77u + (uint64_t)trial;
        adapt_tensor *w[3], *b[3], *x[3];
        for (int k = 0; k < 3; k++) {
            w[k] = tu_param(2, (int64_t[]){OUT, IN}, s * 3 + (uint64_t)k, -1.0f, 1.0f);
            b[k] = tu_param(1, (int64_t[]){OUT}, s * 5 + (uint64_t)k, -1.0f, 1.0f);
            x[k] = tu_param(2, (int64_t[]){N, IN}, s * 11 + (uint64_t)k, 0.0f, 1.0f);
        }
        /* order each triple lo <= mid <= hi: w[1] and b[1] a point of the box, x[1] too */
        adapt_tensor *triples[3][3] = {{w[0], w[1], w[2]}, {b[0], b[1], b[2]},
                                       {x[0], x[1], x[2]}};
        for (int k = 0; k < 3; k++) {
            float *lo = adapt_tensor_data(triples[k][0]), *mid = adapt_tensor_data(triples[k][1]);
            float *hi = adapt_tensor_data(triples[k][2]);
            for (int64_t i = 0; i < adapt_tensor_numel(triples[k][0]); i++) {
                float v[3] = {lo[i], mid[i], hi[i]};
                for (int a = 0; a < 2; a++)
                    for (int c = 0; c < 2 - a; c++)
                        if (v[c] > v[c + 1]) {
                            const float tmp = v[c];
                            v[c] = v[c + 1], v[c + 1] = tmp;
                        }
                const int corner = trial % 2 && (i % 3 != 2);
                lo[i] = v[0], hi[i] = v[2];
                mid[i] = corner ? v[(i / 3) % 2 ? 0 : 2] : v[1];
            }
        }
        adapt_context_reset(ctx);
        ad_interval wi = {tu_record(w[0]), tu_record(w[1]), tu_record(w[2])};
        ad_interval bi = {tu_record(b[0]), tu_record(b[1]), tu_record(b[2])};
        ad_interval xi = {tu_record(x[0]), tu_record(x[1]), tu_record(x[2])}, y;
        TU_OK(ad_interval_affine_boxed(&y, ctx, &xi, &p, &wi, &bi));
        for (int64_t i = 0; i < N * OUT; i++) {
            double lo, hi; /* the corners where the bounds are reached, exactly */
            extremes(&lo, &hi, &wi, &bi, &xi, i / OUT, i % OUT, IN);
            outside += y.mid->data[i] < y.lo->data[i] || y.mid->data[i] > y.hi->data[i];
            outside += y.lo->data[i] > lo || y.hi->data[i] < hi;
            checked++;
        }
        for (int k = 0; k < 3; k++) {
            adapt_tensor_free(w[k]);
            adapt_tensor_free(b[k]);
            adapt_tensor_free(x[k]);
        }
    }
    ck_assert_msg(outside == 0, "%lld of %lld outside", (long long)outside, (long long)checked);
    ck_assert_int_eq(checked, (int64_t)TRIALS * N * OUT);
    adapt_context_free(ctx);
}
END_TEST

/* The interval-weight bounds are the exact ones for x >= 0, up to the rounding allowance:
 * each output's lower bound is reached by the weights and inputs the formula picks. */
START_TEST(interval_weight_bounds_are_tight)
{
    enum { IN = 5, OUT = 3 };
    adapt_context *ctx = tu_context(ADAPT_BACKEND_REFERENCE);
    TU_OK(adapt_context_set_grad(ctx, 0));
    adapt_tensor *wl = tu_param(2, (int64_t[]){OUT, IN}, 1, -1.0f, 0.2f);
    adapt_tensor *wh = tu_param(2, (int64_t[]){OUT, IN}, 2, 0.3f, 1.0f);
    adapt_tensor *xl = tu_param(2, (int64_t[]){1, IN}, 3, 0.0f, 0.5f);
    adapt_tensor *xh = tu_param(2, (int64_t[]){1, IN}, 4, 0.5f, 1.0f);
    const ad_interval_product p = {ad_linear_interval_product, NULL};
    ad_interval wi = {tu_record(wl), NULL, tu_record(wh)}, bi = {NULL, NULL, NULL};
    ad_interval xi = {tu_record(xl), NULL, tu_record(xh)}, y;
    TU_OK(ad_interval_affine_boxed(&y, ctx, &xi, &p, &wi, &bi));
    const float *a = adapt_tensor_data(wl), *c = adapt_tensor_data(wh);
    const float *u = adapt_tensor_data(xl), *v = adapt_tensor_data(xh);
    for (int o = 0; o < OUT; o++) {
        double lo = 0.0, hi = 0.0;
        for (int j = 0; j < IN; j++) {
            lo += fmin(a[o * IN + j] * (double)u[j], a[o * IN + j] * (double)v[j]);
            hi += fmax(c[o * IN + j] * (double)u[j], c[o * IN + j] * (double)v[j]);
        }
        ck_assert_double_eq_tol(y.lo->data[o], lo, 1e-5);
        ck_assert_double_eq_tol(y.hi->data[o], hi, 1e-5);
    }
    adapt_tensor *ts[] = {wl, wh, xl, xh};
    for (int k = 0; k < 4; k++)
        adapt_tensor_free(ts[k]);
    adapt_context_free(ctx);
}
END_TEST

/* Worst-case logits of a point-weight box and of an interval-weight one, through ReLU. */
static adapt_status point_box_forward(adapt_tensor **out, adapt_context *ctx,
                                      adapt_tensor **params, void *arg)
{
    (void)arg;
    const ad_interval_product p = {ad_linear_interval_product, NULL};
    adapt_tensor *x = tu_record(params[0]), *w1 = tu_record(params[1]);
    adapt_tensor *b1 = tu_record(params[2]), *w2 = tu_record(params[3]);
    adapt_tensor *lo, *hi, *y;
    adapt_status st = ad_op_scale(&lo, ctx, x, 0.9f);
    if (!st)
        st = ad_op_scale(&hi, ctx, x, 1.1f);
    ad_interval box = {lo, x, hi};
    if (!st)
        st = ad_interval_affine(&box, ctx, &box, &p, w1, b1);
    if (!st)
        st = ad_op_relu(&box.lo, ctx, box.lo);
    if (!st)
        st = ad_op_relu(&box.hi, ctx, box.hi);
    box.mid = NULL;
    if (!st)
        st = ad_interval_affine(&box, ctx, &box, &p, w2, NULL);
    if (!st)
        st = ad_op_worst_case_logits(&y, ctx, box.lo, box.hi, (const int32_t[]){0, 2, 1});
    if (!st)
        *out = tu_handle(y);
    return st;
}

static adapt_status weight_box_forward(adapt_tensor **out, adapt_context *ctx,
                                       adapt_tensor **params, void *arg)
{
    (void)arg;
    const ad_interval_product p = {ad_linear_interval_product, NULL};
    adapt_tensor *x = tu_record(params[0]), *w = tu_record(params[1]);
    adapt_tensor *r = tu_record(params[2]), *b = tu_record(params[3]);
    adapt_tensor *hi, *wl, *wh, *y, *neg;
    adapt_status st = ad_op_scale(&hi, ctx, x, 1.5f);
    if (!st)
        st = ad_op_add(&wh, ctx, w, r);
    if (!st)
        st = ad_op_scale(&neg, ctx, r, -1.0f);
    if (!st)
        st = ad_op_add(&wl, ctx, w, neg);
    ad_interval box = {x, NULL, hi}, wi = {wl, w, wh}, bi = {b, b, b};
    if (!st)
        st = ad_interval_affine_boxed(&box, ctx, &box, &p, &wi, &bi);
    if (!st)
        st = ad_op_worst_case_logits(&y, ctx, box.lo, box.hi, (const int32_t[]){1, 0, 2});
    if (!st)
        *out = tu_handle(y);
    return st;
}

START_TEST(taped_bounds_match_finite_differences)
{
    adapt_tensor *p[4] = {tu_param(2, (int64_t[]){3, 5}, 1, 0.1f, 1.0f),
                          tu_param(2, (int64_t[]){6, 5}, 2, -1.0f, 1.0f),
                          tu_param(1, (int64_t[]){6}, 3, -0.5f, 0.5f),
                          tu_param(2, (int64_t[]){4, 6}, 4, -1.0f, 1.0f)};
    for (int k = 0; k < 4; k++)
        TU_OK(adapt_param_set_requires_grad(p[k], 1));
    tu_gradcheck(point_box_forward, p, 4, NULL, 1e-3, 2e-2, 24);
    adapt_tensor *q[4] = {tu_param(2, (int64_t[]){3, 5}, 5, 0.1f, 1.0f),
                          tu_param(2, (int64_t[]){4, 5}, 6, -1.0f, 1.0f),
                          tu_param(2, (int64_t[]){4, 5}, 7, 0.05f, 0.3f),
                          tu_param(1, (int64_t[]){4}, 8, -0.5f, 0.5f)};
    for (int k = 0; k < 4; k++)
        TU_OK(adapt_param_set_requires_grad(q[k], 1));
    tu_gradcheck(weight_box_forward, q, 4, NULL, 1e-3, 2e-2, 24);
    for (int k = 0; k < 4; k++) {
        adapt_tensor_free(p[k]);
        adapt_tensor_free(q[k]);
    }
}
END_TEST

START_TEST(worst_case_logits_pick_the_label_low_and_the_rest_high)
{
    adapt_context *ctx = tu_context(ADAPT_BACKEND_REFERENCE);
    adapt_tensor *lo = tu_param(2, (int64_t[]){2, 3}, 1, -1.0f, 0.0f);
    adapt_tensor *hi = tu_param(2, (int64_t[]){2, 3}, 2, 0.0f, 1.0f);
    TU_OK(adapt_param_set_requires_grad(lo, 1));
    TU_OK(adapt_param_set_requires_grad(hi, 1));
    adapt_tensor *z, *loss;
    const int32_t labels[] = {2, 0};
    TU_OK(adapt_op_worst_case_logits(&z, ctx, lo, hi, labels));
    const float *l = adapt_tensor_data(lo), *h = adapt_tensor_data(hi), *v = adapt_tensor_data(z);
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 3; j++)
            ck_assert_float_eq(v[i * 3 + j], j == labels[i] ? l[i * 3 + j] : h[i * 3 + j]);
    TU_OK(adapt_op_sum(&loss, ctx, z, -1));
    TU_OK(adapt_op_sum(&loss, ctx, loss, 0));
    TU_OK(adapt_backward(ctx, loss));
    const float *gl = adapt_tensor_grad(lo), *gh = adapt_tensor_grad(hi);
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 3; j++) {
            ck_assert_float_eq(gl[i * 3 + j], j == labels[i] ? 1.0f : 0.0f);
            ck_assert_float_eq(gh[i * 3 + j], j == labels[i] ? 0.0f : 1.0f);
        }
    TU_FAILS(adapt_op_worst_case_logits(&z, ctx, lo, hi, (const int32_t[]){3, 0}),
             ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_op_worst_case_logits(&z, ctx, lo, hi, NULL), ADAPT_ERR_INVALID_ARGUMENT);
    adapt_tensor_free(lo);
    adapt_tensor_free(hi);
    adapt_context_free(ctx);
}
END_TEST

/* A sample proven right has every point of its box classified right: 64 random points and
 * 64 corners per certified sample; and certification never grows with the radius. */
START_TEST(certified_samples_survive_sampling)
{
    enum { N = 60, IN = 12, CLASSES = 3, DRAWS = 128 };
    float *x = malloc(N * IN * sizeof *x), *points = malloc(DRAWS * IN * sizeof *points);
    int32_t labels[N];
    ck_assert_ptr_nonnull(x);
    ck_assert_ptr_nonnull(points);
    tu_fill(x, N * IN, 9, 0.0f, 1.0f);
    adapt_model *m = mlp(IN, 16, CLASSES, 10);
    adapt_context *ctx = tu_context(ADAPT_BACKEND_DEFAULT);
    TU_OK(adapt_context_set_grad(ctx, 0));
    for (int i = 0; i < N; i++) { /* the model's own predictions: all right at radius 0 */
        adapt_context_reset(ctx);
        adapt_tensor *xi, *y;
        TU_OK(adapt_tensor_input(&xi, ctx, 2, (int64_t[]){1, IN}, x + i * IN));
        TU_OK(adapt_model_forward(&y, ctx, m, xi));
        const float *v = adapt_tensor_data(y);
        labels[i] = v[1] > v[0] ? (v[2] > v[1] ? 2 : 1) : (v[2] > v[0] ? 2 : 0);
    }
    adapt_dataset *ds = NULL;
    TU_OK(adapt_dataset_wrap(&ds, x, 2, (int64_t[]){N, IN}, labels));
    const float radii[] = {0.0f, 0.002f, 0.01f, 0.05f, 1.0f};
    double previous = 2.0;
    for (int r = 0; r < 5; r++) {
        adapt_certify_result res = {.struct_size = sizeof res};
        TU_OK(adapt_model_certify(&res, m, ds, radii[r], 0.0f, 1.0f, 7, 2));
        ck_assert_double_eq(res.accuracy, 1.0);
        ck_assert_int_eq(res.count, N);
        ck_assert(res.certified_accuracy <= previous);
        previous = res.certified_accuracy;
        if (r == 0)
            ck_assert_double_ge(res.certified_accuracy, 0.9);
        if (r == 4)
            ck_assert_double_eq(res.certified_accuracy, 0.0);
    }
    /* per sample at radius 0.01: certified ones never misclassify a point of their box */
    int certified_seen = 0;
    for (int i = 0; i < N; i++) {
        adapt_dataset *one = NULL;
        TU_OK(adapt_dataset_wrap(&one, x + i * IN, 2, (int64_t[]){1, IN}, labels + i));
        adapt_certify_result res = {.struct_size = sizeof res};
        TU_OK(adapt_model_certify(&res, m, one, 0.01f, 0.0f, 1.0f, 1, 1));
        adapt_dataset_free(one);
        if (res.certified_accuracy < 1.0)
            continue;
        certified_seen++;
        float lo[IN], hi[IN];
        for (int j = 0; j < IN; j++)
            lo[j] = fmaxf(x[i * IN + j] - 0.01f, 0.0f), hi[j] = fminf(x[i * IN + j] + 0.01f, 1.0f);
        draw_points(points, DRAWS / 2, lo, hi, IN, 100u + (uint64_t)i, 0);
        draw_points(points + DRAWS / 2 * IN, DRAWS / 2, lo, hi, IN, 200u + (uint64_t)i, 1);
        adapt_context_reset(ctx);
        adapt_tensor *xs, *y;
        TU_OK(adapt_tensor_input(&xs, ctx, 2, (int64_t[]){DRAWS, IN}, points));
        TU_OK(adapt_model_forward(&y, ctx, m, xs));
        const float *v = adapt_tensor_data(y);
        for (int d = 0; d < DRAWS; d++)
            for (int c = 0; c < CLASSES; c++)
                ck_assert(c == labels[i] || v[d * CLASSES + c] < v[d * CLASSES + labels[i]]);
    }
    ck_assert_int_gt(certified_seen, 0);
    adapt_dataset_free(ds);
    adapt_model_free(m);
    adapt_context_free(ctx);
    free(points);
    free(x);
}
END_TEST

START_TEST(bad_boxes_are_refused)
{
    adapt_model *m = mlp(4, 8, 2, 1);
    adapt_context *ctx = tu_context(ADAPT_BACKEND_DEFAULT);
    float lo[4] = {0.1f, 0.2f, 0.3f, 0.4f}, hi[4] = {0.2f, 0.3f, 0.4f, 0.5f};
    float mid[4] = {0.15f, 0.25f, 0.35f, 0.45f}, wide[5] = {0};
    adapt_tensor *xl, *xh, *xm, *x5, *x3, *yl, *ym, *yh;
    TU_OK(adapt_tensor_input(&xl, ctx, 2, (int64_t[]){1, 4}, lo));
    TU_OK(adapt_tensor_input(&xh, ctx, 2, (int64_t[]){1, 4}, hi));
    TU_OK(adapt_tensor_input(&xm, ctx, 2, (int64_t[]){1, 4}, mid));
    TU_OK(adapt_tensor_input(&x5, ctx, 2, (int64_t[]){1, 5}, wide));
    TU_OK(adapt_tensor_input(&x3, ctx, 2, (int64_t[]){1, 3}, wide));
    TU_FAILS(adapt_model_forward_interval(&yl, &ym, &yh, ctx, m, xh, xm, xl),
             ADAPT_ERR_INVALID_ARGUMENT); /* lo > hi */
    TU_FAILS(adapt_model_forward_interval(&yl, &ym, &yh, ctx, m, xl, xh, xm),
             ADAPT_ERR_INVALID_ARGUMENT); /* mid > hi */
    TU_FAILS(adapt_model_forward_interval(&yl, &ym, &yh, ctx, m, xl, NULL, xh),
             ADAPT_ERR_INVALID_ARGUMENT); /* mid asked for, not given */
    TU_FAILS(adapt_model_forward_interval(&yl, NULL, NULL, ctx, m, xl, NULL, xh),
             ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_model_forward_interval(&yl, NULL, &yh, ctx, m, xl, NULL, x3), ADAPT_ERR_SHAPE);
    TU_FAILS(adapt_model_forward_interval(&yl, NULL, &yh, ctx, m, x5, NULL, x5), ADAPT_ERR_SHAPE);
    adapt_tensor *nan_lo = tu_param(2, (int64_t[]){1, 4}, 1, 0.0f, 0.1f);
    adapt_tensor_data(nan_lo)[2] = NAN;
    TU_FAILS(adapt_model_forward_interval(&yl, NULL, &yh, ctx, m, nan_lo, NULL, xh),
             ADAPT_ERR_NONFINITE);
    TU_OK(adapt_model_forward_interval(&yl, &ym, &yh, ctx, m, xl, xm, xh)); /* still usable */

    adapt_model *norm = NULL; /* a layer without an interval forward */
    TU_OK(adapt_model_create_sequential(&norm, 1, (int64_t[]){4}, 2));
    append(norm, layer(ADAPT_LAYER_LINEAR, 3));
    append(norm, layer(ADAPT_LAYER_LAYERNORM, 0));
    TU_FAILS(adapt_model_forward_interval(&yl, NULL, &yh, ctx, norm, xl, NULL, xh),
             ADAPT_ERR_UNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(adapt_last_error(), "layernorm"));

    adapt_model *cnn = small_cnn(3); /* batch statistics in training */
    adapt_context *train = tu_context(ADAPT_BACKEND_DEFAULT);
    TU_OK(adapt_context_set_training(train, 1));
    float img[144] = {0};
    adapt_tensor *il, *ih;
    TU_OK(adapt_tensor_input(&il, train, 4, (int64_t[]){1, 1, 12, 12}, img));
    TU_OK(adapt_tensor_input(&ih, train, 4, (int64_t[]){1, 1, 12, 12}, img));
    TU_FAILS(adapt_model_forward_interval(&yl, NULL, &yh, train, cnn, il, NULL, ih),
             ADAPT_ERR_UNSUPPORTED);

    /* interval weights need inputs >= 0 */
    adapt_tensor *w = tu_param(2, (int64_t[]){2, 4}, 3, -1.0f, 1.0f);
    adapt_tensor *neg = tu_param(2, (int64_t[]){1, 4}, 4, -1.0f, -0.5f);
    const ad_interval_product p = {ad_linear_interval_product, NULL};
    ad_interval wi = {tu_record(w), tu_record(w), tu_record(w)}, none = {NULL, NULL, NULL};
    ad_interval xi = {tu_record(neg), NULL, tu_record(xh)}, y;
    TU_FAILS(ad_interval_affine_boxed(&y, ctx, &xi, &p, &wi, &none), ADAPT_ERR_INVALID_ARGUMENT);

    /* certification's arguments */
    float data[8] = {0.1f, 0.2f, 0.3f, 0.4f, 0.5f, 0.6f, 0.7f, 1.5f};
    int32_t labels[2] = {0, 1};
    adapt_dataset *ds = NULL;
    TU_OK(adapt_dataset_wrap(&ds, data, 2, (int64_t[]){2, 4}, labels));
    adapt_certify_result res = {.struct_size = sizeof res};
    TU_FAILS(adapt_model_certify(&res, m, ds, -0.1f, 0.0f, 2.0f, 4, 1),
             ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_model_certify(&res, m, ds, NAN, 0.0f, 2.0f, 4, 1), ADAPT_ERR_NONFINITE);
    TU_FAILS(adapt_model_certify(&res, m, ds, 0.1f, 1.0f, 0.0f, 4, 1),
             ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_model_certify(&res, m, ds, 0.1f, 0.0f, 1.0f, 4, 1),
             ADAPT_ERR_INVALID_ARGUMENT); /* 1.5 lies outside [0, 1] */
    TU_FAILS(adapt_model_certify(&res, norm, ds, 0.1f, 0.0f, 2.0f, 4, 1),
             ADAPT_ERR_UNSUPPORTED);
    TU_FAILS(adapt_model_certify(NULL, m, ds, 0.1f, 0.0f, 2.0f, 4, 1),
             ADAPT_ERR_INVALID_ARGUMENT);
    TU_OK(adapt_model_certify(&res, m, ds, 0.1f, 0.0f, 2.0f, 4, 1));
    ck_assert_int_eq(res.count, 2);

    adapt_dataset_free(ds);
    adapt_tensor_free(w);
    adapt_tensor_free(neg);
    adapt_tensor_free(nan_lo);
    adapt_context_free(train);
    adapt_context_free(ctx);
    adapt_model_free(cnn);
    adapt_model_free(norm);
    adapt_model_free(m);
}
END_TEST

START_TEST(ibp_schedule_ramps_radius_and_clean_weight)
{
    adapt_train_params p;
    adapt_train_params_init(&p, sizeof p);
    p.ibp_epsilon = 0.2f, p.ibp_kappa = 0.5f, p.ibp_ramp_start = 0.25f, p.ibp_ramp_end = 0.75f;
    const int64_t steps[] = {0, 25, 50, 75, 99};
    const float eps[] = {0.0f, 0.0f, 0.1f, 0.2f, 0.2f}, kappa[] = {1.0f, 1.0f, 0.75f, 0.5f, 0.5f};
    for (int i = 0; i < 5; i++) {
        const ad_ibp_step s = ad_ibp_schedule(&p, steps[i], 100);
        ck_assert_float_eq_tol(s.epsilon, eps[i], 1e-6f);
        ck_assert_float_eq_tol(s.kappa, kappa[i], 1e-6f);
    }
    p.ibp_ramp_start = p.ibp_ramp_end = 0.5f; /* a step, not a ramp */
    ck_assert_float_eq(ad_ibp_schedule(&p, 49, 100).epsilon, 0.0f);
    ck_assert_float_eq(ad_ibp_schedule(&p, 50, 100).epsilon, 0.2f);
}
END_TEST

/* Two classes of 10 features in [0, 1], separated by a margin: trained from the same seed,
 * with IBP at radius 0.1 the model is certified on far more of the test samples than without. */
START_TEST(ibp_training_certifies_more)
{
    enum { N = 400, TEST = 200, F = 30 };
    float *x = malloc((N + TEST) * F * sizeof *x);
    int32_t labels[N + TEST];
    ck_assert_ptr_nonnull(x);
    for (int i = 0; i < N + TEST; i++) {
        labels[i] = i % 2;
        for (int j = 0; j < F; j++) {
            const float u = ad_uniform(31, (uint64_t)i, (uint64_t)j);
            x[i * F + j] = j < 3 ? (labels[i] ? 0.6f + 0.4f * u : 0.4f * u) : u;
        }
    }
    adapt_dataset *train = NULL, *test = NULL;
    TU_OK(adapt_dataset_wrap(&train, x, 2, (int64_t[]){N, F}, labels));
    TU_OK(adapt_dataset_wrap(&test, x + N * F, 2, (int64_t[]){TEST, F}, labels + N));
    double certified[2];
    for (int ibp = 0; ibp < 2; ibp++) {
        adapt_model *m = mlp(F, 32, 2, 5);
        adapt_train_params p;
        adapt_train_params_init(&p, sizeof p);
        p.epochs = 30, p.batch_size = 32, p.learning_rate = 0.05f, p.n_threads = 1, p.seed = 3;
        p.ibp_epsilon = ibp ? 0.1f : 0.0f;
        TU_OK(adapt_model_train(m, train, NULL, &p));
        adapt_certify_result r = {.struct_size = sizeof r};
        TU_OK(adapt_model_certify(&r, m, test, 0.1f, 0.0f, 1.0f, 64, 1));
        ck_assert_double_ge(r.accuracy, 0.95);
        certified[ibp] = r.certified_accuracy;
        adapt_model_free(m);
    }
    ck_assert_msg(certified[1] >= 0.9 && certified[1] > certified[0] + 0.2,
                  "certified at 0.1: %.3f plain, %.3f IBP", certified[0], certified[1]);
    adapt_dataset_free(train);
    adapt_dataset_free(test);
    free(x);
}
END_TEST

START_TEST(ibp_training_refuses_what_it_cannot_bound)
{
    float x[2 * 144] = {0};
    int32_t labels[2] = {0, 1};
    adapt_dataset *ds = NULL;
    TU_OK(adapt_dataset_wrap(&ds, x, 4, (int64_t[]){2, 1, 12, 12}, labels));
    adapt_train_params p;
    adapt_train_params_init(&p, sizeof p);
    p.epochs = 3, p.batch_size = 1, p.ibp_epsilon = 0.1f; /* the ramp starts at step 1 of 6 */
    adapt_model *cnn = small_cnn(2); /* batch norm: refused before the first step */
    adapt_tensor *w = adapt_model_param(cnn, 0);
    float before[16];
    memcpy(before, adapt_tensor_data(w), sizeof before);
    TU_FAILS(adapt_model_train(cnn, ds, NULL, &p), ADAPT_ERR_UNSUPPORTED);
    ck_assert_int_eq(memcmp(before, adapt_tensor_data(w), sizeof before), 0);
    p.epochs = 1, p.ibp_ramp_start = 0.0f, p.ibp_ramp_end = 0.0f;
    p.ibp_ramp_end = -0.5f;
    TU_FAILS(adapt_model_train(cnn, ds, NULL, &p), ADAPT_ERR_INVALID_ARGUMENT);
    p.ibp_ramp_end = 0.5f, p.ibp_epsilon = NAN;
    TU_FAILS(adapt_model_train(cnn, ds, NULL, &p), ADAPT_ERR_NONFINITE);
    p.ibp_epsilon = 0.1f, p.ibp_input_max = -1.0f;
    TU_FAILS(adapt_model_train(cnn, ds, NULL, &p), ADAPT_ERR_INVALID_ARGUMENT);
    p.ibp_input_max = 0.5f, p.ibp_input_min = 0.2f, p.ibp_ramp_end = 0.0f; /* x = 0 < 0.2 */
    adapt_model *flat = mlp(144, 4, 2, 3);
    TU_FAILS(adapt_model_train(flat, ds, NULL, &p), ADAPT_ERR_INVALID_ARGUMENT);
    adapt_train_params off; /* a setting of IBP with IBP off is refused, not ignored */
    adapt_train_params_init(&off, sizeof off);
    off.epochs = 1, off.ibp_kappa = 0.0f;
    TU_FAILS(adapt_model_train(flat, ds, NULL, &off), ADAPT_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(adapt_last_error(), "ibp_kappa"));
    off.ibp_kappa = 0.5f, off.ibp_epsilon = 0.1f, off.sparsity_penalty = 0.1f;
    TU_FAILS(adapt_model_train(flat, ds, NULL, &off), ADAPT_ERR_INVALID_ARGUMENT);
    adapt_model_free(flat);
    adapt_model_free(cnn);
    adapt_dataset_free(ds);
}
END_TEST

static Suite *interval_suite(void)
{
    Suite *s = suite_create("interval");
    TCase *tc = tcase_create("interval");
    tcase_set_timeout(tc, 240);
    tcase_add_test(tc, mlp_bounds_hold_every_point);
    tcase_add_test(tc, cnn_bounds_hold_every_point);
    tcase_add_test(tc, untaped_and_taped_bounds_agree);
    tcase_add_test(tc, interval_weight_bounds_hold_every_point);
    tcase_add_test(tc, interval_weight_bounds_are_tight);
    tcase_add_test(tc, taped_bounds_match_finite_differences);
    tcase_add_test(tc, worst_case_logits_pick_the_label_low_and_the_rest_high);
    tcase_add_test(tc, certified_samples_survive_sampling);
    tcase_add_test(tc, bad_boxes_are_refused);
    tcase_add_test(tc, ibp_schedule_ramps_radius_and_clean_weight);
    tcase_add_test(tc, ibp_training_certifies_more);
    tcase_add_test(tc, ibp_training_refuses_what_it_cannot_bound);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run(interval_suite());
}
