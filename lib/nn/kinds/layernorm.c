/* "layernorm": torch.nn.LayerNorm over the last axis. */
#include "lib/core/error.h"
#include "lib/nn/layer.h"
#include "lib/nn/layer_shape.h"
#include "lib/nn/layernorm.h"

AD_LAYER_STATE_FITS(ad_layernorm);

static adapt_status shape(ad_dims *out, const adapt_layer_params *p, const ad_dims *in,
                          const char *fn)
{
    if (in->ndim < 1)
        return ad_fail(ADAPT_ERR_SHAPE, "%s: layernorm needs a per-sample rank >= 1", fn);
    return ad_shape_unchanged(out, p, in, fn);
}

static adapt_status init(ad_layer *l, ad_param_list *list, const ad_layer_names *names)
{
    return ad_layernorm_init(AD_LAYER_STATE(l, ad_layernorm), list, names->prefix,
                             l->in.d[l->in.ndim - 1]);
}

static adapt_status forward(adapt_tensor **out, adapt_context *ctx, const ad_layer *l,
                            adapt_tensor *x)
{
    return ad_layernorm_forward(out, ctx, AD_LAYER_STATE(l, const ad_layernorm), x);
}

const ad_layer_kind ad_kind_layernorm = {
    .name = "layernorm", .shape = shape, .init = init, .forward = forward,
};
