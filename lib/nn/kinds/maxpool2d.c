/* "maxpool2d": torch.nn.MaxPool2d, ceil_mode off. */
#include "lib/nn/kinds/pool_window.h"
#include "lib/nn/layer.h"
#include "lib/ops/ops.h"

static const ad_layer_field fields[] = AD_POOL_WINDOW_FIELDS;

static adapt_status forward(adapt_tensor **out, adapt_context *ctx, const ad_layer *l,
                            adapt_tensor *x)
{
    const adapt_layer_params *p = &l->params;
    return ad_op_maxpool2d(out, ctx, x, p->kernel, p->stride, p->padding);
}

const ad_layer_kind ad_kind_maxpool2d = {
    .name = "maxpool2d", AD_FIELDS(fields), .check = ad_pool_window_check,
    .shape = ad_pool_window_shape, .forward = forward,
    .interval = ad_layer_interval_monotone,
};
