/* Editing latents through a flow: z = f(w), chosen coordinates of z set, w' = f^-1(z). */
#include <stdlib.h>
#include <string.h>

#include "lib/core/context.h"
#include "lib/core/error.h"
#include "lib/core/tensor.h"
#include "lib/flow/flow.h"

static const char *const fn = "adapt_flow_edit";

static adapt_status check_edit(const adapt_flow *f, const float *w_out, const float *w,
                               int64_t n, const int32_t *dims, int32_t n_dims,
                               const float *values)
{
    if (!f || !w_out || !dims || !values || (!w && n > 0) || n < 0 || n_dims < 1)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: a NULL argument, n < 0 or no dims",
                       fn);
    for (int32_t k = 0; k < n_dims; k++)
        if (dims[k] < 0 || dims[k] >= f->p.dim)
            return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: dims[%d] = %d is outside [0, %lld)",
                           fn, (int)k, (int)dims[k], (long long)f->p.dim);
    if (n > INT64_MAX / f->p.dim || n > INT64_MAX / n_dims)
        return ad_fail(ADAPT_ERR_OVERFLOW, "%s: %lld rows", fn, (long long)n);
    if (!ad_all_finite(values, n * n_dims))
        return ad_fail(ADAPT_ERR_NONFINITE, "%s: values hold NaN or infinity", fn);
    return ADAPT_OK;
}

/* z = f(w) of n rows into z, in a private inference context. */
static adapt_status encode(float *z, const adapt_flow *f, const float *w, const float *cond,
                           int64_t n)
{
    adapt_context_params cp;
    adapt_context_params_init(&cp, sizeof cp);
    adapt_context *ctx = NULL;
    adapt_tensor *wt = NULL, *ct = NULL, *zt = NULL, *logdet = NULL;
    const int64_t shape[] = {n, f->p.dim}, cshape[] = {n, f->p.cond_dim};
    adapt_status st = adapt_context_create(&ctx, &cp);
    if (!st)
        st = ad_tensor_new(&wt, ctx, 2, shape);
    if (!st && cond)
        st = ad_tensor_new(&ct, ctx, 2, cshape);
    if (!st) {
        memcpy(wt->data, w, (size_t)(n * f->p.dim) * sizeof(float));
        if (ct)
            memcpy(ct->data, cond, (size_t)(n * f->p.cond_dim) * sizeof(float));
        if (!ad_all_finite(wt->data, wt->numel) || (ct && !ad_all_finite(ct->data, ct->numel)))
            st = ad_fail(ADAPT_ERR_NONFINITE, "%s: w or cond holds NaN or infinity", fn);
    }
    if (!st)
        st = ad_flow_forward(&zt, &logdet, ctx, f, wt, ct, fn);
    if (!st)
        memcpy(z, zt->data, (size_t)(n * f->p.dim) * sizeof(float));
    adapt_context_free(ctx);
    return st;
}

adapt_status adapt_flow_edit(float *w_out, adapt_flow *flow, const float *w, const float *cond,
                             int64_t n, const int32_t *dims, int32_t n_dims,
                             const float *values)
{
    adapt_status st = check_edit(flow, w_out, w, n, dims, n_dims, values);
    if (st || n == 0)
        return st;
    if (!cond != !flow->p.cond_dim)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: the flow takes %s", fn,
                       flow->p.cond_dim ? "a conditioning vector; cond is NULL" : "no cond");
    float *z = malloc((size_t)(n * flow->p.dim) * sizeof *z);
    st = z ? encode(z, flow, w, cond, n)
           : ad_fail(ADAPT_ERR_OUT_OF_MEMORY, "%s: %lld rows", fn, (long long)n);
    for (int64_t i = 0; i < n && !st; i++)
        for (int32_t k = 0; k < n_dims; k++)
            z[i * flow->p.dim + dims[k]] = values[i * n_dims + k];
    if (!st) /* the inverse checks nothing new and writes w_out only when it succeeds */
        st = adapt_flow_inverse(w_out, flow, z, cond, n);
    free(z);
    return ad_prefix(st, fn);
}
