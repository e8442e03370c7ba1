/* Validation of adapt_layer_params and per-sample shape inference for ad_layer_init(). */
#include "lib/nn/layer_shape.h"

#include <math.h>

#include "lib/core/error.h"

int64_t ad_mlp_hidden(float mlp_ratio, int64_t dim)
{
    double hidden = floor((double)mlp_ratio * (double)dim);
    return hidden >= 0.0 && hidden < 0x1p62 ? (int64_t)hidden : -1;
}

static adapt_status check_p(float p, const char *fn)
{
    if (!isfinite(p))
        return ad_fail(ADAPT_ERR_NONFINITE, "%s: dropout p is not finite", fn);
    if (p < 0.0f || p >= 1.0f)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: dropout p %g is outside [0, 1)", fn,
                       (double)p);
    return ADAPT_OK;
}

static adapt_status check_window(const adapt_layer_params *p, bool pool, const char *fn)
{
    if (p->kernel < 1 || p->stride < 1 || p->padding < 0)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT,
                       "%s: kernel %d and stride %d must be >= 1, padding %d >= 0", fn,
                       (int)p->kernel, (int)p->stride, (int)p->padding);
    if (pool && p->padding > p->kernel / 2) /* PyTorch's pooling rule */
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: padding %d exceeds half the kernel %d",
                       fn, (int)p->padding, (int)p->kernel);
    return ADAPT_OK;
}

static adapt_status check_positive(int64_t value, const char *what, const char *fn)
{
    if (value < 1)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: %s %lld must be >= 1", fn, what,
                       (long long)value);
    return ADAPT_OK;
}

static adapt_status check_transformer(const adapt_layer_params *p, const char *fn)
{
    if (!isfinite(p->mlp_ratio))
        return ad_fail(ADAPT_ERR_NONFINITE, "%s: mlp_ratio is not finite", fn);
    if (p->mlp_ratio <= 0.0f)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: mlp_ratio %g must be > 0", fn,
                       (double)p->mlp_ratio);
    adapt_status st = check_positive(p->heads, "heads", fn);
    return st ? st : check_p(p->p, fn);
}

adapt_status ad_layer_check_params(const adapt_layer_params *p, const char *fn)
{
    switch (p->kind) {
    case ADAPT_LAYER_LINEAR:
        return check_positive(p->out_features, "out_features", fn);
    case ADAPT_LAYER_CONV2D: {
        adapt_status st = check_positive(p->out_features, "out_features", fn);
        return st ? st : check_window(p, false, fn);
    }
    case ADAPT_LAYER_MAXPOOL2D:
    case ADAPT_LAYER_AVGPOOL2D:
        return check_window(p, true, fn);
    case ADAPT_LAYER_DROPOUT:
        return check_p(p->p, fn);
    case ADAPT_LAYER_RESIDUAL_BLOCK: {
        adapt_status st = check_positive(p->out_features, "out_features", fn);
        return st ? st : check_positive(p->stride, "stride", fn);
    }
    case ADAPT_LAYER_PATCH_EMBED: {
        adapt_status st = check_positive(p->out_features, "out_features", fn);
        return st ? st : check_positive(p->kernel, "kernel (patch)", fn);
    }
    case ADAPT_LAYER_TRANSFORMER_BLOCK:
        return check_transformer(p, fn);
    default:
        if (!ad_layer_kind_name(p->kind))
            return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: unknown layer kind %d", fn,
                           (int)p->kind);
        return ADAPT_OK;
    }
}

static adapt_status need_rank(const ad_dims *in, int32_t rank, const adapt_layer_params *p,
                              const char *fn)
{
    char s[160];
    if (in->ndim != rank)
        return ad_fail(ADAPT_ERR_SHAPE, "%s: a %s layer needs a per-sample input of rank %d "
                       "(%s), got %s", fn, ad_layer_kind_name(p->kind), (int)rank,
                       rank == 3 ? "[C, H, W]" : "[T, D]", ad_dims_str(in, s, sizeof s));
    return ADAPT_OK;
}

/* [channels, OH, OW] of a sliding window over in = [C, H, W]. */
static adapt_status window_shape(ad_dims *out, int64_t channels, const ad_dims *in,
                                 int64_t kernel, int64_t stride, int64_t padding, const char *fn)
{
    int64_t oh = ad_window_out(in->d[1], kernel, stride, padding);
    int64_t ow = ad_window_out(in->d[2], kernel, stride, padding);
    if (oh < 1 || ow < 1) {
        char s[160];
        return ad_fail(ADAPT_ERR_SHAPE, "%s: input %s padded by %lld is smaller than the "
                       "%lldx%lld window", fn, ad_dims_str(in, s, sizeof s), (long long)padding,
                       (long long)kernel, (long long)kernel);
    }
    *out = ad_dims3(channels, oh, ow);
    return ADAPT_OK;
}

static adapt_status patch_shape(ad_dims *out, const adapt_layer_params *p, const ad_dims *in,
                                const char *fn)
{
    if (in->d[1] % p->kernel || in->d[2] % p->kernel) {
        char s[160];
        return ad_fail(ADAPT_ERR_SHAPE, "%s: patch size %d does not divide the image %s", fn,
                       (int)p->kernel, ad_dims_str(in, s, sizeof s));
    }
    int64_t tokens = ad_mul_sat(in->d[1] / p->kernel, in->d[2] / p->kernel);
    *out = ad_dims2(ad_add_sat(tokens, 1), p->out_features);
    return ADAPT_OK;
}

static adapt_status transformer_shape(ad_dims *out, const adapt_layer_params *p,
                                      const ad_dims *in, const char *fn)
{
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

/* Kinds that need an image [C, H, W]. */
static adapt_status image_shape(ad_dims *out, const adapt_layer_params *p, const ad_dims *in,
                                const char *fn)
{
    adapt_status st = need_rank(in, 3, p, fn);
    if (st)
        return st;
    switch (p->kind) {
    case ADAPT_LAYER_CONV2D:
        return window_shape(out, p->out_features, in, p->kernel, p->stride, p->padding, fn);
    case ADAPT_LAYER_MAXPOOL2D:
    case ADAPT_LAYER_AVGPOOL2D:
        return window_shape(out, in->d[0], in, p->kernel, p->stride, p->padding, fn);
    case ADAPT_LAYER_RESIDUAL_BLOCK:
        return window_shape(out, p->out_features, in, 3, p->stride, 1, fn);
    case ADAPT_LAYER_PATCH_EMBED:
        return patch_shape(out, p, in, fn);
    case ADAPT_LAYER_GLOBAL_AVGPOOL:
        *out = ad_dims1(in->d[0]);
        return ADAPT_OK;
    default: /* batch norm */
        *out = *in;
        return ADAPT_OK;
    }
}

adapt_status ad_layer_out_shape(ad_dims *out, const adapt_layer_params *p, const ad_dims *in,
                                const char *fn)
{
    adapt_status st = ADAPT_OK;
    switch (p->kind) {
    case ADAPT_LAYER_LINEAR:
        *out = ad_dims1(p->out_features);
        break;
    case ADAPT_LAYER_FLATTEN:
        *out = ad_dims1(ad_dims_numel(in));
        break;
    case ADAPT_LAYER_LAYERNORM:
        if (in->ndim < 1)
            return ad_fail(ADAPT_ERR_SHAPE, "%s: layernorm needs a per-sample rank >= 1", fn);
        *out = *in;
        break;
    case ADAPT_LAYER_DROPOUT:
    case ADAPT_LAYER_RELU:
    case ADAPT_LAYER_GELU:
        *out = *in;
        break;
    case ADAPT_LAYER_TRANSFORMER_BLOCK:
        st = need_rank(in, 2, p, fn);
        return st ? st : transformer_shape(out, p, in, fn);
    case ADAPT_LAYER_CLASS_TOKEN:
        st = need_rank(in, 2, p, fn);
        if (!st)
            *out = ad_dims1(in->d[1]);
        break;
    default:
        st = image_shape(out, p, in, fn);
    }
    if (!st && ad_dims_numel(out) == INT64_MAX)
        return ad_fail(ADAPT_ERR_OVERFLOW, "%s: the layer's output size does not fit", fn);
    return st;
}
