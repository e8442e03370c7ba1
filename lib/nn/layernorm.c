#include "lib/nn/layernorm.h"

#include "lib/ops/ops.h"

adapt_status ad_layernorm_init(ad_layernorm *ln, ad_param_list *params, const char *prefix,
                               int64_t dim)
{
    const ad_init ones = {.kind = AD_INIT_CONSTANT, .value = 1.0f};
    const ad_init zeros = {.kind = AD_INIT_CONSTANT, .value = 0.0f};
    adapt_status st = ad_params_add(&ln->weight, params, prefix, "weight", 1, &dim, ones);
    if (!st)
        st = ad_params_add(&ln->bias, params, prefix, "bias", 1, &dim, zeros);
    return st;
}

adapt_status ad_layernorm_forward(adapt_tensor **out, adapt_context *ctx, const ad_layernorm *ln,
                                  adapt_tensor *x)
{
    return ad_op_layernorm(out, ctx, x, ln->weight, ln->bias, AD_LAYERNORM_EPS);
}
