/* A convolution followed by batch norm and, optionally, a ReLU (conv_bn.c). */
#ifndef AD_NN_CONV_BN_H
#define AD_NN_CONV_BN_H

#include <stdbool.h>

#include "lib/nn/batchnorm.h"
#include "lib/nn/conv.h"

struct ad_conv_sink;

/* relu(bn(conv(x))) or bn(conv(x)); fused into one pass in inference, the three ops when
 * training or recording. */
adapt_status ad_conv_bn_forward(adapt_tensor **out, adapt_context *ctx, const ad_conv2d *c,
                                const ad_batchnorm2d *bn, bool relu, adapt_tensor *x);

/* relu(bn(conv(x)) + residual), residual shaped like the output: a residual block's second
 * half, likewise one pass in inference, which hands each output plane to `sink` as it makes
 * it (lib/ops/conv2d.h; NULL: none; with a sink, inference only, else STATE). */
adapt_status ad_conv_bn_add_relu_forward(adapt_tensor **out, adapt_context *ctx,
                                         const ad_conv2d *c, const ad_batchnorm2d *bn,
                                         adapt_tensor *residual, adapt_tensor *x,
                                         const struct ad_conv_sink *sink);

/* A convolution with its batch norm and whether a ReLU follows. */
typedef struct {
    const ad_conv2d *conv;
    const ad_batchnorm2d *bn;
    bool relu;
} ad_conv_bn_ref;

/* Both of ad_conv_bn_forward(first, x) and (second, x): in inference one pass over x where
 * the direct kernel can make both (a residual block's first convolution and its projection
 * shortcut, lib/ops/conv2d.h). */
adapt_status ad_conv_bn_pair_forward(adapt_tensor **out1, adapt_tensor **out2,
                                     adapt_context *ctx, const ad_conv_bn_ref *first,
                                     const ad_conv_bn_ref *second, adapt_tensor *x);

#endif
