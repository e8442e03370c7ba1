/* 2-D convolution layer, torch.nn.Conv2d with square kernel, stride and padding. */
#ifndef AD_NN_CONV_H
#define AD_NN_CONV_H

#include <stdbool.h>

#include "lib/nn/params.h"

typedef struct {
    adapt_tensor *weight; /* [out, in, kernel, kernel] */
    adapt_tensor *bias;   /* [out], or NULL (followed by batch norm) */
    int64_t in_channels, out_channels;
    int32_t kernel, stride, padding;
} ad_conv2d;

/* Adds "<prefix>weight" and, with `bias`, "<prefix>bias". */
adapt_status ad_conv2d_init(ad_conv2d *c, ad_param_list *params, const char *prefix,
                            int64_t in_channels, int64_t out_channels, int32_t kernel,
                            int32_t stride, int32_t padding, bool bias);

/* x[N, in, H, W] -> [N, out, OH, OW]. */
adapt_status ad_conv2d_forward(adapt_tensor **out, adapt_context *ctx, const ad_conv2d *c,
                               adapt_tensor *x);

/* FLOPs per sample for an output of out_h x out_w positions. */
int64_t ad_conv2d_flops(const ad_conv2d *c, int64_t out_h, int64_t out_w);

#endif
