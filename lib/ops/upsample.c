/* Upsampling of x[N, C, H, W] by an integer factor, nearest or bilinear, as PyTorch's
 * interpolate with scale_factor given: each output row and column reads at most two input
 * rows and columns, found once per axis in a table. The source positions are PyTorch's own
 * float formulas, not exact ones, so that outputs pick the same cells: nearest reads
 * floor(o * (float)(1 / scale)), which at scale 41 maps output 41 to input 0. Planes are
 * independent and each is summed in one fixed order, forward and backward, so the bits
 * depend on neither the thread count nor the batch. */
#include <math.h>

#include "lib/kernels/linear_tap.h"
#include "lib/ops/op.h"

/* Each output row or column reads taps (nearest: i1 = i0, l0 = 1, l1 = 0). */
typedef ad_tap tap;

typedef struct {
    int64_t planes, height, width, scale;
    int32_t mode;
    tap *rows, *cols; /* [height * scale], [width * scale]: arena, kept for backward */
} upsample_plan;

/* PyTorch's nearest_idx: output o of an axis of `len` cells. */
static tap nearest_tap(int64_t o, int64_t len, int64_t scale)
{
    int64_t i = o;
    if (scale == 2) {
        i = o >> 1;
    } else if (scale > 2) {
        const float ratio = (float)(1.0 / (double)scale);
        const int64_t at = (int64_t)floorf((float)o * ratio);
        i = at < len - 1 ? at : len - 1;
    }
    return (tap){.i0 = i, .i1 = i, .l0 = 1.0f, .l1 = 0.0f};
}

/* With a scale factor PyTorch's ratio is 1 / scale; a scale of 1 copies. */
static tap linear_tap(int64_t o, int64_t len, int64_t scale)
{
    if (scale == 1)
        return (tap){.i0 = o, .i1 = o, .l0 = 1.0f, .l1 = 0.0f};
    return ad_linear_tap(o, len, (float)(1.0 / (double)scale));
}

static void fill_taps(tap *taps, int64_t len, const upsample_plan *p)
{
    for (int64_t o = 0; o < len * p->scale; o++)
        taps[o] = p->mode == ADAPT_UPSAMPLE_BILINEAR ? linear_tap(o, len, p->scale)
                                                     : nearest_tap(o, len, p->scale);
}

static void nearest_plane(const upsample_plan *p, const float *restrict x, float *restrict y)
{
    const int64_t out_w = p->width * p->scale;
    for (int64_t oy = 0; oy < p->height * p->scale; oy++, y += out_w) {
        const float *row = x + p->rows[oy].i0 * p->width;
        for (int64_t ox = 0; ox < out_w; ox++)
            y[ox] = row[p->cols[ox].i0];
    }
}

/* Each output is (r0[c0] l0 + r0[c1] l1) L0 + (r1[c0] l0 + r1[c1] l1) L1, the order
 * PyTorch's kernel sums in. */
static void bilinear_plane(const upsample_plan *p, const float *restrict x, float *restrict y)
{
    const int64_t out_w = p->width * p->scale;
    for (int64_t oy = 0; oy < p->height * p->scale; oy++, y += out_w) {
        const tap r = p->rows[oy];
        const float *r0 = x + r.i0 * p->width, *r1 = x + r.i1 * p->width;
        for (int64_t ox = 0; ox < out_w; ox++) {
            const tap c = p->cols[ox];
            const float top = r0[c.i0] * c.l0 + r0[c.i1] * c.l1;
            const float bottom = r1[c.i0] * c.l0 + r1[c.i1] * c.l1;
            y[ox] = top * r.l0 + bottom * r.l1;
        }
    }
}

/* The adjoint of either mode: every output's gradient added to the cells it read, with
 * the weights it read them with, outputs in row-major order. */
static void plane_backward(const upsample_plan *p, const float *restrict dy, float *restrict dx)
{
    const int64_t out_w = p->width * p->scale;
    for (int64_t oy = 0; oy < p->height * p->scale; oy++, dy += out_w) {
        const tap r = p->rows[oy];
        float *d0 = dx + r.i0 * p->width, *d1 = dx + r.i1 * p->width;
        for (int64_t ox = 0; ox < out_w; ox++) {
            const tap c = p->cols[ox];
            const float g = dy[ox];
            if (p->mode == ADAPT_UPSAMPLE_NEAREST) {
                d0[c.i0] += g;
                continue;
            }
            d0[c.i0] += r.l0 * c.l0 * g;
            d0[c.i1] += r.l0 * c.l1 * g;
            d1[c.i0] += r.l1 * c.l0 * g;
            d1[c.i1] += r.l1 * c.l1 * g;
        }
    }
}

typedef struct {
    const upsample_plan *p;
    const float *src; /* x forward, dy backward */
    float *dst;       /* y forward, dx backward */
    bool backward;
} upsample_job;

static void upsample_range(void *arg, int64_t begin, int64_t end)
{
    const upsample_job *j = arg;
    const upsample_plan *p = j->p;
    const int64_t in_plane = p->height * p->width, out_plane = in_plane * p->scale * p->scale;
    for (int64_t i = begin; i < end; i++) {
        if (j->backward)
            plane_backward(p, j->src + i * out_plane, j->dst + i * in_plane);
        else if (p->mode == ADAPT_UPSAMPLE_BILINEAR)
            bilinear_plane(p, j->src + i * in_plane, j->dst + i * out_plane);
        else
            nearest_plane(p, j->src + i * in_plane, j->dst + i * out_plane);
    }
}

/* Planes in parallel, none of fewer than about 2^15 outputs to a thread. */
static void run_planes(adapt_context *ctx, const upsample_plan *p, const float *src,
                       float *dst, bool backward)
{
    upsample_job job = {.p = p, .src = src, .dst = dst, .backward = backward};
    const int64_t out_plane = p->height * p->width * p->scale * p->scale;
    ad_pool_for(ctx->pool, p->planes, out_plane >= 32768 ? 1 : 32768 / out_plane,
                upsample_range, &job);
}

static adapt_status upsample_backward(adapt_context *ctx, const ad_node *node)
{
    float *dx;
    adapt_status st = ad_grad(&dx, ctx, node->in[0]);
    if (!st && dx)
        run_planes(ctx, node->saved, node->out->pass_grad, dx, true);
    return st;
}

static adapt_status plan_upsample(upsample_plan *p, const adapt_tensor *x, int32_t scale,
                                  int32_t mode, const char *fn)
{
    char sx[96];
    if (scale < 1 || (mode != ADAPT_UPSAMPLE_NEAREST && mode != ADAPT_UPSAMPLE_BILINEAR))
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT,
                       "%s: need scale >= 1 and mode ADAPT_UPSAMPLE_NEAREST (0) or "
                       "ADAPT_UPSAMPLE_BILINEAR (1); got scale %d, mode %d", fn, (int)scale,
                       (int)mode);
    if (x->ndim != 4 || x->shape[2] < 1 || x->shape[3] < 1)
        return ad_fail(ADAPT_ERR_SHAPE, "%s: x %s is not [N, C, H, W] with H, W >= 1", fn,
                       ad_shape_str(x, sx, sizeof sx));
    /* The taps of both axes in bytes, and an output plane, fit (a whole output of no planes
     * has no size to check). */
    const int64_t limit = INT64_MAX / 2 / (int64_t)sizeof(tap) / scale;
    if (x->shape[2] > limit || x->shape[3] > limit ||
        x->shape[2] * scale > INT64_MAX / (x->shape[3] * scale))
        return ad_fail(ADAPT_ERR_OVERFLOW, "%s: x %s upsampled by %d does not fit", fn,
                       ad_shape_str(x, sx, sizeof sx), (int)scale);
    *p = (upsample_plan){.planes = x->shape[0] * x->shape[1], .height = x->shape[2],
                         .width = x->shape[3], .scale = scale, .mode = mode};
    return ADAPT_OK;
}

/* The output, and the taps of both axes in the arena. */
static adapt_status upsample_buffers(adapt_tensor **y, upsample_plan *p, adapt_context *ctx,
                                     const adapt_tensor *x, const char *fn)
{
    const int64_t out_h = p->height * p->scale, out_w = p->width * p->scale;
    adapt_status st = ad_tensor_new(y, ctx, 4, (int64_t[]){x->shape[0], x->shape[1], out_h,
                                                           out_w});
    if (!st)
        st = ad_scratch((void **)&p->rows, ctx, (size_t)(out_h + out_w) * sizeof(tap), fn);
    if (st)
        return st;
    p->cols = p->rows + out_h;
    fill_taps(p->rows, p->height, p);
    fill_taps(p->cols, p->width, p);
    return ADAPT_OK;
}

adapt_status ad_op_upsample2d(adapt_tensor **out, adapt_context *ctx, adapt_tensor *x,
                              int32_t scale, int32_t mode)
{
    const char *fn = "adapt_op_upsample2d";
    adapt_status st = ad_op_check(ctx, out, fn, &x, (const char *[]){"x"}, 1);
    upsample_plan p = {0};
    if (!st)
        st = plan_upsample(&p, x, scale, mode, fn);
    adapt_tensor *y = NULL;
    if (!st)
        st = upsample_buffers(&y, &p, ctx, x, fn);
    if (st)
        return st;
    run_planes(ctx, &p, x->data, y->data, false);
    return ad_op_finish(out, ctx, fn, upsample_backward, y, &x, 1, &p, sizeof p);
}
