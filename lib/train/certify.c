/* Certified accuracy: the share of samples that every input within L-infinity distance epsilon
 * (inside the inputs' range) is classified right, as the model's interval forward proves. */
#include "lib/core/context.h"
#include "lib/core/error.h"
#include "lib/core/struct_io.h"
#include "lib/core/tensor.h"
#include "lib/models/model.h"
#include "lib/train/dataset.h"
#include "lib/train/evaluate.h"
#include "lib/train/task_heads.h"

#include <math.h>

typedef struct {
    float epsilon, input_min, input_max;
} box_rule;

/* The true class's lower bound above every other class's upper bound. */
static bool certified(const float *lo, const float *hi, int32_t label, int64_t classes)
{
    for (int64_t j = 0; j < classes; j++)
        if (j != label && !(lo[label] > hi[j]))
            return false;
    return true;
}

typedef struct {
    int64_t right, certified, seen;
    adapt_model *model;
    int32_t task_classes;
    const box_rule *rule;
    const char *fn;
} certify_job;

static adapt_status certify_batch(void *arg, adapt_context *ctx, adapt_tensor *x,
                                  const int32_t *labels)
{
    certify_job *j = arg;
    ad_interval box, y;
    adapt_status st = j->seen ? ADAPT_OK : ad_model_check_input(j->model, x, j->fn);
    if (!st)
        st = ad_interval_around(&box, ctx, x, j->rule->epsilon, j->rule->input_min,
                                j->rule->input_max);
    if (!st)
        st = ad_model_interval(&y, ctx, j->model, &box, j->fn);
    if (st)
        return st;
    const int32_t *within = labels;
    st = ad_task_box(&y, &within, ctx, labels, j->task_classes);
    if (st)
        return st;
    const int64_t width = y.lo->shape[1];
    for (int64_t i = 0; i < x->shape[0]; i++) {
        j->right += ad_argmax(y.mid->data + i * width, width) == within[i];
        j->certified += certified(y.lo->data + i * width, y.hi->data + i * width, within[i],
                                  width);
    }
    j->seen += x->shape[0];
    return ADAPT_OK;
}

static adapt_status check_rule(const box_rule *r, const char *fn)
{
    if (!isfinite(r->epsilon) || !isfinite(r->input_min) || !isfinite(r->input_max))
        return ad_fail(ADAPT_ERR_NONFINITE, "%s: epsilon, input_min and input_max must be "
                       "finite", fn);
    if (r->epsilon < 0.0f || r->input_min > r->input_max)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: needs epsilon >= 0 (is %g) and "
                       "input_min <= input_max (%g, %g)", fn, (double)r->epsilon,
                       (double)r->input_min, (double)r->input_max);
    return ADAPT_OK;
}

static adapt_status certify(adapt_certify_result *result, adapt_model *model,
                            const adapt_dataset *ds, const box_rule *rule, int32_t batch_size,
                            int32_t n_threads, const char *fn)
{
    adapt_status st = ad_evaluate_check(result, "adapt_certify_result", model, ds, batch_size,
                                        n_threads, fn);
    if (!st)
        st = check_rule(rule, fn);
    if (!st && adapt_model_block_count(model) == 0)
        st = ad_fail(ADAPT_ERR_STATE, "%s: the model has no blocks yet", fn);
    adapt_context *ctx = NULL;
    if (!st)
        st = ad_evaluate_context(&ctx, n_threads);
    certify_job j = {.model = model, .task_classes = ds->task_classes, .rule = rule,
                     .fn = fn};
    if (!st)
        st = ad_evaluate_batches(ctx, ds, batch_size, certify_batch, &j, fn);
    adapt_context_free(ctx);
    if (st)
        return st;
    const double n = (double)ds->count;
    adapt_certify_result full = {.struct_size = result->struct_size,
                                 .accuracy = (double)j.right / n,
                                 .certified_accuracy = (double)j.certified / n,
                                 .count = ds->count};
    ad_struct_write(result, &full, sizeof full);
    return ADAPT_OK;
}

adapt_status adapt_model_certify(adapt_certify_result *result, adapt_model *model,
                                 const adapt_dataset *dataset, float epsilon, float input_min,
                                 float input_max, int32_t batch_size, int32_t n_threads)
{
    const char *fn = "adapt_model_certify";
    const box_rule rule = {epsilon, input_min, input_max};
    ad_hold hold;
    adapt_status st = ad_model_enter(&hold, model, AD_READ, fn);
    if (!st)
        st = certify(result, model, dataset, &rule, batch_size, n_threads, fn);
    ad_busy_leave(&hold);
    return ad_prefix(st, fn);
}
