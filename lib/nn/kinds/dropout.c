/* "dropout": torch.nn.Dropout(p), the identity outside training. */
#include "lib/core/context.h"
#include "lib/core/error.h"
#include "lib/nn/dropout.h"
#include "lib/nn/layer.h"
#include "lib/nn/layer_shape.h"

static const ad_layer_field fields[] = {AD_FIELD_PROBABILITY(p)};

static adapt_status forward(adapt_tensor **out, adapt_context *ctx, const ad_layer *l,
                            adapt_tensor *x)
{
    return ad_dropout_forward(out, ctx, x, l->params.p);
}

/* Outside training (or at p = 0) the identity; a mask drawn for each bound would not bound
 * anything. */
static adapt_status interval(ad_interval *out, adapt_context *ctx, const ad_layer *l,
                             const ad_interval *x)
{
    if (ctx->training && l->params.p > 0.0f)
        return ad_fail(ADAPT_ERR_UNSUPPORTED, "dropout: no interval forward in training mode "
                       "with p = %g > 0", (double)l->params.p);
    *out = *x;
    return ADAPT_OK;
}

const ad_layer_kind ad_kind_dropout = {
    .name = "dropout", AD_FIELDS(fields), .shape = ad_shape_unchanged, .forward = forward,
    .interval = interval,
};
