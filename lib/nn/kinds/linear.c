/* "linear": torch.nn.Linear after nn.Flatten(), each sample one row of its values. */
#include "lib/nn/interval_layers.h"
#include "lib/nn/layer.h"
#include "lib/nn/linear.h"

AD_LAYER_STATE_FITS(ad_linear);

static const ad_layer_field fields[] = {AD_FIELD_WIDTH(out_features)};

static adapt_status shape(ad_dims *out, const adapt_layer_params *p, const ad_dims *in,
                          const char *fn)
{
    (void)in, (void)fn;
    *out = ad_dims1(p->out_features);
    return ADAPT_OK;
}

static adapt_status init(ad_layer *l, ad_param_list *list, const ad_layer_names *names)
{
    return ad_linear_init(AD_LAYER_STATE(l, ad_linear), list, names->prefix,
                          ad_dims_numel(&l->in), l->params.out_features, true);
}

static adapt_status forward(adapt_tensor **out, adapt_context *ctx, const ad_layer *l,
                            adapt_tensor *x)
{
    return ad_linear_forward_rows(out, ctx, AD_LAYER_STATE(l, const ad_linear), x, AD_ACT_NONE);
}

static int64_t flops(const ad_layer *l)
{
    return ad_linear_flops(AD_LAYER_STATE(l, const ad_linear), 1);
}

static adapt_status interval(ad_interval *out, adapt_context *ctx, const ad_layer *l,
                             const ad_interval *x)
{
    return ad_linear_interval(out, ctx, AD_LAYER_STATE(l, const ad_linear), x);
}

const ad_layer_kind ad_kind_linear = {
    .name = "linear", AD_FIELDS(fields), .shape = shape, .init = init, .forward = forward,
    .interval = interval, .flops = flops, .flattens = true,
};
