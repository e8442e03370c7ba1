/* Interval forwards of the nn building blocks with point weights (lib/ops/interval.h): the
 * bounds of each block's output over a box of inputs, taped when the context records. The
 * layer kinds' `interval` entries call these. */
#ifndef AD_NN_INTERVAL_LAYERS_H
#define AD_NN_INTERVAL_LAYERS_H

#include "lib/nn/batchnorm.h"
#include "lib/nn/conv.h"
#include "lib/nn/linear.h"
#include "lib/nn/residual.h"
#include "lib/ops/interval.h"

/* Each sample of x[N, ...] as one row of features, like ad_linear_forward_rows. */
adapt_status ad_linear_interval(ad_interval *out, adapt_context *ctx, const ad_linear *l,
                                const ad_interval *x);

adapt_status ad_conv2d_interval(ad_interval *out, adapt_context *ctx, const ad_conv2d *c,
                                const ad_interval *x);

/* With the running statistics: each channel is a monotone map, increasing or decreasing with
 * the sign of its weight. UNSUPPORTED in a training context, whose batch statistics make each
 * sample's output depend on the others. */
adapt_status ad_batchnorm2d_interval(ad_interval *out, adapt_context *ctx,
                                     const ad_batchnorm2d *bn, const ad_interval *x);

adapt_status ad_residual_block_interval(ad_interval *out, adapt_context *ctx,
                                        const ad_residual_block *b, const ad_interval *x);

/* The product of a linear layer (x W^T + b on rows) and of a convolution, as interval affine
 * steps take them; arg: NULL, or the ad_conv2d. */
adapt_status ad_linear_interval_product(adapt_tensor **y, adapt_context *ctx, adapt_tensor *x,
                                        adapt_tensor *w, adapt_tensor *b, const void *arg);
adapt_status ad_conv2d_interval_product(adapt_tensor **y, adapt_context *ctx, adapt_tensor *x,
                                        adapt_tensor *w, adapt_tensor *b, const void *arg);

#endif
