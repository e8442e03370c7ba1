#include "lib/nn/dims.h"

#include <stdio.h>

int64_t ad_dims_numel(const ad_dims *s)
{
    int64_t n = 1;
    for (int32_t i = 0; i < s->ndim; i++)
        n = ad_mul_sat(n, s->d[i]);
    return n;
}

const char *ad_dims_str(const ad_dims *s, char *buf, size_t size)
{
    size_t used = (size_t)snprintf(buf, size, "[");
    for (int32_t i = 0; i < s->ndim && used < size; i++)
        used += (size_t)snprintf(buf + used, size - used, i ? ", %lld" : "%lld",
                                 (long long)s->d[i]);
    if (used < size)
        snprintf(buf + used, size - used, "]");
    return buf;
}

int64_t ad_window_out(int64_t len, int64_t kernel, int64_t stride, int64_t padding)
{
    int64_t span = ad_add_sat(len, ad_mul_sat(2, padding));
    if (span == INT64_MAX || span < kernel)
        return -1;
    return (span - kernel) / stride + 1;
}
