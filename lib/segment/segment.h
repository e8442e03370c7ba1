/* Segmentation models' shared checks (docs/segmentation.md): a model that maps images
 * [C, H, W] to per-pixel class scores [K, H', W']. */
#ifndef AD_SEGMENT_SEGMENT_H
#define AD_SEGMENT_SEGMENT_H

#include "adapt.h"
#include "lib/nn/dims.h"

/* The model's per-sample input [C, H, W] and output [K, H', W'], or INVALID_ARGUMENT (NULL,
 * no blocks) or SHAPE (not of those ranks). */
adapt_status ad_segmenter_shapes(ad_dims *in, ad_dims *out, const adapt_model *model,
                                 const char *fn);

/* Each pixel's class of scores [m, K, P] (P pixels) into labels [m, P]: the first largest
 * score wins. A classifier's scores [m, K] are P = 1. */
void ad_argmax_pixels(int32_t *labels, const float *scores, int64_t m, int64_t k, int64_t p);

#endif
