#include "lib/nn/layer_shape.h"

#include "lib/core/error.h"

adapt_status ad_need_rank(const ad_dims *in, int32_t rank, const char *kind, const char *fn)
{
    char s[160];
    if (in->ndim != rank)
        return ad_fail(ADAPT_ERR_SHAPE, "%s: a %s layer needs a per-sample input of rank %d "
                       "(%s), got %s", fn, kind, (int)rank, rank == 3 ? "[C, H, W]" : "[T, D]",
                       ad_dims_str(in, s, sizeof s));
    return ADAPT_OK;
}

adapt_status ad_window_shape(ad_dims *out, int64_t channels, const ad_dims *in, int64_t kernel,
                             int64_t stride, int64_t padding, const char *fn)
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

adapt_status ad_shape_unchanged(ad_dims *out, const adapt_layer_params *p, const ad_dims *in,
                           const char *fn)
{
    (void)p, (void)fn;
    *out = *in;
    return ADAPT_OK;
}
