/* "gelu": exact (erf) GELU as torch.nn.GELU(); a linear layer before it runs it fused in
 * inference. */
#include "lib/nn/layer.h"
#include "lib/nn/layer_shape.h"
#include "lib/ops/ops.h"

static adapt_status forward(adapt_tensor **out, adapt_context *ctx, const ad_layer *l,
                            adapt_tensor *x)
{
    (void)l;
    return ad_op_gelu(out, ctx, x);
}

const ad_layer_kind ad_kind_gelu = {
    .name = "gelu", .shape = ad_shape_unchanged, .forward = forward, .activation = AD_ACT_GELU,
    .leaves_only_output = true,
};
