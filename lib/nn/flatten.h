/* Flatten layer, torch.nn.Flatten(): [N, ...] -> [N, prod(...)], as a view. */
#ifndef AD_NN_FLATTEN_H
#define AD_NN_FLATTEN_H

#include "adapt.h"

adapt_status ad_flatten_forward(adapt_tensor **out, adapt_context *ctx, adapt_tensor *x);

#endif
