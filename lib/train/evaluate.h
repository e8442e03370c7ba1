/* Batched evaluation shared by adapt_model_evaluate and the trainer's validation pass. */
#ifndef AD_TRAIN_EVALUATE_H
#define AD_TRAIN_EVALUATE_H

#include <stdint.h>

#include "adapt.h"

typedef struct {
    int64_t count, correct;
    double loss_sum; /* sum over samples of the cross-entropy */
} ad_eval_counts;

/* Runs `model` over every sample of `ds` in order, `batch_size` at a time, in the current mode
 * of `ctx` (which it resets before each batch). Predictions are the first maximal logit, as
 * torch.argmax. `confusion` (may be NULL) must hold classes x classes zeroed counts. Labels
 * must already be known to be below `classes`. */
adapt_status ad_evaluate_run(ad_eval_counts *counts, int64_t *confusion, adapt_context *ctx,
                             adapt_model *model, const adapt_dataset *ds, int32_t batch_size,
                             int32_t classes, const char *fn);

#endif
