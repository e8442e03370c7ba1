/* Making a flow: settings, parameters in a fixed order, release; the check that it is invertible. */
#include "lib/flow/flow.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/core/error.h"
#include "lib/core/handle.h"
#include "lib/core/struct_io.h"
#include "lib/core/tensor.h"

static const char *const fn = "adapt_flow_create";

void adapt_flow_params_init(adapt_flow_params *params, size_t size)
{
    static const adapt_flow_params defaults = {.couplings = 8, .hidden = 128, .blocks = 2,
                                               .batch_norm = 1};
    ad_struct_init(params, size, &defaults, sizeof defaults);
}

static adapt_status check_params(const adapt_flow_params *p)
{
    if (p->dim < 2 || p->cond_dim < 0 || p->hidden < 1)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: dim = %lld (>= 2), cond_dim = %lld "
                       "(>= 0) and hidden = %lld (>= 1) are out of range", fn,
                       (long long)p->dim, (long long)p->cond_dim, (long long)p->hidden);
    if (p->couplings < 1 || p->blocks < 0 || p->blocks > AD_FLOW_MAX_BLOCKS
        || (p->coupling != ADAPT_COUPLING_AFFINE && p->coupling != ADAPT_COUPLING_ADDITIVE))
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: couplings = %d (>= 1), blocks = %d "
                       "(0 to %d) or coupling = %d (AFFINE or ADDITIVE) is out of range", fn,
                       (int)p->couplings, (int)p->blocks, AD_FLOW_MAX_BLOCKS, (int)p->coupling);
    if (p->dim > INT64_MAX / 4 || p->hidden > INT64_MAX / p->hidden
        || p->cond_dim > INT64_MAX / 4)
        return ad_fail(ADAPT_ERR_OVERFLOW, "%s: the widths are too large", fn);
    return ADAPT_OK;
}

/* Zeroes the net's last layer: the coupling starts as the identity. */
static void start_as_identity(ad_coupling_net *net)
{
    memset(net->out.weight->data, 0, (size_t)net->out.weight->numel * sizeof(float));
    memset(net->out.bias->data, 0, (size_t)net->out.bias->numel * sizeof(float));
}

static adapt_status add_net(adapt_flow *f, int32_t c)
{
    const adapt_flow_params *p = &f->p;
    ad_coupling_net *net = &f->nets[c];
    net->parity = c % 2;
    const int64_t moved = net->parity ? p->dim / 2 : p->dim - p->dim / 2;
    const int64_t kept = p->dim - moved;
    const int64_t outputs = p->coupling == ADAPT_COUPLING_AFFINE ? 2 * moved : moved;
    char prefix[AD_PREFIX_MAX], name[AD_PREFIX_MAX];
    snprintf(prefix, sizeof prefix, "couplings.%d.net.", (int)c);
    adapt_status st = ad_linear_init(&net->in, &f->params, ad_prefix_join(name, prefix, "in."),
                                     kept + p->cond_dim, p->hidden, true);
    for (int32_t b = 0; b < p->blocks && !st; b++)
        for (int k = 0; k < 2 && !st; k++) {
            char part[32];
            snprintf(part, sizeof part, "blocks.%d.%d.", (int)b, k);
            st = ad_linear_init(&net->block[b][k], &f->params,
                                ad_prefix_join(name, prefix, part), p->hidden, p->hidden, true);
        }
    if (!st)
        st = ad_linear_init(&net->out, &f->params, ad_prefix_join(name, prefix, "out."),
                            p->hidden, outputs, true);
    if (!st)
        start_as_identity(net);
    return st;
}

static adapt_status add_norm(adapt_flow *f, int32_t c)
{
    char prefix[AD_PREFIX_MAX];
    snprintf(prefix, sizeof prefix, "norms.%d.", (int)c);
    ad_flow_norm *n = &f->norms[c];
    const ad_init one = {AD_INIT_CONSTANT, 1.0f, false}, zero = {AD_INIT_CONSTANT, 0.0f, false};
    const ad_init zero_buffer = {AD_INIT_CONSTANT, 0.0f, true};
    const ad_init one_buffer = {AD_INIT_CONSTANT, 1.0f, true};
    const int64_t *d = &f->p.dim;
    adapt_status st = ad_params_add(&n->gamma, &f->params, prefix, "weight", 1, d, one);
    if (!st)
        st = ad_params_add(&n->beta, &f->params, prefix, "bias", 1, d, zero);
    if (!st)
        st = ad_params_add(&n->running_mean, &f->params, prefix, "running_mean", 1, d,
                           zero_buffer);
    if (!st)
        st = ad_params_add(&n->running_var, &f->params, prefix, "running_var", 1, d,
                           one_buffer);
    return st;
}

void adapt_flow_free(adapt_flow *flow)
{
    if (!flow)
        return;
    ad_params_free(&flow->params);
    free(flow->nets);
    free(flow->norms);
    free(flow);
}

adapt_status ad_flow_make(adapt_flow **out, const adapt_flow_params *p, int64_t limit)
{
    adapt_status st = check_params(p);
    if (st)
        return st;
    adapt_flow *f = calloc(1, sizeof *f);
    if (f) {
        f->nets = calloc((size_t)p->couplings, sizeof *f->nets);
        f->norms = calloc((size_t)p->couplings, sizeof *f->norms);
    }
    if (!f || !f->nets || !f->norms) {
        adapt_flow_free(f);
        return ad_fail(ADAPT_ERR_OUT_OF_MEMORY, "%s: no memory for %d couplings", fn,
                       (int)p->couplings);
    }
    f->p = *p;
    ad_params_init(&f->params, p->seed, limit);
    for (int32_t c = 0; c < p->couplings && !st; c++) {
        if (ad_flow_normalises(f, c))
            st = add_norm(f, c);
        if (!st)
            st = add_net(f, c);
    }
    if (st) {
        adapt_flow_free(f);
        return st;
    }
    *out = f;
    return ADAPT_OK;
}

adapt_status adapt_flow_create(adapt_flow **out, const adapt_flow_params *params)
{
    adapt_flow_params p;
    adapt_flow_params_init(&p, sizeof p);
    adapt_status st = out ? ad_struct_read(&p, sizeof p, params, "adapt_flow_params", fn)
                          : ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: out is NULL", fn);
    if (!st)
        st = ad_flow_make(out, &p, INT64_MAX);
    return ad_prefix(st, fn);
}

adapt_status adapt_flow_settings(const adapt_flow *flow, adapt_flow_params *params)
{
    static const char *const caller = "adapt_flow_settings";
    adapt_status st = flow ? ad_struct_check_out(params, "params", "adapt_flow_params", caller)
                           : ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: flow is NULL", caller);
    if (!st)
        ad_struct_write(params, &flow->p, sizeof flow->p);
    return st;
}

int32_t adapt_flow_param_count(const adapt_flow *flow)
{
    return flow ? flow->params.count : 0;
}

adapt_tensor *adapt_flow_param(const adapt_flow *flow, int32_t index)
{
    if (!flow || index < 0 || index >= flow->params.count)
        return NULL;
    return ad_tensor_handle(flow->params.items[index].tensor);
}

const char *adapt_flow_param_name(const adapt_flow *flow, int32_t index)
{
    if (!flow || index < 0 || index >= flow->params.count)
        return NULL;
    return flow->params.items[index].name;
}

adapt_status ad_flow_check_invertible(const adapt_flow *f, const char *caller)
{
    for (int32_t c = 0; c < f->p.couplings; c++) {
        if (!ad_flow_normalises(f, c))
            continue;
        const ad_flow_norm *n = &f->norms[c];
        for (int64_t j = 0; j < f->p.dim; j++) {
            const float gamma = n->gamma->data[j], var = n->running_var->data[j];
            if (gamma == 0.0f || !isfinite(gamma) || !(var >= 0.0f) || !isfinite(var))
                return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: the flow is not invertible: "
                               "batch normalisation %d's scale (norms.%d.weight[%lld] = %g) "
                               "must be finite and non-zero and its running variance "
                               "(%g) finite and >= 0", caller, (int)c, (int)c, (long long)j,
                               (double)gamma, (double)var);
        }
    }
    return ADAPT_OK;
}
