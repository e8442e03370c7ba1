/* Training modules on recordings of the submodules they stand for (teacher forcing): each
 * module i sees recording i's inputs, all modules in one loop of adapt_model_train()'s kind.
 * What a module learns is its objective's: distillation (its recording's outputs), or a
 * Mixture-of-Experts router (its experts' output norms). */
#ifndef AD_TRAIN_MODULE_OBJECTIVE_H
#define AD_TRAIN_MODULE_OBJECTIVE_H

#include <stdbool.h>

#include "adapt.h"

typedef struct {
    /* Module i's loss for a batch: its recorded inputs x and outputs target, taped; arg is
     * the objective's. */
    adapt_status (*loss)(adapt_tensor **loss, adapt_context *ctx, adapt_model *module,
                         adapt_tensor *x, adapt_tensor *target, const void *arg);
    const void *arg;
    /* The parameters of `module` that train into out[0 .. count) (out NULL: only the
     * count), or NULL: all of them. */
    int32_t (*params)(adapt_tensor **out, adapt_model *module);
    /* OK if `module` can learn this objective; messages name module i. */
    adapt_status (*check)(const adapt_model *module, int32_t i, const char *fn);
    bool mean; /* the batch loss averages the modules' losses, rather than sums them */
} ad_module_objective;

/* Trains modules[i] on recordings[i], i < n, under `objective` with `params` (NULL:
 * defaults); messages start with `fn`. Takes each module for writing while it runs. */
adapt_status ad_train_modules(adapt_model *const *modules,
                              const adapt_recording *const *recordings, int32_t n,
                              const adapt_train_params *params,
                              const ad_module_objective *objective, const char *fn);

#endif
