#include "lib/nn/pool.h"

#include "lib/core/tensor.h"

adapt_status ad_pool2d_forward(adapt_tensor **out, adapt_context *ctx, adapt_tensor *x, bool max,
                               int32_t kernel, int32_t stride, int32_t padding)
{
    return max ? adapt_op_maxpool2d(out, ctx, x, kernel, stride, padding)
               : adapt_op_avgpool2d(out, ctx, x, kernel, stride, padding);
}

adapt_status ad_global_avgpool_forward(adapt_tensor **out, adapt_context *ctx, adapt_tensor *x)
{
    /* A view of the spatial dims as one axis, then one reduction. */
    int64_t rows[] = {x->shape[0], x->shape[1], x->shape[2] * x->shape[3]};
    adapt_tensor *flat;
    adapt_status st = adapt_op_reshape(&flat, ctx, x, 3, rows);
    return st ? st : adapt_op_mean(out, ctx, flat, 2);
}
