/* The end of a task for EWC and SI: the task's importance added to the penalty's.
 *
 * EWC's is the diagonal of the empirical Fisher information, the mean over the task's
 * samples of each sample's squared gradient of its cross-entropy (one sample per backward
 * pass: the square of a batch's mean gradient, as some implementations take, is a different
 * and much smaller quantity). Tasks add up as EWC's separate penalties sum_t F_t (theta -
 * theta_t)^2, kept as one: importance sum_t F_t and anchor the F-weighted mean of the
 * theta_t, whose gradient is the same everywhere (the values differ by a constant).
 *
 * SI's is omega / (Delta^2 + xi), omega the path integral the trainer collected over the task
 * and Delta the weight's move since the task began, as in Zenke et al.; a negative share (a
 * weight whose moves raised the loss on balance) counts as 0 so that the penalty stays a
 * pull towards the anchor. The anchor becomes the weights at the task's end. */
#include <stdlib.h>
#include <string.h>

#include "lib/autograd/tape.h"
#include "lib/core/context.h"
#include "lib/core/error.h"
#include "lib/core/tensor.h"
#include "lib/models/model.h"
#include "lib/train/batch.h"
#include "lib/train/consolidation.h"
#include "lib/train/dataset.h"
#include "lib/train/evaluate.h"
#include "lib/train/optimizer.h"
#include "lib/train/task_heads.h"

static void si_end_task(adapt_consolidation *c, const adapt_model *model)
{
    for (int32_t i = 0; i < c->n; i++) {
        const ad_consolidated *p = &c->params[i];
        const float *theta = ad_model_param(model, i)->data;
        for (int64_t j = 0; j < p->numel; j++) {
            const float moved = theta[j] - p->anchor[j];
            const float share = p->path[j] / (moved * moved + c->damping);
            p->importance[j] += share > 0.0f ? share : 0.0f;
        }
        memcpy(p->anchor, theta, (size_t)p->numel * sizeof(float));
        memset(p->path, 0, (size_t)p->numel * sizeof(float));
    }
}

/* fisher[i] += the squared gradient of sample `index`'s cross-entropy, for every parameter
 * that trains; the gradients are zero again afterwards. */
static adapt_status add_sample(float **fisher, adapt_context *ctx, adapt_model *model,
                               const adapt_dataset *ds, int64_t index, const char *fn)
{
    adapt_context_reset(ctx);
    adapt_tensor *x, *loss;
    int32_t *labels;
    adapt_status st = ad_batch_assemble(&x, &labels, ctx, ds, &index, 1, fn);
    if (!st)
        st = ad_task_loss(&loss, ctx, model, x, labels, ds->task_classes,
                          ADAPT_LOSS_CROSS_ENTROPY, 0.0f);
    if (!st)
        st = ad_backward(ctx, loss);
    const int32_t n = adapt_model_param_count(model);
    for (int32_t i = 0; i < n; i++) {
        adapt_tensor *t = ad_model_param(model, i);
        for (int64_t j = 0; !st && ad_requires_grad(t) && j < t->numel; j++)
            fisher[i][j] += t->grad[j] * t->grad[j];
        memset(t->grad, 0, (size_t)t->numel * sizeof(float));
    }
    return st;
}

/* Folds the task's Fisher F (a sum over `count` samples) into importance and anchor. */
static void ewc_merge(adapt_consolidation *c, const adapt_model *model, float *const *fisher,
                      int64_t count)
{
    for (int32_t i = 0; i < c->n; i++) {
        const ad_consolidated *p = &c->params[i];
        const float *theta = ad_model_param(model, i)->data;
        for (int64_t j = 0; j < p->numel; j++) {
            const float f = fisher[i][j] / (float)count, total = p->importance[j] + f;
            p->anchor[j] = total > 0.0f
                               ? (p->importance[j] * p->anchor[j] + f * theta[j]) / total
                               : theta[j];
            p->importance[j] = total;
        }
    }
}

/* One zeroed array per parameter, in one block (fisher[0]); NULL when out of memory. */
static float **new_fisher(const adapt_consolidation *c)
{
    int64_t total = 0;
    for (int32_t i = 0; i < c->n; i++)
        total += c->params[i].numel;
    float **fisher = calloc((size_t)c->n + 1, sizeof *fisher);
    float *block = fisher ? calloc((size_t)total + 1, sizeof *block) : NULL;
    if (!block) {
        free(fisher);
        return NULL;
    }
    for (int32_t i = 0; i < c->n; block += c->params[i].numel, i++)
        fisher[i] = block;
    fisher[0] = fisher[0] ? fisher[0] : block; /* a model without parameters */
    return fisher;
}

static adapt_status ewc_end_task(adapt_consolidation *c, adapt_model *model,
                                 const adapt_dataset *ds, int32_t n_threads, const char *fn)
{
    float **fisher = new_fisher(c);
    adapt_context *ctx = NULL;
    adapt_status st = fisher ? ad_evaluate_context(&ctx, n_threads)
                             : ad_fail(ADAPT_ERR_OUT_OF_MEMORY, "%s: no memory for the "
                                       "Fisher information", fn);
    if (!st)
        st = adapt_context_set_grad(ctx, 1);
    for (int64_t s = 0; !st && s < ds->count; s++)
        st = add_sample(fisher, ctx, model, ds, s, fn);
    if (!st)
        ewc_merge(c, model, fisher, ds->count);
    adapt_context_free(ctx);
    if (fisher)
        free(fisher[0]);
    free(fisher);
    return st;
}

static adapt_status check_task(const adapt_consolidation *c, const adapt_model *model,
                               const adapt_dataset *ds, int32_t n_threads, const char *fn)
{
    adapt_status st = ad_consolidation_check(c, model, fn);
    if (st || c->kind != ADAPT_CONSOLIDATION_EWC)
        return st;
    st = ad_dataset_check(ds, fn, "task");
    if (!st && ds->count == 0)
        st = ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: the task's dataset is empty", fn);
    if (!st && n_threads < 0)
        st = ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: n_threads = %d", fn, (int)n_threads);
    const int32_t classes = adapt_model_classes(model);
    if (!st && classes < 1)
        st = ad_fail(ADAPT_ERR_STATE, "%s: the model does not end in class logits", fn);
    return st ? st : ad_dataset_check_labels(ds, classes, fn, "task");
}

adapt_status adapt_consolidation_end_task(adapt_consolidation *consolidation,
                                          adapt_model *model, const adapt_dataset *task,
                                          int32_t n_threads)
{
    const char *fn = "adapt_consolidation_end_task";
    ad_hold hold;
    adapt_status st = ad_model_enter(&hold, model, AD_WRITE, fn);
    if (!st)
        st = check_task(consolidation, model, task, n_threads, fn);
    if (!st && consolidation->kind == ADAPT_CONSOLIDATION_EWC)
        st = ewc_end_task(consolidation, model, task, n_threads, fn);
    else if (!st)
        si_end_task(consolidation, model);
    ad_busy_leave(&hold);
    return ad_prefix(st, fn);
}
