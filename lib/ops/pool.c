/* Max and average pooling over x[N, C, H, W], one (n, c) plane at a time.
 * Windows follow PyTorch without ceil mode, out = floor((H + 2p - k) / s) + 1
 * with p <= k / 2, so every window holds at least one real cell and never
 * reaches past the padded border (the average always divides by k * k). */
#include <math.h>

#include "lib/ops/op.h"

typedef struct {
    bool max;
    int64_t planes, height, width, out_h, out_w;
    int64_t kernel, stride, padding;
    int32_t *argmax; /* max, taped only: winning cell of each output in its input plane */
} pool_plan;

/* Window [*lo, *hi) of output o along an axis of length len, clipped to the input. */
static void window(int64_t *lo, int64_t *hi, const pool_plan *p, int64_t o, int64_t len)
{
    int64_t start = o * p->stride - p->padding;
    *lo = start > 0 ? start : 0;
    *hi = start + p->kernel < len ? start + p->kernel : len;
}

static void max_plane(const pool_plan *p, const float *restrict x, float *restrict y,
                      int32_t *restrict argmax)
{
    for (int64_t oh = 0; oh < p->out_h; oh++) {
        int64_t ylo, yhi;
        window(&ylo, &yhi, p, oh, p->height);
        for (int64_t ow = 0; ow < p->out_w; ow++) {
            int64_t xlo, xhi;
            window(&xlo, &xhi, p, ow, p->width);
            /* First maximum wins and NaN propagates, as in PyTorch. */
            float best = -INFINITY;
            int64_t at = ylo * p->width + xlo;
            for (int64_t iy = ylo; iy < yhi; iy++)
                for (int64_t ix = xlo; ix < xhi; ix++) {
                    float v = x[iy * p->width + ix];
                    if (v > best || isnan(v))
                        best = v, at = iy * p->width + ix;
                }
            y[oh * p->out_w + ow] = best;
            if (argmax)
                argmax[oh * p->out_w + ow] = (int32_t)at;
        }
    }
}

/* The sum of column ix's cells ylo .. yhi, top to bottom. */
static float column_sum(const pool_plan *p, const float *x, int64_t ix, int64_t ylo, int64_t yhi)
{
    float sum = x[ylo * p->width + ix];
    for (int64_t iy = ylo + 1; iy < yhi; iy++)
        sum += x[iy * p->width + ix];
    return sum;
}

/* Window sums in float, as PyTorch takes them, in a fixed order: down each column, then
 * across the columns. The SDN head's fused pooling (sdn_pool.c) sums in this order over its
 * vector lanes, so both give the same bits. */
static void avg_plane(const pool_plan *p, const float *restrict x, float *restrict y)
{
    const float area = (float)(p->kernel * p->kernel);
    for (int64_t oh = 0; oh < p->out_h; oh++) {
        int64_t ylo, yhi;
        window(&ylo, &yhi, p, oh, p->height);
        for (int64_t ow = 0; ow < p->out_w; ow++) {
            int64_t xlo, xhi;
            window(&xlo, &xhi, p, ow, p->width);
            float total = column_sum(p, x, xlo, ylo, yhi);
            for (int64_t ix = xlo + 1; ix < xhi; ix++)
                total += column_sum(p, x, ix, ylo, yhi);
            y[oh * p->out_w + ow] = total / area;
        }
    }
}

static void avg_plane_backward(const pool_plan *p, const float *restrict dy,
                               float *restrict dx)
{
    const float share = (float)(1.0 / ((double)p->kernel * (double)p->kernel));
    for (int64_t oh = 0; oh < p->out_h; oh++) {
        int64_t ylo, yhi;
        window(&ylo, &yhi, p, oh, p->height);
        for (int64_t ow = 0; ow < p->out_w; ow++) {
            int64_t xlo, xhi;
            window(&xlo, &xhi, p, ow, p->width);
            const float g = dy[oh * p->out_w + ow] * share;
            for (int64_t iy = ylo; iy < yhi; iy++)
                for (int64_t ix = xlo; ix < xhi; ix++)
                    dx[iy * p->width + ix] += g;
        }
    }
}

/* Planes are independent, so ranges of them run in parallel deterministically. */
typedef struct {
    const pool_plan *p;
    const float *src; /* x forward, dy backward */
    float *dst;       /* y forward, dx backward */
    bool backward;
} pool_job;

static void pool_range(void *arg, int64_t begin, int64_t end)
{
    const pool_job *job = arg;
    const pool_plan *p = job->p;
    const int64_t in_plane = p->height * p->width, out_plane = p->out_h * p->out_w;
    for (int64_t i = begin; i < end; i++) {
        int32_t *argmax = p->argmax ? p->argmax + i * out_plane : NULL;
        if (job->backward && p->max) {
            const float *dy = job->src + i * out_plane;
            float *dx = job->dst + i * in_plane;
            for (int64_t o = 0; o < out_plane; o++)
                dx[argmax[o]] += dy[o];
        } else if (job->backward) {
            avg_plane_backward(p, job->src + i * out_plane, job->dst + i * in_plane);
        } else if (p->max) {
            max_plane(p, job->src + i * in_plane, job->dst + i * out_plane, argmax);
        } else {
            avg_plane(p, job->src + i * in_plane, job->dst + i * out_plane);
        }
    }
}

static void run_planes(adapt_context *ctx, const pool_plan *p, const float *src, float *dst,
                       bool backward)
{
    pool_job job = {.p = p, .src = src, .dst = dst, .backward = backward};
    int64_t plane = p->height * p->width;
    ad_pool_for(ctx->pool, p->planes, plane >= 32768 ? 1 : 32768 / (plane ? plane : 1),
                pool_range, &job);
}

static adapt_status pool_backward(adapt_context *ctx, const ad_node *node)
{
    float *dx;
    adapt_status st = ad_grad(&dx, ctx, node->in[0]);
    if (!st && dx)
        run_planes(ctx, node->saved, node->out->pass_grad, dx, true);
    return st;
}

static adapt_status plan_pool(pool_plan *p, const adapt_tensor *x, int32_t kernel,
                              int32_t stride, int32_t padding, const char *fn)
{
    char sx[96];
    if (kernel < 1 || stride < 1 || padding < 0 || padding > kernel / 2)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT,
                       "%s: need kernel >= 1, stride >= 1 and 0 <= padding <= kernel / 2; "
                       "got kernel %d, stride %d, padding %d", fn, (int)kernel, (int)stride,
                       (int)padding);
    if (x->ndim != 4)
        return ad_fail(ADAPT_ERR_SHAPE, "%s: x %s is not [N, C, H, W]", fn,
                       ad_shape_str(x, sx, sizeof sx));
    p->planes = x->shape[0] * x->shape[1];
    p->height = x->shape[2], p->width = x->shape[3];
    p->kernel = kernel, p->stride = stride, p->padding = padding;
    int64_t span_h = p->height + 2 * p->padding - kernel;
    int64_t span_w = p->width + 2 * p->padding - kernel;
    if (span_h < 0 || span_w < 0)
        return ad_fail(ADAPT_ERR_SHAPE, "%s: input %s padded by %d is smaller than kernel %d",
                       fn, ad_shape_str(x, sx, sizeof sx), (int)padding, (int)kernel);
    p->out_h = span_h / stride + 1;
    p->out_w = span_w / stride + 1;
    if (p->max && p->height * p->width > INT32_MAX)
        return ad_fail(ADAPT_ERR_OVERFLOW, "%s: plane of %s has more than %d cells", fn,
                       ad_shape_str(x, sx, sizeof sx), INT32_MAX);
    return ADAPT_OK;
}

static adapt_status pool_op(adapt_tensor **out, adapt_context *ctx, adapt_tensor *x,
                            int32_t kernel, int32_t stride, int32_t padding, bool max,
                            const char *fn)
{
    adapt_status st = ad_op_check(ctx, out, fn, &x, (const char *[]){"x"}, 1);
    pool_plan p = {.max = max};
    if (!st)
        st = plan_pool(&p, x, kernel, stride, padding, fn);
    adapt_tensor *y = NULL;
    if (!st)
        st = ad_tensor_new(&y, ctx, 4, (int64_t[]){x->shape[0], x->shape[1], p.out_h, p.out_w});
    if (!st && max && ad_tape_wants(ctx, &x, 1))
        st = ad_scratch((void **)&p.argmax, ctx, (size_t)y->numel * sizeof *p.argmax, fn);
    if (st)
        return st;
    run_planes(ctx, &p, x->data, y->data, false);
    return ad_op_finish(out, ctx, fn, pool_backward, y, &x, 1, &p, sizeof p);
}

adapt_status ad_op_maxpool2d(adapt_tensor **out, adapt_context *ctx, adapt_tensor *x,
                             int32_t kernel, int32_t stride, int32_t padding)
{
    return pool_op(out, ctx, x, kernel, stride, padding, true, "adapt_op_maxpool2d");
}

adapt_status ad_op_avgpool2d(adapt_tensor **out, adapt_context *ctx, adapt_tensor *x,
                             int32_t kernel, int32_t stride, int32_t padding)
{
    return pool_op(out, ctx, x, kernel, stride, padding, false, "adapt_op_avgpool2d");
}
