/* Argument checks and shape rules behind ad_layer_init(). */
#ifndef AD_NN_LAYER_SHAPE_H
#define AD_NN_LAYER_SHAPE_H

#include "lib/nn/layer.h"

/* INVALID_ARGUMENT / NONFINITE for fields of `p` its kind cannot take. */
adapt_status ad_layer_check_params(const adapt_layer_params *p, const char *fn);

/* Per-sample output of layer `p` on `in`; SHAPE when it cannot take `in`, OVERFLOW when the
 * output does not fit. */
adapt_status ad_layer_out_shape(ad_dims *out, const adapt_layer_params *p, const ad_dims *in,
                                const char *fn);

#endif
