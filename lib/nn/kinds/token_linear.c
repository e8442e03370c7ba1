/* "token_linear": torch.nn.Linear as PyTorch applies it, to the last axis: [..., D] ->
 * [..., out_features], e.g. on every token of a sequence [T, D]. */
#include "lib/core/error.h"
#include "lib/nn/layer.h"
#include "lib/nn/linear.h"

AD_LAYER_STATE_FITS(ad_linear);

static const ad_layer_field fields[] = {AD_FIELD_WIDTH(out_features)};

static adapt_status shape(ad_dims *out, const adapt_layer_params *p, const ad_dims *in,
                          const char *fn)
{
    if (in->ndim < 1)
        return ad_fail(ADAPT_ERR_SHAPE, "%s: token_linear needs a per-sample rank >= 1", fn);
    *out = *in;
    out->d[in->ndim - 1] = p->out_features;
    return ADAPT_OK;
}

static adapt_status init(ad_layer *l, ad_param_list *list, const ad_layer_names *names)
{
    return ad_linear_init(AD_LAYER_STATE(l, ad_linear), list, names->prefix,
                          l->in.d[l->in.ndim - 1], l->params.out_features, true);
}

static adapt_status forward(adapt_tensor **out, adapt_context *ctx, const ad_layer *l,
                            adapt_tensor *x)
{
    return ad_linear_forward(out, ctx, AD_LAYER_STATE(l, const ad_linear), x);
}

/* One product per position: every dim but the last. */
static int64_t flops(const ad_layer *l)
{
    const ad_linear *lin = AD_LAYER_STATE(l, const ad_linear);
    return ad_linear_flops(lin, ad_dims_numel(&l->in) / lin->in_features);
}

const ad_layer_kind ad_kind_token_linear = {
    .name = "token_linear", AD_FIELDS(fields), .shape = shape, .init = init,
    .forward = forward, .flops = flops,
};
