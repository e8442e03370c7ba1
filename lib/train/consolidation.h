/* The quadratic penalty of EWC and SI (adapt_consolidation): importance Omega and anchor
 * theta* for each parameter of a model, the penalty weight * sum Omega (theta - theta*)^2
 * added to a training step, and SI's path integral of the steps' contributions to the loss.
 * One penalty, two ways of weighing: EWC's Fisher information (fisher.c), SI's path
 * integral (here, from the trainer's steps). */
#ifndef AD_TRAIN_CONSOLIDATION_H
#define AD_TRAIN_CONSOLIDATION_H

#include <stdint.h>

#include "adapt.h"

#define AD_CONSOLIDATION_MAGIC 0xc0a5011du

/* Per parameter, `numel` floats each. */
typedef struct {
    int64_t numel;
    float *importance, *anchor; /* Omega, theta* */
    float *path;                /* SI: omega, the task's -sum g (theta' - theta) so far */
    float *grad, *before;       /* SI, within a step: the unpenalised gradient, theta */
} ad_consolidated;

struct adapt_consolidation {
    uint32_t magic;
    int32_t kind;  /* adapt_consolidation_kind */
    float damping; /* SI's xi */
    int32_t n;     /* parameters of the model it was made for */
    ad_consolidated *params;
    float *block; /* every array above */
};

/* INVALID_ARGUMENT unless `c` is live and made for a model with `model`'s parameters. */
adapt_status ad_consolidation_check(const adapt_consolidation *c, const adapt_model *model,
                                    const char *fn);

/* After backward, before clipping: keeps SI's unpenalised gradients and the weights, adds
 * the penalty's gradient to every parameter that trains (params[i] is the model's i-th) and
 * its value to *loss. */
void ad_consolidation_before_step(adapt_consolidation *c, adapt_tensor *const *params,
                                  int32_t n, float weight, float *loss);

/* After the update: SI adds -g (theta' - theta) to each weight's path. */
void ad_consolidation_after_step(adapt_consolidation *c, adapt_tensor *const *params, int32_t n);

#endif
