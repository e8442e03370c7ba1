/* The phases of interval continual learning on a model's interval_linear layers: which
 * parameters train, and the consolidation between tasks that makes each layer's box the one
 * later tasks stay inside (docs/intervals.md). */
#include <math.h>

#include "lib/adaptive/interval_linear.h"
#include "lib/core/context.h"
#include "lib/core/error.h"
#include "lib/core/tensor.h"
#include "lib/models/model_impl.h"
#include "lib/nn/layer_kinds.h"

static void train_only(adapt_tensor *t, bool on)
{
    t->flags = on ? t->flags | AD_TENSOR_REQUIRES_GRAD
                  : t->flags & ~(uint32_t)AD_TENSOR_REQUIRES_GRAD;
}

static void boxed_train(const ad_boxed_param *p, int32_t phase)
{
    train_only(p->centre, phase == ADAPT_INTERVAL_CENTRES);
    train_only(p->radius, false);
    train_only(p->shift, phase == ADAPT_INTERVAL_SHIFTS);
    train_only(p->scale, phase == ADAPT_INTERVAL_SCALES);
}

void ad_interval_linear_train(ad_interval_linear *a, int32_t phase)
{
    boxed_train(&a->weight, phase);
    boxed_train(&a->bias, phase);
}

/* A boxed parameter and the box the forward computes for it now. */
typedef struct pending {
    const ad_boxed_param *p;
    ad_interval box;
    struct pending *next;
} pending;

typedef struct {
    adapt_context *ctx; /* one thread, no gradients */
    int32_t phase;
    pending *boxes; /* consolidation: every box, computed before any changes */
    int32_t count;
} visit_state;

typedef adapt_status (*layer_action)(ad_interval_linear *a, visit_state *v);

static adapt_status visit(adapt_model *m, layer_action act, visit_state *v)
{
    adapt_status st = ADAPT_OK;
    for (int32_t b = 0; b < m->n_blocks && !st; b++)
        for (int32_t i = 0; i < m->blocks[b].n_layers && !st; i++) {
            ad_layer *l = &m->blocks[b].layers[i];
            if (l->kind == &ad_kind_interval_linear) {
                st = act(AD_LAYER_STATE(l, ad_interval_linear), v);
                v->count++;
            }
        }
    for (int32_t r = 0; r < m->n_replaced && !st; r++)
        st = visit(m->replaced[r].module, act, v);
    return st;
}

static adapt_status open_context(adapt_context **ctx)
{
    adapt_context_params cp;
    adapt_context_params_init(&cp, sizeof cp);
    cp.n_threads = 1;
    adapt_status st = adapt_context_create(ctx, &cp);
    return st ? st : adapt_context_set_grad(*ctx, 0);
}

static adapt_status set_phase(ad_interval_linear *a, visit_state *v)
{
    ad_interval_linear_train(a, v->phase);
    return ADAPT_OK;
}

adapt_status adapt_model_set_interval_phase(adapt_model *model, int32_t phase, int32_t *count)
{
    const char *fn = "adapt_model_set_interval_phase";
    if (!model)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: model is NULL", fn);
    if (phase < ADAPT_INTERVAL_CENTRES || phase > ADAPT_INTERVAL_SCALES)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: unknown phase %d", fn, (int)phase);
    ad_hold hold;
    adapt_status st = ad_model_enter(&hold, model, AD_WRITE, fn);
    if (st)
        return st;
    visit_state v = {.phase = phase};
    st = visit(model, set_phase, &v);
    ad_busy_leave(&hold);
    if (!st && count)
        *count = v.count;
    return st;
}

static adapt_status note_box(visit_state *v, const ad_boxed_param *p)
{
    pending *n;
    adapt_status st = ad_scratch((void **)&n, v->ctx, sizeof *n, "consolidation");
    if (!st)
        st = ad_boxed_param_box(&n->box, v->ctx, p);
    if (!st) {
        n->p = p, n->next = v->boxes;
        v->boxes = n;
    }
    return st;
}

static adapt_status note_boxes(ad_interval_linear *a, visit_state *v)
{
    adapt_status st = note_box(v, &a->weight);
    return st ? st : note_box(v, &a->bias);
}

/* W <- mid, R <- min(mid - lo, hi - mid), narrowed an ulp at a time until [W - R, W + R] in
 * floats lies inside the box; shift 0, scale back to its start. */
static void consolidate(const pending *n)
{
    const ad_boxed_param *p = n->p;
    for (int64_t i = 0; i < p->centre->numel; i++) {
        const float lo = n->box.lo->data[i], mid = n->box.mid->data[i];
        const float hi = n->box.hi->data[i];
        float r = fminf(mid - lo, hi - mid);
        while (r > 0.0f && (mid - r < lo || mid + r > hi))
            r = nextafterf(r, 0.0f);
        p->centre->data[i] = mid, p->radius->data[i] = r;
        p->shift->data[i] = 0.0f, p->scale->data[i] = AD_INTERVAL_SCALE_INIT;
    }
}

adapt_status adapt_model_interval_consolidate(adapt_model *model, int32_t *count)
{
    const char *fn = "adapt_model_interval_consolidate";
    if (!model)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: model is NULL", fn);
    visit_state v = {0};
    ad_hold hold;
    adapt_status st = open_context(&v.ctx);
    if (!st)
        st = ad_model_enter(&hold, model, AD_WRITE, fn);
    if (!st) {
        st = visit(model, note_boxes, &v);
        for (const pending *n = v.boxes; n && !st; n = n->next)
            consolidate(n);
        ad_busy_leave(&hold);
    }
    adapt_context_free(v.ctx);
    if (!st && count)
        *count = v.count;
    return ad_prefix(st, fn);
}
