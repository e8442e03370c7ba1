/* One layer of any kind behind a single interface: validated against its input shape, with
 * its parameters named after the equivalent torch.nn module, its per-sample output shape and
 * FLOPs. What a kind is and does comes from its table entry (layer_kind.h); a layer holds no
 * per-call state, so any number of contexts may run it at once. */
#ifndef AD_NN_LAYER_H
#define AD_NN_LAYER_H

#include <stdalign.h>
#include <stdbool.h>

#include "lib/nn/layer_kind.h"

/* Bytes a kind's state may take (each kind asserts that its own fits). */
#define AD_LAYER_STATE_BYTES 512

typedef struct ad_layer {
    const ad_layer_kind *kind;
    char path[AD_PREFIX_MAX];  /* PyTorch's module path, e.g. "blocks.3": its prefix */
    ad_override replaced;      /* a module that runs instead of the whole layer */
    adapt_layer_params params; /* as given; only the fields of its kind matter */
    ad_dims in, out;           /* per sample */
    int64_t flops;             /* per sample; only products are counted (docs/models.md) */
    int64_t n_params;          /* values of its parameters, buffers included */
    alignas(16) unsigned char state[AD_LAYER_STATE_BYTES]; /* the kind's, e.g. an ad_conv2d */
} ad_layer;

/* The kind's state of layer l, as `type`. */
#define AD_LAYER_STATE(l, type) ((type *)(void *)(l)->state)
#define AD_LAYER_STATE_FITS(type) \
    _Static_assert(sizeof(type) <= AD_LAYER_STATE_BYTES, #type " outgrows ad_layer's state")

/*
 * Validates `params` for per-sample input `in` and creates the layer's parameters in `list`.
 * Errors (messages start with `fn`): unknown kind or out-of-range field -> INVALID_ARGUMENT,
 * NaN/inf in a float field -> NONFINITE, input shape the layer cannot take -> SHAPE, sizes
 * that overflow -> OVERFLOW. On error the list and *layer are as they were.
 */
adapt_status ad_layer_init(ad_layer *layer, const adapt_layer_params *params, const ad_dims *in,
                           ad_param_list *list, const ad_layer_names *names, const char *fn);

/* x[N, in...] -> [N, out...], taped when the context records: the replacing module if one
 * is set. A flattening layer also takes any x with N samples of the right size. */
adapt_status ad_layer_forward(adapt_tensor **out, adapt_context *ctx, const ad_layer *layer,
                              adapt_tensor *x);

/* The interval forward of a kind whose forward is nondecreasing in every input value (ReLU,
 * pooling, reshapes): its forward on each bound and on mid. */
adapt_status ad_layer_interval_monotone(ad_interval *out, adapt_context *ctx, const ad_layer *l,
                                        const ad_interval *x);

/* Override `part` of layer l (its slot in the kind's state). */
ad_override *ad_layer_part_slot(ad_layer *l, const ad_layer_part *part);

/* Whether layer l runs as its kind alone: neither it nor any part replaced. Fused paths that
 * recognise kinds take only such layers. */
bool ad_layer_is_builtin(const ad_layer *l);

/* Hidden width of a transformer MLP: floor(mlp_ratio * dim) as timm's int(dim * mlp_ratio),
 * or -1 when it does not fit. */
int64_t ad_mlp_hidden(float mlp_ratio, int64_t dim);

#endif
