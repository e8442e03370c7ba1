/* Skip connections between blocks: a block whose first layer's kind joins blocks (the
 * "concat" kind) takes the previous block's output with the output of block `source`
 * appended on the channel axis, as a U-Net's decoder takes its encoder's features. */
#ifndef AD_MODELS_JOIN_H
#define AD_MODELS_JOIN_H

#include "lib/models/model_impl.h"

/* The input of a block to append with first layer `p` after the model's blocks: their last
 * output, joined with block p->source's when p's kind joins (*join = p->source, else -1).
 * Joining needs [C, H, W] outputs of the same H and W: else SHAPE; a source that is not an
 * earlier block: INVALID_ARGUMENT. */
adapt_status ad_join_input(ad_dims *in, int32_t *join, const adapt_model *model,
                           const adapt_layer_params *p, const char *fn);

/* Whether any of blocks [first, last) joins another's output. */
bool ad_joins_within(const adapt_model *model, int32_t first, int32_t last);

/* x joined with the output of the source of block b, kept in outputs[] by a pass that began
 * at block `first`: a source before `first` was not computed by it (INVALID_ARGUMENT). */
adapt_status ad_join_run(adapt_tensor **x, adapt_context *ctx, const adapt_model *model,
                         int32_t b, int32_t first, adapt_tensor *const *outputs, const char *fn);

#endif
