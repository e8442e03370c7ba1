/* Bilinear resampling along one axis as PyTorch computes it for float tensors (its
 * compute_indices_weights_linear without align_corners), shared by the upsample op and the
 * pipeline's crops so both pick the same cells with the same weights. */
#ifndef AD_KERNELS_LINEAR_TAP_H
#define AD_KERNELS_LINEAR_TAP_H

#include <math.h>
#include <stdint.h>

/* Where output row or column o reads: cells i0 and i1 with weights l0 and l1. */
typedef struct {
    int64_t i0, i1;
    float l0, l1;
} ad_tap;

/* Output o of an axis of `len` cells resampled with `ratio` (input cells per output cell:
 * PyTorch takes 1 / scale_factor when a scale is given, len / out when a size is): source
 * ratio * (o + 0.5) - 0.5 in float, clamped below at 0, its floor clamped at len - 1, the
 * weight clamped to [0, 1]. */
static inline ad_tap ad_linear_tap(int64_t o, int64_t len, float ratio)
{
    float source = ratio * ((float)o + 0.5f) - 0.5f;
    source = source < 0.0f ? 0.0f : source;
    const int64_t floor_at = (int64_t)floorf(source);
    const int64_t i0 = floor_at < len - 1 ? floor_at : len - 1;
    float l1 = source - (float)i0;
    l1 = l1 < 0.0f ? 0.0f : l1 > 1.0f ? 1.0f : l1;
    return (ad_tap){.i0 = i0, .i1 = i0 < len - 1 ? i0 + 1 : i0, .l0 = 1.0f - l1, .l1 = l1};
}

#endif
