/* "flatten": torch.nn.Flatten(), [N, ...] -> [N, prod(...)] as a view. */
#include "lib/nn/layer.h"
#include "lib/nn/linear.h"

static adapt_status shape(ad_dims *out, const adapt_layer_params *p, const ad_dims *in,
                          const char *fn)
{
    (void)p, (void)fn;
    *out = ad_dims1(ad_dims_numel(in));
    return ADAPT_OK;
}

static adapt_status forward(adapt_tensor **out, adapt_context *ctx, const ad_layer *l,
                            adapt_tensor *x)
{
    (void)l;
    return ad_flatten_rows(out, ctx, x);
}

const ad_layer_kind ad_kind_flatten = {
    .name = "flatten", .shape = shape, .forward = forward,
    .interval = ad_layer_interval_monotone, .flattens = true,
    .leaves_only_output = true,
};
