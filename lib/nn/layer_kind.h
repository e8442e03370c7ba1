/* A layer kind described once: its name, the adapt_layer_params fields it reads with their
 * ranges, and the functions that give its output shape, create its parameters, run it and
 * count its cost. Each kind's file in lib/nn/kinds/ defines one; layer_kinds.def lists them
 * by their adapt_layer_kind value, and nothing else in the library switches over kinds. */
#ifndef AD_NN_LAYER_KIND_H
#define AD_NN_LAYER_KIND_H

#include <stdbool.h>
#include <stddef.h>

#include "adapt.h"
#include "lib/kernels/epilogue.h"
#include "lib/nn/dims.h"
#include "lib/nn/override.h"
#include "lib/nn/params.h"
#include "lib/ops/interval.h"

typedef enum { AD_FIELD_INT32, AD_FIELD_INT64, AD_FIELD_FLOAT } ad_field_type;

enum {
    AD_FIELD_OPEN_LO = 1u << 0,  /* lo itself is refused */
    AD_FIELD_OPEN_HI = 1u << 1,  /* hi itself is refused */
    AD_FIELD_REQUIRED = 1u << 2, /* a description must carry it: it has no fallback */
};

/* One field of adapt_layer_params that a kind reads. */
typedef struct {
    const char *name;   /* the member's name, also its JSON name */
    size_t offset;      /* offsetof(adapt_layer_params, member) */
    ad_field_type type;
    double lo, hi;      /* accepted range (flags say whether the ends are in it) */
    unsigned flags;
    double fallback;    /* the value a description that lacks the field means */
} ad_layer_field;

#define AD_FIELD(member, type, lo, hi, flags, fallback) \
    {#member, offsetof(adapt_layer_params, member), type, lo, hi, flags, fallback}
/* A count of at least 1: a width, a kernel, a stride, heads. */
#define AD_FIELD_COUNT32(member, fallback) \
    AD_FIELD(member, AD_FIELD_INT32, 1, INT32_MAX, 0, fallback)
#define AD_FIELD_WIDTH(member) \
    AD_FIELD(member, AD_FIELD_INT64, 1, INT64_MAX, AD_FIELD_REQUIRED, 0)
/* A probability in [0, 1). */
#define AD_FIELD_PROBABILITY(member) \
    AD_FIELD(member, AD_FIELD_FLOAT, 0, 1, AD_FIELD_OPEN_HI, 0)

/* Where a layer's parameters go in the state_dict. */
typedef struct {
    const char *prefix;       /* e.g. "3." or "blocks.3." */
    const char *token_prefix; /* patch embedding's cls_token/pos_embed; NULL = prefix */
    bool conv_without_bias;   /* a convolution followed by batch norm, as torchvision's */
} ad_layer_names;

struct ad_layer;

/* A part of a layer that a module may replace, e.g. a transformer block's "mlp". */
typedef struct {
    const char *name;  /* its path below the layer's */
    size_t offset;     /* of its ad_override in the kind's state */
    /* Its per-sample output for the layer's input (its input); NULL: the layer's input. */
    ad_dims (*out_shape)(const struct ad_layer *l);
    /* The built-in part of layer l, whatever replaces it: x[N, in...] -> [N, in...]. */
    adapt_status (*forward)(adapt_tensor **out, adapt_context *ctx, const struct ad_layer *l,
                            adapt_tensor *x);
    /* The part's own FLOPs per sample, as the kind counts them in its total. */
    int64_t (*flops)(const struct ad_layer *l);
} ad_layer_part;

typedef struct ad_layer_kind {
    const char *name; /* "linear", ...: the JSON "kind" */
    const ad_layer_field *fields;
    int32_t n_fields;
    /* Rules between fields beyond their ranges (NULL: none): INVALID_ARGUMENT. */
    adapt_status (*check)(const adapt_layer_params *p, const char *fn);
    /* Per-sample output on `in`; SHAPE when the kind cannot take `in`. */
    adapt_status (*shape)(ad_dims *out, const adapt_layer_params *p, const ad_dims *in,
                          const char *fn);
    /* Creates the parameters of l (params and shapes set) into its state; NULL: none. */
    adapt_status (*init)(struct ad_layer *l, ad_param_list *list, const ad_layer_names *names);
    /* x[N, in...] -> [N, out...]: taped when the context records, else the kind's
     * inference path (e.g. a linear layer's fused untaped product), the same values. */
    adapt_status (*forward)(adapt_tensor **out, adapt_context *ctx, const struct ad_layer *l,
                            adapt_tensor *x);
    /* The bounds of its output over a box of inputs (lib/ops/interval.h), taped when the
     * context records; NULL: the kind has none. */
    adapt_status (*interval)(ad_interval *out, adapt_context *ctx, const struct ad_layer *l,
                             const ad_interval *x);
    /* Forward FLOPs per sample (multiply-add = 2; products only); NULL: 0. */
    int64_t (*flops)(const struct ad_layer *l);
    /* The activation this kind is, which a linear layer before it runs fused (AD_ACT_NONE:
     * none). */
    ad_act activation;
    /* Takes any [N, ...] with the input's number of values per sample. */
    bool flattens;
    /* Its work depends on the data: its forward charges each row what ran for it
     * (lib/core/meter.h), and the block around it charges none of `flops`, its maximum. */
    bool meters_itself;
    /* Without a tape its forward leaves nothing in the context's arena but its output (or
     * returns a view): a block it ends alone needs no copy to hand back its memory. */
    bool leaves_only_output;
    /* A skip connection: the model appends the output of block `source` (the layer's field)
     * to the block's input on the channel axis before the block runs, so the layer takes,
     * and its shape function sees, the joined input (lib/models/join.c). */
    bool joins_block;
    /* Parts, taking the layer's per-sample input, that may be replaced. */
    const ad_layer_part *parts;
    int32_t n_parts;
} ad_layer_kind;

#define AD_FIELDS(array) .fields = (array), .n_fields = (int32_t)(sizeof(array) / sizeof *(array))

/* The kind of enum value `kind` (adapt_layer_kind), or NULL for an unknown value. */
const ad_layer_kind *ad_layer_kind_of(int32_t kind);

/* The enum value of the kind called `name`, or -1. */
int32_t ad_layer_kind_from_name(const char *name);

/* Number of kinds: the enum's values are [0, count). */
int32_t ad_layer_kind_count(void);

/* Field `f` of `p` as a double, and set from one (the caller checked the range). */
double ad_field_get(const adapt_layer_params *p, const ad_layer_field *f);
void ad_field_set(adapt_layer_params *p, const ad_layer_field *f, double value);

/* NONFINITE for a NaN or infinite float field, INVALID_ARGUMENT for a value outside its
 * range, then the kind's own check. */
adapt_status ad_layer_kind_check(const ad_layer_kind *kind, const adapt_layer_params *p,
                                 const char *fn);

#endif
