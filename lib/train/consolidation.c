#include "lib/train/consolidation.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lib/core/error.h"
#include "lib/core/tensor.h"
#include "lib/models/model.h"

/* Arrays per parameter: importance and anchor; SI also path, grad and before. */
static int32_t arrays_of(int32_t kind)
{
    return kind == ADAPT_CONSOLIDATION_SI ? 5 : 2;
}

static adapt_status check_create(adapt_consolidation **out, const adapt_model *model,
                                 int32_t kind, float damping, const char *fn)
{
    if (!out || !model)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: %s is NULL", fn, out ? "model" : "out");
    if (kind != ADAPT_CONSOLIDATION_EWC && kind != ADAPT_CONSOLIDATION_SI)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: unknown kind %d", fn, (int)kind);
    if (!isfinite(damping))
        return ad_fail(ADAPT_ERR_NONFINITE, "%s: damping is %g", fn, (double)damping);
    if (kind == ADAPT_CONSOLIDATION_SI && !(damping > 0.0f))
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: SI needs damping > 0 (is %g)", fn,
                       (double)damping);
    if (kind == ADAPT_CONSOLIDATION_EWC && damping != 0.0f)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: damping is SI's; EWC takes 0 (is %g)",
                       fn, (double)damping);
    return ADAPT_OK;
}

/* Lays the arrays of every parameter out in one block; NULL when out of memory. */
static float *lay_out(ad_consolidated *params, const adapt_model *model, int32_t n, int32_t kind)
{
    int64_t total = 0;
    for (int32_t i = 0; i < n; i++)
        total += ad_model_param(model, i)->numel;
    const int32_t arrays = arrays_of(kind);
    if (total > (int64_t)(SIZE_MAX / sizeof(float)) / arrays)
        return NULL;
    float *block = calloc((size_t)(total * arrays + 1), sizeof *block), *next = block;
    for (int32_t i = 0; block && i < n; i++) {
        const adapt_tensor *t = ad_model_param(model, i);
        float **slots[] = {&params[i].importance, &params[i].anchor, &params[i].path,
                           &params[i].grad, &params[i].before};
        params[i].numel = t->numel;
        for (int32_t a = 0; a < arrays; a++, next += t->numel)
            *slots[a] = next;
        memcpy(params[i].anchor, t->data, (size_t)t->numel * sizeof(float));
    }
    return block;
}

adapt_status adapt_consolidation_create(adapt_consolidation **out, const adapt_model *model,
                                        int32_t kind, float damping)
{
    const char *fn = "adapt_consolidation_create";
    adapt_status st = check_create(out, model, kind, damping, fn);
    if (st)
        return st;
    const int32_t n = adapt_model_param_count(model);
    adapt_consolidation *c = calloc(1, sizeof *c);
    ad_consolidated *params = c ? calloc((size_t)n + 1, sizeof *params) : NULL;
    float *block = params ? lay_out(params, model, n, kind) : NULL;
    if (!block) {
        free(params);
        free(c);
        return ad_fail(ADAPT_ERR_OUT_OF_MEMORY, "%s: no memory for %d parameters' importance",
                       fn, (int)n);
    }
    *c = (adapt_consolidation){.magic = AD_CONSOLIDATION_MAGIC, .kind = kind,
                               .damping = damping, .n = n, .params = params, .block = block};
    *out = c;
    return ADAPT_OK;
}

void adapt_consolidation_free(adapt_consolidation *consolidation)
{
    if (!consolidation || consolidation->magic != AD_CONSOLIDATION_MAGIC)
        return;
    consolidation->magic = 0;
    free(consolidation->block);
    free(consolidation->params);
    free(consolidation);
}

adapt_status ad_consolidation_check(const adapt_consolidation *c, const adapt_model *model,
                                    const char *fn)
{
    if (!c || c->magic != AD_CONSOLIDATION_MAGIC)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: %s", fn,
                       c ? "the consolidation is not live" : "consolidation is NULL");
    if (!model)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: model is NULL", fn);
    bool same = adapt_model_param_count(model) == c->n;
    for (int32_t i = 0; same && i < c->n; i++)
        same = ad_model_param(model, i)->numel == c->params[i].numel;
    return same ? ADAPT_OK
                : ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: the consolidation was made for a "
                          "model with other parameters", fn);
}

static double penalty_of(const ad_consolidated *p, const float *theta)
{
    double sum = 0.0;
    for (int64_t j = 0; j < p->numel; j++) {
        const double d = (double)theta[j] - (double)p->anchor[j];
        sum += (double)p->importance[j] * d * d;
    }
    return sum;
}

void ad_consolidation_before_step(adapt_consolidation *c, adapt_tensor *const *params,
                                  int32_t n, float weight, float *loss)
{
    double penalty = 0.0;
    for (int32_t i = 0; i < n; i++) {
        const ad_consolidated *p = &c->params[i];
        adapt_tensor *t = params[i];
        if (!ad_requires_grad(t))
            continue;
        if (c->kind == ADAPT_CONSOLIDATION_SI) {
            memcpy(p->grad, t->grad, (size_t)p->numel * sizeof(float));
            memcpy(p->before, t->data, (size_t)p->numel * sizeof(float));
        }
        if (weight == 0.0f)
            continue;
        for (int64_t j = 0; j < p->numel; j++)
            t->grad[j] += 2.0f * weight * p->importance[j] * (t->data[j] - p->anchor[j]);
        penalty += penalty_of(p, t->data);
    }
    *loss += (float)(weight * penalty);
}

void ad_consolidation_after_step(adapt_consolidation *c, adapt_tensor *const *params, int32_t n)
{
    if (c->kind != ADAPT_CONSOLIDATION_SI)
        return;
    for (int32_t i = 0; i < n; i++) {
        const ad_consolidated *p = &c->params[i];
        if (!ad_requires_grad(params[i]))
            continue;
        for (int64_t j = 0; j < p->numel; j++)
            p->path[j] -= p->grad[j] * (params[i]->data[j] - p->before[j]);
    }
}

adapt_status adapt_consolidation_penalty(double *value, const adapt_consolidation *consolidation,
                                         adapt_model *model)
{
    const char *fn = "adapt_consolidation_penalty";
    ad_hold hold;
    adapt_status st = ad_model_enter(&hold, model, AD_READ, fn);
    if (!st)
        st = ad_consolidation_check(consolidation, model, fn);
    if (!st && !value)
        st = ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: value is NULL", fn);
    double sum = 0.0;
    for (int32_t i = 0; !st && i < consolidation->n; i++)
        sum += penalty_of(&consolidation->params[i], ad_model_param(model, i)->data);
    if (!st)
        *value = sum;
    ad_busy_leave(&hold);
    return st;
}
