/* Parameterless elementwise layers: ReLU, exact (erf) GELU as torch.nn.GELU(), and inverted
 * dropout as torch.nn.Dropout (active only when the context is training). */
#ifndef AD_NN_ACTIVATION_H
#define AD_NN_ACTIVATION_H

#include "adapt.h"

adapt_status ad_activation_forward(adapt_tensor **out, adapt_context *ctx,
                                   adapt_activation activation, adapt_tensor *x);

/* p == 0 passes x through without an operation. */
adapt_status ad_dropout_forward(adapt_tensor **out, adapt_context *ctx, adapt_tensor *x, float p);

#endif
