/* adapt_model_train: epochs of shuffled mini-batches through forward, cross-entropy, backward,
 * gradient clipping and an optimizer step, with a per-step learning-rate schedule, validation
 * after each epoch, progress reports and cancellation.
 *
 * Every random choice is seeded: the epoch's permutation comes from (seed, epoch) and dropout
 * from a context seeded with params.seed, and the kernels split work by thread count only, so
 * the same seed and thread count reproduce the weights bit for bit. A step changes the weights
 * only once it has fully succeeded, so a failure or a cancellation leaves the weights of the
 * last completed step. */
#include <stdlib.h>
#include <string.h>

#include "lib/adaptive/acm_budget.h"
#include "lib/autograd/tape.h"
#include "lib/core/context.h"
#include "lib/core/error.h"
#include "lib/core/tensor.h"
#include "lib/models/model.h"
#include "lib/ops/ops.h"
#include "lib/train/batch.h"
#include "lib/train/consolidation.h"
#include "lib/train/dataset.h"
#include "lib/train/evaluate.h"
#include "lib/train/ibp.h"
#include "lib/train/optimizer.h"
#include "lib/train/progress.h"
#include "lib/train/schedule.h"
#include "lib/train/shuffle.h"
#include "lib/train/task_heads.h"
#include "lib/train/train_params.h"
#include "lib/train/trainer.h"

/* Permutation streams of the epochs, apart from stream 0 that adapt_dataset_split uses. */
#define EPOCH_STREAM_BASE 0x45504f4348000000ull

typedef struct {
    const char *fn; /* the public function, for messages */
    ad_train_objective objective;
    adapt_model *model;
    const adapt_dataset *train, *validation; /* validation NULL or non-empty */
    int64_t count; /* training samples */
    adapt_train_params p;
    int32_t classes;
    adapt_tensor **params;
    int32_t n_params;
    ad_optimizer *opt;
    adapt_context *ctx;
    int64_t *order; /* the epoch's shuffled sample positions */
    ad_schedule schedule;
    int64_t step; /* completed optimizer steps */
    ad_contraction_window contraction;
    /* Progress accounting. */
    ad_printer printer;
    double start_time, epoch_start;
    double epoch_loss_sum;
    int64_t epoch_samples;
} trainer;

static adapt_status check_data(trainer *t)
{
    if (t->objective.rows_loss) {
        t->count = t->objective.rows;
        return t->count > 0 ? ADAPT_OK
                            : ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: no samples", t->fn);
    }
    if (!t->model)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: model is NULL", t->fn);
    adapt_status st = ad_dataset_check(t->train, t->fn, "train");
    if (!st && t->validation)
        st = ad_dataset_check(t->validation, t->fn, "validation");
    if (st)
        return st;
    if (t->train->count == 0)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: the training dataset is empty", t->fn);
    t->count = t->train->count;
    if (t->validation && t->validation->count == 0)
        t->validation = NULL; /* e.g. a split with validation_fraction 0 */
    if (t->objective.loss && t->train->task_classes > 0)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: this objective does not take task "
                       "classes (adapt_dataset_select_classes)", t->fn);
    t->classes = adapt_model_classes(t->model);
    if (t->classes < 1)
        return ad_fail(ADAPT_ERR_STATE, "%s: the model does not end in class logits", t->fn);
    st = ad_dataset_check_labels(t->train, t->classes, t->fn, "train");
    if (!st && t->validation)
        st = ad_dataset_check_labels(t->validation, t->classes, t->fn, "validation");
    return st;
}

/* Samples an epoch uses: all, or whole batches only with drop_last. */
static int64_t epoch_samples(const trainer *t)
{
    return t->p.drop_last ? t->count / t->p.batch_size * t->p.batch_size : t->count;
}

static adapt_status plan_schedule(trainer *t)
{
    const int64_t n = epoch_samples(t), batch = t->p.batch_size;
    if (n == 0)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: drop_last with %lld samples and "
                       "batches of %d leaves none", t->fn, (long long)t->count,
                       (int)t->p.batch_size);
    const int64_t per_epoch = n / batch + (n % batch != 0);
    if (per_epoch > INT64_MAX / t->p.epochs)
        return ad_fail(ADAPT_ERR_OVERFLOW, "%s: %lld steps per epoch times %d epochs", t->fn,
                       (long long)per_epoch, (int)t->p.epochs);
    t->schedule = (ad_schedule){.kind = (adapt_schedule_kind)t->p.schedule,
                                .base_lr = t->p.learning_rate,
                                .min_lr = t->p.min_learning_rate, .gamma = t->p.step_gamma,
                                .warmup_steps = t->p.warmup_steps,
                                .step_epochs = t->p.step_epochs,
                                .total_steps = per_epoch * t->p.epochs,
                                .steps_per_epoch = per_epoch};
    return ADAPT_OK;
}

/* The objective's parameters, or else the backbone's: the first of the model's parameters,
 * before those of its heads. */
static adapt_status collect_params(trainer *t)
{
    const ad_train_objective *o = &t->objective;
    t->n_params = o->params ? o->n_params : ad_backbone_param_count(t->model);
    t->params = malloc(((size_t)t->n_params + 1) * sizeof *t->params);
    if (!t->params)
        return ad_fail(ADAPT_ERR_OUT_OF_MEMORY, "%s: no memory", t->fn);
    for (int32_t i = 0; i < t->n_params; i++)
        t->params[i] = o->params ? o->params[i] : ad_model_param(t->model, i);
    return ADAPT_OK;
}

static adapt_status open_context(trainer *t)
{
    adapt_context_params cp;
    adapt_context_params_init(&cp, sizeof cp);
    cp.n_threads = t->p.n_threads;
    cp.seed = t->p.seed;
    adapt_status st = adapt_context_create(&t->ctx, &cp);
    if (!st)
        st = adapt_context_set_grad(t->ctx, 1);
    if (!st)
        st = adapt_context_set_training(t->ctx, 1);
    if (!st)
        t->ctx->recompute = t->p.recompute_blocks != 0;
    return st;
}

static adapt_status open_trainer(trainer *t)
{
    adapt_status st = plan_schedule(t);
    if (!st)
        st = collect_params(t);
    if (!st) {
        const ad_optim_config config = ad_train_optim_config(&t->p);
        st = ad_optimizer_create(&t->opt, &config, t->params, t->n_params);
    }
    if (!st) {
        t->order = malloc((size_t)t->count * sizeof *t->order);
        if (!t->order)
            st = ad_fail(ADAPT_ERR_OUT_OF_MEMORY, "%s: no memory for %lld sample positions",
                         t->fn, (long long)t->count);
    }
    if (!st)
        st = open_context(t);
    if (!st && (t->p.ibp_epsilon > 0.0f || t->p.interval_tau > 0.0f))
        st = ad_interval_training_check(t->ctx, t->model, t->train, &t->p, t->fn);
    if (!st)
        ad_zero_grads(t->params, t->n_params); /* the caller's leftovers are not this step's */
    ad_printer_init(&t->printer);
    t->start_time = ad_clock_seconds();
    return st;
}

static void close_trainer(trainer *t)
{
    if (t->params)
        ad_zero_grads(t->params, t->n_params); /* a failed step may have left some */
    adapt_context_free(t->ctx);
    ad_optimizer_free(t->opt);
    free(t->order);
    free(t->params);
}

/* The batch's loss: the objective's own, the contraction's (NULL when its gate is shut), IBP
 * training's, or the cross-entropy of the model's logits. */
static adapt_status batch_loss(adapt_tensor **loss, trainer *t, const int64_t *order, int64_t n)
{
    adapt_context *ctx = t->ctx;
    const ad_train_objective *o = &t->objective;
    if (o->rows_loss)
        return o->rows_loss(loss, ctx, o->arg, order, n);
    adapt_tensor *x = NULL;
    int32_t *labels = NULL;
    adapt_status st = ad_batch_assemble(&x, &labels, ctx, t->train, order, n, "batch");
    if (!st && o->loss)
        return o->loss(loss, ctx, o->arg, x, labels, &t->p);
    const int32_t k = t->train->task_classes;
    if (!st && t->p.interval_tau > 0.0f)
        return ad_contraction_loss(loss, ctx, t->model, x, labels, k, &t->p, &t->contraction);
    if (!st && t->p.ibp_epsilon > 0.0f)
        return ad_ibp_loss(loss, ctx, t->model, x, labels, k, &t->p,
                           ad_ibp_schedule(&t->p, t->step, t->schedule.total_steps));
    return st ? st : ad_task_loss(loss, ctx, t->model, x, labels, k, t->p.loss,
                                  t->p.label_smoothing);
}

/* The sparsity penalty's weight at this step: rising linearly to its value over the warm-up
 * fraction of the steps, then flat. */
static float sparsity_weight(const trainer *t)
{
    const double warm = (double)t->p.sparsity_warmup * (double)t->schedule.total_steps;
    const double done = (double)(t->step + 1);
    return warm > done ? (float)(t->p.sparsity_penalty * done / warm) : t->p.sparsity_penalty;
}

/* The objective's loss plus the weighted mean of the ReLU outputs' measures and the ACM
 * budget terms. */
static adapt_status penalised_loss(adapt_tensor **loss, trainer *t, const int64_t *order,
                                   int64_t n)
{
    adapt_context *ctx = t->ctx;
    ctx->sparsity_weight = sparsity_weight(t);
    ctx->acm_noting = t->p.acm_budget > 0.0f;
    adapt_status st = batch_loss(loss, t, order, n);
    adapt_tensor *penalty;
    if (!st && !*loss) /* no step */
        ctx->sparsity_count = 0, ctx->acm_noting = false;
    if (!st && ctx->sparsity_count) {
        st = ad_op_scale(&penalty, ctx, ctx->sparsity_sum,
                         ctx->sparsity_weight / (float)ctx->sparsity_count);
        if (!st)
            st = ad_op_add(loss, ctx, *loss, penalty);
    }
    const ad_acm_budget budget = {t->p.acm_budget, t->p.acm_budget_weight,
                                  t->p.acm_entropy_weight, t->p.acm_diversity_weight};
    if (!st && ctx->acm_noting)
        st = ad_acm_budget_loss(&penalty, ctx, &budget);
    if (!st && ctx->acm_noting)
        st = ad_op_add(loss, ctx, *loss, penalty);
    ctx->sparsity_weight = 0.0f;
    ctx->acm_noting = false, ctx->acm_notes = NULL;
    return st;
}

/* Forward, loss, backward, clipping (its norm also catches non-finite gradients) and the
 * update; nothing is written to the weights unless all of it succeeded. */
static adapt_status train_step(trainer *t, const int64_t *order, int64_t n, float lr,
                               float *loss_value)
{
    adapt_context *ctx = t->ctx;
    adapt_context_reset(ctx);
    adapt_tensor *loss = NULL;
    double norm = 0.0;
    adapt_status st = penalised_loss(&loss, t, order, n);
    if (!st && !loss) { /* the contraction's gate is shut: nothing changes */
        *loss_value = 0.0f;
        return ADAPT_OK;
    }
    if (!st)
        st = ad_backward(ctx, loss);
    *loss_value = st ? 0.0f : loss->data[0];
    adapt_consolidation *c = t->p.consolidation;
    if (!st && c)
        ad_consolidation_before_step(c, t->params, t->n_params, t->p.consolidation_weight,
                                     loss_value);
    if (!st)
        st = ad_clip_grad_norm(&norm, t->params, t->n_params, t->p.grad_clip_norm, ctx->pool);
    if (st)
        return st;
    ad_optimizer_step(t->opt, lr, ctx->pool);
    if (c)
        ad_consolidation_after_step(c, t->params, t->n_params);
    return ADAPT_OK;
}

/* Accuracy on the validation set, in inference mode. */
static adapt_status validate(trainer *t, float *accuracy)
{
    ad_eval_counts counts;
    adapt_context_set_grad(t->ctx, 0);
    adapt_context_set_training(t->ctx, 0);
    adapt_status st = ad_evaluate_run(&counts, NULL, t->ctx, t->model, t->validation,
                                      t->p.batch_size, t->classes,
                                      "adapt_model_train (validation)");
    adapt_context_set_grad(t->ctx, 1);
    adapt_context_set_training(t->ctx, 1);
    if (!st)
        *accuracy = (float)((double)counts.correct / (double)counts.count);
    return st;
}

/* `now` is the time the step ended, before any validation, so the rates are training rates. */
static void report(trainer *t, int32_t epoch, float lr, double now, float val_accuracy,
                   bool epoch_end)
{
    const double epoch_time = now - t->epoch_start, total_time = now - t->start_time;
    const int64_t steps = t->schedule.total_steps;
    adapt_progress pr = {
        .epoch = epoch + 1, .epochs = t->p.epochs, .step = t->step, .steps = steps,
        .loss = (float)(t->epoch_loss_sum / (double)t->epoch_samples), .learning_rate = lr,
        .samples_per_second = epoch_time > 0.0 ? (double)t->epoch_samples / epoch_time : 0.0,
        .eta_seconds = total_time / (double)t->step * (double)(steps - t->step),
        .val_accuracy = val_accuracy};
    if (t->p.progress)
        t->p.progress(&pr, t->p.user_data);
    else
        ad_printer_show(&t->printer, &pr, epoch_end);
}

/* Prefixes the failing step to the message of a step's error. */
static adapt_status step_failed(adapt_status st, const trainer *t, int32_t epoch)
{
    char detail[400];
    strncpy(detail, adapt_last_error(), sizeof detail - 1);
    detail[sizeof detail - 1] = '\0';
    return ad_fail(st, "%s: epoch %d, step %lld: %s", t->fn, (int)epoch + 1,
                   (long long)t->step + 1, detail);
}

static adapt_status run_epoch(trainer *t, int32_t epoch)
{
    const int64_t n = epoch_samples(t), batch = t->p.batch_size;
    ad_permutation(t->order, t->count, t->p.seed, EPOCH_STREAM_BASE + (uint64_t)epoch);
    t->epoch_start = ad_clock_seconds();
    t->epoch_loss_sum = 0.0;
    t->epoch_samples = 0;
    for (int64_t start = 0; start < n; start += batch) {
        if (t->p.cancel && t->p.cancel(t->p.user_data))
            return ad_fail(ADAPT_ERR_CANCELLED, "%s: cancelled after %lld steps", t->fn,
                           (long long)t->step);
        const int64_t count = n - start < batch ? n - start : batch;
        const float lr = ad_schedule_lr(&t->schedule, t->step);
        float loss = 0.0f;
        adapt_status st = train_step(t, t->order + start, count, lr, &loss);
        if (st)
            return step_failed(st, t, epoch);
        t->step++;
        t->epoch_loss_sum += (double)loss * (double)count;
        t->epoch_samples += count;
        const double now = ad_clock_seconds();
        const bool last = start + count == n;
        float val_accuracy = -1.0f;
        if (last && t->validation)
            st = validate(t, &val_accuracy);
        if (st)
            return st;
        report(t, epoch, lr, now, val_accuracy, last);
    }
    return ADAPT_OK;
}

adapt_status ad_train_run(adapt_model *model, const adapt_dataset *train,
                          const adapt_dataset *validation, const adapt_train_params *params,
                          const ad_train_objective *objective, const char *fn)
{
    trainer t = {.fn = fn, .model = model, .train = train, .validation = validation};
    if (objective)
        t.objective = *objective;
    adapt_status st = ad_train_params_read(&t.p, params, fn);
    if (!st && objective && (t.p.ibp_epsilon > 0.0f || t.p.interval_tau > 0.0f ||
                             t.p.consolidation))
        st = ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: ibp_epsilon, interval_tau and "
                     "consolidation train a model on its own data, not this objective", fn);
    if (!st && objective && objective->rows_loss && t.p.loss != ADAPT_LOSS_CROSS_ENTROPY)
        st = ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: this objective has a loss of its own; "
                     "loss must stay CROSS_ENTROPY", fn);
    if (!st && t.p.consolidation)
        st = ad_consolidation_check(t.p.consolidation, model, fn);
    if (!st)
        st = check_data(&t);
    if (st)
        return st;
    st = open_trainer(&t);
    for (int32_t epoch = 0; epoch < t.p.epochs && !st; epoch++)
        st = run_epoch(&t, epoch);
    close_trainer(&t);
    return st;
}

adapt_status adapt_model_train(adapt_model *model, const adapt_dataset *train,
                               const adapt_dataset *validation, const adapt_train_params *params)
{
    const char *fn = "adapt_model_train";
    ad_hold hold;
    adapt_status st = ad_model_enter(&hold, model, AD_WRITE, fn);
    if (!st)
        st = ad_train_run(model, train, validation, params, NULL, fn);
    ad_busy_leave(&hold);
    return ad_prefix(st, fn); /* layers and kernels cannot name the caller */
}
