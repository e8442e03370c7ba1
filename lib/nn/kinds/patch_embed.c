/* "patch_embed": a vision transformer's patch embedding with class token and positional
 * embedding; out_features is the token width, kernel the patch side. */
#include "lib/core/error.h"
#include "lib/nn/layer.h"
#include "lib/nn/layer_shape.h"
#include "lib/nn/patch_embed.h"

AD_LAYER_STATE_FITS(ad_patch_embed);

static const ad_layer_field fields[] = {
    AD_FIELD_WIDTH(out_features),
    AD_FIELD_COUNT32(kernel, 3),
};

static adapt_status shape(ad_dims *out, const adapt_layer_params *p, const ad_dims *in,
                          const char *fn)
{
    adapt_status st = ad_need_rank(in, 3, "patch_embed", fn);
    if (st)
        return st;
    if (in->d[1] % p->kernel || in->d[2] % p->kernel) {
        char s[160];
        return ad_fail(ADAPT_ERR_SHAPE, "%s: patch size %d does not divide the image %s", fn,
                       (int)p->kernel, ad_dims_str(in, s, sizeof s));
    }
    int64_t tokens = ad_mul_sat(in->d[1] / p->kernel, in->d[2] / p->kernel);
    *out = ad_dims2(ad_add_sat(tokens, 1), p->out_features);
    return ADAPT_OK;
}

static adapt_status init(ad_layer *l, ad_param_list *list, const ad_layer_names *names)
{
    const char *tokens = names->token_prefix ? names->token_prefix : names->prefix;
    return ad_patch_embed_init(AD_LAYER_STATE(l, ad_patch_embed), list, tokens, names->prefix,
                               l->in.d[0], l->in.d[1], l->in.d[2], l->params.kernel,
                               l->params.out_features);
}

static adapt_status forward(adapt_tensor **out, adapt_context *ctx, const ad_layer *l,
                            adapt_tensor *x)
{
    return ad_patch_embed_forward(out, ctx, AD_LAYER_STATE(l, const ad_patch_embed), x);
}

static int64_t flops(const ad_layer *l)
{
    return ad_patch_embed_flops(AD_LAYER_STATE(l, const ad_patch_embed));
}

const ad_layer_kind ad_kind_patch_embed = {
    .name = "patch_embed", AD_FIELDS(fields), .shape = shape, .init = init,
    .forward = forward, .flops = flops,
};
