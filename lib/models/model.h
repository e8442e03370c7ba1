/* Internal model interface for the checkpoint code (lib/io) and other library parts that must
 * describe a model without knowing its kind: the architecture as JSON text, and the inverse. */
#ifndef AD_MODELS_MODEL_H
#define AD_MODELS_MODEL_H

#include "adapt.h"
#include "lib/core/busy.h"
#include "lib/ops/interval.h"

/* Largest parameter count (values, buffers included), and largest block count and array length
 * ("sizes", "stage_*", "layers", "input_shape"), that ad_model_from_architecture() accepts. */
#define AD_MODEL_MAX_ARCH_PARAMS ((int64_t)1 << 28)
#define AD_MODEL_MAX_ARCH_ENTRIES 65536

/*
 * The architecture of `model` as the text of one JSON object (UTF-8, no trailing newline), or
 * NULL when `model` is NULL. Owned by the model: valid as long as it, never changed by forward
 * passes or training, rebuilt by adapt_model_append() (so re-read it after appending). Safe to
 * read from several threads at once.
 *
 * It holds everything that determines the parameter list and the forward computation, but no
 * weights. Every object has "format": 1 and "kind"; "seed" is a decimal string (uint64 does not
 * fit JSON integers portably). Float fields are JSON reals that round-trip exactly to float.
 *
 *   {"format":1,"kind":"mlp","sizes":[784,256,10],"activation":"relu","dropout":0.5,
 *    "seed":"42"}
 *   {"format":1,"kind":"cnn","in_channels":3,"image_size":32,"n_classes":10,
 *    "stem_channels":16,"stage_channels":[16,32],"stage_blocks":[2,2],
 *    "stage_strides":[1,2],"seed":"42"}
 *   {"format":1,"kind":"vit","image_size":32,"in_channels":3,"patch":4,"dim":192,"depth":6,
 *    "heads":3,"mlp_ratio":4.0,"n_classes":10,"dropout":0.0,"seed":"42"}
 *   {"format":1,"kind":"sequential","input_shape":[1,28,28],"seed":"42",
 *    "layers":[{"kind":"conv2d","out_features":8,"kernel":3,"stride":1,"padding":1},
 *              {"kind":"relu"}, {"kind":"flatten"}, {"kind":"linear","out_features":10}]}
 *
 * A model with replaced submodules has a "replaced" member: an array of
 *   {"path":"blocks.3.mlp","module":{the replacing model's architecture}}
 * objects (replace.c). Each attachment type adds a member listing its attachments, e.g.
 * "exits" for early-exit heads (lib/models/attachment.h).
 *
 * Sequential layer kinds are "linear", "conv2d", "batchnorm2d", "layernorm", "maxpool2d",
 * "avgpool2d", "global_avgpool", "dropout", "relu", "gelu", "flatten", "residual_block",
 * "patch_embed", "transformer_block", "class_token"; each layer object carries only the
 * adapt_layer_params fields that kind uses ("out_features", "kernel", "stride", "padding",
 * "heads", "mlp_ratio", "p").
 */
const char *ad_model_architecture(const adapt_model *model);

/*
 * Builds a new model from architecture text produced by ad_model_architecture(): same kind,
 * blocks, parameter names, shapes and order; weights freshly initialised from the recorded
 * seed (so they equal those of the original model right after creation). Owned: free with
 * adapt_model_free().
 *
 * Errors: NULL out/json -> INVALID_ARGUMENT. Text that is not valid JSON, an unknown "format"
 * or "kind", a missing field or one of the wrong JSON type -> FORMAT. Values that the
 * corresponding create function rejects (e.g. dim not divisible by heads, absurd sizes) are
 * also reported as FORMAT, since the text is then corrupt or hostile, and so is a model of
 * more than min(max_values, AD_MODEL_MAX_ARCH_PARAMS) parameter values (a checkpoint passes
 * the values it holds), more than AD_MODEL_MAX_ARCH_ENTRIES blocks or a longer array; no
 * input crashes or allocates without bound. A failed allocation is OUT_OF_MEMORY. *out is
 * untouched on error.
 */
adapt_status ad_model_from_architecture(adapt_model **out, const char *json,
                                        int64_t max_values);

/* Number of the model's parameters before those of its heads: adapt_model_param(0 .. count)
 * are the backbone's. */
int32_t ad_backbone_param_count(const adapt_model *model);

/* The record of adapt_model_param(). */
adapt_tensor *ad_model_param(const adapt_model *model, int32_t index);

/* The model's side of the single-writer rule (lib/core/busy.h): public function `fn` holds it
 * for `access` until ad_busy_leave(hold), or gets STATE. A NULL model holds nothing. */
adapt_status ad_model_enter(ad_hold *hold, adapt_model *model, ad_access access,
                            const char *fn);

/* What a forward pass in `ctx` does to a model: a training context writes it (batch-norm
 * running statistics), any other only reads it. */
ad_access ad_forward_access(const adapt_context *ctx);

/* The start of a public forward pass of `model` in `ctx` on the caller's `input` (`out` its
 * result): checks the arguments, finds the record of the input (*x) and holds the model for
 * what the pass does to it, until ad_busy_leave(hold). */
adapt_status ad_forward_enter(adapt_tensor **x, ad_hold *hold, adapt_tensor **out,
                              adapt_context *ctx, adapt_model *model, adapt_tensor *input,
                              const char *fn);

/* adapt_model_forward_blocks() and adapt_model_forward() on records, with the model held by
 * the caller. */
adapt_status ad_model_forward_blocks(adapt_tensor **out, adapt_context *ctx, adapt_model *model,
                                     adapt_tensor *input, int32_t first, int32_t last);
adapt_status ad_model_forward(adapt_tensor **logits, adapt_context *ctx, adapt_model *model,
                              adapt_tensor *input);

/* SHAPE unless x is N >= 1 samples of the input of the model's first block, or of as many
 * values when that block starts by flattening (forward.c). The model has blocks. */
adapt_status ad_model_check_input(const adapt_model *model, const adapt_tensor *x,
                                  const char *fn);

/* The bounds of the model's output over the box `in` (interval.c): every layer's interval
 * forward in turn, taped when the context records. UNSUPPORTED naming the first layer without
 * one, or replaced by a module. The caller checked `in` (its shape with
 * ad_model_check_input) and holds the model. */
adapt_status ad_model_interval(ad_interval *out, adapt_context *ctx, const adapt_model *model,
                               const ad_interval *in, const char *fn);

#endif
