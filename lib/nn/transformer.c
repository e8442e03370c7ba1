#include "lib/nn/transformer.h"

#include "lib/nn/dropout.h"
#include "lib/nn/dims.h"
#include "lib/ops/ops.h"

adapt_status ad_transformer_block_init(ad_transformer_block *b, ad_param_list *params,
                                       const char *prefix, int64_t dim, int64_t heads,
                                       int64_t hidden, float p)
{
    char name[AD_PREFIX_MAX];
    b->p = p;
    adapt_status st = ad_layernorm_init(&b->norm1, params, ad_prefix_join(name, prefix, "norm1."),
                                        dim);
    if (!st)
        st = ad_attention_init(&b->attn, params, ad_prefix_join(name, prefix, "attn."), dim,
                               heads);
    if (!st)
        st = ad_layernorm_init(&b->norm2, params, ad_prefix_join(name, prefix, "norm2."), dim);
    if (!st)
        st = ad_linear_init(&b->fc1, params, ad_prefix_join(name, prefix, "mlp.fc1."), dim,
                            hidden, true);
    if (!st)
        st = ad_linear_init(&b->fc2, params, ad_prefix_join(name, prefix, "mlp.fc2."), hidden,
                            dim, true);
    return st;
}

adapt_status ad_transformer_attn_builtin(adapt_tensor **out, adapt_context *ctx,
                                         const ad_transformer_block *b, adapt_tensor *x)
{
    return ad_attention_forward(out, ctx, &b->attn, x);
}

adapt_status ad_transformer_mlp_builtin(adapt_tensor **out, adapt_context *ctx,
                                        const ad_transformer_block *b, adapt_tensor *x)
{
    adapt_tensor *h;
    adapt_status st = ad_linear_forward_act(&h, ctx, &b->fc1, x, AD_ACT_GELU);
    return st ? st : ad_linear_forward(out, ctx, &b->fc2, h);
}

static adapt_status attention_branch(adapt_tensor **out, adapt_context *ctx,
                                     const ad_transformer_block *b, adapt_tensor *x)
{
    adapt_tensor *h;
    const ad_override *r = &b->attn_module;
    adapt_status st = ad_layernorm_forward(&h, ctx, &b->norm1, x);
    if (!st)
        st = r->module ? r->forward(&h, ctx, r->module, h)
                       : ad_transformer_attn_builtin(&h, ctx, b, h);
    return st ? st : ad_dropout_forward(out, ctx, h, b->p);
}

static adapt_status mlp_branch(adapt_tensor **out, adapt_context *ctx,
                               const ad_transformer_block *b, adapt_tensor *x)
{
    adapt_tensor *h;
    const ad_override *r = &b->mlp_module;
    adapt_status st = ad_layernorm_forward(&h, ctx, &b->norm2, x);
    if (!st)
        st = r->module ? r->forward(&h, ctx, r->module, h)
                       : ad_transformer_mlp_builtin(&h, ctx, b, h);
    return st ? st : ad_dropout_forward(out, ctx, h, b->p);
}

adapt_status ad_transformer_block_forward(adapt_tensor **out, adapt_context *ctx,
                                          const ad_transformer_block *b, adapt_tensor *x)
{
    adapt_tensor *h;
    adapt_status st = attention_branch(&h, ctx, b, x);
    if (!st)
        st = ad_op_add(&x, ctx, x, h);
    if (!st)
        st = mlp_branch(&h, ctx, b, x);
    return st ? st : ad_op_add(out, ctx, x, h);
}

int64_t ad_transformer_mlp_flops(const ad_transformer_block *b, int64_t tokens)
{
    return ad_add_sat(ad_linear_flops(&b->fc1, tokens), ad_linear_flops(&b->fc2, tokens));
}

int64_t ad_transformer_block_flops(const ad_transformer_block *b, int64_t tokens)
{
    return ad_add_sat(ad_attention_flops(&b->attn, tokens), ad_transformer_mlp_flops(b, tokens));
}
