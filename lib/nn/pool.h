/* Pooling layers over x[N, C, H, W]: torch.nn.MaxPool2d / AvgPool2d (padding counted as zeros
 * in the average, ceil_mode off) and global average pooling, x.mean((2, 3)). */
#ifndef AD_NN_POOL_H
#define AD_NN_POOL_H

#include <stdbool.h>

#include "adapt.h"

adapt_status ad_pool2d_forward(adapt_tensor **out, adapt_context *ctx, adapt_tensor *x, bool max,
                               int32_t kernel, int32_t stride, int32_t padding);

/* [N, C, H, W] -> [N, C]. */
adapt_status ad_global_avgpool_forward(adapt_tensor **out, adapt_context *ctx, adapt_tensor *x);

#endif
