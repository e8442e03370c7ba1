/* Pre-norm transformer encoder block, timm's Block:
 *   x = x + drop(attn(norm1(x)));  x = x + drop(mlp(norm2(x)))
 * with mlp = fc1 (dim -> hidden), GELU, fc2 (hidden -> dim). */
#ifndef AD_NN_TRANSFORMER_H
#define AD_NN_TRANSFORMER_H

#include "lib/nn/attention.h"
#include "lib/nn/layer_kind.h"
#include "lib/nn/layernorm.h"

typedef struct {
    ad_layernorm norm1, norm2; /* "<prefix>norm1.", "<prefix>norm2." */
    ad_attention attn;         /* "<prefix>attn." */
    ad_linear fc1, fc2;        /* "<prefix>mlp.fc1.", "<prefix>mlp.fc2." */
    float p;                   /* dropout after the attention and the MLP outputs */
    ad_override attn_module, mlp_module; /* modules run instead of attn and mlp */
} ad_transformer_block;

/* `heads` must divide `dim`, hidden >= 1, p in [0, 1) (checked by the caller). */
adapt_status ad_transformer_block_init(ad_transformer_block *b, ad_param_list *params,
                                       const char *prefix, int64_t dim, int64_t heads,
                                       int64_t hidden, float p);

/* Its built-in attention and MLP parts, [N, T, dim] -> [N, T, dim], whatever replaces them:
 * the attention after norm1 and the MLP after norm2, without residual or dropout. */
adapt_status ad_transformer_attn_builtin(adapt_tensor **out, adapt_context *ctx,
                                         const ad_transformer_block *b, adapt_tensor *x);
adapt_status ad_transformer_mlp_builtin(adapt_tensor **out, adapt_context *ctx,
                                        const ad_transformer_block *b, adapt_tensor *x);

/* x[N, T, dim] -> [N, T, dim]. */
adapt_status ad_transformer_block_forward(adapt_tensor **out, adapt_context *ctx,
                                          const ad_transformer_block *b, adapt_tensor *x);

int64_t ad_transformer_block_flops(const ad_transformer_block *b, int64_t tokens);

/* Those of its MLP alone, for `tokens` tokens. */
int64_t ad_transformer_mlp_flops(const ad_transformer_block *b, int64_t tokens);

#endif
