/* "global_avgpool": x.mean((2, 3)), [C, H, W] -> [C]. */
#include "lib/core/tensor.h"
#include "lib/nn/layer.h"
#include "lib/nn/layer_shape.h"
#include "lib/ops/ops.h"

static adapt_status shape(ad_dims *out, const adapt_layer_params *p, const ad_dims *in,
                          const char *fn)
{
    (void)p;
    adapt_status st = ad_need_rank(in, 3, "global_avgpool", fn);
    if (!st)
        *out = ad_dims1(in->d[0]);
    return st;
}

/* A view of the spatial dims as one axis, then one reduction. */
static adapt_status forward(adapt_tensor **out, adapt_context *ctx, const ad_layer *l,
                            adapt_tensor *x)
{
    (void)l;
    int64_t rows[] = {x->shape[0], x->shape[1], x->shape[2] * x->shape[3]};
    adapt_tensor *flat;
    adapt_status st = ad_op_reshape(&flat, ctx, x, 3, rows);
    return st ? st : ad_op_mean(out, ctx, flat, 2);
}

const ad_layer_kind ad_kind_global_avgpool = {
    .name = "global_avgpool", .shape = shape, .forward = forward,
    .interval = ad_layer_interval_monotone,
};
