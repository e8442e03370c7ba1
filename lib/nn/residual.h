/* ResNet basic block as torchvision's BasicBlock (convolutions without bias):
 *   out = relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x))
 * conv1 is 3x3 with the block's stride, conv2 3x3 stride 1; the shortcut is the identity, or
 * a 1x1 convolution with the stride plus batch norm when the stride or the width changes. */
#ifndef AD_NN_RESIDUAL_H
#define AD_NN_RESIDUAL_H

#include <stdbool.h>

#include "lib/nn/batchnorm.h"
#include "lib/nn/conv.h"

struct ad_conv_sink;

typedef struct {
    ad_conv2d conv1, conv2;        /* "<prefix>conv1.", "<prefix>conv2." */
    ad_batchnorm2d bn1, bn2;       /* "<prefix>bn1.", "<prefix>bn2." */
    bool projected;                /* shortcut is conv + bn rather than the identity */
    ad_conv2d shortcut_conv;       /* "<prefix>shortcut.0." */
    ad_batchnorm2d shortcut_bn;    /* "<prefix>shortcut.1." */
} ad_residual_block;

adapt_status ad_residual_block_init(ad_residual_block *b, ad_param_list *params,
                                    const char *prefix, int64_t in_channels,
                                    int64_t out_channels, int32_t stride);

/* x[N, in, H, W] -> [N, out, OH, OW] with OH = (H - 1) / stride + 1; in inference the output
 * planes are handed to `sink` as they are made (ad_conv_bn_add_relu_forward; NULL: none). */
adapt_status ad_residual_block_forward(adapt_tensor **out, adapt_context *ctx,
                                       const ad_residual_block *b, adapt_tensor *x,
                                       const struct ad_conv_sink *sink);

/* FLOPs per sample for an output of out_h x out_w positions. */
int64_t ad_residual_block_flops(const ad_residual_block *b, int64_t out_h, int64_t out_w);

#endif
