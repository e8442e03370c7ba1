/* The dense two-layer network that runs at a path of a model, x -> act(x W1^T + b1) W2^T + b2
 * (torch.nn.Linear layouts): a transformer block's built-in MLP, or a module of linear, ReLU
 * or GELU, linear replacing a submodule, or a slice of an MLP's layers ("0:3": linear, ReLU,
 * linear). What D2DMoE starts from: its activation swapped
 * (adapt_ffn_module) and its hidden units split into experts (adapt_moe_from_ffn). */
#ifndef AD_ADAPTIVE_FFN_H
#define AD_ADAPTIVE_FFN_H

#include "lib/kernels/epilogue.h"
#include "lib/models/model_impl.h"
#include "lib/nn/linear.h"

typedef struct {
    const ad_linear *first, *second;
    ad_act act;
    ad_dims in; /* per sample */
} ad_ffn;

/* The network at `path` of `model`; INVALID_ARGUMENT (naming fn and the path) when none
 * runs there, NONFINITE when its weights hold NaN or infinity. */
adapt_status ad_ffn_at(ad_ffn *ffn, const adapt_model *model, const char *path,
                       const char *fn);

#endif
