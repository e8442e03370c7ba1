/* Optimizers over an array of parameter tensors, with PyTorch's update rules (torch.optim.SGD
 * and torch.optim.AdamW), and global gradient-norm clipping (torch.nn.utils.clip_grad_norm_).
 * Parameters that do not require gradients (frozen weights, running statistics) are skipped
 * and keep their values. */
#ifndef AD_TRAIN_OPTIMIZER_H
#define AD_TRAIN_OPTIMIZER_H

#include <stdbool.h>

#include "adapt.h"
#include "lib/core/threads.h"

typedef struct {
    adapt_optimizer_kind kind;
    float momentum;     /* SGD; 0 = plain gradient descent */
    bool nesterov;      /* SGD; needs momentum > 0 */
    float weight_decay; /* SGD: added to the gradient; AdamW: decoupled */
    float beta1, beta2, eps; /* AdamW */
} ad_optim_config;

typedef struct ad_optimizer ad_optimizer;

/* An optimizer for `params` (borrowed; they must outlive it), with zeroed state. The
 * configuration is trusted: the trainer validates it. */
adapt_status ad_optimizer_create(ad_optimizer **out, const ad_optim_config *config,
                                 adapt_tensor *const *params, int32_t count);
void ad_optimizer_free(ad_optimizer *opt);

/* One update with learning rate `lr` from the accumulated gradients, which are then zeroed;
 * on the threads of `pool` (NULL: the caller's). */
void ad_optimizer_step(ad_optimizer *opt, float lr, ad_pool *pool);

/* Sets the gradients of every parameter to zero. */
void ad_zero_grads(adapt_tensor *const *params, int32_t count);

/* Global L2 norm of the gradients into *norm; when it exceeds max_norm (> 0) they are scaled
 * by max_norm / (norm + 1e-6). A non-finite norm is NONFINITE and changes nothing. */
adapt_status ad_clip_grad_norm(double *norm, adapt_tensor *const *params, int32_t count,
                               float max_norm, ad_pool *pool);

#endif
