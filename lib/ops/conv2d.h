/* The convolution op's untaped entry for inference layers: the product's output finished in
 * the pass that writes it, with a per-channel affine map (batch norm in eval mode) and a ReLU,
 * instead of one more pass over the activation for each. */
#ifndef AD_OPS_CONV2D_H
#define AD_OPS_CONV2D_H

#include <stdbool.h>

#include "adapt.h"

typedef struct ad_conv_epilogue {
    const float *scale, *shift; /* [Cout] each: v * scale + shift; NULL: no affine map */
    bool relu;
} ad_conv_epilogue;

/* adapt_op_conv2d without a tape, then the epilogue (may be NULL): bit for bit the op followed
 * by the batch-norm op in eval mode (whose map is this scale and shift) and the ReLU op. The
 * caller has checked the tensors. */
adapt_status ad_conv2d_untaped(adapt_tensor **out, adapt_context *ctx, adapt_tensor *x,
                               adapt_tensor *weight, adapt_tensor *bias, int32_t stride,
                               int32_t padding, const ad_conv_epilogue *epilogue);

#endif
