/* The activation-sparsity penalty of D2DMoE's first step: while a context trains with it on,
 * every ReLU output of a forward pass (a ReLU layer's, or a linear layer's or convolution's
 * fused one) adds its squared Hoyer measure to the context's sum, which the trainer adds to
 * the loss, weighted and averaged over the outputs noted. Sparse ReLU outputs are what make
 * a dense network's experts skippable. */
#ifndef AD_NN_SPARSITY_H
#define AD_NN_SPARSITY_H

#include "lib/core/context.h"

/* Notes y, a ReLU's output, when the context penalises and records; else nothing. */
adapt_status ad_sparsity_note(adapt_context *ctx, adapt_tensor *y);

#endif
