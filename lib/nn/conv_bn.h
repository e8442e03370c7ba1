/* A convolution followed by batch norm and, optionally, a ReLU (conv_bn.c). */
#ifndef AD_NN_CONV_BN_H
#define AD_NN_CONV_BN_H

#include <stdbool.h>

#include "lib/nn/batchnorm.h"
#include "lib/nn/conv.h"

/* relu(bn(conv(x))) or bn(conv(x)); fused into one pass in inference, the three ops when
 * training or recording. */
adapt_status ad_conv_bn_forward(adapt_tensor **out, adapt_context *ctx, const ad_conv2d *c,
                                const ad_batchnorm2d *bn, bool relu, adapt_tensor *x);

/* relu(bn(conv(x)) + residual), residual shaped like the output: a residual block's second
 * half, likewise one pass in inference. */
adapt_status ad_conv_bn_add_relu_forward(adapt_tensor **out, adapt_context *ctx,
                                         const ad_conv2d *c, const ad_batchnorm2d *bn,
                                         adapt_tensor *residual, adapt_tensor *x);

#endif
