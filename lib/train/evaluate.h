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

/* The checks of an evaluation's arguments: `result` a caller's struct of C type `result_type`
 * (struct_size set), a model ending in class logits, a non-empty dataset with labels below
 * its classes, batch_size >= 1, n_threads >= 0. */
adapt_status ad_evaluate_check(const void *result, const char *result_type,
                               const adapt_model *model, const adapt_dataset *ds,
                               int32_t batch_size, int32_t n_threads, const char *fn);

/* A context of its own for an evaluation, inference mode. */
adapt_status ad_evaluate_context(adapt_context **ctx, int32_t n_threads);

#endif
