/* Learning-rate schedules, evaluated per optimizer step. */
#ifndef AD_TRAIN_SCHEDULE_H
#define AD_TRAIN_SCHEDULE_H

#include <stdint.h>

#include "adapt.h"

typedef struct {
    adapt_schedule_kind kind;
    double base_lr, min_lr, gamma;
    int32_t warmup_steps; /* 0 = none */
    int32_t step_epochs;  /* STEP: epochs between decays, >= 1 */
    int64_t total_steps, steps_per_epoch; /* both >= 1 */
} ad_schedule;

/* Learning rate of 0-based step `step`:
 *   CONSTANT  base
 *   STEP      base * gamma^floor(epoch / step_epochs), epoch = floor(step / steps_per_epoch)
 *   COSINE    min + (base - min) * (1 + cos(pi * step / (total - 1))) / 2  (base if total = 1)
 * times (step + 1) / warmup_steps while step < warmup_steps. */
float ad_schedule_lr(const ad_schedule *s, int64_t step);

#endif
