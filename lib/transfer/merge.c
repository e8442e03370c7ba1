/* adapt_models_merge: the checks every method relies on, the models' holds, and the write of
 * the merged values into the target once a method has computed all of them. */
#include "lib/transfer/merge.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/core/busy.h"
#include "lib/core/error.h"
#include "lib/core/struct_io.h"
#include "lib/core/tensor.h"
#include "lib/models/model.h"

static const char *const merge_fn = "adapt_models_merge";

void adapt_merge_params_init(adapt_merge_params *params, size_t size)
{
    static const adapt_merge_params defaults = {.method = ADAPT_MERGE_AXIS,
                                                .keep_fraction = 0.1f, .scale = 1.0f,
                                                .density = 0.2f};
    ad_struct_init(params, size, &defaults, sizeof defaults);
}

static adapt_status read_params(adapt_merge_params *own, const adapt_merge_params *user)
{
    adapt_merge_params_init(own, sizeof *own);
    adapt_status st = ad_struct_read(own, sizeof *own, user, "adapt_merge_params", merge_fn);
    if (st)
        return st;
    if (own->method < ADAPT_MERGE_AXIS || own->method > ADAPT_MERGE_TIES)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: unknown method %d", merge_fn,
                       (int)own->method);
    if (!isfinite(own->scale))
        return ad_fail(ADAPT_ERR_NONFINITE, "%s: scale is %g", merge_fn, (double)own->scale);
    if (!(own->keep_fraction > 0.0f && own->keep_fraction <= 1.0f))
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: keep_fraction %g outside (0, 1]", merge_fn,
                       (double)own->keep_fraction);
    if (!(own->density > 0.0f && own->density <= 1.0f))
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: density %g outside (0, 1]", merge_fn,
                       (double)own->density);
    return ADAPT_OK;
}

int64_t ad_merge_rows(const adapt_tensor *param)
{
    return param->ndim >= 2 ? param->shape[0] : 0;
}

/* `model` has the base's parameters: the same count, names and shapes, in order. */
static adapt_status check_like_base(const adapt_model *model, const adapt_model *base,
                                    const char *what, const char *fn)
{
    const int32_t count = adapt_model_param_count(base);
    if (adapt_model_param_count(model) != count)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: %s has %d parameters, the base %d", fn,
                       what, (int)adapt_model_param_count(model), (int)count);
    for (int32_t i = 0; i < count; i++) {
        const adapt_tensor *a = ad_model_param(model, i), *b = ad_model_param(base, i);
        const char *name = adapt_model_param_name(base, i);
        if (strcmp(adapt_model_param_name(model, i), name) != 0 || a->ndim != b->ndim ||
            memcmp(a->shape, b->shape, (size_t)a->ndim * sizeof *a->shape) != 0)
            return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: %s's parameter %d (%s) is not the "
                           "base's %s", fn, what, (int)i, adapt_model_param_name(model, i),
                           name);
    }
    return ADAPT_OK;
}

static adapt_status check_finite(const adapt_model *model, const char *what, const char *fn)
{
    for (int32_t i = 0; i < adapt_model_param_count(model); i++) {
        const adapt_tensor *t = ad_model_param(model, i);
        for (int64_t j = 0; j < t->numel; j++)
            if (!isfinite(t->data[j]))
                return ad_fail(ADAPT_ERR_NONFINITE, "%s: %s's %s[%lld] is %g", fn, what,
                               adapt_model_param_name(model, i), (long long)j,
                               (double)t->data[j]);
    }
    return ADAPT_OK;
}

/* NULLs, the count, and a target that is none of the models it is made from: checks of the
 * pointers alone, made before any model is held. */
static adapt_status check_pointers(const adapt_model *target, const ad_merge_job *job)
{
    const char *fn = job->fn;
    if (!target || !job->base || (!job->sources && job->n_sources) ||
        job->n_sources < job->min_sources)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: %s", fn,
                       !target ? "target is NULL" : !job->base ? "base is NULL"
                       : job->n_sources < job->min_sources ? "too few sources"
                                                           : "sources is NULL");
    if (job->base == target)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: the base is the target; give the "
                       "target a model of its own", fn);
    for (int32_t i = 0; i < job->n_sources; i++)
        if (!job->sources[i] || job->sources[i] == target)
            return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: sources[%d] is %s", fn, (int)i,
                           job->sources[i] ? "the target" : "NULL");
    return ADAPT_OK;
}

/* The models' parameters, read under their holds. */
static adapt_status check_contents(const adapt_model *target, const ad_merge_job *job)
{
    adapt_status st = check_like_base(target, job->base, "the target", job->fn);
    if (!st)
        st = check_finite(job->base, "the base", job->fn);
    char what[32];
    for (int32_t i = 0; i < job->n_sources && !st; i++) {
        snprintf(what, sizeof what, "sources[%d]", (int)i);
        st = check_like_base(job->sources[i], job->base, what, job->fn);
        if (!st)
            st = check_finite(job->sources[i], what, job->fn);
    }
    return st;
}

static adapt_status merge_into(adapt_model *target, const ad_merge_job *job, void *arg)
{
    (void)arg;
    const int32_t count = adapt_model_param_count(job->base);
    int64_t total = 0;
    for (int32_t i = 0; i < count; i++)
        total += ad_model_param(job->base, i)->numel;
    float *out = malloc((size_t)total * sizeof *out);
    if (!out)
        return ad_fail(ADAPT_ERR_OUT_OF_MEMORY, "%s: no memory for %lld merged values", merge_fn,
                       (long long)total);
    adapt_status st = job->p.method == ADAPT_MERGE_AXIS ? ad_merge_axis(out, job, NULL)
                      : job->p.method == ADAPT_MERGE_TIES ? ad_merge_ties(out, job)
                                                            : ad_merge_task_arithmetic(out, job);
    int64_t at = 0;
    for (int32_t i = 0; i < count && !st; i++) {
        adapt_tensor *t = ad_model_param(target, i);
        memcpy(t->data, out + at, (size_t)t->numel * sizeof *out);
        at += t->numel;
    }
    free(out);
    return st;
}

/* Holds every model of the merge, then merges: the target for writing, the others for
 * reading; holds end in the reverse order they began. */
adapt_status ad_merge_run(adapt_model *target, const ad_merge_job *job, ad_merge_body body,
                          void *arg)
{
    const char *fn = job->fn;
    adapt_status st = check_pointers(target, job);
    if (st)
        return st;
    const int32_t n = job->n_sources + 2;
    ad_hold *holds = calloc((size_t)n, sizeof *holds);
    if (!holds)
        return ad_fail(ADAPT_ERR_OUT_OF_MEMORY, "%s: no memory for %d holds", fn, (int)n);
    int32_t held = 0;
    st = ad_model_enter(&holds[held++], target, AD_WRITE, fn);
    if (!st)
        st = ad_model_enter(&holds[held++], job->base, AD_READ, fn);
    for (int32_t i = 0; i < job->n_sources && !st; i++)
        st = ad_model_enter(&holds[held++], job->sources[i], AD_READ, fn);
    if (st)
        held--; /* the hold that failed was not granted */
    else if (!(st = check_contents(target, job)))
        st = body(target, job, arg);
    while (held > 0)
        ad_busy_leave(&holds[--held]);
    free(holds);
    return st;
}

adapt_status adapt_models_merge(adapt_model *target, adapt_model *base,
                                adapt_model *const *sources, int32_t n_sources,
                                const adapt_merge_params *params)
{
    ad_merge_job job = {.base = base, .sources = sources, .n_sources = n_sources,
                        .min_sources = 1, .fn = merge_fn};
    adapt_status st = read_params(&job.p, params);
    return st ? st : ad_merge_run(target, &job, merge_into, NULL);
}
