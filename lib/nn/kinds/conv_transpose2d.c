/* "conv_transpose2d": torch.nn.ConvTranspose2d with a square kernel, output_padding 0:
 * weight [in, out, k, k] and bias [out], initialised as PyTorch does (its fan-in is taken
 * from the weight's second dim: out * k * k). */
#include "lib/core/error.h"
#include "lib/nn/layer.h"
#include "lib/nn/layer_shape.h"
#include "lib/ops/ops.h"

typedef struct {
    adapt_tensor *weight, *bias;
} transposed;

AD_LAYER_STATE_FITS(transposed);

static const ad_layer_field fields[] = {
    AD_FIELD_WIDTH(out_features),
    AD_FIELD_COUNT32(kernel, 3),
    AD_FIELD_COUNT32(stride, 1),
    AD_FIELD(padding, AD_FIELD_INT32, 0, INT32_MAX, 0, 0),
};

/* (in - 1) * stride - 2 * padding + kernel, or a message when it is not >= 1. */
static adapt_status side(int64_t *out, int64_t in, const adapt_layer_params *p, const char *fn)
{
    const int64_t grown = ad_mul_sat(in - 1, p->stride);
    *out = grown == INT64_MAX ? INT64_MAX : grown - 2 * (int64_t)p->padding + p->kernel;
    if (*out == INT64_MAX)
        return ad_fail(ADAPT_ERR_OVERFLOW, "%s: conv_transpose2d: the output is too large", fn);
    if (*out < 1)
        return ad_fail(ADAPT_ERR_SHAPE, "%s: conv_transpose2d: padding %d leaves no output of "
                       "a %lld-wide input", fn, (int)p->padding, (long long)in);
    return ADAPT_OK;
}

static adapt_status shape(ad_dims *out, const adapt_layer_params *p, const ad_dims *in,
                          const char *fn)
{
    int64_t h = 0, w = 0;
    adapt_status st = ad_need_rank(in, 3, "conv_transpose2d", fn);
    if (!st)
        st = side(&h, in->d[1], p, fn);
    if (!st)
        st = side(&w, in->d[2], p, fn);
    if (!st && ad_mul_sat(ad_mul_sat(p->out_features, h), w) == INT64_MAX)
        st = ad_fail(ADAPT_ERR_OVERFLOW, "%s: conv_transpose2d: the output is too large", fn);
    if (!st)
        *out = ad_dims3(p->out_features, h, w);
    return st;
}

static adapt_status init(ad_layer *l, ad_param_list *list, const ad_layer_names *names)
{
    const adapt_layer_params *p = &l->params;
    transposed *t = AD_LAYER_STATE(l, transposed);
    const int64_t k = p->kernel;
    const ad_init init = ad_init_fan_in(ad_mul_sat(p->out_features, k * k));
    adapt_status st = ad_params_add(&t->weight, list, names->prefix, "weight", 4,
                                    (int64_t[]){l->in.d[0], p->out_features, k, k}, init);
    return st ? st : ad_params_add(&t->bias, list, names->prefix, "bias", 1, &p->out_features,
                                   init);
}

static adapt_status forward(adapt_tensor **out, adapt_context *ctx, const ad_layer *l,
                            adapt_tensor *x)
{
    const transposed *t = AD_LAYER_STATE(l, const transposed);
    return ad_op_conv_transpose2d(out, ctx, x, t->weight, t->bias, l->params.stride,
                                  l->params.padding);
}

/* Every input value times every weight of its channel: in * H * W * out * k * k products. */
static int64_t flops(const ad_layer *l)
{
    const int64_t k = l->params.kernel;
    return ad_mul_sat(2, ad_mul_sat(ad_dims_numel(&l->in), ad_mul_sat(l->out.d[0], k * k)));
}

const ad_layer_kind ad_kind_conv_transpose2d = {
    .name = "conv_transpose2d", AD_FIELDS(fields), .shape = shape, .init = init,
    .forward = forward, .flops = flops,
};
