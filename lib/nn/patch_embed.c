#include "lib/nn/patch_embed.h"

#include <string.h>

#include "lib/core/context.h"
#include "lib/core/tensor.h"
#include "lib/nn/dims.h"
#include "lib/nn/linear.h"
#include "lib/ops/ops.h"

#define AD_TOKEN_INIT_STD 0.02f

adapt_status ad_patch_embed_init(ad_patch_embed *pe, ad_param_list *params,
                                 const char *token_prefix, const char *prefix,
                                 int64_t in_channels, int64_t height, int64_t width,
                                 int32_t patch, int64_t dim)
{
    const ad_init token_init = {.kind = AD_INIT_NORMAL, .value = AD_TOKEN_INIT_STD};
    char name[AD_PREFIX_MAX];
    pe->grid_h = height / patch;
    pe->grid_w = width / patch;
    int64_t tokens = ad_add_sat(ad_mul_sat(pe->grid_h, pe->grid_w), 1);
    adapt_status st = ad_params_add(&pe->cls_token, params, token_prefix, "cls_token", 3,
                                    (int64_t[]){1, 1, dim}, token_init);
    if (!st)
        st = ad_params_add(&pe->pos_embed, params, token_prefix, "pos_embed", 3,
                           (int64_t[]){1, tokens, dim}, token_init);
    if (!st)
        st = ad_conv2d_init(&pe->proj, params, ad_prefix_join(name, prefix, "proj."),
                            in_channels, dim, patch, patch, 0, true);
    return st;
}

/* x[N, C, gh*p, gw*p] -> rows [N, gh*gw, C*p*p], each row one patch in the order of the
 * convolution weight's [C, p, p] entries. */
static adapt_status patch_rows(adapt_tensor **out, adapt_context *ctx, const ad_patch_embed *pe,
                               adapt_tensor *x)
{
    const int64_t n = x->shape[0], c = x->shape[1], p = pe->proj.kernel;
    adapt_tensor *split, *moved;
    adapt_status st = ad_op_reshape(&split, ctx, x, 6,
                                    (int64_t[]){n, c, pe->grid_h, p, pe->grid_w, p});
    if (!st)
        st = ad_op_permute(&moved, ctx, split, (int32_t[]){0, 2, 4, 1, 3, 5});
    if (!st)
        st = ad_op_reshape(out, ctx, moved, 3,
                           (int64_t[]){n, pe->grid_h * pe->grid_w, c * p * p});
    return st;
}

/* The class token repeated for each of the N samples: [N, 1, dim]. */
static adapt_status class_tokens(adapt_tensor **out, adapt_context *ctx, const ad_patch_embed *pe,
                                 int64_t n)
{
    const char *fn = "ad_patch_embed_forward";
    const int64_t dim = pe->proj.out_channels;
    int64_t *zeros;
    adapt_status st = ad_scratch((void **)&zeros, ctx, (size_t)(n ? n : 1) * sizeof *zeros, fn);
    if (st)
        return st;
    memset(zeros, 0, (size_t)n * sizeof *zeros);
    adapt_tensor *row, *rows;
    st = ad_op_reshape(&row, ctx, pe->cls_token, 2, (int64_t[]){1, dim});
    if (!st)
        st = ad_op_gather_rows(&rows, ctx, row, zeros, n);
    return st ? st : ad_op_reshape(out, ctx, rows, 3, (int64_t[]){n, 1, dim});
}

adapt_status ad_patch_embed_forward(adapt_tensor **out, adapt_context *ctx,
                                    const ad_patch_embed *pe, adapt_tensor *x)
{
    const ad_conv2d *proj = &pe->proj;
    const int64_t dim = proj->out_channels, tokens = pe->grid_h * pe->grid_w + 1;
    ad_linear flat = {.in_features = proj->weight->numel / dim, .out_features = dim,
                      .bias = proj->bias};
    adapt_tensor *rows, *embedded, *cls, *pos, *seq;
    adapt_status st = patch_rows(&rows, ctx, pe, x);
    if (!st)
        st = ad_op_reshape(&flat.weight, ctx, proj->weight, 2,
                           (int64_t[]){dim, flat.in_features});
    if (!st)
        st = ad_linear_forward(&embedded, ctx, &flat, rows);
    if (!st)
        st = class_tokens(&cls, ctx, pe, x->shape[0]);
    if (!st)
        st = ad_op_concat(&seq, ctx, (adapt_tensor *[]){cls, embedded}, 2, 1);
    if (!st)
        st = ad_op_reshape(&pos, ctx, pe->pos_embed, 2, (int64_t[]){tokens, dim});
    return st ? st : ad_op_add(out, ctx, seq, pos);
}

int64_t ad_patch_embed_flops(const ad_patch_embed *pe)
{
    return ad_conv2d_flops(&pe->proj, pe->grid_h, pe->grid_w);
}
