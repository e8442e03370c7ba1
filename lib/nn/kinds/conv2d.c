/* "conv2d": torch.nn.Conv2d with a square kernel, with bias unless batch norm follows. */
#include "lib/nn/conv.h"
#include "lib/nn/interval_layers.h"
#include "lib/nn/layer.h"
#include "lib/nn/layer_shape.h"

AD_LAYER_STATE_FITS(ad_conv2d);

static const ad_layer_field fields[] = {
    AD_FIELD_WIDTH(out_features),
    AD_FIELD_COUNT32(kernel, 3),
    AD_FIELD_COUNT32(stride, 1),
    AD_FIELD(padding, AD_FIELD_INT32, 0, INT32_MAX, 0, 0),
};

static adapt_status shape(ad_dims *out, const adapt_layer_params *p, const ad_dims *in,
                          const char *fn)
{
    adapt_status st = ad_need_rank(in, 3, "conv2d", fn);
    return st ? st : ad_window_shape(out, p->out_features, in, p->kernel, p->stride,
                                     p->padding, fn);
}

static adapt_status init(ad_layer *l, ad_param_list *list, const ad_layer_names *names)
{
    const adapt_layer_params *p = &l->params;
    return ad_conv2d_init(AD_LAYER_STATE(l, ad_conv2d), list, names->prefix, l->in.d[0],
                          p->out_features, p->kernel, p->stride, p->padding,
                          !names->conv_without_bias);
}

static adapt_status forward(adapt_tensor **out, adapt_context *ctx, const ad_layer *l,
                            adapt_tensor *x)
{
    return ad_conv2d_forward(out, ctx, AD_LAYER_STATE(l, const ad_conv2d), x);
}

static int64_t flops(const ad_layer *l)
{
    return ad_conv2d_flops(AD_LAYER_STATE(l, const ad_conv2d), l->out.d[1], l->out.d[2]);
}

static adapt_status interval(ad_interval *out, adapt_context *ctx, const ad_layer *l,
                             const ad_interval *x)
{
    return ad_conv2d_interval(out, ctx, AD_LAYER_STATE(l, const ad_conv2d), x);
}

const ad_layer_kind ad_kind_conv2d = {
    .name = "conv2d", AD_FIELDS(fields), .shape = shape, .init = init, .forward = forward,
    .interval = interval, .flops = flops,
};
