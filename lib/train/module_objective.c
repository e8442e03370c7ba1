/* Modules trained on recordings (module_objective.h): the batch assembled from each
 * module's own recording, the objective's loss, and the training loop of adapt_model_train. */
#include <stdlib.h>
#include <string.h>

#include "lib/core/context.h"
#include "lib/core/error.h"
#include "lib/core/tensor.h"
#include "lib/models/model_impl.h"
#include "lib/ops/ops.h"
#include "lib/train/module_objective.h"
#include "lib/train/recording.h"
#include "lib/train/trainer.h"

typedef struct {
    adapt_model *const *modules;
    const adapt_recording *const *recordings;
    int32_t n;
    const ad_module_objective *objective;
} module_training;

/* Rows rows[0 .. n) of side k of a recording, as a new activation [n, ...]. */
static adapt_status gather(adapt_tensor **out, adapt_context *ctx, const adapt_recording *r,
                           int k, const int64_t *rows, int64_t n)
{
    int64_t shape[ADAPT_MAX_DIMS] = {n};
    memcpy(shape + 1, r->shape[k].d, (size_t)r->shape[k].ndim * sizeof *shape);
    adapt_status st = ad_tensor_new(out, ctx, r->shape[k].ndim + 1, shape);
    const int64_t row = ad_dims_numel(&r->shape[k]);
    for (int64_t i = 0; !st && i < n; i++)
        memcpy((*out)->data + i * row, r->data[k] + rows[i] * row, (size_t)row * sizeof(float));
    return st;
}

static adapt_status batch_loss(adapt_tensor **loss, adapt_context *ctx, void *arg,
                              const int64_t *rows, int64_t n)
{
    const module_training *d = arg;
    adapt_tensor *total = NULL;
    adapt_status st = ADAPT_OK;
    for (int32_t i = 0; i < d->n && !st; i++) {
        adapt_tensor *x, *target, *one;
        st = gather(&x, ctx, d->recordings[i], AD_REC_INPUTS, rows, n);
        if (!st)
            st = gather(&target, ctx, d->recordings[i], AD_REC_OUTPUTS, rows, n);
        if (!st)
            st = d->objective->loss(&one, ctx, d->modules[i], x, target, d->objective->arg);
        if (!st && total)
            st = ad_op_add(&total, ctx, total, one);
        else if (!st)
            total = one;
    }
    if (!st && d->objective->mean && d->n > 1)
        st = ad_op_scale(&total, ctx, total, 1.0f / (float)d->n);
    if (!st)
        *loss = total;
    return st;
}

static adapt_status check_pair(const adapt_model *m, const adapt_recording *r,
                               const adapt_recording *first, int32_t i, const char *fn)
{
    if (!m || !r)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: %s[%d] is NULL", fn,
                       m ? "recordings" : "modules", (int)i);
    if (r->count != first->count)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: recording %d holds %lld samples, "
                       "recording 0 %lld: record one dataset", fn, (int)i,
                       (long long)r->count, (long long)first->count);
    const ad_dims out = ad_model_tail(m);
    if (m->n_blocks && ad_dims_equal(&m->input, &r->shape[AD_REC_INPUTS]) &&
        ad_dims_equal(&out, &r->shape[AD_REC_OUTPUTS]))
        return ADAPT_OK;
    char mi[160], mo[160], ri[160], ro[160];
    return ad_fail(ADAPT_ERR_SHAPE, "%s: module %d maps %s to %s per sample, its recording "
                   "%s to %s", fn, (int)i, ad_dims_str(&m->input, mi, sizeof mi),
                   ad_dims_str(&out, mo, sizeof mo),
                   ad_dims_str(&r->shape[AD_REC_INPUTS], ri, sizeof ri),
                   ad_dims_str(&r->shape[AD_REC_OUTPUTS], ro, sizeof ro));
}

static int32_t all_params(adapt_tensor **out, adapt_model *module)
{
    const int32_t count = adapt_model_param_count(module);
    for (int32_t j = 0; out && j < count; j++)
        out[j] = ad_model_param(module, j);
    return count;
}

/* The trained parameters of every module, in module order: malloc'd. */
static adapt_status collect(adapt_tensor ***params, int32_t *count, const module_training *d,
                            const char *fn)
{
    int32_t (*of)(adapt_tensor **, adapt_model *) =
        d->objective->params ? d->objective->params : all_params;
    int64_t total = 0;
    for (int32_t i = 0; i < d->n; i++)
        total += of(NULL, d->modules[i]);
    if (total > INT32_MAX)
        return ad_fail(ADAPT_ERR_OVERFLOW, "%s: too many parameters", fn);
    adapt_tensor **list = malloc((size_t)(total ? total : 1) * sizeof *list);
    if (!list)
        return ad_fail(ADAPT_ERR_OUT_OF_MEMORY, "%s: parameter list", fn);
    int32_t k = 0;
    for (int32_t i = 0; i < d->n; i++)
        k += of(list + k, d->modules[i]);
    *params = list, *count = k;
    return ADAPT_OK;
}

static adapt_status train(const module_training *d, const adapt_train_params *params,
                          const char *fn)
{
    adapt_status st = ADAPT_OK;
    for (int32_t i = 0; i < d->n && !st; i++) {
        st = check_pair(d->modules[i], d->recordings[i], d->recordings[0], i, fn);
        if (!st && d->objective->check)
            st = d->objective->check(d->modules[i], i, fn);
    }
    adapt_tensor **list = NULL;
    int32_t count = 0;
    if (!st)
        st = collect(&list, &count, d, fn);
    if (st)
        return st;
    const ad_train_objective objective = {.arg = (void *)d, .params = list, .n_params = count,
                                          .rows_loss = batch_loss,
                                          .rows = d->recordings[0]->count};
    st = ad_train_run(NULL, NULL, NULL, params, &objective, fn);
    free(list);
    return st;
}

adapt_status ad_train_modules(adapt_model *const *modules,
                              const adapt_recording *const *recordings, int32_t n,
                              const adapt_train_params *params,
                              const ad_module_objective *objective, const char *fn)
{
    if (!modules || !recordings || n < 1)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: %s", fn,
                       n < 1 ? "n must be >= 1" : "modules or recordings is NULL");
    ad_hold *holds = calloc((size_t)n, sizeof *holds); /* zeroed: nothing held */
    if (!holds)
        return ad_fail(ADAPT_ERR_OUT_OF_MEMORY, "%s: %d holds", fn, (int)n);
    adapt_status st = ADAPT_OK;
    for (int32_t i = 0; i < n && !st; i++)
        st = modules[i] ? ad_model_enter(&holds[i], modules[i], AD_WRITE, fn)
                        : ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: modules[%d] is NULL", fn,
                                  (int)i);
    const module_training d = {modules, recordings, n, objective};
    if (!st)
        st = train(&d, params, fn);
    for (int32_t i = n - 1; i >= 0; i--)
        ad_busy_leave(&holds[i]);
    free(holds);
    return ad_prefix(st, fn); /* layers and kernels cannot name the caller */
}

