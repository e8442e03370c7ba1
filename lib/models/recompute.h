/* Activation checkpointing of a model's blocks (recompute.c). */
#ifndef AD_MODELS_RECOMPUTE_H
#define AD_MODELS_RECOMPUTE_H

#include "lib/models/model_impl.h"

/* Tensors a block may read from outside itself: its input and its (and its replacements')
 * parameters. */
#define AD_RECOMPUTE_MAX_INPUTS 256

/* The block's output, keeping none of its other activations; its backward reruns it. */
adapt_status ad_block_run_recomputed(adapt_tensor **out, adapt_context *ctx, const ad_block *b,
                                     adapt_tensor *x);

#endif
