#include "lib/nn/linear.h"

#include "lib/nn/dims.h"

adapt_status ad_linear_init(ad_linear *l, ad_param_list *params, const char *prefix,
                            int64_t in_features, int64_t out_features, bool bias)
{
    *l = (ad_linear){.in_features = in_features, .out_features = out_features};
    ad_init init = ad_init_fan_in(in_features);
    adapt_status st = ad_params_add(&l->weight, params, prefix, "weight", 2,
                                    (int64_t[]){out_features, in_features}, init);
    if (!st && bias)
        st = ad_params_add(&l->bias, params, prefix, "bias", 1, &out_features, init);
    return st;
}

adapt_status ad_linear_forward(adapt_tensor **out, adapt_context *ctx, const ad_linear *l,
                               adapt_tensor *x)
{
    adapt_tensor *y;
    adapt_status st = adapt_op_matmul(&y, ctx, x, l->weight, ADAPT_MATMUL_TRANS_B);
    if (!st && l->bias)
        st = adapt_op_add(&y, ctx, y, l->bias);
    if (!st)
        *out = y;
    return st;
}

int64_t ad_linear_flops(const ad_linear *l, int64_t rows)
{
    return ad_mul_sat(ad_mul_sat(ad_mul_sat(2, rows), l->in_features), l->out_features);
}
