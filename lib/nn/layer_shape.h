/* Shape rules that several layer kinds share. */
#ifndef AD_NN_LAYER_SHAPE_H
#define AD_NN_LAYER_SHAPE_H

#include "lib/nn/layer_kind.h"

/* SHAPE unless `in` has rank `rank` (3: an image [C, H, W], 2: tokens [T, D]). */
adapt_status ad_need_rank(const ad_dims *in, int32_t rank, const char *kind, const char *fn);

/* [channels, OH, OW] of a square sliding window over an image `in`; SHAPE when the padded
 * image is smaller than the window. */
adapt_status ad_window_shape(ad_dims *out, int64_t channels, const ad_dims *in, int64_t kernel,
                             int64_t stride, int64_t padding, const char *fn);

/* The input as it is (elementwise kinds, normalisation). */
adapt_status ad_shape_unchanged(ad_dims *out, const adapt_layer_params *p, const ad_dims *in,
                           const char *fn);

#endif
