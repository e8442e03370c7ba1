/* adapt_model_exit_logits: every exit's logits over a dataset, the records that metrics,
 * calibrators and the policy functions read. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/adaptive/exit_forward.h"
#include "lib/adaptive/head.h"
#include "lib/core/context.h"
#include "lib/core/error.h"
#include "lib/core/tensor.h"
#include "lib/models/model_impl.h"
#include "lib/nn/dims.h"
#include "lib/train/batch.h"
#include "lib/train/dataset.h"

static const char *const fn = "adapt_model_exit_logits";

/* Checks the call; *need = the floats the logits take. */
static adapt_status check_args(int64_t *need, const float *logits, int64_t capacity,
                               const adapt_model *model, const adapt_dataset *ds,
                               int32_t batch_size, int32_t n_threads)
{
    if (!logits || !model)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: %s is NULL", fn,
                       logits ? "model" : "logits");
    const int32_t classes = adapt_model_classes(model);
    if (classes < 1)
        return ad_fail(ADAPT_ERR_STATE, "%s: the model does not end in class logits", fn);
    adapt_status st = ad_dataset_check(ds, fn, "dataset");
    if (!st && ds->count == 0)
        st = ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: dataset is empty", fn);
    if (!st && (batch_size < 1 || n_threads < 0))
        st = ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: batch_size %d, n_threads %d", fn,
                     (int)batch_size, (int)n_threads);
    if (st)
        return st;
    *need = ad_mul_sat(ad_mul_sat(ds->count, ad_head_count(model) + 1), classes);
    if (*need > (int64_t)(SIZE_MAX / sizeof(float)))
        return ad_fail(ADAPT_ERR_OVERFLOW, "%s: the logits do not fit in memory", fn);
    if (capacity < *need)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT,
                       "%s: capacity %lld below the %lld floats of %d exits x %lld samples x %d "
                       "classes", fn, (long long)capacity, (long long)*need,
                       (int)ad_head_count(model) + 1, (long long)ds->count, (int)classes);
    return ad_dataset_check_labels(ds, classes, fn, "dataset");
}

/* Samples [start, start + n) through every exit, into their rows of `logits`. */
static adapt_status record_batch(float *logits, adapt_context *ctx, adapt_model *model,
                                 const adapt_dataset *ds, int64_t start, int64_t n)
{
    const int32_t exits = ad_head_count(model) + 1, classes = adapt_model_classes(model);
    int64_t *order = NULL;
    adapt_tensor **out = NULL, *x = NULL;
    int32_t *labels = NULL;
    adapt_status st = ad_scratch((void **)&order, ctx, (size_t)n * sizeof *order, fn);
    if (!st)
        st = ad_scratch((void **)&out, ctx, (size_t)exits * sizeof *out, fn);
    for (int64_t i = 0; !st && i < n; i++)
        order[i] = start + i;
    if (!st)
        st = ad_batch_assemble(&x, &labels, ctx, ds, order, n, fn);
    if (!st)
        st = ad_exits_forward(out, ctx, model, x, false);
    for (int32_t k = 0; !st && k < exits; k++)
        memcpy(logits + (k * ds->count + start) * classes, out[k]->data,
               (size_t)(n * classes) * sizeof(float));
    return st;
}

static adapt_status exit_logits(float *logits, int64_t capacity, adapt_model *model,
                                const adapt_dataset *ds, int32_t batch_size, int32_t n_threads)
{
    int64_t need = 0;
    adapt_status st = check_args(&need, logits, capacity, model, ds, batch_size, n_threads);
    if (st)
        return st;
    float *records = malloc((size_t)need * sizeof *records); /* the caller's stay as they are
                                                                 unless all succeeds */
    if (!records)
        return ad_fail(ADAPT_ERR_OUT_OF_MEMORY, "%s: %lld floats", fn, (long long)need);
    adapt_context *ctx = NULL;
    adapt_context_params cp;
    adapt_context_params_init(&cp, sizeof cp);
    cp.n_threads = n_threads;
    st = adapt_context_create(&ctx, &cp);
    for (int64_t start = 0; !st && start < ds->count; start += batch_size) {
        adapt_context_reset(ctx);
        const int64_t n = ds->count - start < batch_size ? ds->count - start : batch_size;
        st = record_batch(records, ctx, model, ds, start, n);
    }
    adapt_context_free(ctx);
    if (!st)
        memcpy(logits, records, (size_t)need * sizeof *records);
    free(records);
    return st;
}

adapt_status adapt_model_exit_logits(float *logits, int64_t capacity, adapt_model *model,
                                     const adapt_dataset *ds, int32_t batch_size,
                                     int32_t n_threads)
{
    ad_hold hold;
    adapt_status st = ad_model_enter(&hold, model, AD_READ, fn);
    if (!st)
        st = exit_logits(logits, capacity, model, ds, batch_size, n_threads);
    ad_busy_leave(&hold);
    return st;
}
