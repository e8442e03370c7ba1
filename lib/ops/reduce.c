/* Sum and mean over one axis or over everything. The input is viewed as
 * [outer, n, inner] with n the reduced axis (n = numel for ADAPT_AXIS_ALL). */
#include "lib/ops/op.h"

typedef struct {
    int64_t outer, n, inner;
    float scale; /* 1 for sum, 1/n for mean */
} reduction;

static adapt_status plan_reduction(reduction *r, int32_t *out_ndim, int64_t *out_shape,
                                   const adapt_tensor *x, int32_t axis, bool mean,
                                   const char *fn)
{
    if (axis == ADAPT_AXIS_ALL) {
        *r = (reduction){.outer = 1, .n = x->numel, .inner = 1};
        *out_ndim = 0;
    } else {
        int32_t ax = ad_axis(axis, x->ndim);
        if (ax < 0)
            return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: axis %d out of range for rank %d",
                           fn, (int)axis, (int)x->ndim);
        *r = (reduction){.outer = 1, .n = x->shape[ax], .inner = 1};
        *out_ndim = 0;
        for (int32_t i = 0; i < x->ndim; i++) {
            if (i < ax)
                r->outer *= x->shape[i];
            if (i > ax)
                r->inner *= x->shape[i];
            if (i != ax)
                out_shape[(*out_ndim)++] = x->shape[i];
        }
    }
    if (mean && r->n == 0)
        return ad_fail(ADAPT_ERR_SHAPE, "%s: mean over an empty axis", fn);
    r->scale = mean ? 1.0f / (float)r->n : 1.0f;
    return ADAPT_OK;
}

static void reduce_forward(const reduction *r, const float *x, float *y)
{
    if (r->inner == 1) { /* contiguous rows: accumulate in double for accuracy */
        for (int64_t o = 0; o < r->outer; o++) {
            double acc = 0.0;
            for (int64_t i = 0; i < r->n; i++)
                acc += x[o * r->n + i];
            y[o] = (float)(acc * r->scale);
        }
        return;
    }
    for (int64_t o = 0; o < r->outer; o++) {
        float *yr = y + o * r->inner;
        for (int64_t j = 0; j < r->inner; j++)
            yr[j] = 0.0f;
        for (int64_t i = 0; i < r->n; i++) {
            const float *xr = x + (o * r->n + i) * r->inner;
            for (int64_t j = 0; j < r->inner; j++)
                yr[j] += xr[j];
        }
        for (int64_t j = 0; j < r->inner; j++)
            yr[j] *= r->scale;
    }
}

static adapt_status reduce_backward(adapt_context *ctx, const ad_node *node)
{
    const reduction *r = node->saved;
    float *dx;
    adapt_status st = ad_grad(&dx, ctx, node->in[0]);
    if (st || !dx)
        return st;
    const float *dy = node->out->pass_grad;
    for (int64_t o = 0; o < r->outer; o++)
        for (int64_t i = 0; i < r->n; i++) {
            float *dxr = dx + (o * r->n + i) * r->inner;
            const float *dyr = dy + o * r->inner;
            for (int64_t j = 0; j < r->inner; j++)
                dxr[j] += dyr[j] * r->scale;
        }
    return ADAPT_OK;
}

static adapt_status reduce_op(adapt_tensor **out, adapt_context *ctx, adapt_tensor *x,
                              int32_t axis, bool mean, const char *fn)
{
    adapt_status st = ad_op_check(ctx, out, fn, &x, (const char *[]){"x"}, 1);
    reduction r = {0};
    int32_t ndim = 0;
    int64_t shape[ADAPT_MAX_DIMS];
    adapt_tensor *y = NULL;
    if (!st)
        st = plan_reduction(&r, &ndim, shape, x, axis, mean, fn);
    if (!st)
        st = ad_tensor_new(&y, ctx, ndim, shape);
    if (st)
        return st;
    reduce_forward(&r, x->data, y->data);
    return ad_op_finish(out, ctx, fn, reduce_backward, y, &x, 1, &r, sizeof r);
}

adapt_status ad_op_sum(adapt_tensor **out, adapt_context *ctx, adapt_tensor *x, int32_t axis)
{
    return reduce_op(out, ctx, x, axis, false, "adapt_op_sum");
}

adapt_status ad_op_mean(adapt_tensor **out, adapt_context *ctx, adapt_tensor *x,
                        int32_t axis)
{
    return reduce_op(out, ctx, x, axis, true, "adapt_op_mean");
}
