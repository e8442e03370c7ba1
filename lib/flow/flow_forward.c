/* A flow's forward pass z = f(w) with log |det dz/dw| per row (taped when the context
 * records), and its exact inverse with the running statistics. */
#include <math.h>
#include <string.h>

#include "lib/core/context.h"
#include "lib/core/error.h"
#include "lib/core/handle.h"
#include "lib/core/tensor.h"
#include "lib/flow/flow.h"
#include "lib/ops/ops.h"

/* The columns a coupling keeps: the complement of those it moves. */
static void kept_columns(int64_t *lo, int64_t *hi, int64_t d, int32_t parity)
{
    int64_t mlo, mhi;
    ad_coupling_columns(&mlo, &mhi, d, parity);
    *lo = mlo ? 0 : mhi;
    *hi = mlo ? mlo : d;
}

adapt_status ad_flow_net_forward(adapt_tensor **s, adapt_tensor **t, adapt_context *ctx,
                                const adapt_flow *f, const ad_coupling_net *net, adapt_tensor *x,
                                adapt_tensor *cond)
{
    int64_t lo, hi;
    kept_columns(&lo, &hi, f->p.dim, net->parity);
    adapt_tensor *h = NULL, *u = NULL, *o = NULL;
    adapt_status st = ad_op_slice(&h, ctx, x, 1, lo, hi);
    if (!st && cond)
        st = ad_op_concat(&h, ctx, (adapt_tensor *[]){h, cond}, 2, 1);
    if (!st)
        st = ad_linear_forward_act(&h, ctx, &net->in, h, AD_ACT_RELU);
    for (int32_t b = 0; b < f->p.blocks && !st; b++) { /* h + W2 relu(W1 h) */
        st = ad_linear_forward_act(&u, ctx, &net->block[b][0], h, AD_ACT_RELU);
        if (!st)
            st = ad_linear_forward(&u, ctx, &net->block[b][1], u);
        if (!st)
            st = ad_op_add(&h, ctx, h, u);
    }
    if (!st && f->p.blocks > 0)
        st = ad_op_relu(&h, ctx, h);
    if (!st)
        st = ad_linear_forward(&o, ctx, &net->out, h);
    if (st || f->p.coupling == ADAPT_COUPLING_ADDITIVE) {
        *s = NULL, *t = o;
        return st;
    }
    const int64_t moved = o->shape[1] / 2;
    st = ad_op_slice(s, ctx, o, 1, 0, moved);
    if (!st) /* bounded scales keep exp(s) tame early in training */
        st = ad_op_tanh(s, ctx, *s);
    return st ? st : ad_op_slice(t, ctx, o, 1, moved, 2 * moved);
}

/* acc + term, or term when acc is NULL. */
static adapt_status accumulate(adapt_tensor **acc, adapt_context *ctx, adapt_tensor *term)
{
    if (!*acc) {
        *acc = term;
        return ADAPT_OK;
    }
    return ad_op_add(acc, ctx, *acc, term);
}

/* One coupling (and the normalisation before it) on *x, adding its log-dets: per row to
 * *rows, per batch (normalisation) to *shared. */
static adapt_status step_forward(adapt_tensor **x, adapt_tensor **rows, adapt_tensor **shared,
                                 adapt_context *ctx, const adapt_flow *f, int32_t c,
                                 adapt_tensor *cond)
{
    adapt_status st = ADAPT_OK;
    if (ad_flow_normalises(f, c)) {
        const ad_flow_norm *n = &f->norms[c];
        adapt_tensor *ld = NULL;
        st = ad_op_batchnorm_logdet(&ld, ctx, *x, n->gamma, n->running_var, AD_FLOW_BN_EPS);
        if (!st)
            st = accumulate(shared, ctx, ld);
        if (!st)
            st = ad_op_batchnorm(x, ctx, *x, n->gamma, n->beta, n->running_mean,
                                 n->running_var, AD_FLOW_BN_MOMENTUM, AD_FLOW_BN_EPS);
    }
    adapt_tensor *s = NULL, *t = NULL, *ld = NULL;
    if (!st)
        st = ad_flow_net_forward(&s, &t, ctx, f, &f->nets[c], *x, cond);
    if (!st)
        st = ad_op_coupling(x, ctx, *x, s, t, f->nets[c].parity);
    if (!st && s)
        st = ad_op_sum(&ld, ctx, s, 1);
    return st || !s ? st : accumulate(rows, ctx, ld);
}

/* Per-row log-dets [n]: the couplings' sums plus the normalisations' shared term. */
static adapt_status finish_logdet(adapt_tensor **logdet, adapt_context *ctx, adapt_tensor *rows,
                                  adapt_tensor *shared, int64_t n)
{
    if (!rows) {
        adapt_status st = ad_tensor_new(&rows, ctx, 1, &n);
        if (st)
            return st;
        memset(rows->data, 0, (size_t)n * sizeof(float));
    }
    *logdet = rows;
    return shared ? ad_op_add(logdet, ctx, rows, shared) : ADAPT_OK;
}

adapt_status ad_flow_check_inputs(const adapt_flow *f, const adapt_tensor *w,
                                 const adapt_tensor *cond, const char *fn)
{
    if (w->ndim != 2 || w->shape[1] != f->p.dim || w->shape[0] < 1)
        return ad_fail(ADAPT_ERR_SHAPE, "%s: w must be [N, %lld], N >= 1", fn,
                       (long long)f->p.dim);
    if (!cond != !f->p.cond_dim)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: the flow takes %s", fn,
                       f->p.cond_dim ? "a conditioning vector; cond is NULL" : "no cond");
    if (cond && (cond->ndim != 2 || cond->shape[0] != w->shape[0]
                 || cond->shape[1] != f->p.cond_dim))
        return ad_fail(ADAPT_ERR_SHAPE, "%s: cond must be [%lld, %lld]", fn,
                       (long long)w->shape[0], (long long)f->p.cond_dim);
    return ad_flow_check_invertible(f, fn);
}

adapt_status ad_flow_forward(adapt_tensor **z, adapt_tensor **logdet, adapt_context *ctx,
                             const adapt_flow *f, adapt_tensor *w, adapt_tensor *cond,
                             const char *fn)
{
    adapt_status st = ad_flow_check_inputs(f, w, cond, fn);
    adapt_tensor *x = w, *rows = NULL, *shared = NULL;
    for (int32_t c = 0; c < f->p.couplings && !st; c++)
        st = step_forward(&x, &rows, &shared, ctx, f, c, cond);
    if (!st)
        st = finish_logdet(logdet, ctx, rows, shared, w->shape[0]);
    if (!st)
        *z = x;
    return ad_prefix(st, fn);
}

adapt_status adapt_flow_forward(adapt_tensor **z, adapt_tensor **logdet, adapt_context *ctx,
                                adapt_flow *flow, adapt_tensor *w, adapt_tensor *cond)
{
    static const char *const fn = "adapt_flow_forward";
    adapt_tensor *wr = NULL, *cr = NULL, *zr = NULL, *lr = NULL;
    adapt_status st = ad_check_context(ctx, fn);
    if (!st && (!z || !logdet || !flow))
        st = ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: %s is NULL", fn,
                     !z ? "z" : !logdet ? "logdet" : "flow");
    if (!st)
        st = ad_tensor_from_handle(&wr, w, fn, "w");
    if (!st)
        st = ad_check_tensor(ctx, wr, fn, "w");
    if (!st && cond && !(st = ad_tensor_from_handle(&cr, cond, fn, "cond")))
        st = ad_check_tensor(ctx, cr, fn, "cond");
    if (!st)
        st = ad_flow_forward(&zr, &lr, ctx, flow, wr, cr, fn);
    if (st)
        return st;
    *z = ad_tensor_hand_out(zr);
    *logdet = ad_tensor_hand_out(lr);
    return ADAPT_OK;
}
