/* "concat": a skip connection of an encoder-decoder (a U-Net's). The block it starts takes
 * the previous block's output with the output of block `source` appended on the channel axis
 * (torch.cat([x, skip], dim=1)); the model joins them before the block runs (see
 * ad_layer_kind.joins_block), so the layer itself passes its input on. */
#include "lib/nn/layer.h"

static const ad_layer_field fields[] = {
    AD_FIELD(source, AD_FIELD_INT32, 0, INT32_MAX, AD_FIELD_REQUIRED, 0),
};

static adapt_status shape(ad_dims *out, const adapt_layer_params *p, const ad_dims *in,
                          const char *fn)
{
    (void)p, (void)fn;
    *out = *in;
    return ADAPT_OK;
}

static adapt_status forward(adapt_tensor **out, adapt_context *ctx, const ad_layer *l,
                            adapt_tensor *x)
{
    (void)ctx, (void)l;
    *out = x;
    return ADAPT_OK;
}

const ad_layer_kind ad_kind_concat = {
    .name = "concat", AD_FIELDS(fields), .shape = shape, .forward = forward,
    .joins_block = true, .leaves_only_output = true,
};
