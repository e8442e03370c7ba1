/* The convolution op's untaped entry for inference layers: the product's output finished in
 * the pass that writes it, with a per-channel affine map (batch norm in eval mode) and a ReLU,
 * instead of one more pass over the activation for each. */
#ifndef AD_OPS_CONV2D_H
#define AD_OPS_CONV2D_H

#include <stdbool.h>

#include "adapt.h"

struct ad_conv_sink;

/* Batch norm in eval mode, v * scale + shift per channel with scale = rstd * weight and
 * shift = bias - mean * scale, rstd = 1 / sqrt(var + eps) in double rounded to float: the
 * map adapt_op_batchnorm applies. NULL weight: no batch norm. Then a residual added (shaped
 * like the output, else SHAPE; NULL: none) and the ReLU. A sink (conv2d_direct.h), if any,
 * is handed each output plane as it is made: only where the direct kernel runs the
 * convolution (ad_conv_direct_suits), else INVALID_ARGUMENT. */
typedef struct ad_conv_epilogue {
    const float *weight, *bias, *mean, *var; /* [Cout] each */
    float eps;
    const adapt_tensor *residual;
    bool relu;
    const struct ad_conv_sink *sink;
} ad_conv_epilogue;

/* adapt_op_conv2d without a tape, then the epilogue (may be NULL): bit for bit the op followed
 * by the batch-norm op in eval mode, the add op and the ReLU op. Allocates nothing in the
 * context but its output. The caller has checked the tensors. */
adapt_status ad_conv2d_untaped(adapt_tensor **out, adapt_context *ctx, adapt_tensor *x,
                               adapt_tensor *weight, adapt_tensor *bias, int32_t stride,
                               int32_t padding, const ad_conv_epilogue *epilogue);

/* One convolution of an untaped pair. */
typedef struct {
    adapt_tensor *weight, *bias; /* bias may be NULL */
    int32_t stride, padding;
    const ad_conv_epilogue *epilogue; /* may be NULL */
} ad_conv_spec;

/* ad_conv2d_untaped of `first` into *out1 and of `second` into *out2, both on x: where the
 * direct kernel runs the first and the second reads the same phase planes (a residual block's
 * first convolution and its projection shortcut), in one pass over x. */
adapt_status ad_conv2d_pair_untaped(adapt_tensor **out1, adapt_tensor **out2,
                                    adapt_context *ctx, adapt_tensor *x,
                                    const ad_conv_spec *first, const ad_conv_spec *second);

#endif
