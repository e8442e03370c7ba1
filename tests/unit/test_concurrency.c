#define _GNU_SOURCE /* sched_getcpu, pthread_{get,set}affinity_np */
/* Threads: the worker pool, per-thread errors, concurrent inference, and the single-writer rule
 * (lib/core/busy.h): while one call trains or changes a model, every call of another thread
 * that runs or changes it is refused with ADAPT_ERR_STATE, and while calls run it, writers are
 * refused; the thread that trains may still use the model in its callbacks. The ThreadSanitizer
 * run of the test script runs this suite. */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check_util.h"
#include "file_util.h"
#include "lib/core/threads.h"
#include "lib/core/threads_placement.h"
#include "lib/models/model.h"

/* ---- calls on another thread ------------------------------------------------ */

typedef adapt_status (*call_fn)(void *arg);

typedef struct {
    call_fn call;
    void *arg;
    adapt_status status;
    char message[512]; /* the thread's adapt_last_error() after the call */
} thread_call;

static void *run_call(void *raw)
{
    thread_call *c = raw;
    c->status = c->call(c->arg);
    snprintf(c->message, sizeof c->message, "%s", adapt_last_error());
    return NULL;
}

/* call(arg) on a new thread, waited for; its message into `message` (512 bytes) if not NULL. */
static adapt_status on_other_thread(call_fn call, void *arg, char *message)
{
    thread_call c = {call, arg, ADAPT_ERR_INTERNAL, ""};
    pthread_t thread;
    ck_assert_int_eq(pthread_create(&thread, NULL, run_call, &c), 0);
    pthread_join(thread, NULL);
    if (message)
        memcpy(message, c.message, sizeof c.message);
    return c.status;
}

/* ---- the worker pool and per-thread errors ----------------------------------- */

typedef struct {
    int32_t hits[1000];
} coverage;

static void count_hits(void *arg, int64_t begin, int64_t end)
{
    coverage *c = arg;
    for (int64_t i = begin; i < end; i++)
        c->hits[i]++; /* ranges are disjoint, so no two threads share a cell */
}

/* Jobs back to back (workers still polling) and after pauses longer than the
 * polling (workers asleep), on up to four seats: every index exactly once. */
START_TEST(pool_covers_every_index_once)
{
    for (int32_t threads = 1; threads <= 4; threads++) {
        ad_pool *pool = ad_pool_create(threads);
        for (int64_t n = 0; n <= 1000; n += 77) {
            for (int pause = 0; pause < 2; pause++) {
                if (pause)
                    nanosleep(&(struct timespec){0, 200000}, NULL);
                coverage c = {{0}};
                ad_pool_for(pool, n, 1, count_hits, &c);
                for (int64_t i = 0; i < 1000; i++)
                    ck_assert_int_eq(c.hits[i], i < n ? 1 : 0);
            }
        }
        ad_pool_free(pool);
    }
}
END_TEST

typedef struct {
    _Atomic int64_t starts[8]; /* begin of each range, by its end */
    _Atomic int calls;
} range_log;

static void log_range(void *arg, int64_t begin, int64_t end)
{
    range_log *log = arg;
    atomic_fetch_add(&log->calls, 1);
    atomic_store(&log->starts[end % 8], begin);
}

/* The ranges are a function of the size, the grain and the thread count asked for only:
 * 10 indices on 3 seats are [0, 4), [4, 8), [8, 10) however the seats meet them. */
START_TEST(pool_ranges_do_not_depend_on_timing)
{
    ad_pool *pool = ad_pool_create(3);
    for (int round = 0; round < 200; round++) {
        range_log log = {.calls = 0};
        ad_pool_for(pool, 10, 1, log_range, &log);
        ck_assert_int_eq(atomic_load(&log.calls), 3);
        ck_assert_int_eq(atomic_load(&log.starts[4]), 0);
        ck_assert_int_eq(atomic_load(&log.starts[0]), 4); /* 8 % 8 */
        ck_assert_int_eq(atomic_load(&log.starts[2]), 8); /* 10 % 8 */
    }
    ad_pool_free(pool);
}
END_TEST

/* Pins the calling thread to one of its cores; that core, or -1 if it has only one. */
static int pin_to_one_core(cpu_set_t *was)
{
    ck_assert_int_eq(pthread_getaffinity_np(pthread_self(), sizeof *was, was), 0);
    if (CPU_COUNT(was) < 2)
        return -1;
    int core = 0;
    while (!CPU_ISSET(core, was))
        core++;
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(core, &one);
    ck_assert_int_eq(pthread_setaffinity_np(pthread_self(), sizeof one, &one), 0);
    return core;
}

/* A worker on the caller's core leaves it for the pool's other cores, and is let back. */
START_TEST(a_worker_on_the_callers_core_steps_aside_until_recalled)
{
    ad_placement placement;
    ad_placement_init(&placement);
    cpu_set_t all, now;
    const int core = pin_to_one_core(&all);
    if (core < 0)
        return; /* one core: nowhere to step to */
    ad_placement_note_caller(&placement);
    ck_assert(ad_placement_step_aside(&placement)); /* this thread plays the worker */
    ck_assert_int_ne(sched_getcpu(), core);
    ck_assert_int_eq(pthread_getaffinity_np(pthread_self(), sizeof now, &now), 0);
    ck_assert(!CPU_ISSET(core, &now));
    ck_assert_int_eq(CPU_COUNT(&now), CPU_COUNT(&all) - 1);
    ck_assert(!ad_placement_step_aside(&placement)); /* already off the caller's core */
    ad_placement_recall(&placement, pthread_self());
    ck_assert_int_eq(pthread_getaffinity_np(pthread_self(), sizeof now, &now), 0);
    ck_assert(CPU_EQUAL(&now, &all));
}
END_TEST

typedef struct {
    pthread_t caller;
    bool slow_workers; /* workers sleep past the caller's polling */
    coverage c;
} placed_job;

static void count_hits_placed(void *arg, int64_t begin, int64_t end)
{
    placed_job *j = arg;
    if (j->slow_workers && !pthread_equal(pthread_self(), j->caller))
        nanosleep(&(struct timespec){0, 300000}, NULL);
    count_hits(&j->c, begin, end);
}

/* The caller pinned to one core, so that the workers meet it there and step aside, and
 * made to sleep on slow workers, so that it recalls them: every index still exactly once. */
START_TEST(pool_covers_every_index_while_workers_step_aside)
{
    cpu_set_t all;
    const int core = pin_to_one_core(&all);
    ad_pool *pool = ad_pool_create(3);
    for (int round = 0; round < 50; round++) {
        placed_job j = {pthread_self(), round % 2, {{0}}};
        ad_pool_for(pool, 1000, 1, count_hits_placed, &j);
        for (int64_t i = 0; i < 1000; i++)
            ck_assert_int_eq(j.c.hits[i], 1);
    }
    ad_pool_free(pool);
    if (core >= 0)
        ck_assert_int_eq(pthread_setaffinity_np(pthread_self(), sizeof all, &all), 0);
}
END_TEST

static adapt_status fail_on_null(void *arg)
{
    (void)arg;
    return adapt_context_create(NULL, NULL);
}

START_TEST(last_error_is_per_thread)
{
    adapt_tensor *t = NULL;
    TU_FAILS(adapt_param_create(&t, -1, NULL), ADAPT_ERR_SHAPE);
    char mine[512], theirs[512];
    snprintf(mine, sizeof mine, "%s", adapt_last_error());
    ck_assert_int_eq(on_other_thread(fail_on_null, NULL, theirs), ADAPT_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(theirs, "out is NULL"));
    ck_assert_str_eq(adapt_last_error(), mine);
}
END_TEST

/* ---- small models and their data --------------------------------------------- */

enum { N = 8, CLASSES = 5, SIDE = 8, CHANNELS = 3, SAMPLE = CHANNELS * SIDE * SIDE };

static adapt_model *cnn(uint64_t seed)
{
    static const int32_t channels[] = {4, 8}, blocks[] = {1, 1}, strides[] = {1, 2};
    adapt_cnn_params p;
    adapt_cnn_params_init(&p, sizeof p);
    p.image_size = SIDE, p.n_classes = CLASSES, p.stem_channels = 4, p.n_stages = 2;
    p.stage_channels = channels, p.stage_blocks = blocks, p.stage_strides = strides;
    p.seed = seed;
    adapt_model *m = NULL;
    TU_OK(adapt_model_create_cnn(&m, &p));
    return m;
}

static adapt_model *vit(uint64_t seed)
{
    adapt_vit_params p;
    adapt_vit_params_init(&p, sizeof p);
    p.image_size = SIDE, p.patch = 4, p.dim = 8, p.depth = 2, p.heads = 2, p.mlp_ratio = 2.0f;
    p.n_classes = CLASSES, p.seed = seed;
    adapt_model *m = NULL;
    TU_OK(adapt_model_create_vit(&m, &p));
    return m;
}

static adapt_model *mlp(uint64_t seed)
{
    static const int64_t sizes[] = {SAMPLE, 16, CLASSES};
    adapt_mlp_params p;
    adapt_mlp_params_init(&p, sizeof p);
    p.n_sizes = 3, p.sizes = sizes, p.seed = seed;
    adapt_model *m = NULL;
    TU_OK(adapt_model_create_mlp(&m, &p));
    return m;
}

static adapt_head *head_at(adapt_model *m, int32_t block)
{
    adapt_head_params p;
    adapt_head_params_init(&p, sizeof p);
    p.block = block;
    adapt_head *h = NULL;
    TU_OK(adapt_head_create(&h, m, &p));
    return h;
}

static float images[N * SAMPLE];
static int32_t labels[N];

static adapt_dataset *dataset(void)
{
    tu_fill(images, N * SAMPLE, 3, 0.0f, 1.0f);
    for (int32_t i = 0; i < N; i++)
        labels[i] = i % CLASSES;
    adapt_dataset *d = NULL;
    TU_OK(adapt_dataset_wrap(&d, images, 4, (int64_t[]){N, CHANNELS, SIDE, SIDE}, labels));
    return d;
}

static void silent(const adapt_progress *p, void *user)
{
    (void)p, (void)user;
}

static adapt_train_params train_params(void)
{
    adapt_train_params p;
    adapt_train_params_init(&p, sizeof p);
    p.epochs = 1, p.batch_size = 4, p.n_threads = 1, p.progress = silent;
    return p;
}

/* A single-threaded context, recording nothing, in training mode when `training`. */
static adapt_context *context(bool training)
{
    adapt_context *ctx = tu_context(ADAPT_BACKEND_REFERENCE);
    TU_OK(adapt_context_set_grad(ctx, 0));
    TU_OK(adapt_context_set_training(ctx, training));
    return ctx;
}

/* ---- every public call that runs or changes a model --------------------------- */

typedef struct {
    adapt_model *model;   /* a CNN with a head after block 0 */
    adapt_dataset *data;
    adapt_head *spare;    /* a head for block 1, never added */
    adapt_model *module;  /* fits "fc", never put in */
    char checkpoint[256]; /* the model's weights */
} fixture;

static void fixture_setup(fixture *f)
{
    tu_scratch_setup();
    f->model = cnn(1);
    TU_OK(adapt_model_add_head(f->model, head_at(f->model, 0), NULL));
    f->data = dataset();
    f->spare = head_at(f->model, 1);
    adapt_submodule_info info = {.struct_size = sizeof info};
    TU_OK(adapt_model_submodule(&info, f->model, "fc"));
    TU_OK(adapt_model_create_sequential(&f->module, info.in_ndim, info.in_shape, 2));
    adapt_layer_params lp;
    adapt_layer_params_init(&lp, sizeof lp);
    lp.kind = ADAPT_LAYER_LINEAR, lp.out_features = CLASSES;
    TU_OK(adapt_model_append(f->module, &lp));
    snprintf(f->checkpoint, sizeof f->checkpoint, "%s", tu_in_scratch("weights.safetensors"));
    TU_OK(adapt_model_save(f->model, f->checkpoint));
}

static void fixture_teardown(fixture *f)
{
    adapt_model_free(f->module);
    adapt_head_free(f->spare);
    adapt_dataset_free(f->data);
    adapt_model_free(f->model);
    tu_scratch_teardown();
}

/* A forward pass of `forward` (any of the forward functions) in a context of its own. */
static adapt_status forward_in(fixture *f, bool training, int which)
{
    adapt_context *ctx = context(training);
    adapt_tensor *x = NULL, *y[2];
    int64_t flops[2];
    adapt_status st = adapt_tensor_input(&x, ctx, 4, (int64_t[]){2, CHANNELS, SIDE, SIDE}, images);
    if (!st && which == 0)
        st = adapt_model_forward(y, ctx, f->model, x);
    if (!st && which == 1)
        st = adapt_model_forward_blocks(y, ctx, f->model, x, 0, 1);
    if (!st && which == 2)
        st = adapt_model_forward_flops(y, flops, ctx, f->model, x);
    if (!st && which == 3)
        st = adapt_model_forward_exits(y, 2, ctx, f->model, x);
    if (!st && which == 4) {
        int32_t predictions[2];
        const adapt_exit_outputs out = {.struct_size = sizeof out, .predictions = predictions};
        st = adapt_model_infer_exits(&out, ctx, f->model, x, NULL);
    }
    adapt_context_free(ctx);
    return st;
}

static adapt_status forward(void *f) { return forward_in(f, false, 0); }
static adapt_status forward_blocks(void *f) { return forward_in(f, false, 1); }
static adapt_status forward_flops(void *f) { return forward_in(f, false, 2); }
static adapt_status forward_exits(void *f) { return forward_in(f, false, 3); }
static adapt_status infer_exits(void *f) { return forward_in(f, false, 4); }
static adapt_status forward_training(void *f) { return forward_in(f, true, 0); }

static adapt_status evaluate(void *arg)
{
    fixture *f = arg;
    adapt_eval_result r = {.struct_size = sizeof r};
    return adapt_model_evaluate(&r, NULL, f->model, f->data, 4, 1);
}

static adapt_status exit_logits(void *arg)
{
    fixture *f = arg;
    static float logits[2 * N * CLASSES];
    return adapt_model_exit_logits(logits, 2 * N * CLASSES, f->model, f->data, 4, 1);
}

static adapt_status record(void *arg)
{
    fixture *f = arg;
    adapt_recording *r = NULL;
    adapt_status st = adapt_model_record(&r, f->model, "fc", f->data, NULL);
    adapt_recording_free(r);
    return st;
}

static adapt_status save(void *arg)
{
    return adapt_model_save(((fixture *)arg)->model, tu_in_scratch("copy.safetensors"));
}

static adapt_status create_head(void *arg)
{
    fixture *f = arg;
    adapt_head *h = NULL;
    adapt_head_params p;
    adapt_head_params_init(&p, sizeof p);
    adapt_status st = adapt_head_create(&h, f->model, &p);
    adapt_head_free(h);
    return st;
}

static adapt_status train(void *arg)
{
    fixture *f = arg;
    const adapt_train_params p = train_params();
    return adapt_model_train(f->model, f->data, NULL, &p);
}

static adapt_status train_exits(void *arg)
{
    fixture *f = arg;
    const adapt_train_params phase = train_params();
    adapt_exit_train_params p;
    adapt_exit_train_params_init(&p, sizeof p);
    p.regime = ADAPT_REGIME_JOINT, p.exit_phase = &phase;
    return adapt_model_train_exits(f->model, f->data, NULL, &p);
}

static adapt_status load_weights(void *arg)
{
    fixture *f = arg;
    return adapt_model_load_weights(f->model, f->checkpoint);
}

static adapt_status add_head(void *arg)
{
    fixture *f = arg;
    return adapt_model_add_head(f->model, f->spare, NULL);
}

static adapt_status remove_head(void *arg)
{
    return adapt_model_remove_head(NULL, ((fixture *)arg)->model, 0);
}

static adapt_status replace(void *arg)
{
    fixture *f = arg;
    return adapt_model_replace(f->model, "fc", f->module, NULL);
}

static adapt_status write_param(void *arg)
{
    adapt_tensor *p = adapt_model_param(((fixture *)arg)->model, 0);
    return adapt_param_write(p, adapt_tensor_data(p), adapt_tensor_numel(p));
}

static adapt_status zero_grad(void *arg)
{
    return adapt_param_zero_grad(adapt_model_param(((fixture *)arg)->model, 0));
}

static adapt_status freeze(void *arg)
{
    return adapt_param_set_requires_grad(adapt_model_param(((fixture *)arg)->model, 0), 1);
}

static const struct {
    const char *name;
    call_fn call;
    bool writes;
} calls[] = {
    {"adapt_model_forward", forward, false},
    {"adapt_model_forward_blocks", forward_blocks, false},
    {"adapt_model_forward_flops", forward_flops, false},
    {"adapt_model_forward_exits", forward_exits, false},
    {"adapt_model_infer_exits", infer_exits, false},
    {"adapt_model_evaluate", evaluate, false},
    {"adapt_model_exit_logits", exit_logits, false},
    {"adapt_model_save", save, false},
    {"adapt_head_create", create_head, false},
    {"adapt_model_forward", forward_training, true},
    {"adapt_model_record", record, true}, /* its tap sits in the model meanwhile */
    {"adapt_model_train", train, true},
    {"adapt_model_train_exits", train_exits, true},
    {"adapt_model_load_weights", load_weights, true},
    {"adapt_model_add_head", add_head, true},
    {"adapt_model_remove_head", remove_head, true},
    {"adapt_model_replace", replace, true},
    {"adapt_param_write", write_param, true},
    {"adapt_param_zero_grad", zero_grad, true},
    {"adapt_param_set_requires_grad", freeze, true},
};
enum { N_CALLS = sizeof calls / sizeof calls[0] };

/* Call k on another thread gets `want`; a refusal names the call and says why. */
static void expect(fixture *f, int k, adapt_status want, const char *why)
{
    char message[512];
    const adapt_status st = on_other_thread(calls[k].call, f, message);
    ck_assert_msg(st == want, "%s -> %s (%s), expected %s", calls[k].name,
                  adapt_status_string(st), message, adapt_status_string(want));
    if (st == ADAPT_ERR_STATE) {
        ck_assert_msg(strstr(message, calls[k].name) == message, "%s: \"%s\"", calls[k].name,
                      message);
        ck_assert_msg(strstr(message, why) != NULL, "%s: \"%s\"", calls[k].name, message);
    }
}

START_TEST(a_model_held_for_writing_refuses_every_other_thread)
{
    fixture f;
    fixture_setup(&f);
    ad_hold hold;
    TU_OK(ad_model_enter(&hold, f.model, AD_WRITE, "test"));
    for (int k = 0; k < N_CALLS; k++)
        expect(&f, k, ADAPT_ERR_STATE, "is being trained or changed by another call");
    TU_OK(forward(&f)); /* the writing thread itself may */
    TU_OK(evaluate(&f));
    ad_busy_leave(&hold);
    for (int k = 0; k < N_CALLS; k++)
        if (!calls[k].writes)
            expect(&f, k, ADAPT_OK, "");
    fixture_teardown(&f);
}
END_TEST

START_TEST(a_model_held_for_reading_refuses_writers_only)
{
    fixture f;
    fixture_setup(&f);
    ad_hold hold;
    TU_OK(ad_model_enter(&hold, f.model, AD_READ, "test"));
    for (int k = 0; k < N_CALLS; k++)
        expect(&f, k, calls[k].writes ? ADAPT_ERR_STATE : ADAPT_OK,
               "is being run by another call");
    ad_busy_leave(&hold);
    ck_assert_int_eq(on_other_thread(train, &f, NULL), ADAPT_OK);
    fixture_teardown(&f);
}
END_TEST

/* A module that replaces a submodule is held with the model it is in. */
START_TEST(a_replacing_module_is_held_with_its_model)
{
    adapt_model *m = vit(1), *module = tu_token_mlp(5, 8, 4, 2);
    TU_OK(adapt_model_replace(m, "blocks.0.mlp", module, NULL));
    ad_hold hold;
    TU_OK(ad_model_enter(&hold, m, AD_READ, "test"));
    char message[512];
    ck_assert_int_eq(on_other_thread(zero_grad, &(fixture){.model = module}, message),
                     ADAPT_ERR_STATE);
    ck_assert_ptr_nonnull(strstr(message, "is being run by another call"));
    ad_busy_leave(&hold);
    ck_assert_int_eq(on_other_thread(zero_grad, &(fixture){.model = module}, NULL), ADAPT_OK);
    adapt_model_free(m);
}
END_TEST

/* ---- training with callbacks ----------------------------------------------- */

typedef struct {
    fixture *f;
    int steps;
    adapt_status own_forward, own_evaluate, their_forward, their_train;
} callback_log;

static void on_progress(const adapt_progress *p, void *user)
{
    (void)p;
    callback_log *log = user;
    if (log->steps++)
        return;
    log->own_forward = forward(log->f);
    log->own_evaluate = evaluate(log->f);
    log->their_forward = on_other_thread(forward, log->f, NULL);
    log->their_train = on_other_thread(train, log->f, NULL);
}

START_TEST(training_callbacks_may_use_the_model_other_threads_may_not)
{
    fixture f;
    fixture_setup(&f);
    callback_log log = {.f = &f};
    adapt_train_params p = train_params();
    p.progress = on_progress, p.user_data = &log;
    TU_OK(adapt_model_train(f.model, f.data, NULL, &p));
    ck_assert_int_eq(log.steps, 2);
    ck_assert_int_eq(log.own_forward, ADAPT_OK);
    ck_assert_int_eq(log.own_evaluate, ADAPT_OK);
    ck_assert_int_eq(log.their_forward, ADAPT_ERR_STATE);
    ck_assert_int_eq(log.their_train, ADAPT_ERR_STATE);
    fixture_teardown(&f);
}
END_TEST

/* ---- training and inference at once ----------------------------------------- */

enum { TRAININGS = 4 };

typedef struct {
    adapt_model *model;
    adapt_dataset *data;
    atomic_bool done;
    int refused, failed; /* the training thread's */
} race;

static void *train_rounds(void *arg)
{
    race *r = arg;
    adapt_train_params p = train_params();
    p.n_threads = 2; /* the pool's workers write the weights too */
    for (int i = 0; i < TRAININGS; i++) {
        const adapt_status st = adapt_model_train(r->model, r->data, NULL, &p);
        r->refused += st == ADAPT_ERR_STATE;
        r->failed += st != ADAPT_OK && st != ADAPT_ERR_STATE;
    }
    atomic_store(&r->done, true);
    return NULL;
}

/* Forward passes until the training thread is done: each runs or is refused, never races. */
static void infer_until_done(race *r, int *failed)
{
    adapt_context *ctx = context(false);
    while (!atomic_load(&r->done)) {
        adapt_context_reset(ctx);
        adapt_tensor *x = NULL, *y = NULL;
        adapt_status st =
            adapt_tensor_input(&x, ctx, 4, (int64_t[]){2, CHANNELS, SIDE, SIDE}, images);
        if (!st)
            st = adapt_model_forward(&y, ctx, r->model, x);
        *failed += st != ADAPT_OK && st != ADAPT_ERR_STATE;
    }
    adapt_context_free(ctx);
}

START_TEST(training_and_inference_on_one_model_never_race)
{
    adapt_model *(*const make[])(uint64_t) = {cnn, vit, mlp};
    race r = {.model = make[_i](4), .data = dataset()};
    atomic_init(&r.done, false);
    pthread_t trainer;
    ck_assert_int_eq(pthread_create(&trainer, NULL, train_rounds, &r), 0);
    int failed = 0;
    infer_until_done(&r, &failed);
    pthread_join(trainer, NULL);
    ck_assert_int_eq(r.failed, 0);
    ck_assert_int_eq(failed, 0);
    adapt_dataset_free(r.data);
    adapt_model_free(r.model);
}
END_TEST

/* ---- concurrent inference ----------------------------------------------------- */

enum { STRESS_THREADS = 4, STRESS_ROUNDS = 6, STRESS_BATCH = 4, N_KINDS = 3 };

typedef struct {
    adapt_model *models[N_KINDS];
    float *reference[N_KINDS];
    int64_t count[N_KINDS];
} stress_shared;

typedef struct {
    const stress_shared *shared;
    int mismatches, failures;
} stress_worker;

/* Logits of model k for the fixed stress input. */
static adapt_status stress_forward(adapt_context *ctx, adapt_model *m, adapt_tensor **logits)
{
    adapt_tensor *input;
    adapt_status st = adapt_tensor_input(&input, ctx, 4,
                                         (int64_t[]){STRESS_BATCH, CHANNELS, SIDE, SIDE}, images);
    return st ? st : adapt_model_forward(logits, ctx, m, input);
}

/* Inference on one thread with the default backend. */
static adapt_status stress_context(adapt_context **ctx)
{
    adapt_context_params p;
    adapt_context_params_init(&p, sizeof p);
    p.n_threads = 1;
    return adapt_context_create(ctx, &p);
}

static void *stress_thread(void *arg)
{
    stress_worker *w = arg;
    adapt_context *ctx = NULL;
    if (stress_context(&ctx)) {
        w->failures++;
        return NULL;
    }
    for (int r = 0; r < STRESS_ROUNDS; r++)
        for (int k = 0; k < N_KINDS; k++) {
            adapt_tensor *y;
            adapt_context_reset(ctx);
            if (stress_forward(ctx, w->shared->models[k], &y)) {
                w->failures++;
                continue;
            }
            w->mismatches += memcmp(adapt_tensor_data(y), w->shared->reference[k],
                                    (size_t)w->shared->count[k] * sizeof(float)) != 0;
        }
    adapt_context_free(ctx);
    return NULL;
}

START_TEST(concurrent_inference_matches_sequential)
{
    stress_shared shared = {.models = {mlp(8), cnn(8), vit(8)}};
    tu_fill(images, N * SAMPLE, 31, -1.0f, 1.0f);
    adapt_context *ctx = NULL;
    TU_OK(stress_context(&ctx));
    for (int k = 0; k < N_KINDS; k++) {
        adapt_tensor *y;
        TU_OK(stress_forward(ctx, shared.models[k], &y));
        shared.count[k] = adapt_tensor_numel(y);
        shared.reference[k] = malloc((size_t)shared.count[k] * sizeof(float));
        memcpy(shared.reference[k], adapt_tensor_data(y), (size_t)shared.count[k] * sizeof(float));
    }
    pthread_t threads[STRESS_THREADS];
    stress_worker workers[STRESS_THREADS];
    for (int t = 0; t < STRESS_THREADS; t++) {
        workers[t] = (stress_worker){.shared = &shared};
        ck_assert_int_eq(pthread_create(&threads[t], NULL, stress_thread, &workers[t]), 0);
    }
    for (int t = 0; t < STRESS_THREADS; t++) {
        pthread_join(threads[t], NULL);
        ck_assert_int_eq(workers[t].failures, 0);
        ck_assert_int_eq(workers[t].mismatches, 0);
    }
    for (int k = 0; k < N_KINDS; k++) {
        adapt_model_free(shared.models[k]);
        free(shared.reference[k]);
    }
    adapt_context_free(ctx);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("concurrency");
    TCase *tc = tcase_create("concurrency");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, pool_covers_every_index_once);
    tcase_add_test(tc, pool_ranges_do_not_depend_on_timing);
    tcase_add_test(tc, a_worker_on_the_callers_core_steps_aside_until_recalled);
    tcase_add_test(tc, pool_covers_every_index_while_workers_step_aside);
    tcase_add_test(tc, last_error_is_per_thread);
    tcase_add_test(tc, a_model_held_for_writing_refuses_every_other_thread);
    tcase_add_test(tc, a_model_held_for_reading_refuses_writers_only);
    tcase_add_test(tc, a_replacing_module_is_held_with_its_model);
    tcase_add_test(tc, training_callbacks_may_use_the_model_other_threads_may_not);
    tcase_add_loop_test(tc, training_and_inference_on_one_model_never_race, 0, 3);
    tcase_add_test(tc, concurrent_inference_matches_sequential);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
