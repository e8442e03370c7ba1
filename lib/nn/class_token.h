/* Class-token pick of a vision transformer: [N, T, D] -> [N, D], token 0 (x[:, 0]). */
#ifndef AD_NN_CLASS_TOKEN_H
#define AD_NN_CLASS_TOKEN_H

#include "adapt.h"

/* Copies only the N class-token rows. */
adapt_status ad_class_token_forward(adapt_tensor **out, adapt_context *ctx, adapt_tensor *x);

#endif
