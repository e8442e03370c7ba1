/* upsample2d and conv_transpose2d: values against plain loops in double (every GEMM backend
 * for the transposed convolution), gradients against central differences, PyTorch's float
 * rounding of nearest indices, the transposed convolution as the adjoint of conv2d, the same
 * bits on one thread and on several, and the refusals. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "check_util.h"

static void free_params(adapt_tensor **p, int32_t n)
{
    for (int32_t i = 0; i < n; i++)
        adapt_tensor_free(p[i]);
}

/* ---- upsample2d ------------------------------------------------------------------------ */

typedef struct {
    int32_t mode, scale;
    int64_t h, w;
} up_case;

/* Nearest and bilinear at scales 1, 2 and 3, on odd and even sizes. */
static const up_case up_cases[] = {
    {ADAPT_UPSAMPLE_NEAREST, 1, 5, 7},  {ADAPT_UPSAMPLE_NEAREST, 2, 5, 7},
    {ADAPT_UPSAMPLE_NEAREST, 3, 5, 7},  {ADAPT_UPSAMPLE_NEAREST, 1, 4, 6},
    {ADAPT_UPSAMPLE_NEAREST, 2, 4, 6},  {ADAPT_UPSAMPLE_NEAREST, 3, 4, 6},
    {ADAPT_UPSAMPLE_BILINEAR, 1, 5, 7}, {ADAPT_UPSAMPLE_BILINEAR, 2, 5, 7},
    {ADAPT_UPSAMPLE_BILINEAR, 3, 5, 7}, {ADAPT_UPSAMPLE_BILINEAR, 1, 4, 6},
    {ADAPT_UPSAMPLE_BILINEAR, 2, 4, 6}, {ADAPT_UPSAMPLE_BILINEAR, 3, 4, 6},
    {ADAPT_UPSAMPLE_BILINEAR, 2, 1, 3}, /* a single row: both taps on it */
};
#define N_UP_CASES ((int)(sizeof up_cases / sizeof up_cases[0]))

static adapt_status up_forward(adapt_tensor **out, adapt_context *ctx, adapt_tensor **p,
                               void *arg)
{
    const up_case *c = arg;
    return adapt_op_upsample2d(out, ctx, p[0], c->scale, c->mode);
}

/* Along an axis of n cells, output o reads cells i0, i1 with weights 1 - t, t: align_corners
 * False, the source (o + 0.5) / scale - 0.5 clamped below at 0, i0 clamped at n - 1. */
static void bilinear_source(int64_t o, int64_t n, int32_t scale, int64_t *i0, int64_t *i1,
                            double *t)
{
    double s = (o + 0.5) / scale - 0.5;
    s = s < 0.0 ? 0.0 : s;
    *i0 = (int64_t)floor(s) < n - 1 ? (int64_t)floor(s) : n - 1;
    *i1 = *i0 + 1 < n ? *i0 + 1 : n - 1;
    *t = s - (double)*i0;
}

static double naive_up_at(const up_case *c, const float *plane, int64_t oy, int64_t ox)
{
    if (c->mode == ADAPT_UPSAMPLE_NEAREST)
        return plane[oy / c->scale * c->w + ox / c->scale];
    int64_t y0, y1, x0, x1;
    double ty, tx;
    bilinear_source(oy, c->h, c->scale, &y0, &y1, &ty);
    bilinear_source(ox, c->w, c->scale, &x0, &x1, &tx);
    return (1 - ty) * ((1 - tx) * plane[y0 * c->w + x0] + tx * plane[y0 * c->w + x1]) +
           ty * ((1 - tx) * plane[y1 * c->w + x0] + tx * plane[y1 * c->w + x1]);
}

START_TEST(upsample_matches_naive_loops)
{
    const up_case *c = &up_cases[_i];
    adapt_tensor *x = tu_param(4, (int64_t[]){2, 3, c->h, c->w}, 10 + (uint64_t)_i, -1, 1);
    adapt_context *ctx = tu_context(ADAPT_BACKEND_DEFAULT);
    adapt_tensor *y;
    TU_OK(up_forward(&y, ctx, &x, (void *)c));
    const int64_t oh = c->h * c->scale, ow = c->w * c->scale;
    ck_assert_int_eq(adapt_tensor_dim(y, 0), 2);
    ck_assert_int_eq(adapt_tensor_dim(y, 1), 3);
    ck_assert_int_eq(adapt_tensor_dim(y, 2), oh);
    ck_assert_int_eq(adapt_tensor_dim(y, 3), ow);
    const float *got = adapt_tensor_data(y);
    for (int64_t plane = 0; plane < 6; plane++)
        for (int64_t oy = 0; oy < oh; oy++)
            for (int64_t ox = 0; ox < ow; ox++) {
                const float *xp = adapt_tensor_data(x) + plane * c->h * c->w;
                ck_assert_double_eq_tol(*got++, naive_up_at(c, xp, oy, ox), 1e-6);
            }
    adapt_context_free(ctx);
    adapt_tensor_free(x);
}
END_TEST

START_TEST(upsample_gradients)
{
    const up_case *c = &up_cases[_i];
    adapt_tensor *x = tu_param(4, (int64_t[]){2, 2, c->h, c->w}, 20 + (uint64_t)_i, -1, 1);
    tu_gradcheck(up_forward, &x, 1, (void *)c, 1e-2, 1e-3, 1000);
    adapt_tensor_free(x);
}
END_TEST

START_TEST(upsample_scale_one_copies_the_bits)
{
    adapt_tensor *x = tu_param(4, (int64_t[]){1, 2, 3, 5}, 30, -1e3f, 1e3f);
    adapt_context *ctx = tu_context(ADAPT_BACKEND_DEFAULT);
    for (int32_t mode = 0; mode < 2; mode++) {
        adapt_tensor *y;
        TU_OK(adapt_op_upsample2d(&y, ctx, x, 1, mode));
        for (int64_t i = 0; i < adapt_tensor_numel(x); i++)
            ck_assert_float_eq(adapt_tensor_data(y)[i], adapt_tensor_data(x)[i]);
    }
    adapt_context_free(ctx);
    adapt_tensor_free(x);
}
END_TEST

START_TEST(upsample_nearest_rounds_as_pytorch)
{
    /* PyTorch reads cell floor(o * (float)(1 / scale)) in float: 41 * 0.024390243f is just
     * under 1, so output 41 still reads cell 0 where exact division would read cell 1. */
    adapt_context *ctx = tu_context(ADAPT_BACKEND_DEFAULT);
    adapt_tensor *x, *y;
    TU_OK(adapt_tensor_input(&x, ctx, 4, (int64_t[]){1, 1, 1, 3}, (float[]){0, 1, 2}));
    TU_OK(adapt_op_upsample2d(&y, ctx, x, 41, ADAPT_UPSAMPLE_NEAREST));
    ck_assert_int_eq(adapt_tensor_dim(y, 3), 123);
    const float *row = adapt_tensor_data(y) + 40 * 123; /* the last of the 41 rows */
    ck_assert_float_eq(row[40], 0.0f);
    ck_assert_float_eq(row[41], 0.0f);
    ck_assert_float_eq(row[42], 1.0f);
    ck_assert_float_eq(row[122], 2.0f);
    adapt_context_free(ctx);
}
END_TEST

START_TEST(upsample_threads_give_the_same_bits)
{
    const up_case c = {_i ? ADAPT_UPSAMPLE_BILINEAR : ADAPT_UPSAMPLE_NEAREST, 3, 17, 16};
    adapt_tensor *x = tu_param(4, (int64_t[]){4, 8, c.h, c.w}, 40, -1, 1);
    tu_check_threads(up_forward, &x, 1, (void *)&c, ADAPT_BACKEND_DEFAULT, 2, 0.0);
    adapt_tensor_free(x);
}
END_TEST

START_TEST(upsample_rejects_bad_arguments)
{
    adapt_context *ctx = tu_context(ADAPT_BACKEND_DEFAULT);
    adapt_tensor *x = tu_param(4, (int64_t[]){1, 2, 3, 3}, 1, -1, 1);
    adapt_tensor *x3 = tu_param(3, (int64_t[]){2, 3, 3}, 2, -1, 1);
    adapt_tensor *flat = tu_param(4, (int64_t[]){1, 2, 0, 3}, 3, -1, 1);
    adapt_tensor *out = (adapt_tensor *)0x1;
    TU_FAILS(adapt_op_upsample2d(&out, NULL, x, 2, 0), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_op_upsample2d(NULL, ctx, x, 2, 0), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_op_upsample2d(&out, ctx, NULL, 2, 0), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_op_upsample2d(&out, ctx, x, 0, 0), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_op_upsample2d(&out, ctx, x, -2, 1), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_op_upsample2d(&out, ctx, x, 2, 2), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_op_upsample2d(&out, ctx, x, 2, -1), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_op_upsample2d(&out, ctx, x3, 2, 0), ADAPT_ERR_SHAPE);
    TU_FAILS(adapt_op_upsample2d(&out, ctx, flat, 2, 1), ADAPT_ERR_SHAPE);
    TU_FAILS(adapt_op_upsample2d(&out, ctx, x, INT32_MAX, 0), ADAPT_ERR_OVERFLOW);
    ck_assert_ptr_eq(out, (adapt_tensor *)0x1);
    free_params((adapt_tensor *[]){x, x3, flat}, 3);
    adapt_context_free(ctx);
}
END_TEST

/* ---- conv_transpose2d ------------------------------------------------------------------ */

typedef struct {
    int64_t n, cin, cout, h, w, k;
    int32_t stride, padding;
    int has_bias;
} convt_case;

/* Strides 1 and 2, paddings 0 and 1, kernels 2 and 3, with and without a bias. */
static const convt_case convt_cases[] = {
    {2, 3, 4, 5, 6, 2, 1, 0, 1}, {2, 3, 4, 5, 6, 2, 1, 1, 0}, {2, 3, 4, 5, 6, 3, 1, 0, 0},
    {2, 3, 4, 5, 6, 3, 1, 1, 1}, {2, 2, 5, 4, 5, 2, 2, 0, 0}, {2, 2, 5, 4, 5, 2, 2, 1, 1},
    {2, 2, 5, 4, 5, 3, 2, 0, 1}, {2, 2, 5, 4, 5, 3, 2, 1, 0}, {1, 4, 3, 7, 7, 3, 2, 1, 1},
    {3, 1, 1, 3, 4, 2, 2, 0, 1}, {1, 5, 9, 1, 1, 3, 2, 0, 1}, /* one input cell */
};
#define N_CONVT_CASES ((int)(sizeof convt_cases / sizeof convt_cases[0]))

static int64_t convt_side(int64_t in, const convt_case *c)
{
    return (in - 1) * c->stride - 2 * c->padding + c->k;
}

/* params: x, weight, then bias when present. */
static adapt_status convt_forward(adapt_tensor **out, adapt_context *ctx, adapt_tensor **p,
                                  void *arg)
{
    const convt_case *c = arg;
    return adapt_op_conv_transpose2d(out, ctx, p[0], p[1], c->has_bias ? p[2] : NULL,
                                     c->stride, c->padding);
}

static int32_t make_convt(adapt_tensor **p, const convt_case *c, uint64_t seed)
{
    p[0] = tu_param(4, (int64_t[]){c->n, c->cin, c->h, c->w}, seed, -1.0f, 1.0f);
    p[1] = tu_param(4, (int64_t[]){c->cin, c->cout, c->k, c->k}, seed + 1, -1.0f, 1.0f);
    if (!c->has_bias)
        return 2;
    p[2] = tu_param(1, &c->cout, seed + 2, -1.0f, 1.0f);
    return 3;
}

/* Every input cell scattered onto the output through the kernel, in double. */
static double *naive_convt(const convt_case *c, adapt_tensor **p)
{
    const int64_t oh = convt_side(c->h, c), ow = convt_side(c->w, c);
    double *y = calloc((size_t)(c->n * c->cout * oh * ow), sizeof *y);
    const float *x = adapt_tensor_data(p[0]), *w = adapt_tensor_data(p[1]);
    for (int64_t b = 0; b < c->n; b++)
        for (int64_t ci = 0; ci < c->cin; ci++)
            for (int64_t iy = 0; iy < c->h; iy++)
                for (int64_t ix = 0; ix < c->w; ix++)
                    for (int64_t co = 0; co < c->cout; co++)
                        for (int64_t ky = 0; ky < c->k; ky++)
                            for (int64_t kx = 0; kx < c->k; kx++) {
                                int64_t oy = iy * c->stride - c->padding + ky;
                                int64_t ox = ix * c->stride - c->padding + kx;
                                if (oy < 0 || oy >= oh || ox < 0 || ox >= ow)
                                    continue;
                                y[((b * c->cout + co) * oh + oy) * ow + ox] +=
                                    (double)x[((b * c->cin + ci) * c->h + iy) * c->w + ix] *
                                    w[((ci * c->cout + co) * c->k + ky) * c->k + kx];
                            }
    for (int64_t i = 0; c->has_bias && i < c->n * c->cout * oh * ow; i++)
        y[i] += adapt_tensor_data(p[2])[i / (oh * ow) % c->cout];
    return y;
}

START_TEST(convt_matches_naive_loops)
{
    const convt_case *c = &convt_cases[_i];
    adapt_tensor *p[3];
    int32_t np = make_convt(p, c, 100 + (uint64_t)_i);
    double *want = naive_convt(c, p);
    for (int b = ADAPT_BACKEND_DEFAULT; b <= ADAPT_BACKEND_ONEDNN; b++) {
        if (!adapt_backend_available((adapt_backend)b))
            continue;
        adapt_context *ctx = tu_context((adapt_backend)b);
        adapt_tensor *y;
        TU_OK(convt_forward(&y, ctx, p, (void *)c));
        ck_assert_int_eq(adapt_tensor_dim(y, 0), c->n);
        ck_assert_int_eq(adapt_tensor_dim(y, 1), c->cout);
        ck_assert_int_eq(adapt_tensor_dim(y, 2), convt_side(c->h, c));
        ck_assert_int_eq(adapt_tensor_dim(y, 3), convt_side(c->w, c));
        for (int64_t i = 0; i < adapt_tensor_numel(y); i++)
            ck_assert_double_eq_tol(adapt_tensor_data(y)[i], want[i], 1e-4);
        adapt_context_free(ctx);
    }
    free(want);
    free_params(p, np);
}
END_TEST

START_TEST(convt_gradients)
{
    const convt_case *c = &convt_cases[_i];
    adapt_tensor *p[3];
    int32_t np = make_convt(p, c, 200 + (uint64_t)_i);
    tu_gradcheck(convt_forward, p, np, (void *)c, 1e-2, 1e-3, 300);
    free_params(p, np);
}
END_TEST

/* The gradients of sum(y^2) on every backend against the reference one's. */
START_TEST(convt_gradients_agree_across_backends)
{
    const convt_case c = {3, 6, 5, 6, 5, 3, 2, 1, 1};
    adapt_tensor *p[3];
    const int32_t np = make_convt(p, &c, 300);
    float *want[3];
    adapt_context *ctx = tu_context(ADAPT_BACKEND_REFERENCE);
    for (int b = ADAPT_BACKEND_REFERENCE; b <= ADAPT_BACKEND_ONEDNN; b++) {
        if (!adapt_backend_available((adapt_backend)b))
            continue;
        TU_OK(adapt_context_set_backend(ctx, (adapt_backend)b));
        adapt_context_reset(ctx);
        for (int32_t i = 0; i < np; i++)
            TU_OK(adapt_param_zero_grad(p[i]));
        adapt_tensor *y, *sq, *loss;
        TU_OK(convt_forward(&y, ctx, p, (void *)&c));
        TU_OK(adapt_op_mul(&sq, ctx, y, y));
        TU_OK(adapt_op_sum(&loss, ctx, sq, ADAPT_AXIS_ALL));
        TU_OK(adapt_backward(ctx, loss));
        for (int32_t i = 0; i < np; i++) {
            const int64_t n = adapt_tensor_numel(p[i]);
            if (b == ADAPT_BACKEND_REFERENCE) {
                want[i] = malloc((size_t)n * sizeof(float));
                for (int64_t j = 0; j < n; j++)
                    want[i][j] = adapt_tensor_grad(p[i])[j];
            }
            for (int64_t j = 0; j < n; j++)
                ck_assert_float_eq_tol(adapt_tensor_grad(p[i])[j], want[i][j],
                                       1e-4f * fmaxf(1.0f, fabsf(want[i][j])));
        }
    }
    for (int32_t i = 0; i < np; i++)
        free(want[i]);
    adapt_context_free(ctx);
    free_params(p, np);
}
END_TEST

/* <conv_transpose2d(x, W), z> = <x, conv2d(z, W)> for the same weight, stride and padding. */
START_TEST(convt_is_the_adjoint_of_conv2d)
{
    const convt_case *c = &convt_cases[_i];
    adapt_tensor *p[3];
    const int32_t np = make_convt(p, c, 400 + (uint64_t)_i);
    const int64_t oh = convt_side(c->h, c), ow = convt_side(c->w, c);
    adapt_tensor *z = tu_param(4, (int64_t[]){c->n, c->cout, oh, ow}, 450, -1, 1);
    adapt_context *ctx = tu_context(ADAPT_BACKEND_REFERENCE);
    adapt_tensor *y, *back;
    TU_OK(adapt_op_conv_transpose2d(&y, ctx, p[0], p[1], NULL, c->stride, c->padding));
    TU_OK(adapt_op_conv2d(&back, ctx, z, p[1], NULL, c->stride, c->padding));
    ck_assert_int_eq(adapt_tensor_numel(back), adapt_tensor_numel(p[0]));
    double lhs = 0.0, rhs = 0.0;
    for (int64_t i = 0; i < adapt_tensor_numel(y); i++)
        lhs += (double)adapt_tensor_data(y)[i] * adapt_tensor_data(z)[i];
    for (int64_t i = 0; i < adapt_tensor_numel(back); i++)
        rhs += (double)adapt_tensor_data(back)[i] * adapt_tensor_data(p[0])[i];
    ck_assert_double_eq_tol(lhs, rhs, 1e-4 * fmax(1.0, fabs(rhs)));
    adapt_context_free(ctx);
    adapt_tensor_free(z);
    free_params(p, np);
}
END_TEST

START_TEST(convt_threads_give_the_same_bits)
{
    /* Many samples (units of channel blocks forward, groups of samples backward), then
     * one sample, whose channel blocks alone are shared out. */
    const convt_case cases[] = {{6, 16, 8, 12, 12, 3, 2, 1, 1}, {1, 8, 16, 16, 16, 2, 2, 0, 1}};
    for (int k = 0; k < 2; k++) {
        adapt_tensor *p[3];
        const int32_t np = make_convt(p, &cases[k], 500 + (uint64_t)k);
        tu_check_threads(convt_forward, p, np, (void *)&cases[k], ADAPT_BACKEND_DEFAULT, 2, 0.0);
        tu_check_threads(convt_forward, p, np, (void *)&cases[k], ADAPT_BACKEND_REFERENCE, 3,
                         0.0);
        free_params(p, np);
    }
}
END_TEST

START_TEST(convt_sample_does_not_depend_on_the_batch)
{
    const convt_case c = {3, 8, 12, 9, 9, 3, 2, 1, 1};
    adapt_tensor *p[3];
    make_convt(p, &c, 600);
    adapt_context *ctx = tu_context_threads(ADAPT_BACKEND_DEFAULT, 2);
    TU_OK(adapt_context_set_grad(ctx, 0));
    adapt_tensor *y, *one, *x1;
    TU_OK(adapt_op_conv_transpose2d(&y, ctx, p[0], p[1], p[2], c.stride, c.padding));
    const int64_t in = c.cin * c.h * c.w, outn = adapt_tensor_numel(y) / c.n;
    TU_OK(adapt_tensor_input(&x1, ctx, 4, (int64_t[]){1, c.cin, c.h, c.w},
                             adapt_tensor_data(p[0]) + in));
    TU_OK(adapt_op_conv_transpose2d(&one, ctx, x1, p[1], p[2], c.stride, c.padding));
    for (int64_t i = 0; i < outn; i++)
        ck_assert_float_eq(adapt_tensor_data(one)[i], adapt_tensor_data(y)[outn + i]);
    adapt_context_free(ctx);
    free_params(p, 3);
}
END_TEST

START_TEST(empty_batches_give_empty_outputs_and_no_gradient)
{
    adapt_tensor *p[3];
    const convt_case c = {0, 2, 3, 3, 3, 2, 2, 0, 1};
    make_convt(p, &c, 650);
    adapt_context *ctx = tu_context_threads(ADAPT_BACKEND_DEFAULT, 2);
    adapt_tensor *y, *up, *sum_y, *sum_up, *loss, *used;
    /* Values left in the arena by another step, which an empty batch must not read. */
    float *ones = malloc(4096 * sizeof *ones);
    for (int64_t i = 0; i < 4096; i++)
        ones[i] = 1.0f;
    TU_OK(adapt_tensor_input(&used, ctx, 1, (int64_t[]){4096}, ones));
    free(ones);
    adapt_context_reset(ctx);
    TU_OK(adapt_op_conv_transpose2d(&y, ctx, p[0], p[1], p[2], c.stride, c.padding));
    TU_OK(adapt_op_upsample2d(&up, ctx, p[0], 3, ADAPT_UPSAMPLE_BILINEAR));
    ck_assert_int_eq(adapt_tensor_dim(y, 2), 6);
    ck_assert_int_eq(adapt_tensor_dim(up, 3), 9);
    TU_OK(adapt_op_sum(&sum_y, ctx, y, ADAPT_AXIS_ALL));
    TU_OK(adapt_op_sum(&sum_up, ctx, up, ADAPT_AXIS_ALL));
    TU_OK(adapt_op_add(&loss, ctx, sum_y, sum_up));
    TU_OK(adapt_backward(ctx, loss));
    for (int32_t i = 1; i < 3; i++)
        for (int64_t j = 0; j < adapt_tensor_numel(p[i]); j++)
            ck_assert_float_eq(adapt_tensor_grad(p[i])[j], 0.0f);
    adapt_context_free(ctx);
    free_params(p, 3);
}
END_TEST

START_TEST(convt_rejects_bad_arguments)
{
    adapt_context *ctx = tu_context(ADAPT_BACKEND_DEFAULT);
    adapt_tensor *x = tu_param(4, (int64_t[]){1, 2, 5, 5}, 1, -1, 1);
    adapt_tensor *w = tu_param(4, (int64_t[]){2, 3, 3, 3}, 2, -1, 1);
    adapt_tensor *b = tu_param(1, (int64_t[]){3}, 3, -1, 1);
    adapt_tensor *x3 = tu_param(3, (int64_t[]){2, 5, 5}, 4, -1, 1);
    adapt_tensor *w_cin = tu_param(4, (int64_t[]){3, 3, 3, 3}, 5, -1, 1);
    adapt_tensor *w_rect = tu_param(4, (int64_t[]){2, 3, 3, 2}, 6, -1, 1);
    adapt_tensor *w_empty = tu_param(4, (int64_t[]){2, 0, 3, 3}, 7, -1, 1);
    adapt_tensor *b_bad = tu_param(1, (int64_t[]){2}, 8, -1, 1);
    adapt_tensor *b_2d = tu_param(2, (int64_t[]){1, 3}, 9, -1, 1);
    adapt_tensor *x_point = tu_param(4, (int64_t[]){1, 2, 1, 1}, 10, -1, 1);
    adapt_tensor *x_flat = tu_param(4, (int64_t[]){1, 2, 0, 5}, 11, -1, 1);
    adapt_tensor *out = (adapt_tensor *)0x1;
    TU_FAILS(adapt_op_conv_transpose2d(&out, NULL, x, w, b, 1, 0), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_op_conv_transpose2d(NULL, ctx, x, w, b, 1, 0), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_op_conv_transpose2d(&out, ctx, NULL, w, b, 1, 0), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_op_conv_transpose2d(&out, ctx, x, NULL, b, 1, 0), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_op_conv_transpose2d(&out, ctx, x, w, b, 0, 0), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_op_conv_transpose2d(&out, ctx, x, w, b, -1, 0), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_op_conv_transpose2d(&out, ctx, x, w, b, 1, -1), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_op_conv_transpose2d(&out, ctx, x3, w, b, 1, 0), ADAPT_ERR_SHAPE);
    TU_FAILS(adapt_op_conv_transpose2d(&out, ctx, x, x3, b, 1, 0), ADAPT_ERR_SHAPE);
    TU_FAILS(adapt_op_conv_transpose2d(&out, ctx, x, w_cin, NULL, 1, 0), ADAPT_ERR_SHAPE);
    TU_FAILS(adapt_op_conv_transpose2d(&out, ctx, x, w_rect, NULL, 1, 0), ADAPT_ERR_SHAPE);
    TU_FAILS(adapt_op_conv_transpose2d(&out, ctx, x, w_empty, NULL, 1, 0), ADAPT_ERR_SHAPE);
    TU_FAILS(adapt_op_conv_transpose2d(&out, ctx, x_flat, w, b, 1, 0), ADAPT_ERR_SHAPE);
    TU_FAILS(adapt_op_conv_transpose2d(&out, ctx, x, w, b_bad, 1, 0), ADAPT_ERR_SHAPE);
    TU_FAILS(adapt_op_conv_transpose2d(&out, ctx, x, w, b_2d, 1, 0), ADAPT_ERR_SHAPE);
    /* One input cell, a 3x3 kernel: padding 1 leaves 1 x 1, padding 2 nothing. */
    TU_FAILS(adapt_op_conv_transpose2d(&out, ctx, x_point, w, b, 1, 2), ADAPT_ERR_SHAPE);
    TU_FAILS(adapt_op_conv_transpose2d(&out, ctx, x, w, b, INT32_MAX, 0), ADAPT_ERR_OVERFLOW);
    ck_assert_ptr_eq(out, (adapt_tensor *)0x1);
    TU_OK(adapt_op_conv_transpose2d(&out, ctx, x_point, w, b, 1, 1));
    ck_assert_int_eq(adapt_tensor_dim(out, 2), 1);
    /* An activation released by a reset. */
    adapt_tensor *stale = out;
    adapt_context_reset(ctx);
    TU_FAILS(adapt_op_conv_transpose2d(&out, ctx, stale, w, b, 1, 0), ADAPT_ERR_STATE);
    free_params((adapt_tensor *[]){x, w, b, x3, w_cin, w_rect, w_empty, b_bad, b_2d, x_point,
                                   x_flat}, 11);
    adapt_context_free(ctx);
}
END_TEST

static Suite *upsample_convt_suite(void)
{
    Suite *s = suite_create("upsample_convt");
    TCase *tc = tcase_create("upsample_convt");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, upsample_matches_naive_loops, 0, N_UP_CASES);
    tcase_add_loop_test(tc, upsample_gradients, 0, N_UP_CASES);
    tcase_add_test(tc, upsample_scale_one_copies_the_bits);
    tcase_add_test(tc, upsample_nearest_rounds_as_pytorch);
    tcase_add_loop_test(tc, upsample_threads_give_the_same_bits, 0, 2);
    tcase_add_test(tc, upsample_rejects_bad_arguments);
    tcase_add_loop_test(tc, convt_matches_naive_loops, 0, N_CONVT_CASES);
    tcase_add_loop_test(tc, convt_gradients, 0, N_CONVT_CASES);
    tcase_add_test(tc, convt_gradients_agree_across_backends);
    tcase_add_loop_test(tc, convt_is_the_adjoint_of_conv2d, 0, N_CONVT_CASES);
    tcase_add_test(tc, convt_threads_give_the_same_bits);
    tcase_add_test(tc, convt_sample_does_not_depend_on_the_batch);
    tcase_add_test(tc, empty_batches_give_empty_outputs_and_no_gradient);
    tcase_add_test(tc, convt_rejects_bad_arguments);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run(upsample_convt_suite());
}
