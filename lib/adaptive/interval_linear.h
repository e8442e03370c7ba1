/* "interval_linear": a linear layer whose weights and bias are boxes that can only shrink
 * (InterContiNet, arXiv 2206.07996; docs/intervals.md). Each weight has a centre W, a radius
 * R = _radius >= 0 (1 at first), a shift s = tanh(_shift) and a scale c = sigmoid(_scale)
 * (1 - |s|);
 * the layer's box is
 *     W_mid = W + s R,   [W_lo, W_hi] = [W_mid - c R, W_mid + c R] clipped to [W - R, W + R],
 * and since |s| + c <= 1 it always lies inside [W - R, W + R] (the clip only takes back what
 * rounding would let out). Its point forward is x W_mid^T + b_mid; its interval forward the
 * interval-weight product, for inputs >= 0. Consolidation makes the box the new [W - R, W + R]:
 * later tasks move inside it. Parameters as the authors' IntervalLinear: weight, _radius,
 * _shift, _scale [out, in] and bias, _bias_radius, _bias_shift, _bias_scale [out]. */
#ifndef AD_ADAPTIVE_INTERVAL_LINEAR_H
#define AD_ADAPTIVE_INTERVAL_LINEAR_H

#include "lib/nn/layer.h"

/* One boxed parameter: its centre and the three tensors that shape its box. */
typedef struct {
    adapt_tensor *centre, *radius, *shift, *scale;
} ad_boxed_param;

typedef struct {
    ad_boxed_param weight, bias; /* weight [out, in], bias [out] */
    int64_t in_features, out_features;
} ad_interval_linear;

/* _scale after initialisation and consolidation: c = sigmoid(5) = 0.993, a box almost as wide
 * as the one it lies in. The authors' configuration defaults to -5 (c = 0.007, every box cut
 * to 0.7 % of its width at the first consolidation); their scripts all pass +5. */
#define AD_INTERVAL_SCALE_INIT 5.0f
#define AD_INTERVAL_RADIUS_INIT 1.0f

/* Which of a's parameters train (adapt_interval_phase): the centres, the shifts or the
 * scales; never the radii. */
void ad_interval_linear_train(ad_interval_linear *a, int32_t phase);

/* The box of p as taped tensors: lo, mid, hi. */
adapt_status ad_boxed_param_box(ad_interval *box, adapt_context *ctx, const ad_boxed_param *p);

#endif
