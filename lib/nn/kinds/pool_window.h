/* What max and average pooling share: their fields, PyTorch's padding rule, their shape. */
#ifndef AD_NN_KINDS_POOL_WINDOW_H
#define AD_NN_KINDS_POOL_WINDOW_H

#include "lib/nn/layer_kind.h"

#define AD_POOL_WINDOW_FIELDS                                \
    {                                                        \
        AD_FIELD_COUNT32(kernel, 3), AD_FIELD_COUNT32(stride, 1), \
            AD_FIELD(padding, AD_FIELD_INT32, 0, INT32_MAX, 0, 0) \
    }

/* INVALID_ARGUMENT for padding beyond half the kernel. */
adapt_status ad_pool_window_check(const adapt_layer_params *p, const char *fn);

adapt_status ad_pool_window_shape(ad_dims *out, const adapt_layer_params *p, const ad_dims *in,
                                  const char *fn);

#endif
