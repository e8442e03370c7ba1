/* Shape operations: reshape (a view sharing the input's values), permute and
 * transpose (materialised copies), slice along one axis. */
#include <string.h>

#include "lib/ops/op.h"

static adapt_status pass_through_backward(adapt_context *ctx, const ad_node *node)
{
    float *dx;
    adapt_status st = ad_grad(&dx, ctx, node->in[0]);
    if (st || !dx)
        return st;
    const float *restrict dy = node->out->pass_grad;
    for (int64_t i = 0; i < node->out->numel; i++)
        dx[i] += dy[i];
    return ADAPT_OK;
}

/* The rank and dims of a requested shape, checked here so that the message
 * names the op; ad_shape_numel() then only has the product to guard. */
static adapt_status check_new_shape(int32_t ndim, const int64_t *shape, const char *fn)
{
    if (ndim < 0 || ndim > ADAPT_MAX_DIMS)
        return ad_fail(ADAPT_ERR_SHAPE, "%s: rank %d outside [0, %d]", fn, (int)ndim,
                       ADAPT_MAX_DIMS);
    if (ndim > 0 && !shape)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: shape is NULL", fn);
    for (int32_t i = 0; i < ndim; i++)
        if (shape[i] < 0)
            return ad_fail(ADAPT_ERR_SHAPE, "%s: dimension %d is negative (%lld)", fn, (int)i,
                           (long long)shape[i]);
    return ADAPT_OK;
}

adapt_status ad_op_reshape(adapt_tensor **out, adapt_context *ctx, adapt_tensor *x,
                           int32_t ndim, const int64_t *shape)
{
    const char *fn = "adapt_op_reshape";
    adapt_status st = ad_op_check(ctx, out, fn, &x, (const char *[]){"x"}, 1);
    if (!st)
        st = check_new_shape(ndim, shape, fn);
    int64_t numel = 0;
    if (!st)
        st = ad_shape_numel(&numel, ndim, shape);
    if (st)
        return st;
    if (numel != x->numel) {
        char sx[96];
        return ad_fail(ADAPT_ERR_SHAPE, "%s: %s has %lld elements, the new shape %lld", fn,
                       ad_shape_str(x, sx, sizeof sx), (long long)x->numel, (long long)numel);
    }
    /* Tensors are immutable once made, so the view may share x's values;
     * only the header is new. */
    adapt_tensor *y = NULL;
    st = ad_tensor_view(&y, ctx, ndim, shape, numel, x->data, fn);
    if (st)
        return st;
    return ad_op_finish(out, ctx, fn, pass_through_backward, y, &x, 1, NULL, 0);
}

/* out.shape[i] = x.shape[perm[i]]. The copy walks the output in order with
 * an odometer over the input strides; the innermost run is contiguous in
 * the output, and in the input too when the last axis stays last. */
typedef struct {
    int32_t ndim;
    int32_t perm[ADAPT_MAX_DIMS];
} permutation;

static void permute_copy(const permutation *p, const adapt_tensor *x, const float *src,
                         float *dst, bool inverse)
{
    int64_t in_stride[ADAPT_MAX_DIMS], stride[ADAPT_MAX_DIMS], dims[ADAPT_MAX_DIMS];
    int64_t s = 1;
    for (int32_t i = x->ndim - 1; i >= 0; i--)
        in_stride[i] = s, s *= x->shape[i];
    for (int32_t i = 0; i < p->ndim; i++)
        dims[i] = x->shape[p->perm[i]], stride[i] = in_stride[p->perm[i]];
    if (x->numel == 0)
        return;
    const int32_t last = p->ndim - 1;
    const int64_t run = p->ndim ? dims[last] : 1, step = p->ndim ? stride[last] : 1;
    int64_t idx[ADAPT_MAX_DIMS] = {0}, offset = 0;
    for (int64_t out = 0; out < x->numel; out += run) {
        if (inverse) /* scatter-add the output-ordered gradient back to x */
            for (int64_t j = 0; j < run; j++)
                dst[offset + j * step] += src[out + j];
        else if (step == 1)
            memcpy(dst + out, src + offset, (size_t)run * sizeof *dst);
        else
            for (int64_t j = 0; j < run; j++)
                dst[out + j] = src[offset + j * step];
        for (int32_t d = last - 1; d >= 0; d--) { /* advance the odometer */
            offset += stride[d];
            if (++idx[d] < dims[d])
                break;
            offset -= stride[d] * dims[d];
            idx[d] = 0;
        }
    }
}

static adapt_status permute_backward(adapt_context *ctx, const ad_node *node)
{
    float *dx;
    adapt_status st = ad_grad(&dx, ctx, node->in[0]);
    if (!st && dx)
        permute_copy(node->saved, node->in[0], node->out->pass_grad, dx, true);
    return st;
}

static adapt_status permute_op(adapt_tensor **out, adapt_context *ctx, adapt_tensor *x,
                               const permutation *p, const char *fn)
{
    int64_t shape[ADAPT_MAX_DIMS];
    for (int32_t i = 0; i < p->ndim; i++)
        shape[i] = x->shape[p->perm[i]];
    adapt_tensor *y = NULL;
    adapt_status st = ad_tensor_new(&y, ctx, x->ndim, shape);
    if (st)
        return st;
    permute_copy(p, x, x->data, y->data, false);
    return ad_op_finish(out, ctx, fn, permute_backward, y, &x, 1, p, sizeof *p);
}

adapt_status ad_op_permute(adapt_tensor **out, adapt_context *ctx, adapt_tensor *x,
                           const int32_t *perm)
{
    const char *fn = "adapt_op_permute";
    adapt_status st = ad_op_check(ctx, out, fn, &x, (const char *[]){"x"}, 1);
    if (st)
        return st;
    if (!perm && x->ndim > 0)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: perm is NULL", fn);
    permutation p = {.ndim = x->ndim};
    bool seen[ADAPT_MAX_DIMS] = {false};
    for (int32_t i = 0; i < x->ndim; i++) {
        if (perm[i] < 0 || perm[i] >= x->ndim || seen[perm[i]])
            return ad_fail(ADAPT_ERR_INVALID_ARGUMENT,
                           "%s: perm is not a permutation of 0..%d (entry %d is %d)", fn,
                           (int)x->ndim - 1, (int)i, (int)perm[i]);
        seen[perm[i]] = true;
        p.perm[i] = perm[i];
    }
    return permute_op(out, ctx, x, &p, fn);
}

adapt_status ad_op_transpose(adapt_tensor **out, adapt_context *ctx, adapt_tensor *x,
                             int32_t axis0, int32_t axis1)
{
    const char *fn = "adapt_op_transpose";
    adapt_status st = ad_op_check(ctx, out, fn, &x, (const char *[]){"x"}, 1);
    if (st)
        return st;
    int32_t a = ad_axis(axis0, x->ndim), b = ad_axis(axis1, x->ndim);
    if (a < 0 || b < 0)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: axes %d, %d out of range for rank %d",
                       fn, (int)axis0, (int)axis1, (int)x->ndim);
    permutation p = {.ndim = x->ndim};
    for (int32_t i = 0; i < x->ndim; i++)
        p.perm[i] = i;
    p.perm[a] = b, p.perm[b] = a;
    return permute_op(out, ctx, x, &p, fn);
}

/* x viewed as [outer, dim, inner]; the slice keeps rows [start, end) of dim. */
typedef struct {
    int64_t outer, dim, inner, start, len;
} slice_plan;

static adapt_status slice_backward(adapt_context *ctx, const ad_node *node)
{
    const slice_plan *p = node->saved;
    float *dx;
    adapt_status st = ad_grad(&dx, ctx, node->in[0]);
    if (st || !dx)
        return st;
    const int64_t block = p->len * p->inner;
    for (int64_t o = 0; o < p->outer; o++) {
        float *restrict d = dx + (o * p->dim + p->start) * p->inner;
        const float *restrict g = node->out->pass_grad + o * block;
        for (int64_t i = 0; i < block; i++)
            d[i] += g[i];
    }
    return ADAPT_OK;
}

adapt_status ad_op_slice(adapt_tensor **out, adapt_context *ctx, adapt_tensor *x,
                         int32_t axis, int64_t start, int64_t end)
{
    const char *fn = "adapt_op_slice";
    adapt_status st = ad_op_check(ctx, out, fn, &x, (const char *[]){"x"}, 1);
    if (st)
        return st;
    int32_t ax = ad_axis(axis, x->ndim);
    if (ax < 0)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: axis %d out of range for rank %d", fn,
                       (int)axis, (int)x->ndim);
    if (start < 0 || start > end || end > x->shape[ax])
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: [%lld, %lld) is not within [0, %lld]",
                       fn, (long long)start, (long long)end, (long long)x->shape[ax]);
    slice_plan p = {.outer = 1, .dim = x->shape[ax], .inner = 1, .start = start,
                    .len = end - start};
    int64_t shape[ADAPT_MAX_DIMS];
    for (int32_t i = 0; i < x->ndim; i++) {
        shape[i] = i == ax ? p.len : x->shape[i];
        p.outer *= i < ax ? x->shape[i] : 1;
        p.inner *= i > ax ? x->shape[i] : 1;
    }
    adapt_tensor *y = NULL;
    st = ad_tensor_new(&y, ctx, x->ndim, shape);
    if (st)
        return st;
    const size_t block = (size_t)(p.len * p.inner) * sizeof(float);
    for (int64_t o = 0; o < p.outer; o++)
        memcpy(y->data + o * p.len * p.inner, x->data + (o * p.dim + start) * p.inner, block);
    return ad_op_finish(out, ctx, fn, slice_backward, y, &x, 1, &p, sizeof p);
}
