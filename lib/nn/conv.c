#include "lib/nn/conv.h"

#include "lib/nn/dims.h"
#include "lib/ops/ops.h"

adapt_status ad_conv2d_init(ad_conv2d *c, ad_param_list *params, const char *prefix,
                            int64_t in_channels, int64_t out_channels, int32_t kernel,
                            int32_t stride, int32_t padding, bool bias)
{
    *c = (ad_conv2d){.in_channels = in_channels, .out_channels = out_channels,
                     .kernel = kernel, .stride = stride, .padding = padding};
    ad_init init = ad_init_fan_in(ad_mul_sat(in_channels, (int64_t)kernel * kernel));
    adapt_status st = ad_params_add(&c->weight, params, prefix, "weight", 4,
                                    (int64_t[]){out_channels, in_channels, kernel, kernel}, init);
    if (!st && bias)
        st = ad_params_add(&c->bias, params, prefix, "bias", 1, &out_channels, init);
    return st;
}

adapt_status ad_conv2d_forward(adapt_tensor **out, adapt_context *ctx, const ad_conv2d *c,
                               adapt_tensor *x)
{
    return ad_op_conv2d(out, ctx, x, c->weight, c->bias, c->stride, c->padding);
}

int64_t ad_conv2d_flops(const ad_conv2d *c, int64_t out_h, int64_t out_w)
{
    int64_t macs_per_output = ad_mul_sat(c->in_channels, (int64_t)c->kernel * c->kernel);
    int64_t outputs = ad_mul_sat(ad_mul_sat(c->out_channels, out_h), out_w);
    return ad_mul_sat(2, ad_mul_sat(outputs, macs_per_output));
}
