/* "transformer_block": timm's pre-norm encoder Block on tokens [T, D]. */
#include <float.h>

#include "lib/core/error.h"
#include "lib/nn/layer.h"
#include "lib/nn/layer_shape.h"
#include "lib/nn/transformer.h"

AD_LAYER_STATE_FITS(ad_transformer_block);

static const ad_layer_field fields[] = {
    AD_FIELD_COUNT32(heads, 1),
    AD_FIELD(mlp_ratio, AD_FIELD_FLOAT, 0, FLT_MAX, AD_FIELD_OPEN_LO, 4),
    AD_FIELD_PROBABILITY(p),
};

static adapt_status shape(ad_dims *out, const adapt_layer_params *p, const ad_dims *in,
                          const char *fn)
{
    adapt_status st = ad_need_rank(in, 2, "transformer_block", fn);
    if (st)
        return st;
    if (in->d[1] % p->heads)
        return ad_fail(ADAPT_ERR_SHAPE, "%s: %d heads do not divide the width %lld", fn,
                       (int)p->heads, (long long)in->d[1]);
    if (ad_mlp_hidden(p->mlp_ratio, in->d[1]) < 1)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT,
                       "%s: mlp_ratio %g times width %lld gives no usable hidden size", fn,
                       (double)p->mlp_ratio, (long long)in->d[1]);
    *out = *in;
    return ADAPT_OK;
}

static adapt_status init(ad_layer *l, ad_param_list *list, const ad_layer_names *names)
{
    const int64_t width = l->in.d[1];
    return ad_transformer_block_init(AD_LAYER_STATE(l, ad_transformer_block), list,
                                     names->prefix, width, l->params.heads,
                                     ad_mlp_hidden(l->params.mlp_ratio, width), l->params.p);
}

static adapt_status forward(adapt_tensor **out, adapt_context *ctx, const ad_layer *l,
                            adapt_tensor *x)
{
    return ad_transformer_block_forward(out, ctx, AD_LAYER_STATE(l, const ad_transformer_block),
                                        x);
}

static int64_t flops(const ad_layer *l)
{
    return ad_transformer_block_flops(AD_LAYER_STATE(l, const ad_transformer_block),
                                      l->in.d[0]);
}

static adapt_status attn_forward(adapt_tensor **out, adapt_context *ctx, const ad_layer *l,
                                 adapt_tensor *x)
{
    return ad_transformer_attn_builtin(out, ctx, AD_LAYER_STATE(l, const ad_transformer_block),
                                       x);
}

static adapt_status mlp_forward(adapt_tensor **out, adapt_context *ctx, const ad_layer *l,
                                adapt_tensor *x)
{
    return ad_transformer_mlp_builtin(out, ctx, AD_LAYER_STATE(l, const ad_transformer_block),
                                      x);
}

static adapt_status qkv_forward(adapt_tensor **out, adapt_context *ctx, const ad_layer *l,
                                adapt_tensor *x)
{
    return ad_linear_forward(out, ctx, &AD_LAYER_STATE(l, const ad_transformer_block)->attn.qkv,
                             x);
}

static adapt_status proj_forward(adapt_tensor **out, adapt_context *ctx, const ad_layer *l,
                                 adapt_tensor *x)
{
    return ad_linear_forward(out, ctx, &AD_LAYER_STATE(l, const ad_transformer_block)->attn.proj,
                             x);
}

/* [T, D] -> [T, 3 D]: q, k and v side by side. */
static ad_dims qkv_shape(const ad_layer *l)
{
    return ad_dims2(l->in.d[0], 3 * l->in.d[1]);
}

static int64_t qkv_flops(const ad_layer *l)
{
    return ad_linear_flops(&AD_LAYER_STATE(l, const ad_transformer_block)->attn.qkv,
                           l->in.d[0]);
}

static int64_t proj_flops(const ad_layer *l)
{
    return ad_linear_flops(&AD_LAYER_STATE(l, const ad_transformer_block)->attn.proj,
                           l->in.d[0]);
}

static int64_t attn_flops(const ad_layer *l)
{
    return ad_attention_flops(&AD_LAYER_STATE(l, const ad_transformer_block)->attn, l->in.d[0]);
}

static int64_t mlp_flops(const ad_layer *l)
{
    return ad_transformer_mlp_flops(AD_LAYER_STATE(l, const ad_transformer_block), l->in.d[0]);
}

#define ATTENTION_SLOT(field) \
    (offsetof(ad_transformer_block, attn) + offsetof(ad_attention, field))

/* timm's names: the attention after norm1 and the MLP after norm2, each [T, D] -> [T, D];
 * the attention's qkv projection [T, D] -> [T, 3 D] and output projection [T, D] -> [T, D]. */
static const ad_layer_part parts[] = {
    {"attn", offsetof(ad_transformer_block, attn_module), NULL, attn_forward, attn_flops},
    {"attn.qkv", ATTENTION_SLOT(qkv_module), qkv_shape, qkv_forward, qkv_flops},
    {"attn.proj", ATTENTION_SLOT(proj_module), NULL, proj_forward, proj_flops},
    {"mlp", offsetof(ad_transformer_block, mlp_module), NULL, mlp_forward, mlp_flops},
};

const ad_layer_kind ad_kind_transformer_block = {
    .name = "transformer_block", AD_FIELDS(fields), .shape = shape, .init = init,
    .forward = forward, .flops = flops, .parts = parts,
    .n_parts = (int32_t)(sizeof parts / sizeof *parts),
};
