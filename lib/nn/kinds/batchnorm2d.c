/* "batchnorm2d": torch.nn.BatchNorm2d over the channels of an image. */
#include "lib/nn/batchnorm.h"
#include "lib/nn/interval_layers.h"
#include "lib/nn/layer.h"
#include "lib/nn/layer_shape.h"

AD_LAYER_STATE_FITS(ad_batchnorm2d);

static adapt_status shape(ad_dims *out, const adapt_layer_params *p, const ad_dims *in,
                          const char *fn)
{
    adapt_status st = ad_need_rank(in, 3, "batchnorm2d", fn);
    return st ? st : ad_shape_unchanged(out, p, in, fn);
}

static adapt_status init(ad_layer *l, ad_param_list *list, const ad_layer_names *names)
{
    return ad_batchnorm2d_init(AD_LAYER_STATE(l, ad_batchnorm2d), list, names->prefix,
                               l->in.d[0]);
}

static adapt_status forward(adapt_tensor **out, adapt_context *ctx, const ad_layer *l,
                            adapt_tensor *x)
{
    return ad_batchnorm2d_forward(out, ctx, AD_LAYER_STATE(l, const ad_batchnorm2d), x);
}

static adapt_status interval(ad_interval *out, adapt_context *ctx, const ad_layer *l,
                             const ad_interval *x)
{
    return ad_batchnorm2d_interval(out, ctx, AD_LAYER_STATE(l, const ad_batchnorm2d), x);
}

const ad_layer_kind ad_kind_batchnorm2d = {
    .name = "batchnorm2d", .shape = shape, .init = init, .forward = forward, .interval = interval,
};
