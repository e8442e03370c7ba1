/* A module run in place of a whole layer or of a built-in part of one, mapping the same
 * per-sample shapes: set by the model that holds the layer (lib/models/replace.c). */
#ifndef AD_NN_OVERRIDE_H
#define AD_NN_OVERRIDE_H

#include "adapt.h"

typedef struct {
    adapt_status (*forward)(adapt_tensor **out, adapt_context *ctx, const void *module,
                            adapt_tensor *x);
    const void *module; /* NULL: the built-in runs */
} ad_override;

#endif
