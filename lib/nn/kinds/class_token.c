/* "class_token": a vision transformer's class token, x[:, 0], [T, D] -> [D]. */
#include "lib/core/tensor.h"
#include "lib/nn/layer.h"
#include "lib/nn/layer_shape.h"
#include "lib/ops/ops.h"

static adapt_status shape(ad_dims *out, const adapt_layer_params *p, const ad_dims *in,
                          const char *fn)
{
    (void)p;
    adapt_status st = ad_need_rank(in, 2, "class_token", fn);
    if (!st)
        *out = ad_dims1(in->d[1]);
    return st;
}

/* Copies only the N class-token rows. */
static adapt_status forward(adapt_tensor **out, adapt_context *ctx, const ad_layer *l,
                            adapt_tensor *x)
{
    (void)l;
    adapt_tensor *first;
    adapt_status st = ad_op_slice(&first, ctx, x, 1, 0, 1);
    return st ? st : ad_op_reshape(out, ctx, first, 2, (int64_t[]){x->shape[0], x->shape[2]});
}

const ad_layer_kind ad_kind_class_token = {
    .name = "class_token", .shape = shape, .forward = forward,
};
