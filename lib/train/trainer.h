/* The training loop behind adapt_model_train(), open to other objectives: the early-exit
 * regimes train other losses over other subsets of a model's parameters with it. */
#ifndef AD_TRAIN_TRAINER_H
#define AD_TRAIN_TRAINER_H

#include "adapt.h"

/* The loss of one batch x [n, ...] with labels[n], recorded on `ctx`'s tape; `settings` are
 * the checked training parameters (its loss kind and label smoothing). */
typedef adapt_status (*ad_loss_fn)(adapt_tensor **loss, adapt_context *ctx, void *arg,
                                   adapt_tensor *x, const int32_t *labels,
                                   const adapt_train_params *settings);

/* The loss of the samples at positions rows[0 .. n) of an objective's own data, recorded on
 * `ctx`'s tape: for data that is no labelled dataset (recorded activations). */
typedef adapt_status (*ad_rows_loss_fn)(adapt_tensor **loss, adapt_context *ctx, void *arg,
                                        const int64_t *rows, int64_t n);

typedef struct {
    ad_loss_fn loss; /* NULL: the cross-entropy of adapt_model_forward() */
    void *arg;
    adapt_tensor **params; /* trained and clipped; NULL: the model's backbone parameters */
    int32_t n_params;
    /* Instead of a model on a labelled dataset: `rows` samples that rows_loss assembles
     * itself (train and validation NULL; `params` required unless a model is given, whose
     * backbone parameters they then are). */
    ad_rows_loss_fn rows_loss;
    int64_t rows;
} ad_train_objective;

/* adapt_model_train() of `objective` (NULL: the plain one); messages start with `fn`.
 * Validation measures the model's final output whatever the objective. */
adapt_status ad_train_run(adapt_model *model, const adapt_dataset *train,
                          const adapt_dataset *validation, const adapt_train_params *params,
                          const ad_train_objective *objective, const char *fn);

#endif
