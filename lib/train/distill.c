/* adapt_modules_distill: module-wise distillation, the first module objective. Each module
 * learns its submodule's recorded function on the submodule's own recorded inputs (teacher
 * forcing), all modules in one training loop whose batch loss is the sum of their mean
 * squared errors. */
#include "lib/models/model_impl.h"
#include "lib/ops/ops.h"
#include "lib/train/module_objective.h"

static adapt_status mse_loss(adapt_tensor **loss, adapt_context *ctx, adapt_model *module,
                             adapt_tensor *x, adapt_tensor *target, const void *unused)
{
    (void)unused;
    adapt_tensor *y;
    adapt_status st = ad_model_forward(&y, ctx, module, x);
    return st ? st : ad_op_mse(loss, ctx, y, target);
}

adapt_status adapt_modules_distill(adapt_model *const *modules,
                                   const adapt_recording *const *recordings, int32_t n,
                                   const adapt_train_params *params)
{
    static const ad_module_objective distillation = {.loss = mse_loss};
    return ad_train_modules(modules, recordings, n, params, &distillation,
                            "adapt_modules_distill");
}
