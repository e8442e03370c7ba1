/* "dropout": torch.nn.Dropout(p), the identity outside training. */
#include "lib/nn/dropout.h"
#include "lib/nn/layer.h"
#include "lib/nn/layer_shape.h"

static const ad_layer_field fields[] = {AD_FIELD_PROBABILITY(p)};

static adapt_status forward(adapt_tensor **out, adapt_context *ctx, const ad_layer *l,
                            adapt_tensor *x)
{
    return ad_dropout_forward(out, ctx, x, l->params.p);
}

const ad_layer_kind ad_kind_dropout = {
    .name = "dropout", AD_FIELDS(fields), .shape = ad_shape_unchanged, .forward = forward,
};
