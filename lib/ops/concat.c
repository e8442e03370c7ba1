/* Concatenation along one axis. Each input is viewed as [outer, dim_i, inner];
 * the output interleaves their blocks of dim_i * inner values per outer row. */
#include <string.h>

#include "lib/ops/op.h"

typedef struct {
    int64_t outer, inner, out_dim;
    int32_t axis;
} concat_plan;

static adapt_status plan_concat(concat_plan *p, int64_t *shape, adapt_tensor *const *in,
                                int32_t count, int32_t axis, const char *fn)
{
    const adapt_tensor *first = in[0];
    int32_t ax = ad_axis(axis, first->ndim);
    if (ax < 0)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: axis %d out of range for rank %d", fn,
                       (int)axis, (int)first->ndim);
    *p = (concat_plan){.outer = 1, .inner = 1, .axis = ax};
    for (int32_t i = 0; i < first->ndim; i++) {
        p->outer *= i < ax ? first->shape[i] : 1;
        p->inner *= i > ax ? first->shape[i] : 1;
    }
    for (int32_t k = 0; k < count; k++) {
        bool ok = in[k]->ndim == first->ndim;
        for (int32_t i = 0; ok && i < first->ndim; i++)
            ok = i == ax || in[k]->shape[i] == first->shape[i];
        if (!ok) {
            char s0[96], sk[96];
            return ad_fail(ADAPT_ERR_SHAPE, "%s: input %d %s does not match input 0 %s "
                           "outside axis %d", fn, (int)k, ad_shape_str(in[k], sk, sizeof sk),
                           ad_shape_str(first, s0, sizeof s0), (int)ax);
        }
        p->out_dim += in[k]->shape[ax];
    }
    memcpy(shape, first->shape, (size_t)first->ndim * sizeof *shape);
    shape[ax] = p->out_dim;
    return ADAPT_OK;
}

/* Copies between the output and input k, in either direction; the gradient
 * direction adds. Returns the column offset after input k. */
static int64_t move_block(const concat_plan *p, const adapt_tensor *x, int64_t offset,
                          float *out, float *x_values, bool to_input)
{
    const int64_t block = x->shape[p->axis] * p->inner, row = p->out_dim * p->inner;
    for (int64_t o = 0; o < p->outer; o++) {
        float *restrict y = out + o * row + offset;
        float *restrict v = x_values + o * block;
        if (!to_input)
            memcpy(y, v, (size_t)block * sizeof *y);
        else
            for (int64_t i = 0; i < block; i++)
                v[i] += y[i];
    }
    return offset + block;
}

static adapt_status concat_backward(adapt_context *ctx, const ad_node *node)
{
    const concat_plan *p = node->saved;
    int64_t offset = 0;
    for (int32_t k = 0; k < node->n_in; k++) {
        float *dx;
        adapt_status st = ad_grad(&dx, ctx, node->in[k]);
        if (st)
            return st;
        if (dx)
            move_block(p, node->in[k], offset, node->out->pass_grad, dx, true);
        offset += node->in[k]->shape[p->axis] * p->inner;
    }
    return ADAPT_OK;
}

adapt_status ad_op_concat(adapt_tensor **out, adapt_context *ctx, adapt_tensor *const *inputs,
                          int32_t count, int32_t axis)
{
    const char *fn = "adapt_op_concat";
    adapt_status st = ad_op_check(ctx, out, fn, NULL, NULL, 0);
    if (st)
        return st;
    if (!inputs || count < 1)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: needs at least one input (got %d%s)",
                       fn, (int)count, inputs ? "" : ", inputs is NULL");
    for (int32_t k = 0; k < count && !st; k++)
        st = ad_check_tensor(ctx, inputs[k], fn, "an input");
    concat_plan p;
    int64_t shape[ADAPT_MAX_DIMS];
    adapt_tensor *y = NULL;
    if (!st)
        st = plan_concat(&p, shape, inputs, count, axis, fn);
    if (!st)
        st = ad_tensor_new(&y, ctx, inputs[0]->ndim, shape);
    if (st)
        return st;
    int64_t offset = 0;
    for (int32_t k = 0; k < count; k++)
        offset = move_block(&p, inputs[k], offset, y->data, inputs[k]->data, false);
    return ad_op_finish(out, ctx, fn, concat_backward, y, inputs, count, &p, sizeof p);
}
