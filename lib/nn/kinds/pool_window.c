#include "lib/nn/kinds/pool_window.h"

#include "lib/core/error.h"
#include "lib/nn/layer_shape.h"

adapt_status ad_pool_window_check(const adapt_layer_params *p, const char *fn)
{
    if (p->padding > p->kernel / 2)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: padding %d exceeds half the kernel %d",
                       fn, (int)p->padding, (int)p->kernel);
    return ADAPT_OK;
}

adapt_status ad_pool_window_shape(ad_dims *out, const adapt_layer_params *p, const ad_dims *in,
                                  const char *fn)
{
    adapt_status st = ad_need_rank(in, 3, "pooling", fn);
    return st ? st : ad_window_shape(out, in->d[0], in, p->kernel, p->stride, p->padding, fn);
}
