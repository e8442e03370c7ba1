/* Which exits run fused with the convolution that makes what they read (exit_first.c),
 * decided when a head joins or leaves the model or the model changes, not on every call. */
#include "lib/adaptive/head.h"
#include "lib/kernels/conv2d_direct.h"
#include "lib/models/model_impl.h"
#include "lib/nn/layer_kinds.h"
#include "lib/nn/residual.h"

ad_conv_geom ad_stem_geom(const ad_layer *conv)
{
    const ad_conv2d *c = AD_LAYER_STATE(conv, const ad_conv2d);
    return (ad_conv_geom){conv->in.d[0], conv->in.d[1], conv->in.d[2], c->kernel, c->kernel,
                          c->stride, c->padding, conv->out.d[1], conv->out.d[2]};
}

/* Block 0 is convolution, batch norm and ReLU as built, on images, run by the direct kernel. */
static bool stem_fuses(const ad_block *b)
{
    const ad_layer_kind *const kinds[] = {&ad_kind_conv2d, &ad_kind_batchnorm2d, &ad_kind_relu};
    bool ok = b->n_layers == 3 && b->in.ndim == 3;
    for (int32_t i = 0; ok && i < 3; i++)
        ok = b->layers[i].kind == kinds[i] && ad_layer_is_builtin(&b->layers[i]);
    if (!ok)
        return false;
    const ad_conv_geom g = ad_stem_geom(&b->layers[0]);
    return ad_conv_direct_suits(&g);
}

/* The block is one residual block as built whose last convolution the direct kernel runs. */
static bool block_fuses(const ad_block *b)
{
    if (b->n_layers != 1 || b->layers[0].kind != &ad_kind_residual_block ||
        !ad_layer_is_builtin(&b->layers[0]) || b->out.ndim != 3)
        return false;
    const ad_residual_block *r = AD_LAYER_STATE(&b->layers[0], const ad_residual_block);
    const ad_dims *out = &b->out;
    const ad_conv_geom last = {out->d[0], out->d[1], out->d[2], r->conv2.kernel,
                               r->conv2.kernel, 1, r->conv2.padding, out->d[1], out->d[2]};
    return ad_conv_direct_suits(&last);
}

void ad_head_plan(adapt_head *h, const adapt_model *m)
{
    h->fusion = AD_FUSE_NONE;
    if (h->params.kind != ADAPT_HEAD_SDN)
        return;
    const ad_block *b = &m->blocks[h->params.block];
    if (h->params.block == 0 && ad_head_at(m, 0) == h && stem_fuses(b))
        h->fusion = AD_FUSE_STEM;
    else if (block_fuses(b))
        h->fusion = AD_FUSE_BLOCK;
}

void ad_exit_plan(const adapt_model *m)
{
    for (int32_t k = 0; k < ad_head_count(m); k++)
        ad_head_plan(ad_head_at(m, k), m);
}
