/* Batched evaluation shared by adapt_model_evaluate and the trainer's validation pass. */
#ifndef AD_TRAIN_EVALUATE_H
#define AD_TRAIN_EVALUATE_H

#include <stdint.h>

#include "adapt.h"

/* The first largest of row[0 .. n), as torch.argmax. */
static inline int64_t ad_argmax(const float *row, int64_t n)
{
    int64_t best = 0;
    for (int64_t j = 1; j < n; j++)
        best = row[j] > row[best] ? j : best;
    return best;
}

typedef struct {
    int64_t count, correct;
    double loss_sum; /* sum over samples of the cross-entropy */
} ad_eval_counts;

/* Called for each batch of ad_evaluate_batches: x and labels are the context's. */
typedef adapt_status (*ad_batch_fn)(void *arg, adapt_context *ctx, adapt_tensor *x,
                                    const int32_t *labels);

/* The samples of `ds` in order, `batch_size` at a time, handed to `run` (the context reset
 * before each batch and after the last); stops at the first error. */
adapt_status ad_evaluate_batches(adapt_context *ctx, const adapt_dataset *ds,
                                 int32_t batch_size, ad_batch_fn run, void *arg, const char *fn);

/* Runs `model` over every sample of `ds` in order, `batch_size` at a time, in the current mode
 * of `ctx` (which it resets before each batch). Predictions are the first maximal logit, as
 * torch.argmax, among the sample's task's classes when `ds` has task classes. `confusion` (may be NULL) must hold classes x classes zeroed counts. Labels
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
