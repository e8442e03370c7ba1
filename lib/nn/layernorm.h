/* Layer normalisation over the last axis, torch.nn.LayerNorm with its default eps 1e-5
 * (used everywhere, transformer blocks included). */
#ifndef AD_NN_LAYERNORM_H
#define AD_NN_LAYERNORM_H

#include "lib/nn/params.h"

#define AD_LAYERNORM_EPS 1e-5f

typedef struct {
    adapt_tensor *weight, *bias; /* [D] each */
} ad_layernorm;

/* Adds "<prefix>weight" and "<prefix>bias". */
adapt_status ad_layernorm_init(ad_layernorm *ln, ad_param_list *params, const char *prefix,
                               int64_t dim);

adapt_status ad_layernorm_forward(adapt_tensor **out, adapt_context *ctx, const ad_layernorm *ln,
                                  adapt_tensor *x);

#endif
