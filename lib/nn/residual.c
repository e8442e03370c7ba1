#include "lib/nn/residual.h"

#include "lib/nn/conv_bn.h"
#include "lib/nn/dims.h"

adapt_status ad_residual_block_init(ad_residual_block *b, ad_param_list *params,
                                    const char *prefix, int64_t in_channels,
                                    int64_t out_channels, int32_t stride)
{
    char name[AD_PREFIX_MAX];
    b->projected = stride != 1 || in_channels != out_channels;
    adapt_status st = ad_conv2d_init(&b->conv1, params, ad_prefix_join(name, prefix, "conv1."),
                                     in_channels, out_channels, 3, stride, 1, false);
    if (!st)
        st = ad_batchnorm2d_init(&b->bn1, params, ad_prefix_join(name, prefix, "bn1."),
                                 out_channels);
    if (!st)
        st = ad_conv2d_init(&b->conv2, params, ad_prefix_join(name, prefix, "conv2."),
                            out_channels, out_channels, 3, 1, 1, false);
    if (!st)
        st = ad_batchnorm2d_init(&b->bn2, params, ad_prefix_join(name, prefix, "bn2."),
                                 out_channels);
    if (!st && b->projected)
        st = ad_conv2d_init(&b->shortcut_conv, params,
                            ad_prefix_join(name, prefix, "shortcut.0."), in_channels,
                            out_channels, 1, stride, 0, false);
    if (!st && b->projected)
        st = ad_batchnorm2d_init(&b->shortcut_bn, params,
                                 ad_prefix_join(name, prefix, "shortcut.1."), out_channels);
    return st;
}

adapt_status ad_residual_block_forward(adapt_tensor **out, adapt_context *ctx,
                                       const ad_residual_block *b, adapt_tensor *x,
                                       const struct ad_conv_sink *sink)
{
    adapt_tensor *h, *s = x;
    const ad_conv_bn_ref first = {&b->conv1, &b->bn1, true};
    const ad_conv_bn_ref shortcut = {&b->shortcut_conv, &b->shortcut_bn, false};
    adapt_status st = b->projected ? ad_conv_bn_pair_forward(&h, &s, ctx, &first, &shortcut, x)
                                   : ad_conv_bn_forward(&h, ctx, &b->conv1, &b->bn1, true, x);
    return st ? st : ad_conv_bn_add_relu_forward(out, ctx, &b->conv2, &b->bn2, s, h, sink);
}

int64_t ad_residual_block_flops(const ad_residual_block *b, int64_t out_h, int64_t out_w)
{
    int64_t flops = ad_add_sat(ad_conv2d_flops(&b->conv1, out_h, out_w),
                               ad_conv2d_flops(&b->conv2, out_h, out_w));
    if (b->projected)
        flops = ad_add_sat(flops, ad_conv2d_flops(&b->shortcut_conv, out_h, out_w));
    return flops;
}
