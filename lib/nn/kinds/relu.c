/* "relu": max(x, 0); a linear layer before it runs it fused in inference. */
#include "lib/nn/layer.h"
#include "lib/nn/layer_shape.h"
#include "lib/ops/ops.h"

static adapt_status forward(adapt_tensor **out, adapt_context *ctx, const ad_layer *l,
                            adapt_tensor *x)
{
    (void)l;
    return ad_op_relu(out, ctx, x);
}

const ad_layer_kind ad_kind_relu = {
    .name = "relu", .shape = ad_shape_unchanged, .forward = forward,
    .interval = ad_layer_interval_monotone, .activation = AD_ACT_RELU,
    .leaves_only_output = true,
};
