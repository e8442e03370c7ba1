/* adapt_acm_for: a fresh ACM with the per-token shapes of a model's submodule, its learners
 * together FLOP-matched to it; adapt_model_set_acm_learners: how many learners every ACM of
 * a model runs. */
#include <math.h>
#include <string.h>

#include "lib/adaptive/acm.h"
#include "lib/adaptive/ffn.h"
#include "lib/core/error.h"
#include "lib/core/struct_io.h"
#include "lib/nn/layer_kinds.h"

static const char *const fn = "adapt_acm_for";

void adapt_acm_params_init(adapt_acm_params *params, size_t size)
{
    static const adapt_acm_params defaults = {.learners = 4, .gate_width = 16};
    ad_struct_init(params, size, &defaults, sizeof defaults);
}

/* Whether the submodule at `site` maps each token on its own: a part other than a whole
 * attention, a slice, or a layer of a token-wise kind. */
static bool token_wise(const adapt_model *model, const ad_site *site)
{
    const ad_layer *l = &model->blocks[site->block].layers[site->layer];
    if (site->part)
        return strcmp(site->part->name, "attn") != 0;
    return site->span > 1 || l->kind == &ad_kind_token_linear || l->kind == &ad_kind_moe ||
           l->kind == &ad_kind_acm || (l->kind == &ad_kind_linear && l->in.ndim == 1);
}

/* The layer an ACM at this site is: a two-layer network's learners share its activation and
 * split its hidden units; a projection's are rank-h pieces with h FLOP-matched to it, and one
 * always runs. */
static adapt_status plan(adapt_layer_params *layer, ad_dims *in, const adapt_model *model,
                         const char *path, const adapt_acm_params *p)
{
    ad_site site;
    ad_dims out;
    adapt_status st = ad_model_site(&site, model, path, fn);
    if (st)
        return st;
    ad_site_shapes(in, &out, model, &site);
    const int64_t d_in = in->d[in->ndim - 1], d_out = out.d[out.ndim - 1];
    bool same_tokens = in->ndim == out.ndim;
    for (int32_t i = 0; same_tokens && i + 1 < in->ndim; i++)
        same_tokens = in->d[i] == out.d[i];
    if (!same_tokens || !token_wise(model, &site))
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: \"%s\" does not map each token on its "
                       "own (a linear layer on the last axis, a projection, a two-layer "
                       "network)", fn, path);
    adapt_layer_params_init(layer, sizeof *layer);
    layer->kind = ADAPT_LAYER_ACM, layer->out_features = d_out;
    layer->learners = p->learners, layer->gate_width = p->gate_width;
    ad_ffn f;
    st = ad_ffn_at(&f, model, path, fn);
    if (st == ADAPT_ERR_NONFINITE)
        return st;
    if (!st) {
        const int64_t hidden = f.first->out_features;
        if (!p->learner_width && hidden % p->learners)
            return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: %d learners do not divide the %lld "
                           "hidden units of \"%s\"", fn, (int)p->learners, (long long)hidden,
                           path);
        layer->activation = f.act == AD_ACT_GELU ? ADAPT_ACTIVATION_GELU : ADAPT_ACTIVATION_RELU;
        layer->learner_width = p->learner_width ? p->learner_width : hidden / p->learners;
        return ADAPT_OK;
    }
    const double matched = (double)(d_in * d_out + d_out) / (p->learners * (d_in + d_out + 1.0));
    layer->activation = ADAPT_ACTIVATION_IDENTITY, layer->min_learners = 1;
    layer->learner_width = p->learner_width ? p->learner_width
                                            : (int64_t)fmax(1.0, round(matched));
    return ADAPT_OK;
}

static adapt_status check_params(const adapt_acm_params *p)
{
    if (p->learners < 1 || p->gate_width < 1 || p->learner_width < 0)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: learners %d and gate_width %d must be "
                       ">= 1, learner_width %lld >= 0", fn, (int)p->learners,
                       (int)p->gate_width, (long long)p->learner_width);
    return ADAPT_OK;
}

adapt_status adapt_acm_for(adapt_model **acm, const adapt_model *model, const char *path,
                           const adapt_acm_params *params)
{
    if (!acm || !model || !path)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: acm, model or path is NULL", fn);
    adapt_acm_params p;
    adapt_acm_params_init(&p, sizeof p);
    adapt_status st = ad_read_struct(&p, sizeof p, params, "adapt_acm_params", fn);
    if (!st)
        st = check_params(&p);
    ad_hold hold;
    if (!st)
        st = ad_model_enter(&hold, (adapt_model *)model, AD_READ, fn);
    if (st)
        return st;
    adapt_layer_params layer;
    ad_dims in;
    st = plan(&layer, &in, model, path, &p);
    ad_busy_leave(&hold);
    adapt_model *m = NULL;
    if (!st)
        st = adapt_model_create_sequential(&m, in.ndim, in.d, p.seed);
    if (!st)
        st = adapt_model_append(m, &layer);
    if (st)
        adapt_model_free(m);
    else
        *acm = m;
    return ad_prefix(st, fn);
}

typedef struct {
    int32_t learners, count;
    bool apply; /* false: check only */
} learners_visit;

static adapt_status visit(adapt_model *m, learners_visit *v, const char *name)
{
    for (int32_t b = 0; b < m->n_blocks; b++)
        for (int32_t i = 0; i < m->blocks[b].n_layers; i++) {
            ad_layer *l = &m->blocks[b].layers[i];
            if (l->kind != &ad_kind_acm)
                continue;
            ad_acm *a = AD_LAYER_STATE(l, ad_acm);
            if (v->learners > a->learners || (v->learners >= 0 && v->learners < a->min_learners))
                return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: %d learners is outside [%d, %d] "
                               "for an ACM layer", name, (int)v->learners,
                               (int)a->min_learners, (int)a->learners);
            if (v->apply)
                a->fixed = v->learners;
            v->count++;
        }
    for (int32_t r = 0; r < m->n_replaced; r++) {
        adapt_status st = visit(m->replaced[r].module, v, name);
        if (st)
            return st;
    }
    return ADAPT_OK;
}

adapt_status adapt_model_set_acm_learners(adapt_model *model, int32_t learners, int32_t *count)
{
    const char *name = "adapt_model_set_acm_learners";
    if (!model)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: model is NULL", name);
    if (learners < -1)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: learners %d is below -1", name,
                       (int)learners);
    ad_hold hold;
    adapt_status st = ad_model_enter(&hold, model, AD_WRITE, name);
    if (st)
        return st;
    learners_visit v = {learners, 0, false};
    st = visit(model, &v, name);
    if (!st) {
        v.apply = true, v.count = 0;
        st = visit(model, &v, name);
    }
    ad_busy_leave(&hold);
    if (!st && count)
        *count = v.count;
    return st;
}
