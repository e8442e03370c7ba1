/* The normalizing flow handle (docs/flows.md): coupling layers, each with its residual net,
 * and batch normalisation between them. */
#ifndef AD_FLOW_FLOW_H
#define AD_FLOW_FLOW_H

#include "adapt.h"
#include "lib/nn/linear.h"
#include "lib/nn/params.h"

#define AD_FLOW_MAX_BLOCKS 16

/* The net of one coupling: [kept half, cond] -> hidden -> residual blocks -> [s, t] (t alone
 * for an additive coupling). Its last layer starts at zero, so the coupling starts as the
 * identity. */
typedef struct {
    ad_linear in, out;
    ad_linear block[AD_FLOW_MAX_BLOCKS][2]; /* h + W2 relu(W1 h) */
    int32_t parity;                         /* which half it transforms (ad_coupling_columns) */
} ad_coupling_net;

typedef struct {
    adapt_tensor *gamma, *beta, *running_mean, *running_var;
} ad_flow_norm;

struct adapt_flow {
    adapt_flow_params p;
    ad_param_list params;
    ad_coupling_net *nets; /* p.couplings */
    ad_flow_norm *norms;   /* p.couplings; norms[0] and all of them without batch_norm unused */
};

#define AD_FLOW_BN_EPS 1e-5f
#define AD_FLOW_BN_MOMENTUM 0.1f

/* Whether coupling c is preceded by batch normalisation. */
static inline int ad_flow_normalises(const adapt_flow *f, int32_t c)
{
    return f->p.batch_norm && c > 0;
}

/* s (NULL for an additive coupling) and t of coupling `net` from the kept half of x [N, dim]
 * and cond [N, cond_dim] or NULL (flow_forward.c). */
adapt_status ad_flow_net_forward(adapt_tensor **s, adapt_tensor **t, adapt_context *ctx,
                                 const adapt_flow *f, const ad_coupling_net *net,
                                 adapt_tensor *x, adapt_tensor *cond);

/* A flow of settings p (checked) holding at most `limit` parameter values: more is FORMAT
 * (a checkpoint's settings that its tensors cannot fill). Messages name adapt_flow_create. */
adapt_status ad_flow_make(adapt_flow **out, const adapt_flow_params *p, int64_t limit);

/* INVALID_ARGUMENT when a parameter makes the flow non-invertible: a batch normalisation's
 * scale of 0 or not finite, a running variance negative or not finite (flow.c). */
adapt_status ad_flow_check_invertible(const adapt_flow *f, const char *caller);

/* SHAPE or INVALID_ARGUMENT unless w is [N >= 1, dim], cond what the flow takes and the flow
 * invertible. */
adapt_status ad_flow_check_inputs(const adapt_flow *f, const adapt_tensor *w,
                                  const adapt_tensor *cond, const char *fn);

/* z = f(w) and logdet [N] on records (adapt_flow_forward without the handles). */
adapt_status ad_flow_forward(adapt_tensor **z, adapt_tensor **logdet, adapt_context *ctx,
                             const adapt_flow *f, adapt_tensor *w, adapt_tensor *cond,
                             const char *fn);

#endif
