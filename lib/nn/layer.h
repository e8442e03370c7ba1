/* One layer of any adapt_layer_kind behind a single interface: validated against its input
 * shape, with its parameters named after the equivalent torch.nn module, its per-sample output
 * shape and FLOPs. Models are lists of blocks made of these. A layer holds no per-call state,
 * so any number of contexts may run it at once. */
#ifndef AD_NN_LAYER_H
#define AD_NN_LAYER_H

#include <stdbool.h>

#include "lib/nn/attention.h"
#include "lib/nn/batchnorm.h"
#include "lib/nn/conv.h"
#include "lib/nn/dims.h"
#include "lib/nn/layernorm.h"
#include "lib/nn/linear.h"
#include "lib/nn/params.h"
#include "lib/nn/patch_embed.h"
#include "lib/nn/residual.h"
#include "lib/nn/transformer.h"

/* Where a layer's parameters go in the state_dict. */
typedef struct {
    const char *prefix;       /* e.g. "3." or "blocks.3." */
    const char *token_prefix; /* patch embedding's cls_token/pos_embed; NULL = prefix */
    bool conv_without_bias;   /* a convolution followed by batch norm, as torchvision's */
} ad_layer_names;

/* adapt_layer_params fields a kind reads (ad_layer_fields). */
enum {
    AD_FIELD_OUT = 1u << 0,
    AD_FIELD_KERNEL = 1u << 1,
    AD_FIELD_STRIDE = 1u << 2,
    AD_FIELD_PADDING = 1u << 3,
    AD_FIELD_HEADS = 1u << 4,
    AD_FIELD_MLP_RATIO = 1u << 5,
    AD_FIELD_P = 1u << 6,
};

typedef struct {
    adapt_layer_params params; /* as given; only the fields of its kind matter */
    ad_dims in, out;           /* per sample */
    int64_t flops;             /* per sample; only products are counted (docs/models.md) */
    int64_t n_params;          /* values of its parameters, buffers included */
    union {
        ad_linear linear;
        ad_conv2d conv;
        ad_batchnorm2d batchnorm;
        ad_layernorm layernorm;
        ad_residual_block residual;
        ad_patch_embed patch;
        ad_transformer_block transformer;
    } u;
} ad_layer;

/*
 * Validates `params` for per-sample input `in` and creates the layer's parameters in `list`.
 * Errors (messages start with `fn`): unknown kind or out-of-range field -> INVALID_ARGUMENT,
 * NaN/inf in a float field -> NONFINITE, input shape the layer cannot take -> SHAPE, sizes
 * that overflow -> OVERFLOW. On error the list is as it was.
 */
adapt_status ad_layer_init(ad_layer *layer, const adapt_layer_params *params, const ad_dims *in,
                           ad_param_list *list, const ad_layer_names *names, const char *fn);

/* x[N, in...] -> [N, out...]; a flattening layer also takes any x with N samples of the
 * right size (ad_layer_flattens). */
adapt_status ad_layer_forward(adapt_tensor **out, adapt_context *ctx, const ad_layer *layer,
                              adapt_tensor *x);

/* layers[0 .. n) in order. A linear layer and the activation after it run as one
 * (ad_linear_forward_act): fused without a tape, the same ops with one. */
adapt_status ad_layers_forward(adapt_tensor **out, adapt_context *ctx, const ad_layer *layers,
                               int32_t n, adapt_tensor *x);

/* Whether layers[0 .. n), run by ad_layers_forward without a tape and outside training,
 * allocate nothing but their output: one fused linear layer and activation, or convolution,
 * batch norm and ReLU, then only dropout (the identity there). */
bool ad_layers_leave_only_output(const ad_layer *layers, int32_t n);

bool ad_layer_flattens(const ad_layer *layer);

/* AD_FIELD_* bits of the fields `kind` reads; 0 for an unknown kind. */
uint32_t ad_layer_fields(int32_t kind);

/* "linear", "conv2d", ...; NULL for an unknown kind. */
const char *ad_layer_kind_name(int32_t kind);

/* Inverse of ad_layer_kind_name; -1 for an unknown name. */
int32_t ad_layer_kind_from_name(const char *name);

/* Hidden width of a transformer MLP: floor(mlp_ratio * dim) as timm's int(dim * mlp_ratio),
 * or -1 when it does not fit. */
int64_t ad_mlp_hidden(float mlp_ratio, int64_t dim);

#endif
