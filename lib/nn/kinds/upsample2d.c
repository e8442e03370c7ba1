/* "upsample2d": torch.nn.Upsample(scale_factor=scale, mode="nearest" or "bilinear",
 * align_corners=False) on [C, H, W]. */
#include "lib/core/error.h"
#include "lib/nn/layer.h"
#include "lib/nn/layer_shape.h"
#include "lib/ops/ops.h"

static const ad_layer_field fields[] = {
    AD_FIELD_COUNT32(scale, 2),
    AD_FIELD(upsample, AD_FIELD_INT32, ADAPT_UPSAMPLE_NEAREST, ADAPT_UPSAMPLE_BILINEAR, 0,
             ADAPT_UPSAMPLE_NEAREST),
};

static adapt_status shape(ad_dims *out, const adapt_layer_params *p, const ad_dims *in,
                          const char *fn)
{
    adapt_status st = ad_need_rank(in, 3, "upsample2d", fn);
    const int64_t h = ad_mul_sat(in->d[1], p->scale), w = ad_mul_sat(in->d[2], p->scale);
    if (!st && (h == INT64_MAX || w == INT64_MAX || ad_mul_sat(h, w) == INT64_MAX))
        st = ad_fail(ADAPT_ERR_OVERFLOW, "%s: upsample2d: %lld x %lld times %d is too large",
                     fn, (long long)in->d[1], (long long)in->d[2], (int)p->scale);
    if (!st)
        *out = ad_dims3(in->d[0], h, w);
    return st;
}

static adapt_status forward(adapt_tensor **out, adapt_context *ctx, const ad_layer *l,
                            adapt_tensor *x)
{
    return ad_op_upsample2d(out, ctx, x, l->params.scale, l->params.upsample);
}

/* Bilinear: four weighted reads per output value (products only); nearest: copies. */
static int64_t flops(const ad_layer *l)
{
    return l->params.upsample == ADAPT_UPSAMPLE_BILINEAR ? ad_mul_sat(8, ad_dims_numel(&l->out))
                                                         : 0;
}

const ad_layer_kind ad_kind_upsample2d = {
    .name = "upsample2d", AD_FIELDS(fields), .shape = shape, .forward = forward,
    .flops = flops,
};
