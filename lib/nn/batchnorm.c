#include "lib/nn/batchnorm.h"

#include "lib/ops/ops.h"

adapt_status ad_batchnorm2d_init(ad_batchnorm2d *bn, ad_param_list *params, const char *prefix,
                                 int64_t channels)
{
    const ad_init ones = {.kind = AD_INIT_CONSTANT, .value = 1.0f};
    const ad_init zeros = {.kind = AD_INIT_CONSTANT, .value = 0.0f};
    ad_init mean = zeros, var = ones;
    mean.buffer = var.buffer = true;
    adapt_status st = ad_params_add(&bn->weight, params, prefix, "weight", 1, &channels, ones);
    if (!st)
        st = ad_params_add(&bn->bias, params, prefix, "bias", 1, &channels, zeros);
    if (!st)
        st = ad_params_add(&bn->running_mean, params, prefix, "running_mean", 1, &channels, mean);
    if (!st)
        st = ad_params_add(&bn->running_var, params, prefix, "running_var", 1, &channels, var);
    return st;
}

adapt_status ad_batchnorm2d_forward(adapt_tensor **out, adapt_context *ctx,
                                    const ad_batchnorm2d *bn, adapt_tensor *x)
{
    return ad_op_batchnorm(out, ctx, x, bn->weight, bn->bias, bn->running_mean,
                           bn->running_var, AD_BATCHNORM_MOMENTUM, AD_BATCHNORM_EPS);
}
