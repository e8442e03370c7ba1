/* Batch normalisation layer, torch.nn.BatchNorm2d with its defaults (momentum 0.1, eps 1e-5).
 * The running statistics are parameters without gradients, like PyTorch's buffers. */
#ifndef AD_NN_BATCHNORM_H
#define AD_NN_BATCHNORM_H

#include "lib/nn/params.h"

#define AD_BATCHNORM_MOMENTUM 0.1f
#define AD_BATCHNORM_EPS 1e-5f

typedef struct {
    adapt_tensor *weight, *bias, *running_mean, *running_var; /* [C] each */
} ad_batchnorm2d;

/* Adds "<prefix>weight", "bias", "running_mean", "running_var" (state_dict order). */
adapt_status ad_batchnorm2d_init(ad_batchnorm2d *bn, ad_param_list *params, const char *prefix,
                                 int64_t channels);

/* Batch statistics (updating the running ones) when ctx is training, else running ones. */
adapt_status ad_batchnorm2d_forward(adapt_tensor **out, adapt_context *ctx,
                                    const ad_batchnorm2d *bn, adapt_tensor *x);

#endif
