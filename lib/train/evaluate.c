#include "lib/train/evaluate.h"

#include <stdlib.h>
#include <string.h>

#include "lib/core/context.h"
#include "lib/core/error.h"
#include "lib/core/struct_io.h"
#include "lib/core/tensor.h"
#include "lib/models/model.h"
#include "lib/ops/ops.h"
#include "lib/train/batch.h"
#include "lib/train/dataset.h"
#include "lib/train/task_heads.h"

/* Adds one batch's predictions and loss to the counts; with task classes k > 0 each row is
 * scored over its task's classes. */
static adapt_status score_batch(ad_eval_counts *counts, int64_t *confusion, adapt_context *ctx,
                                adapt_tensor *logits, const int32_t *labels, int32_t classes,
                                int32_t k, const char *fn)
{
    const int64_t n = logits->shape[0];
    if (logits->ndim != 2 || logits->shape[1] != classes) {
        char s[96];
        return ad_fail(ADAPT_ERR_INTERNAL, "%s: logits %s are not [%lld, %d]", fn,
                       ad_shape_str(logits, s, sizeof s), (long long)n, (int)classes);
    }
    adapt_tensor *loss = NULL, *head = NULL;
    const int32_t *within = NULL;
    adapt_status st = ad_task_head(&head, &within, ctx, logits, labels, k);
    if (!st)
        st = ad_op_cross_entropy(&loss, ctx, head, within, 0.0f);
    if (st)
        return st;
    const int64_t width = head->shape[1];
    for (int64_t i = 0; i < n; i++) {
        const int32_t pred = (int32_t)(ad_task_first(labels[i], k) +
                                       ad_argmax(head->data + i * width, width));
        counts->correct += pred == labels[i];
        if (confusion)
            confusion[(int64_t)labels[i] * classes + pred]++;
    }
    counts->loss_sum += (double)loss->data[0] * (double)n;
    counts->count += n;
    return ADAPT_OK;
}

adapt_status ad_evaluate_batches(adapt_context *ctx, const adapt_dataset *ds,
                                 int32_t batch_size, ad_batch_fn run, void *arg, const char *fn)
{
    adapt_status st = ADAPT_OK;
    for (int64_t start = 0; start < ds->count && !st; start += batch_size) {
        const int64_t n = ds->count - start < batch_size ? ds->count - start : batch_size;
        adapt_context_reset(ctx);
        int64_t *order = NULL;
        adapt_tensor *x = NULL;
        int32_t *labels = NULL;
        st = ad_scratch((void **)&order, ctx, (size_t)n * sizeof *order, fn);
        for (int64_t i = 0; !st && i < n; i++)
            order[i] = start + i;
        if (!st)
            st = ad_batch_assemble(&x, &labels, ctx, ds, order, n, fn);
        if (!st)
            st = run(arg, ctx, x, labels);
    }
    adapt_context_reset(ctx);
    return st;
}

typedef struct {
    ad_eval_counts *counts;
    int64_t *confusion;
    adapt_model *model;
    int32_t classes, task_classes;
    const char *fn;
} eval_job;

static adapt_status evaluate_batch(void *arg, adapt_context *ctx, adapt_tensor *x,
                                   const int32_t *labels)
{
    const eval_job *j = arg;
    adapt_tensor *logits = NULL;
    adapt_status st = ad_model_forward(&logits, ctx, j->model, x);
    return st ? st : score_batch(j->counts, j->confusion, ctx, logits, labels, j->classes,
                                 j->task_classes, j->fn);
}

adapt_status ad_evaluate_run(ad_eval_counts *counts, int64_t *confusion, adapt_context *ctx,
                             adapt_model *model, const adapt_dataset *ds, int32_t batch_size,
                             int32_t classes, const char *fn)
{
    *counts = (ad_eval_counts){0};
    eval_job j = {counts, confusion, model, classes, ds->task_classes, fn};
    return ad_evaluate_batches(ctx, ds, batch_size, evaluate_batch, &j, fn);
}

adapt_status ad_evaluate_check(const void *result, const char *result_type,
                               const adapt_model *model, const adapt_dataset *ds,
                               int32_t batch_size, int32_t n_threads, const char *fn)
{
    adapt_status st = ad_struct_check_out(result, "result", result_type, fn);
    if (!st && !model)
        st = ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: model is NULL", fn);
    if (!st)
        st = ad_dataset_check(ds, fn, "dataset");
    if (st)
        return st;
    if (ds->count == 0)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: dataset is empty", fn);
    if (batch_size < 1 || n_threads < 0)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: %s = %d", fn,
                       batch_size < 1 ? "batch_size" : "n_threads",
                       (int)(batch_size < 1 ? batch_size : n_threads));
    const int32_t classes = adapt_model_classes(model);
    if (classes < 1)
        return ad_fail(ADAPT_ERR_STATE, "%s: the model does not end in class logits", fn);
    return ad_dataset_check_labels(ds, classes, fn, "dataset");
}

adapt_status ad_evaluate_context(adapt_context **ctx, int32_t n_threads)
{
    adapt_context_params cp;
    adapt_context_params_init(&cp, sizeof cp);
    cp.n_threads = n_threads;
    return adapt_context_create(ctx, &cp);
}

static adapt_status evaluate(adapt_eval_result *result, int64_t *confusion, adapt_model *model,
                             const adapt_dataset *dataset, int32_t batch_size, int32_t n_threads,
                             const char *fn)
{
    adapt_status st = ad_evaluate_check(result, "adapt_eval_result", model, dataset, batch_size,
                                        n_threads, fn);
    if (st)
        return st;
    const int32_t classes = adapt_model_classes(model);
    const size_t cells = (size_t)classes * (size_t)classes;
    int64_t *table = confusion ? calloc(cells, sizeof *table) : NULL;
    if (confusion && !table)
        return ad_fail(ADAPT_ERR_OUT_OF_MEMORY, "%s: no memory for the confusion matrix", fn);
    adapt_context *ctx = NULL;
    ad_eval_counts counts;
    st = ad_evaluate_context(&ctx, n_threads);
    if (!st)
        st = ad_evaluate_run(&counts, table, ctx, model, dataset, batch_size, classes, fn);
    adapt_context_free(ctx);
    if (!st && confusion)
        memcpy(confusion, table, cells * sizeof *table);
    free(table);
    if (st)
        return st;
    adapt_eval_result full = {.struct_size = result->struct_size,
                              .accuracy = (double)counts.correct / (double)counts.count,
                              .loss = counts.loss_sum / (double)counts.count,
                              .count = counts.count};
    ad_struct_write(result, &full, sizeof full);
    return ADAPT_OK;
}

adapt_status adapt_model_evaluate(adapt_eval_result *result, int64_t *confusion,
                                  adapt_model *model, const adapt_dataset *dataset,
                                  int32_t batch_size, int32_t n_threads)
{
    const char *fn = "adapt_model_evaluate";
    ad_hold hold;
    adapt_status st = ad_model_enter(&hold, model, AD_READ, fn);
    if (!st)
        st = evaluate(result, confusion, model, dataset, batch_size, n_threads, fn);
    ad_busy_leave(&hold);
    return ad_prefix(st, fn); /* layers and kernels cannot name the caller */
}
