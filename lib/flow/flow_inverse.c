/* A flow's exact inverse, w = f^-1(z): the couplings undone last to first, each net fed the
 * half its coupling kept (which it left as it was), and batch normalisation undone with its
 * running statistics. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lib/core/context.h"
#include "lib/core/error.h"
#include "lib/core/handle.h"
#include "lib/core/tensor.h"
#include "lib/flow/flow.h"
#include "lib/ops/ops.h"

static const char *const fn = "adapt_flow_inverse";

static void undo_norm(float *x, const ad_flow_norm *n, int64_t rows, int64_t d)
{
    for (int64_t j = 0; j < d; j++) {
        const double scale = sqrt((double)n->running_var->data[j] + AD_FLOW_BN_EPS)
                             / n->gamma->data[j];
        for (int64_t i = 0; i < rows; i++)
            x[i * d + j] = (float)((x[i * d + j] - n->beta->data[j]) * scale
                                   + n->running_mean->data[j]);
    }
}

/* Undoes coupling c (and the normalisation before it) on x [rows, dim] in place. */
static adapt_status undo_step(float *x, adapt_context *ctx, const adapt_flow *f, int32_t c,
                              const float *cond, int64_t rows)
{
    const int64_t shape[] = {rows, f->p.dim}, cshape[] = {rows, f->p.cond_dim};
    adapt_tensor *y = NULL, *ct = NULL, *s = NULL, *t = NULL;
    adapt_status st = ad_tensor_new(&y, ctx, 2, shape);
    if (!st && cond)
        st = ad_tensor_new(&ct, ctx, 2, cshape);
    if (st)
        return st;
    memcpy(y->data, x, (size_t)(rows * f->p.dim) * sizeof(float));
    if (ct)
        memcpy(ct->data, cond, (size_t)(rows * f->p.cond_dim) * sizeof(float));
    st = ad_flow_net_forward(&s, &t, ctx, f, &f->nets[c], y, ct);
    if (st)
        return st;
    ad_coupling_inverse(x, x, s ? s->data : NULL, t->data, rows, f->p.dim, f->nets[c].parity);
    if (ad_flow_normalises(f, c))
        undo_norm(x, &f->norms[c], rows, f->p.dim);
    adapt_context_reset(ctx);
    return ADAPT_OK;
}

static adapt_status check_call(const adapt_flow *f, const float *w, const float *z,
                               const float *cond, int64_t n)
{
    if (!f || !w || (!z && n > 0) || n < 0)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: %s", fn,
                       !f ? "flow is NULL" : !w ? "w is NULL" : n < 0 ? "n < 0" : "z is NULL");
    if (!cond != !f->p.cond_dim && n > 0)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: the flow takes %s", fn,
                       f->p.cond_dim ? "a conditioning vector; cond is NULL" : "no cond");
    if (n > INT64_MAX / f->p.dim || (cond && n > INT64_MAX / f->p.cond_dim))
        return ad_fail(ADAPT_ERR_OVERFLOW, "%s: %lld rows", fn, (long long)n);
    if (n > 0 && (!ad_all_finite(z, n * f->p.dim)
                  || (cond && !ad_all_finite(cond, n * f->p.cond_dim))))
        return ad_fail(ADAPT_ERR_NONFINITE, "%s: %s holds NaN or infinity", fn,
                       ad_all_finite(z, n * f->p.dim) ? "cond" : "z");
    return ad_flow_check_invertible(f, fn);
}

adapt_status adapt_flow_inverse(float *w, adapt_flow *flow, const float *z, const float *cond,
                                int64_t n)
{
    adapt_status st = check_call(flow, w, z, cond, n);
    if (st || n == 0)
        return st;
    float *x = malloc((size_t)(n * flow->p.dim) * sizeof *x);
    adapt_context_params cp;
    adapt_context_params_init(&cp, sizeof cp);
    adapt_context *ctx = NULL;
    st = x ? adapt_context_create(&ctx, &cp)
           : ad_fail(ADAPT_ERR_OUT_OF_MEMORY, "%s: %lld rows", fn, (long long)n);
    if (!st)
        memcpy(x, z, (size_t)(n * flow->p.dim) * sizeof *x);
    for (int32_t c = flow->p.couplings - 1; c >= 0 && !st; c--)
        st = undo_step(x, ctx, flow, c, cond, n);
    if (!st)
        memcpy(w, x, (size_t)(n * flow->p.dim) * sizeof *x);
    adapt_context_free(ctx);
    free(x);
    return ad_prefix(st, fn);
}
