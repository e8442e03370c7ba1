/* The losses of training on boxes (docs/intervals.md): IBP training's, the clean
 * cross-entropy mixed with the cross-entropy of the worst-case logits of a box around each
 * input under the ramp of Gowal et al. that CROWN-IBP's IBP baseline uses; and the
 * contraction of interval continual learning, the worst-case cross-entropy gated by how the
 * recent worst-case accuracy compares with the clean one. */
#ifndef AD_TRAIN_IBP_H
#define AD_TRAIN_IBP_H

#include "adapt.h"

typedef struct {
    float epsilon, kappa; /* this step's radius and clean-loss weight */
} ad_ibp_step;

/* Step `step` (from 0) of `total`: nothing before the ramp, the final values after it. */
ad_ibp_step ad_ibp_schedule(const adapt_train_params *p, int64_t step, int64_t total);

/* kappa CE(model(x)) + (1 - kappa) CE(worst case over the box of radius epsilon around x,
 * within the params' input range), taped, each row over its task's classes (task_classes
 * > 0, task_heads.h); the model's plain cross-entropy at kappa 1. */
adapt_status ad_ibp_loss(adapt_tensor **loss, adapt_context *ctx, adapt_model *model,
                         adapt_tensor *x, const int32_t *labels, int32_t task_classes,
                         const adapt_train_params *p, ad_ibp_step s);

/* The clean and worst-case accuracies of the last AD_CONTRACTION_WINDOW batches (the
 * authors' metric_lookback). */
#define AD_CONTRACTION_WINDOW 10
typedef struct {
    double clean[AD_CONTRACTION_WINDOW], worst[AD_CONTRACTION_WINDOW];
    int32_t count, next;
} ad_contraction_window;

/* OK when `model` can train on boxes as `p` asks: its interval forward run once, in ctx's
 * training mode, on a box around the first sample of `ds` (UNSUPPORTED for a layer without
 * one, batch norm or active dropout; SHAPE, INVALID_ARGUMENT for inputs outside the range),
 * so that a model that cannot fails before its weights change. */
adapt_status ad_interval_training_check(adapt_context *ctx, adapt_model *model,
                                        const adapt_dataset *ds, const adapt_train_params *p,
                                        const char *fn);

/* CE of the worst-case logits over boxes of radius p->ibp_epsilon (0: the inputs as points)
 * while the window's mean worst-case accuracy, this batch's included, is below
 * p->interval_tau times its mean clean accuracy; else *loss = NULL: no step. */
adapt_status ad_contraction_loss(adapt_tensor **loss, adapt_context *ctx, adapt_model *model,
                                 adapt_tensor *x, const int32_t *labels, int32_t task_classes,
                                 const adapt_train_params *p, ad_contraction_window *w);

#endif
