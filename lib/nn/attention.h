/* Multi-head self-attention as timm's Attention (torch.nn.MultiheadAttention's in_proj
 * layout): one qkv linear [3*dim, dim] whose rows are the q, k and v projections, scaled
 * dot-product softmax per head, and an output projection. */
#ifndef AD_NN_ATTENTION_H
#define AD_NN_ATTENTION_H

#include "lib/nn/linear.h"
#include "lib/nn/override.h"

typedef struct {
    ad_linear qkv;  /* "<prefix>qkv.weight" [3*dim, dim], "<prefix>qkv.bias" [3*dim] */
    ad_linear proj; /* "<prefix>proj.weight" [dim, dim], "<prefix>proj.bias" [dim] */
    int64_t dim, heads;
    ad_override qkv_module, proj_module; /* modules run instead of qkv and proj */
} ad_attention;

/* `heads` must divide `dim` (checked by the caller). */
adapt_status ad_attention_init(ad_attention *a, ad_param_list *params, const char *prefix,
                               int64_t dim, int64_t heads);

/* x[N, T, dim] -> [N, T, dim]. Heads are a batch dim: every product is one batched matmul
 * over [N*heads, T, dim/heads]. */
adapt_status ad_attention_forward(adapt_tensor **out, adapt_context *ctx, const ad_attention *a,
                                  adapt_tensor *x);

/* The same without a tape (inference): no per-head copies or score tensors
 * (attention_untaped.c). */
adapt_status ad_attention_forward_untaped(adapt_tensor **out, adapt_context *ctx,
                                          const ad_attention *a, adapt_tensor *x);

/* Its qkv and output projections as they run now: the module that replaces one, if any. */
/* mix[N, T, dim] = softmax(q k^T) v per head, q already scaled: one tape record
 * (attention_taped.c). */
adapt_status ad_attention_core_taped(adapt_tensor **mix, adapt_context *ctx, adapt_tensor *q,
                                     adapt_tensor *k, adapt_tensor *v, int64_t heads);

adapt_status ad_attention_qkv(adapt_tensor **out, adapt_context *ctx, const ad_attention *a,
                              adapt_tensor *x);
adapt_status ad_attention_proj(adapt_tensor **out, adapt_context *ctx, const ad_attention *a,
                               adapt_tensor *x);

/* Projections plus the two T x T products, for `tokens` tokens. */
int64_t ad_attention_flops(const ad_attention *a, int64_t tokens);

#endif
