/* adapt_moe_from_ffn: a dense two-layer network split into equal experts (MoEfication's step
 * as D2DMoE takes it): its hidden units clustered by balanced k-means on the unit-norm rows of
 * the first weight, each cluster an expert. */
#include <stdlib.h>
#include <string.h>

#include "lib/adaptive/ffn.h"
#include "lib/adaptive/moe.h"
#include "lib/adaptive/moe_kmeans.h"
#include "lib/core/error.h"
#include "lib/core/struct_io.h"
#include "lib/core/tensor.h"

static const char *const fn = "adapt_moe_from_ffn";

void adapt_moe_params_init(adapt_moe_params *params, size_t size)
{
    static const adapt_moe_params defaults = {.experts = 8, .router_width = 128,
                                              .iterations = 20};
    ad_struct_init(params, size, &defaults, sizeof defaults);
}

static adapt_status check_params(const adapt_moe_params *p, const ad_ffn *d)
{
    const int64_t hidden = d->first->out_features;
    if (p->experts < 1 || hidden % p->experts)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: %d experts do not divide the %lld "
                       "hidden units", fn, (int)p->experts, (long long)hidden);
    if (p->router_width < 1 || p->iterations < 1)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: router_width %d and iterations %d "
                       "must be >= 1", fn, (int)p->router_width, (int)p->iterations);
    return ADAPT_OK;
}

/* Unit u of the dense network as unit j of expert e: its row of W1 (a column of the expert's
 * [in, hidden] block), its entry of b1, its column of W2 (a row of the [hidden, out] block). */
static void deal_unit(ad_moe *m, const ad_ffn *d, int64_t u, int64_t e, int64_t j)
{
    const float *w1 = d->first->weight->data, *w2 = d->second->weight->data;
    const int64_t units = m->experts * m->hidden;
    for (int64_t i = 0; i < m->in; i++)
        m->w1->data[(e * m->in + i) * m->hidden + j] = w1[u * m->in + i];
    m->b1->data[e * m->hidden + j] = d->first->bias->data[u];
    for (int64_t o = 0; o < m->out; o++)
        m->w2->data[(e * m->hidden + j) * m->out + o] = w2[o * units + u];
}

/* Expert e gets the units of cluster e, in increasing order; b2 becomes the shared bias. */
static adapt_status deal_weights(ad_moe *m, const ad_ffn *d, const int32_t *cluster)
{
    for (int64_t e = 0; e < m->experts; e++) {
        int64_t j = 0;
        for (int64_t u = 0; u < m->experts * m->hidden; u++) {
            if (cluster[u] != e)
                continue;
            if (j == m->hidden)
                return ad_fail(ADAPT_ERR_INTERNAL, "%s: cluster %lld is not %lld units", fn,
                               (long long)e, (long long)m->hidden);
            deal_unit(m, d, u, e, j++);
        }
    }
    memcpy(m->bias->data, d->second->bias->data, (size_t)m->out * sizeof(float));
    return ADAPT_OK;
}

static adapt_status build(adapt_model **out, const ad_ffn *d, const adapt_moe_params *p)
{
    const int64_t units = d->first->out_features;
    int32_t *cluster = malloc((size_t)units * sizeof *cluster);
    if (!cluster)
        return ad_fail(ADAPT_ERR_OUT_OF_MEMORY, "%s: %lld cluster labels", fn, (long long)units);
    adapt_status st = ad_balanced_kmeans(cluster, d->first->weight->data, units,
                                         d->first->in_features, p->experts, p->seed,
                                         p->iterations, fn);
    adapt_model *moe = NULL;
    if (!st)
        st = adapt_model_create_sequential(&moe, d->in.ndim, d->in.d, p->seed);
    adapt_layer_params layer;
    adapt_layer_params_init(&layer, sizeof layer);
    layer.kind = ADAPT_LAYER_MOE, layer.out_features = d->second->out_features;
    layer.experts = p->experts, layer.expert_width = units / p->experts;
    layer.router_width = p->router_width;
    layer.activation = d->act == AD_ACT_GELU ? ADAPT_ACTIVATION_GELU : ADAPT_ACTIVATION_RELU;
    if (!st)
        st = adapt_model_append(moe, &layer);
    if (!st)
        st = deal_weights(AD_LAYER_STATE(&moe->blocks[0].layers[0], ad_moe), d, cluster);
    free(cluster);
    if (st)
        adapt_model_free(moe);
    else
        *out = moe;
    return st;
}

adapt_status adapt_moe_from_ffn(adapt_model **moe, const adapt_model *model, const char *path,
                                const adapt_moe_params *params)
{
    if (!moe || !model || !path)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: moe, model or path is NULL", fn);
    adapt_moe_params p;
    adapt_moe_params_init(&p, sizeof p);
    adapt_status st = ad_read_struct(&p, sizeof p, params, "adapt_moe_params", fn);
    if (st)
        return st;
    ad_hold hold;
    st = ad_model_enter(&hold, (adapt_model *)model, AD_READ, fn);
    if (st)
        return st;
    ad_ffn d;
    st = ad_ffn_at(&d, model, path, fn);
    if (!st)
        st = check_params(&p, &d);
    if (!st)
        st = build(moe, &d, &p);
    ad_busy_leave(&hold);
    return ad_prefix(st, fn);
}
