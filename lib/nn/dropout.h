/* Inverted dropout as torch.nn.Dropout: active only when the context is training. */
#ifndef AD_NN_DROPOUT_H
#define AD_NN_DROPOUT_H

#include "adapt.h"

/* p == 0, or a context that is not training, passes x through without an operation. */
adapt_status ad_dropout_forward(adapt_tensor **out, adapt_context *ctx, adapt_tensor *x, float p);

#endif
