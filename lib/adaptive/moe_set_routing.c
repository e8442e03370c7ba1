/* adapt_model_set_routing: one routing for every Mixture-of-Experts layer of a model, those
 * inside its replacing modules included. Checked on every layer before any is set. */
#include "lib/adaptive/moe.h"
#include "lib/core/error.h"
#include "lib/models/model_impl.h"
#include "lib/nn/layer_kinds.h"

static const char *const fn = "adapt_model_set_routing";

typedef struct {
    int32_t rule, top_k, count;
    float tau;
    bool apply; /* false: check only */
} routing_visit;

static adapt_status visit(adapt_model *m, routing_visit *v)
{
    for (int32_t b = 0; b < m->n_blocks; b++)
        for (int32_t i = 0; i < m->blocks[b].n_layers; i++) {
            ad_layer *l = &m->blocks[b].layers[i];
            if (l->kind != &ad_kind_moe)
                continue;
            adapt_status st = ad_moe_check_routing(v->rule, v->tau, v->top_k,
                                                   l->params.experts, fn);
            if (st)
                return st;
            if (v->apply)
                l->params.routing = v->rule, l->params.tau = v->tau,
                l->params.top_k = v->top_k;
            v->count++;
        }
    for (int32_t r = 0; r < m->n_replaced; r++) {
        adapt_status st = visit(m->replaced[r].module, v);
        if (st)
            return st;
    }
    return ADAPT_OK;
}

adapt_status adapt_model_set_routing(adapt_model *model, int32_t rule, float tau,
                                     int32_t top_k, int32_t *count)
{
    if (!model)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: model is NULL", fn);
    ad_hold hold;
    adapt_status st = ad_model_enter(&hold, model, AD_WRITE, fn);
    if (st)
        return st;
    routing_visit v = {rule, top_k, 0, tau, false};
    st = ad_moe_check_routing(rule, tau, top_k, INT32_MAX, fn); /* a model without layers too */
    if (!st)
        st = visit(model, &v);
    if (!st) {
        v.apply = true, v.count = 0;
        st = visit(model, &v);
    }
    ad_busy_leave(&hold);
    if (!st && count)
        *count = v.count;
    return st;
}
