/* Patch embedding of a vision transformer, timm's PatchEmbed plus the class token and the
 * learned positional embedding:
 *   tokens = proj(x).flatten(2).transpose(1, 2)      proj: Conv2d(C, dim, patch, stride=patch)
 *   out = cat(cls_token.expand(N, -1, -1), tokens, dim=1) + pos_embed
 * The convolution with kernel == stride is computed as one GEMM over all patches of the batch:
 * the image is rearranged into [N, T, C*patch*patch] rows and multiplied by the weight viewed
 * as [dim, C*patch*patch]. */
#ifndef AD_NN_PATCH_EMBED_H
#define AD_NN_PATCH_EMBED_H

#include "lib/nn/conv.h"

typedef struct {
    adapt_tensor *cls_token; /* "<token_prefix>cls_token" [1, 1, dim], normal(0, 0.02) */
    adapt_tensor *pos_embed; /* "<token_prefix>pos_embed" [1, T + 1, dim], normal(0, 0.02) */
    ad_conv2d proj;          /* "<prefix>proj.weight" [dim, C, patch, patch], "...bias" [dim] */
    int64_t grid_h, grid_w;  /* patches per column / row; T = grid_h * grid_w */
} ad_patch_embed;

/* `patch` must divide height and width (checked by the caller). */
adapt_status ad_patch_embed_init(ad_patch_embed *pe, ad_param_list *params,
                                 const char *token_prefix, const char *prefix,
                                 int64_t in_channels, int64_t height, int64_t width,
                                 int32_t patch, int64_t dim);

/* x[N, C, H, W] -> [N, T + 1, dim]. */
adapt_status ad_patch_embed_forward(adapt_tensor **out, adapt_context *ctx,
                                    const ad_patch_embed *pe, adapt_tensor *x);

int64_t ad_patch_embed_flops(const ad_patch_embed *pe);

#endif
