/* "residual_block": torchvision's BasicBlock, two 3x3 convolutions with a shortcut. */
#include "lib/nn/interval_layers.h"
#include "lib/nn/layer.h"
#include "lib/nn/layer_shape.h"
#include "lib/nn/residual.h"

AD_LAYER_STATE_FITS(ad_residual_block);

static const ad_layer_field fields[] = {
    AD_FIELD_WIDTH(out_features),
    AD_FIELD_COUNT32(stride, 1),
};

static adapt_status shape(ad_dims *out, const adapt_layer_params *p, const ad_dims *in,
                          const char *fn)
{
    adapt_status st = ad_need_rank(in, 3, "residual_block", fn);
    return st ? st : ad_window_shape(out, p->out_features, in, 3, p->stride, 1, fn);
}

static adapt_status init(ad_layer *l, ad_param_list *list, const ad_layer_names *names)
{
    return ad_residual_block_init(AD_LAYER_STATE(l, ad_residual_block), list, names->prefix,
                                  l->in.d[0], l->params.out_features, l->params.stride);
}

static adapt_status forward(adapt_tensor **out, adapt_context *ctx, const ad_layer *l,
                            adapt_tensor *x)
{
    return ad_residual_block_forward(out, ctx, AD_LAYER_STATE(l, const ad_residual_block), x,
                                     NULL);
}

static int64_t flops(const ad_layer *l)
{
    return ad_residual_block_flops(AD_LAYER_STATE(l, const ad_residual_block), l->out.d[1],
                                   l->out.d[2]);
}

static adapt_status interval(ad_interval *out, adapt_context *ctx, const ad_layer *l,
                             const ad_interval *x)
{
    return ad_residual_block_interval(out, ctx, AD_LAYER_STATE(l, const ad_residual_block), x);
}

const ad_layer_kind ad_kind_residual_block = {
    .name = "residual_block", AD_FIELDS(fields), .shape = shape, .init = init,
    .forward = forward, .interval = interval, .flops = flops,
};
