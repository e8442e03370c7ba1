/* IBP training's loss (docs/intervals.md): the clean cross-entropy mixed with the cross-entropy
 * of the worst-case logits of a box around each input, under the ramp of Gowal et al. that
 * CROWN-IBP's IBP baseline uses. */
#ifndef AD_TRAIN_IBP_H
#define AD_TRAIN_IBP_H

#include "adapt.h"

typedef struct {
    float epsilon, kappa; /* this step's radius and clean-loss weight */
} ad_ibp_step;

/* Step `step` (from 0) of `total`: nothing before the ramp, the final values after it. */
ad_ibp_step ad_ibp_schedule(const adapt_train_params *p, int64_t step, int64_t total);

/* kappa CE(model(x)) + (1 - kappa) CE(worst case over the box of radius epsilon around x,
 * within the params' input range), taped; the model's plain cross-entropy at kappa 1. */
adapt_status ad_ibp_loss(adapt_tensor **loss, adapt_context *ctx, adapt_model *model,
                         adapt_tensor *x, const int32_t *labels, const adapt_train_params *p,
                         ad_ibp_step s);

#endif
