/* Forward passes through every exit of a model, shared by the public forward, the recording
 * of a dataset's exit logits and the exit training phases. */
#ifndef AD_ADAPTIVE_EXIT_FORWARD_H
#define AD_ADAPTIVE_EXIT_FORWARD_H

#include <stdbool.h>

#include "adapt.h"

/* logits[0 .. heads] of every exit for a checked input. With `frozen_backbone` the blocks run
 * untaped in inference mode (batch-norm statistics neither used from the batch nor updated)
 * whatever the context's mode, and only the heads follow it. */
adapt_status ad_exits_forward(adapt_tensor **logits, adapt_context *ctx, adapt_model *model,
                              adapt_tensor *input, bool frozen_backbone);

#endif
