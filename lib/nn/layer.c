#include "lib/nn/layer.h"

#include <string.h>

#include "lib/core/error.h"
#include "lib/core/tensor.h"
#include "lib/nn/activation.h"
#include "lib/nn/class_token.h"
#include "lib/nn/conv_bn.h"
#include "lib/nn/flatten.h"
#include "lib/nn/layer_shape.h"
#include "lib/nn/pool.h"

static const struct {
    const char *name;
    uint32_t fields;
} kinds[] = {
    [ADAPT_LAYER_LINEAR] = {"linear", AD_FIELD_OUT},
    [ADAPT_LAYER_CONV2D] = {"conv2d",
                            AD_FIELD_OUT | AD_FIELD_KERNEL | AD_FIELD_STRIDE | AD_FIELD_PADDING},
    [ADAPT_LAYER_BATCHNORM2D] = {"batchnorm2d", 0},
    [ADAPT_LAYER_LAYERNORM] = {"layernorm", 0},
    [ADAPT_LAYER_MAXPOOL2D] = {"maxpool2d", AD_FIELD_KERNEL | AD_FIELD_STRIDE | AD_FIELD_PADDING},
    [ADAPT_LAYER_AVGPOOL2D] = {"avgpool2d", AD_FIELD_KERNEL | AD_FIELD_STRIDE | AD_FIELD_PADDING},
    [ADAPT_LAYER_GLOBAL_AVGPOOL] = {"global_avgpool", 0},
    [ADAPT_LAYER_DROPOUT] = {"dropout", AD_FIELD_P},
    [ADAPT_LAYER_RELU] = {"relu", 0},
    [ADAPT_LAYER_GELU] = {"gelu", 0},
    [ADAPT_LAYER_FLATTEN] = {"flatten", 0},
    [ADAPT_LAYER_RESIDUAL_BLOCK] = {"residual_block", AD_FIELD_OUT | AD_FIELD_STRIDE},
    [ADAPT_LAYER_PATCH_EMBED] = {"patch_embed", AD_FIELD_OUT | AD_FIELD_KERNEL},
    [ADAPT_LAYER_TRANSFORMER_BLOCK] = {"transformer_block",
                                       AD_FIELD_HEADS | AD_FIELD_MLP_RATIO | AD_FIELD_P},
    [ADAPT_LAYER_CLASS_TOKEN] = {"class_token", 0},
};

static const int32_t n_kinds = (int32_t)(sizeof kinds / sizeof kinds[0]);

const char *ad_layer_kind_name(int32_t kind)
{
    return kind >= 0 && kind < n_kinds ? kinds[kind].name : NULL;
}

uint32_t ad_layer_fields(int32_t kind)
{
    return kind >= 0 && kind < n_kinds ? kinds[kind].fields : 0;
}

int32_t ad_layer_kind_from_name(const char *name)
{
    for (int32_t k = 0; name && k < n_kinds; k++)
        if (strcmp(kinds[k].name, name) == 0)
            return k;
    return -1;
}

/* Creates the parameters of a layer whose params and shapes are already set. */
static adapt_status build(ad_layer *l, ad_param_list *list, const ad_layer_names *names)
{
    const adapt_layer_params *p = &l->params;
    const char *prefix = names->prefix;
    const int64_t in_features = ad_dims_numel(&l->in);
    const int64_t width = l->in.ndim ? l->in.d[l->in.ndim - 1] : 1;
    switch (p->kind) {
    case ADAPT_LAYER_LINEAR:
        return ad_linear_init(&l->u.linear, list, prefix, in_features, p->out_features, true);
    case ADAPT_LAYER_CONV2D:
        return ad_conv2d_init(&l->u.conv, list, prefix, l->in.d[0], p->out_features, p->kernel,
                              p->stride, p->padding, !names->conv_without_bias);
    case ADAPT_LAYER_BATCHNORM2D:
        return ad_batchnorm2d_init(&l->u.batchnorm, list, prefix, l->in.d[0]);
    case ADAPT_LAYER_LAYERNORM:
        return ad_layernorm_init(&l->u.layernorm, list, prefix, width);
    case ADAPT_LAYER_RESIDUAL_BLOCK:
        return ad_residual_block_init(&l->u.residual, list, prefix, l->in.d[0],
                                      p->out_features, p->stride);
    case ADAPT_LAYER_PATCH_EMBED:
        return ad_patch_embed_init(&l->u.patch, list,
                                   names->token_prefix ? names->token_prefix : prefix, prefix,
                                   l->in.d[0], l->in.d[1], l->in.d[2], p->kernel,
                                   p->out_features);
    case ADAPT_LAYER_TRANSFORMER_BLOCK:
        return ad_transformer_block_init(&l->u.transformer, list, prefix, width, p->heads,
                                         ad_mlp_hidden(p->mlp_ratio, width), p->p);
    default: /* no parameters */
        return ADAPT_OK;
    }
}

static int64_t count_flops(const ad_layer *l)
{
    switch (l->params.kind) {
    case ADAPT_LAYER_LINEAR:
        return ad_linear_flops(&l->u.linear, 1);
    case ADAPT_LAYER_CONV2D:
        return ad_conv2d_flops(&l->u.conv, l->out.d[1], l->out.d[2]);
    case ADAPT_LAYER_RESIDUAL_BLOCK:
        return ad_residual_block_flops(&l->u.residual, l->out.d[1], l->out.d[2]);
    case ADAPT_LAYER_PATCH_EMBED:
        return ad_patch_embed_flops(&l->u.patch);
    case ADAPT_LAYER_TRANSFORMER_BLOCK:
        return ad_transformer_block_flops(&l->u.transformer, l->in.d[0]);
    default: /* elementwise, normalisation, pooling and reshaping: not counted */
        return 0;
    }
}

adapt_status ad_layer_init(ad_layer *layer, const adapt_layer_params *params, const ad_dims *in,
                           ad_param_list *list, const ad_layer_names *names, const char *fn)
{
    ad_layer l = {.params = *params, .in = *in};
    adapt_status st = ad_layer_check_params(params, fn);
    if (!st)
        st = ad_layer_out_shape(&l.out, params, in, fn);
    if (st)
        return st;
    const int32_t first = list->count;
    const int64_t values = list->values;
    st = build(&l, list, names);
    l.flops = count_flops(&l);
    if (!st && l.flops == INT64_MAX)
        st = ad_fail(ADAPT_ERR_OVERFLOW, "%s: the layer's FLOP count does not fit", fn);
    if (st) {
        ad_params_truncate(list, first);
        return st;
    }
    l.n_params = list->values - values;
    *layer = l;
    return ADAPT_OK;
}

bool ad_layer_flattens(const ad_layer *layer)
{
    return layer->params.kind == ADAPT_LAYER_LINEAR || layer->params.kind == ADAPT_LAYER_FLATTEN;
}

/* Linear layers see each sample as one row of features, like nn.Flatten() + nn.Linear. */
static adapt_status linear_forward(adapt_tensor **out, adapt_context *ctx, const ad_linear *l,
                                   adapt_tensor *x, ad_act act)
{
    adapt_status st = x->ndim == 2 ? ADAPT_OK : ad_flatten_forward(&x, ctx, x);
    return st ? st : ad_linear_forward_act(out, ctx, l, x, act);
}

adapt_status ad_layer_forward(adapt_tensor **out, adapt_context *ctx, const ad_layer *layer,
                              adapt_tensor *x)
{
    const adapt_layer_params *p = &layer->params;
    switch (p->kind) {
    case ADAPT_LAYER_LINEAR:
        return linear_forward(out, ctx, &layer->u.linear, x, AD_ACT_NONE);
    case ADAPT_LAYER_CONV2D:
        return ad_conv2d_forward(out, ctx, &layer->u.conv, x);
    case ADAPT_LAYER_BATCHNORM2D:
        return ad_batchnorm2d_forward(out, ctx, &layer->u.batchnorm, x);
    case ADAPT_LAYER_LAYERNORM:
        return ad_layernorm_forward(out, ctx, &layer->u.layernorm, x);
    case ADAPT_LAYER_MAXPOOL2D:
    case ADAPT_LAYER_AVGPOOL2D:
        return ad_pool2d_forward(out, ctx, x, p->kind == ADAPT_LAYER_MAXPOOL2D, p->kernel,
                                 p->stride, p->padding);
    case ADAPT_LAYER_GLOBAL_AVGPOOL:
        return ad_global_avgpool_forward(out, ctx, x);
    case ADAPT_LAYER_DROPOUT:
        return ad_dropout_forward(out, ctx, x, p->p);
    case ADAPT_LAYER_RELU:
        return ad_activation_forward(out, ctx, ADAPT_ACTIVATION_RELU, x);
    case ADAPT_LAYER_GELU:
        return ad_activation_forward(out, ctx, ADAPT_ACTIVATION_GELU, x);
    case ADAPT_LAYER_FLATTEN:
        return ad_flatten_forward(out, ctx, x);
    case ADAPT_LAYER_RESIDUAL_BLOCK:
        return ad_residual_block_forward(out, ctx, &layer->u.residual, x, NULL);
    case ADAPT_LAYER_PATCH_EMBED:
        return ad_patch_embed_forward(out, ctx, &layer->u.patch, x);
    case ADAPT_LAYER_TRANSFORMER_BLOCK:
        return ad_transformer_block_forward(out, ctx, &layer->u.transformer, x);
    case ADAPT_LAYER_CLASS_TOKEN:
        return ad_class_token_forward(out, ctx, x);
    default:
        return ad_fail(ADAPT_ERR_INTERNAL, "ad_layer_forward: layer kind %d", (int)p->kind);
    }
}

static ad_act activation_of(const ad_layer *layer)
{
    switch (layer->params.kind) {
    case ADAPT_LAYER_RELU: return AD_ACT_RELU;
    case ADAPT_LAYER_GELU: return AD_ACT_GELU;
    default: return AD_ACT_NONE;
    }
}

/* Layers from i on that run as one convolution with batch norm (and ReLU): 3, 2, or 0. */
static int32_t conv_bn_run(const ad_layer *layers, int32_t n, int32_t i)
{
    if (i + 1 >= n || layers[i].params.kind != ADAPT_LAYER_CONV2D ||
        layers[i + 1].params.kind != ADAPT_LAYER_BATCHNORM2D)
        return 0;
    return i + 2 < n && layers[i + 2].params.kind == ADAPT_LAYER_RELU ? 3 : 2;
}

adapt_status ad_layers_forward(adapt_tensor **out, adapt_context *ctx, const ad_layer *layers,
                               int32_t n, adapt_tensor *x)
{
    adapt_status st = ADAPT_OK;
    for (int32_t i = 0; i < n && !st; i++) {
        const ad_act act = i + 1 < n ? activation_of(&layers[i + 1]) : AD_ACT_NONE;
        const int32_t fused = conv_bn_run(layers, n, i);
        if (fused) {
            st = ad_conv_bn_forward(&x, ctx, &layers[i].u.conv, &layers[i + 1].u.batchnorm,
                                    fused == 3, x);
            i += fused - 1;
        } else if (layers[i].params.kind == ADAPT_LAYER_LINEAR && act != AD_ACT_NONE) {
            st = linear_forward(&x, ctx, &layers[i++].u.linear, x, act);
        } else {
            st = ad_layer_forward(&x, ctx, &layers[i], x);
        }
    }
    if (!st)
        *out = x;
    return st;
}

bool ad_layers_leave_only_output(const ad_layer *layers, int32_t n)
{
    int32_t first = conv_bn_run(layers, n, 0);
    if (!first && layers[0].params.kind == ADAPT_LAYER_LINEAR)
        first = n > 1 && activation_of(&layers[1]) != AD_ACT_NONE ? 2 : 1;
    if (!first)
        return false;
    for (int32_t i = first; i < n; i++)
        if (layers[i].params.kind != ADAPT_LAYER_DROPOUT)
            return false;
    return true;
}
