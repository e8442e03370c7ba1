/* "low_rank_linear": a linear layer plus a low-rank term, y = x W^T + b + ((x R^T) * s) L^T
 * with L [out, r], s [r], R [r, in]. LoRA trains L and R (s the constant alpha / r);
 * singular-value fine-tuning trains s on frozen singular vectors L = U, R = V^T. Which of the
 * parameters train is their requires_grad (adapt_param_set_requires_grad). */
#ifndef AD_TRANSFER_LOW_RANK_LINEAR_H
#define AD_TRANSFER_LOW_RANK_LINEAR_H

#include "lib/nn/linear.h"

typedef struct {
    ad_linear base;       /* W [out, in] and b [out] */
    adapt_tensor *left;   /* L [out, r] */
    adapt_tensor *scales; /* s [r] */
    adapt_tensor *right;  /* R [r, in] */
    int64_t rank;
} ad_low_rank_linear;

#endif
