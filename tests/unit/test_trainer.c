/* adapt_model_train and adapt_model_evaluate on a small MLP and a synthetic problem whose
 * classes a linear map separates: learning, bit-for-bit determinism, progress reports,
 * cancellation, schedules and clipping as seen through training, frozen parameters,
 * evaluation against a hand count, and every error path. */
#define _POSIX_C_SOURCE 200809L

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_util.h"
#include "lib/train/progress.h"
#include "lib/train/schedule.h"

#define N_SAMPLES 384
#define N_FEATURES 8
#define N_CLASSES 3
#define HIDDEN 24

static float xs[N_SAMPLES * N_FEATURES];
static int32_t ys[N_SAMPLES];

/* Label = argmax of a fixed random linear map of x: separable with a margin kept by dropping
 * points too close to a decision boundary (they are pushed away from it instead). */
static void make_problem(void)
{
    float w[N_CLASSES * N_FEATURES];
    tu_fill(w, N_CLASSES * N_FEATURES, 5, -1.0f, 1.0f);
    tu_fill(xs, N_SAMPLES * N_FEATURES, 6, -1.0f, 1.0f);
    for (int i = 0; i < N_SAMPLES; i++) {
        float *x = xs + i * N_FEATURES, score[N_CLASSES];
        for (int c = 0; c < N_CLASSES; c++) {
            score[c] = 0.0f;
            for (int j = 0; j < N_FEATURES; j++)
                score[c] += w[c * N_FEATURES + j] * x[j];
        }
        int best = 0;
        for (int c = 1; c < N_CLASSES; c++)
            best = score[c] > score[best] ? c : best;
        ys[i] = best;
        for (int j = 0; j < N_FEATURES; j++) /* margin: move along the winning direction */
            x[j] += 0.3f * w[best * N_FEATURES + j];
    }
}

static adapt_dataset *dataset(int64_t first, int64_t count)
{
    adapt_dataset *ds = NULL;
    TU_OK(adapt_dataset_wrap(&ds, xs + first * N_FEATURES, 2, (int64_t[]){count, N_FEATURES},
                             ys + first));
    return ds;
}

static adapt_model *mlp(uint64_t seed, float dropout)
{
    const int64_t sizes[] = {N_FEATURES, HIDDEN, N_CLASSES};
    adapt_mlp_params p;
    adapt_mlp_params_init(&p, sizeof p);
    p.n_sizes = 3, p.sizes = sizes, p.seed = seed, p.dropout = dropout;
    adapt_model *m = NULL;
    TU_OK(adapt_model_create_mlp(&m, &p));
    return m;
}

static adapt_train_params quick_params(void)
{
    adapt_train_params p;
    adapt_train_params_init(&p, sizeof p);
    p.epochs = 4, p.batch_size = 32, p.optimizer = ADAPT_OPTIMIZER_ADAMW;
    p.learning_rate = 0.02f, p.seed = 3, p.n_threads = 1;
    p.progress = NULL;
    return p;
}

/* Every parameter value of the model, concatenated; caller frees. */
static float *snapshot(const adapt_model *m, int64_t *count)
{
    int64_t n = 0;
    for (int32_t i = 0; i < adapt_model_param_count(m); i++)
        n += adapt_tensor_numel(adapt_model_param(m, i));
    float *all = malloc((size_t)n * sizeof *all), *next = all;
    for (int32_t i = 0; i < adapt_model_param_count(m); i++) {
        const adapt_tensor *t = adapt_model_param(m, i);
        memcpy(next, adapt_tensor_data(t), (size_t)adapt_tensor_numel(t) * sizeof *next);
        next += adapt_tensor_numel(t);
    }
    *count = n;
    return all;
}

static int same_weights(const adapt_model *a, const adapt_model *b)
{
    int64_t na, nb;
    float *wa = snapshot(a, &na), *wb = snapshot(b, &nb);
    const int same = na == nb && memcmp(wa, wb, (size_t)na * sizeof *wa) == 0;
    free(wa);
    free(wb);
    return same;
}

static void silent(const adapt_progress *p, void *user)
{
    (void)p, (void)user;
}

START_TEST(learns_a_separable_problem)
{
    make_problem();
    adapt_dataset *train = dataset(0, 320), *val = dataset(320, 64);
    adapt_model *m = mlp(1, 0.0f);
    adapt_eval_result before = {.struct_size = sizeof before}, after = before;
    TU_OK(adapt_model_evaluate(&before, NULL, m, val, 50, 1));
    adapt_train_params p = quick_params();
    p.progress = silent;
    TU_OK(adapt_model_train(m, train, val, &p));
    TU_OK(adapt_model_evaluate(&after, NULL, m, val, 50, 1));
    ck_assert_int_eq(after.count, 64);
    ck_assert_msg(after.accuracy >= 0.9, "accuracy %.3f after training", after.accuracy);
    ck_assert_msg(after.loss < 0.5 * before.loss, "loss %.3f -> %.3f", before.loss, after.loss);
    adapt_model_free(m);
    adapt_dataset_free(train);
    adapt_dataset_free(val);
}
END_TEST

/* Trains a fresh model (seed 1, dropout on) and returns it. */
static adapt_model *trained(uint64_t seed, int32_t threads, const adapt_dataset *train)
{
    adapt_model *m = mlp(1, 0.25f);
    adapt_train_params p = quick_params();
    p.epochs = 2, p.seed = seed, p.n_threads = threads, p.progress = silent;
    p.optimizer = ADAPT_OPTIMIZER_SGD, p.momentum = 0.9f, p.nesterov = 1;
    p.weight_decay = 1e-3f, p.grad_clip_norm = 1.0f, p.label_smoothing = 0.1f;
    p.schedule = ADAPT_SCHEDULE_COSINE, p.warmup_steps = 3;
    TU_OK(adapt_model_train(m, train, NULL, &p));
    return m;
}

START_TEST(same_seed_and_threads_give_identical_weights)
{
    make_problem();
    adapt_dataset *train = dataset(0, N_SAMPLES);
    const int32_t threads = _i ? 3 : 1;
    adapt_model *a = trained(9, threads, train), *b = trained(9, threads, train);
    adapt_model *c = trained(10, threads, train), *fresh = mlp(1, 0.25f);
    ck_assert(same_weights(a, b));
    ck_assert(!same_weights(a, c));
    ck_assert(!same_weights(a, fresh));
    adapt_model_free(a);
    adapt_model_free(b);
    adapt_model_free(c);
    adapt_model_free(fresh);
    adapt_dataset_free(train);
}
END_TEST

#define MAX_REPORTS 64

typedef struct {
    adapt_progress seen[MAX_REPORTS];
    int count;
    int cancel_after; /* cancel once this many steps are reported; 0 = never */
    int cancel_calls;
} recorder;

static void record(const adapt_progress *p, void *user)
{
    recorder *r = user;
    ck_assert_int_lt(r->count, MAX_REPORTS);
    r->seen[r->count++] = *p;
}

static int cancel_after(void *user)
{
    recorder *r = user;
    r->cancel_calls++;
    return r->cancel_after && r->count >= r->cancel_after;
}

START_TEST(progress_reports_every_step)
{
    make_problem();
    adapt_dataset *train = dataset(0, 100), *val = dataset(300, 40);
    adapt_model *m = mlp(2, 0.0f);
    adapt_train_params p = quick_params();
    p.epochs = 3, p.batch_size = 32; /* 4 steps per epoch, the last one of 4 samples */
    p.schedule = ADAPT_SCHEDULE_COSINE, p.warmup_steps = 2, p.min_learning_rate = 1e-4f;
    recorder r = {.count = 0};
    p.progress = record, p.cancel = cancel_after, p.user_data = &r;
    TU_OK(adapt_model_train(m, train, val, &p));
    ck_assert_int_eq(r.count, 12);
    ck_assert_int_eq(r.cancel_calls, 12);
    ad_schedule s = {.kind = ADAPT_SCHEDULE_COSINE, .base_lr = p.learning_rate,
                     .min_lr = p.min_learning_rate, .warmup_steps = 2, .step_epochs = 1,
                     .total_steps = 12, .steps_per_epoch = 4};
    for (int i = 0; i < r.count; i++) {
        const adapt_progress *q = &r.seen[i];
        const int epoch_end = i % 4 == 3;
        ck_assert_int_eq(q->step, i + 1);
        ck_assert_int_eq(q->steps, 12);
        ck_assert_int_eq(q->epoch, i / 4 + 1);
        ck_assert_int_eq(q->epochs, 3);
        ck_assert(isfinite(q->loss) && q->loss > 0.0f);
        ck_assert_float_eq(q->learning_rate, ad_schedule_lr(&s, i));
        ck_assert(q->samples_per_second >= 0.0 && q->eta_seconds >= 0.0);
        if (epoch_end)
            ck_assert(q->val_accuracy >= 0.0f && q->val_accuracy <= 1.0f);
        else
            ck_assert_float_eq(q->val_accuracy, -1.0f);
    }
    ck_assert_float_eq(r.seen[11].eta_seconds, 0.0);
    ck_assert_float_lt(r.seen[11].learning_rate, r.seen[3].learning_rate);
    adapt_model_free(m);
    adapt_dataset_free(train);
    adapt_dataset_free(val);
}
END_TEST

/* drop_last: 100 samples in batches of 32 make 3 whole batches an epoch, the short fourth
 * skipped; fewer samples than a batch leave nothing to train on. */
START_TEST(drop_last_skips_the_short_batch)
{
    make_problem();
    adapt_dataset *train = dataset(0, 100), *few = dataset(0, 20);
    adapt_model *m = mlp(2, 0.0f);
    adapt_train_params p = quick_params();
    p.epochs = 2, p.batch_size = 32, p.drop_last = 1;
    recorder r = {.count = 0};
    p.progress = record, p.user_data = &r;
    TU_OK(adapt_model_train(m, train, NULL, &p));
    ck_assert_int_eq(r.count, 6);
    ck_assert_int_eq(r.seen[5].steps, 6);
    ck_assert_int_eq(r.seen[2].epoch, 1);
    ck_assert_int_eq(r.seen[3].epoch, 2);
    TU_FAILS(adapt_model_train(m, few, NULL, &p), ADAPT_ERR_INVALID_ARGUMENT);
    adapt_model_free(m);
    adapt_dataset_free(train);
    adapt_dataset_free(few);
}
END_TEST

START_TEST(cancel_keeps_last_completed_step)
{
    make_problem();
    adapt_dataset *train = dataset(0, 128);
    adapt_model *a = mlp(4, 0.0f), *b = mlp(4, 0.0f);
    adapt_train_params p = quick_params();
    p.epochs = 5, p.batch_size = 32; /* 4 steps per epoch */
    recorder r = {.cancel_after = 4};
    p.progress = record, p.cancel = cancel_after, p.user_data = &r;
    TU_FAILS(adapt_model_train(a, train, NULL, &p), ADAPT_ERR_CANCELLED);
    ck_assert_int_eq(r.count, 4);
    ck_assert_int_eq(r.seen[3].step, 4);
    /* The same first epoch run to its end gives the same weights. */
    p.epochs = 1, p.cancel = NULL, p.progress = silent;
    TU_OK(adapt_model_train(b, train, NULL, &p));
    ck_assert(same_weights(a, b));
    for (int32_t i = 0; i < adapt_model_param_count(a); i++) {
        const adapt_tensor *t = adapt_model_param(a, i);
        for (int64_t j = 0; j < adapt_tensor_numel(t); j++)
            ck_assert_float_eq(adapt_tensor_grad(t)[j], 0.0f);
    }
    /* Cancelled before the first step: nothing changes. */
    adapt_model *c = mlp(4, 0.0f), *fresh = mlp(4, 0.0f);
    recorder r0 = {.cancel_after = -1};
    p.cancel = cancel_after, p.user_data = &r0, p.progress = record;
    TU_FAILS(adapt_model_train(c, train, NULL, &p), ADAPT_ERR_CANCELLED);
    ck_assert_int_eq(r0.count, 0);
    ck_assert(same_weights(c, fresh));
    adapt_model *models[] = {a, b, c, fresh};
    for (int i = 0; i < 4; i++)
        adapt_model_free(models[i]);
    adapt_dataset_free(train);
}
END_TEST

START_TEST(clipping_bounds_the_update)
{
    /* One full-batch plain-SGD step: the weights move by lr * (clipped gradient). */
    make_problem();
    adapt_dataset *train = dataset(0, 64);
    adapt_model *m = mlp(5, 0.0f), *fresh = mlp(5, 0.0f);
    adapt_train_params p = quick_params();
    p.epochs = 1, p.batch_size = 64, p.optimizer = ADAPT_OPTIMIZER_SGD, p.momentum = 0.0f;
    p.learning_rate = 0.5f, p.grad_clip_norm = 1e-3f, p.progress = silent;
    TU_OK(adapt_model_train(m, train, NULL, &p));
    int64_t n;
    float *w1 = snapshot(m, &n), *w0 = snapshot(fresh, &n);
    double moved = 0.0;
    for (int64_t i = 0; i < n; i++)
        moved += ((double)w1[i] - w0[i]) * ((double)w1[i] - w0[i]);
    ck_assert_double_eq_tol(sqrt(moved), 0.5 * 1e-3, 1e-6);
    free(w1);
    free(w0);
    adapt_model_free(m);
    adapt_model_free(fresh);
    adapt_dataset_free(train);
}
END_TEST

START_TEST(frozen_parameters_stay_fixed)
{
    make_problem();
    adapt_dataset *train = dataset(0, 96);
    adapt_model *m = mlp(6, 0.0f);
    adapt_tensor *w0 = adapt_model_param(m, 0);
    TU_OK(adapt_param_set_requires_grad(w0, 0));
    const int64_t n = adapt_tensor_numel(w0);
    float *before = malloc((size_t)n * sizeof *before);
    memcpy(before, adapt_tensor_data(w0), (size_t)n * sizeof *before);
    adapt_train_params p = quick_params();
    p.epochs = 2, p.weight_decay = 0.1f, p.progress = silent;
    TU_OK(adapt_model_train(m, train, NULL, &p));
    ck_assert_mem_eq(adapt_tensor_data(w0), before, (size_t)n * sizeof *before);
    free(before);
    adapt_model_free(m);
    adapt_dataset_free(train);
}
END_TEST

/* Runs `body` with stderr sent to a temporary file; returns what was written (caller frees). */
static char *capture_stderr(void (*body)(void *), void *arg)
{
    FILE *capture = tmpfile();
    ck_assert_ptr_nonnull(capture);
    fflush(stderr);
    const int saved = dup(STDERR_FILENO);
    dup2(fileno(capture), STDERR_FILENO);
    body(arg);
    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);
    const long size = lseek(fileno(capture), 0, SEEK_END);
    char *text = calloc(1, (size_t)size + 1);
    ck_assert_int_eq(pread(fileno(capture), text, (size_t)size, 0), size);
    fclose(capture);
    return text;
}

static void print_three(void *arg)
{
    ad_printer printer = {.enabled = true, .last_shown = -1e300};
    adapt_progress p = {.epoch = 1, .epochs = 2, .step = 5, .steps = 10, .loss = 0.25f,
                        .learning_rate = 0.01f, .samples_per_second = 1000.0,
                        .eta_seconds = 75.0, .val_accuracy = -1.0f};
    ad_printer_show(&printer, &p, false);
    p.step = 6;
    ad_printer_show(&printer, &p, false); /* within 0.1 s of the first: skipped */
    p.step = 7, p.val_accuracy = 0.875f;
    ad_printer_show(&printer, &p, true); /* epoch end: always shown */
    (void)arg;
}

START_TEST(printer_updates_one_line)
{
    char *text = capture_stderr(print_three, NULL);
    ck_assert_msg(text[0] == '\r' && strstr(text, "epoch 1/2") && strstr(text, "step 5/10") &&
                      strstr(text, "loss 0.2500") && strstr(text, "1000 samples/s") &&
                      strstr(text, "ETA 1:15") && !strstr(text, "step 6/10") &&
                      strstr(text, "step 7/10") &&
                      strstr(text, "val acc 87.50%"),
                  "printed: %s", text);
    int returns = 0;
    for (const char *c = text; *c; c++)
        returns += *c == '\r';
    ck_assert_int_eq(returns, 2);
    ck_assert_ptr_eq(strchr(text, '\n'), text + strlen(text) - 1); /* one newline, at the end */
    free(text);
}
END_TEST

typedef struct {
    adapt_model *model;
    const adapt_dataset *train, *val;
    adapt_status status;
} train_call;

static void train_default_printer(void *arg)
{
    train_call *c = arg;
    adapt_train_params p = quick_params();
    p.epochs = 2;
    c->status = adapt_model_train(c->model, c->train, c->val, &p);
}

/* The default printer writes nothing when stderr is not a terminal. */
START_TEST(default_printer_is_silent_off_a_terminal)
{
    make_problem();
    adapt_dataset *train = dataset(0, 64), *val = dataset(64, 32);
    train_call c = {.model = mlp(7, 0.0f), .train = train, .val = val};
    char *text = capture_stderr(train_default_printer, &c);
    TU_OK(c.status);
    ck_assert_str_eq(text, "");
    free(text);
    adapt_model_free(c.model);
    adapt_dataset_free(train);
    adapt_dataset_free(val);
}
END_TEST

static double row_cross_entropy(const float *z, int32_t label)
{
    double max = z[0], sum = 0.0;
    for (int c = 1; c < N_CLASSES; c++)
        max = z[c] > max ? z[c] : max;
    for (int c = 0; c < N_CLASSES; c++)
        sum += exp(z[c] - max);
    return max + log(sum) - z[label];
}

START_TEST(evaluate_matches_hand_count)
{
    make_problem();
    adapt_dataset *ds = dataset(0, 150);
    adapt_model *m = mlp(8, 0.3f); /* dropout must be off in evaluation */
    adapt_context *ctx = tu_context(ADAPT_BACKEND_DEFAULT);
    TU_OK(adapt_context_set_grad(ctx, 0));
    adapt_tensor *x = NULL, *logits = NULL;
    TU_OK(adapt_tensor_input(&x, ctx, 2, (int64_t[]){150, N_FEATURES}, xs));
    TU_OK(adapt_model_forward(&logits, ctx, m, x));
    int64_t correct = 0, want[N_CLASSES * N_CLASSES] = {0};
    double loss = 0.0;
    for (int i = 0; i < 150; i++) {
        const float *z = adapt_tensor_data(logits) + i * N_CLASSES;
        int pred = 0;
        for (int c = 1; c < N_CLASSES; c++)
            pred = z[c] > z[pred] ? c : pred;
        correct += pred == ys[i];
        want[ys[i] * N_CLASSES + pred]++;
        loss += row_cross_entropy(z, ys[i]);
    }
    adapt_eval_result r = {.struct_size = sizeof r};
    int64_t confusion[N_CLASSES * N_CLASSES];
    TU_OK(adapt_model_evaluate(&r, confusion, m, ds, 64, 2)); /* 64 + 64 + 22 */
    ck_assert_int_eq(r.count, 150);
    ck_assert_double_eq_tol(r.accuracy, (double)correct / 150.0, 1e-12);
    ck_assert_double_eq_tol(r.loss, loss / 150.0, 1e-5);
    ck_assert_mem_eq(confusion, want, sizeof want);
    int64_t total = 0;
    for (int i = 0; i < N_CLASSES * N_CLASSES; i++)
        total += confusion[i];
    ck_assert_int_eq(total, 150);
    /* A caller built against an older, shorter result struct gets only what it knows. */
    struct {
        adapt_eval_result r;
        double guard;
    } small = {.r = {.struct_size = offsetof(adapt_eval_result, loss)}, .guard = 42.0};
    small.r.loss = 7.0;
    TU_OK(adapt_model_evaluate(&small.r, NULL, m, ds, 64, 1));
    ck_assert_double_eq(small.r.accuracy, r.accuracy);
    ck_assert_double_eq(small.r.loss, 7.0);
    adapt_context_free(ctx);
    adapt_model_free(m);
    adapt_dataset_free(ds);
}
END_TEST

START_TEST(train_rejects_bad_arguments)
{
    make_problem();
    adapt_dataset *train = dataset(0, 64);
    adapt_model *m = mlp(11, 0.0f), *fresh = mlp(11, 0.0f);
    adapt_train_params p = quick_params();
    p.progress = silent;
    TU_FAILS(adapt_model_train(NULL, train, NULL, &p), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_model_train(m, NULL, NULL, &p), ADAPT_ERR_INVALID_ARGUMENT);
    adapt_train_params bad;
#define REJECTS(assign, status) \
    bad = p;                    \
    bad.assign;                 \
    TU_FAILS(adapt_model_train(m, train, NULL, &bad), status)
    REJECTS(batch_size = 0, ADAPT_ERR_INVALID_ARGUMENT);
    REJECTS(epochs = 0, ADAPT_ERR_INVALID_ARGUMENT);
    REJECTS(learning_rate = 0.0f, ADAPT_ERR_INVALID_ARGUMENT);
    REJECTS(learning_rate = -0.1f, ADAPT_ERR_INVALID_ARGUMENT);
    REJECTS(learning_rate = NAN, ADAPT_ERR_NONFINITE);
    REJECTS(learning_rate = INFINITY, ADAPT_ERR_NONFINITE);
    REJECTS(momentum = -0.5f, ADAPT_ERR_INVALID_ARGUMENT);
    REJECTS(weight_decay = NAN, ADAPT_ERR_NONFINITE);
    REJECTS(beta1 = 1.0f, ADAPT_ERR_INVALID_ARGUMENT);
    REJECTS(beta2 = -0.1f, ADAPT_ERR_INVALID_ARGUMENT);
    REJECTS(adam_eps = 0.0f, ADAPT_ERR_INVALID_ARGUMENT);
    REJECTS(label_smoothing = 1.0f, ADAPT_ERR_INVALID_ARGUMENT);
    REJECTS(grad_clip_norm = -1.0f, ADAPT_ERR_INVALID_ARGUMENT);
    REJECTS(min_learning_rate = INFINITY, ADAPT_ERR_NONFINITE);
    REJECTS(step_gamma = 0.0f, ADAPT_ERR_INVALID_ARGUMENT);
    REJECTS(step_epochs = 0, ADAPT_ERR_INVALID_ARGUMENT);
    REJECTS(warmup_steps = -1, ADAPT_ERR_INVALID_ARGUMENT);
    REJECTS(optimizer = 7, ADAPT_ERR_INVALID_ARGUMENT);
    REJECTS(schedule = -1, ADAPT_ERR_INVALID_ARGUMENT);
    REJECTS(n_threads = -2, ADAPT_ERR_INVALID_ARGUMENT);
    REJECTS(nesterov = 1, ADAPT_ERR_INVALID_ARGUMENT); /* with AdamW */
    REJECTS(struct_size = 0, ADAPT_ERR_INVALID_ARGUMENT);
#undef REJECTS
    ck_assert(same_weights(m, fresh));
    adapt_model_free(m);
    adapt_model_free(fresh);
    adapt_dataset_free(train);
}
END_TEST

START_TEST(train_reports_data_errors_without_crashing)
{
    make_problem();
    adapt_model *m = mlp(12, 0.0f), *fresh = mlp(12, 0.0f);
    adapt_train_params p = quick_params();
    p.progress = silent;
    /* Samples of 5 features for a model that takes 8: the forward's SHAPE error. */
    adapt_dataset *narrow = NULL, *big_label = NULL, *empty = NULL, *nan = NULL;
    TU_OK(adapt_dataset_wrap(&narrow, xs, 2, (int64_t[]){40, 5}, ys));
    TU_FAILS(adapt_model_train(m, narrow, NULL, &p), ADAPT_ERR_SHAPE);
    ck_assert_ptr_nonnull(strstr(adapt_last_error(), "adapt_model_train"));
    /* A label the model cannot output, in the training or the validation set. */
    int32_t labels[16];
    memcpy(labels, ys, sizeof labels);
    labels[9] = N_CLASSES;
    TU_OK(adapt_dataset_wrap(&big_label, xs, 2, (int64_t[]){16, N_FEATURES}, labels));
    adapt_dataset *good = dataset(0, 32);
    TU_FAILS(adapt_model_train(m, big_label, NULL, &p), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_model_train(m, good, big_label, &p), ADAPT_ERR_INVALID_ARGUMENT);
    TU_OK(adapt_dataset_wrap(&empty, xs, 2, (int64_t[]){0, N_FEATURES}, ys));
    TU_FAILS(adapt_model_train(m, empty, NULL, &p), ADAPT_ERR_INVALID_ARGUMENT);
    ck_assert(same_weights(m, fresh));
    /* A NaN in sample 20: refused when its batch is assembled, after earlier steps. */
    float x[32 * N_FEATURES];
    memcpy(x, xs, sizeof x);
    x[20 * N_FEATURES + 3] = NAN;
    TU_OK(adapt_dataset_wrap(&nan, x, 2, (int64_t[]){32, N_FEATURES}, ys));
    p.batch_size = 4;
    TU_FAILS(adapt_model_train(m, nan, NULL, &p), ADAPT_ERR_NONFINITE);
    ck_assert_ptr_nonnull(strstr(adapt_last_error(), "sample 20 "));
    for (int32_t i = 0; i < adapt_model_param_count(m); i++) {
        const adapt_tensor *t = adapt_model_param(m, i);
        for (int64_t j = 0; j < adapt_tensor_numel(t); j++)
            ck_assert(isfinite(adapt_tensor_data(t)[j]) && adapt_tensor_grad(t)[j] == 0.0f);
    }
    adapt_dataset *sets[] = {narrow, big_label, empty, nan, good};
    for (int i = 0; i < 5; i++)
        adapt_dataset_free(sets[i]);
    adapt_model_free(m);
    adapt_model_free(fresh);
}
END_TEST

START_TEST(validation_errors_name_the_validation_set)
{
    make_problem();
    adapt_model *m = mlp(14, 0.0f);
    float x[16 * N_FEATURES];
    memcpy(x, xs, sizeof x);
    x[5 * N_FEATURES + 1] = INFINITY;
    adapt_dataset *train = dataset(0, 32), *val = NULL;
    TU_OK(adapt_dataset_wrap(&val, x, 2, (int64_t[]){16, N_FEATURES}, ys));
    adapt_train_params p = quick_params();
    recorder r = {.count = 0};
    p.progress = record, p.user_data = &r, p.batch_size = 8;
    TU_FAILS(adapt_model_train(m, train, val, &p), ADAPT_ERR_NONFINITE);
    ck_assert_ptr_nonnull(strstr(adapt_last_error(), "validation"));
    ck_assert_ptr_nonnull(strstr(adapt_last_error(), "sample 5 "));
    ck_assert_int_eq(r.count, 3); /* the epoch's last step is reported with its validation */
    adapt_model_free(m);
    adapt_dataset_free(train);
    adapt_dataset_free(val);
}
END_TEST

START_TEST(evaluate_rejects_bad_arguments)
{
    make_problem();
    adapt_model *m = mlp(13, 0.0f);
    adapt_dataset *ds = dataset(0, 20), *narrow = NULL, *big_label = NULL, *empty = NULL;
    TU_OK(adapt_dataset_wrap(&narrow, xs, 2, (int64_t[]){10, 4}, ys));
    int32_t labels[4] = {0, 1, 2, N_CLASSES + 3};
    TU_OK(adapt_dataset_wrap(&big_label, xs, 2, (int64_t[]){4, N_FEATURES}, labels));
    TU_OK(adapt_dataset_wrap(&empty, xs, 2, (int64_t[]){0, N_FEATURES}, ys));
    adapt_eval_result r = {sizeof r, 0.5, 0.5, 5}, zero = {.struct_size = 0};
    int64_t confusion[N_CLASSES * N_CLASSES] = {0}, untouched[N_CLASSES * N_CLASSES] = {0};
    confusion[0] = untouched[0] = 99;
    TU_FAILS(adapt_model_evaluate(NULL, confusion, m, ds, 8, 1), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_model_evaluate(&zero, confusion, m, ds, 8, 1), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_model_evaluate(&r, confusion, NULL, ds, 8, 1), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_model_evaluate(&r, confusion, m, NULL, 8, 1), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_model_evaluate(&r, confusion, m, ds, 0, 1), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_model_evaluate(&r, confusion, m, ds, 8, -1), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_model_evaluate(&r, confusion, m, empty, 8, 1), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_model_evaluate(&r, confusion, m, big_label, 8, 1),
             ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_model_evaluate(&r, confusion, m, narrow, 8, 1), ADAPT_ERR_SHAPE);
    ck_assert_double_eq(r.accuracy, 0.5);
    ck_assert_int_eq(r.count, 5);
    ck_assert_mem_eq(confusion, untouched, sizeof confusion);
    adapt_model *empty_model = NULL;
    TU_OK(adapt_model_create_sequential(&empty_model, 1, (int64_t[]){N_FEATURES}, 1));
    TU_FAILS(adapt_model_evaluate(&r, NULL, empty_model, ds, 8, 1), ADAPT_ERR_STATE);
    adapt_train_params p = quick_params();
    TU_FAILS(adapt_model_train(empty_model, ds, NULL, &p), ADAPT_ERR_STATE);
    adapt_model_free(empty_model);
    adapt_dataset *sets[] = {ds, narrow, big_label, empty};
    for (int i = 0; i < 4; i++)
        adapt_dataset_free(sets[i]);
    adapt_model_free(m);
}
END_TEST

static Suite *trainer_suite(void)
{
    Suite *s = suite_create("trainer");
    TCase *tc = tcase_create("trainer");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, learns_a_separable_problem);
    tcase_add_loop_test(tc, same_seed_and_threads_give_identical_weights, 0, 2);
    tcase_add_test(tc, progress_reports_every_step);
    tcase_add_test(tc, drop_last_skips_the_short_batch);
    tcase_add_test(tc, cancel_keeps_last_completed_step);
    tcase_add_test(tc, clipping_bounds_the_update);
    tcase_add_test(tc, frozen_parameters_stay_fixed);
    tcase_add_test(tc, printer_updates_one_line);
    tcase_add_test(tc, default_printer_is_silent_off_a_terminal);
    tcase_add_test(tc, evaluate_matches_hand_count);
    tcase_add_test(tc, train_rejects_bad_arguments);
    tcase_add_test(tc, train_reports_data_errors_without_crashing);
    tcase_add_test(tc, validation_errors_name_the_validation_set);
    tcase_add_test(tc, evaluate_rejects_bad_arguments);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run(trainer_suite());
}
