/* Every struct the library reads or writes by struct_size, as callers built against other
 * headers pass it: a copy cut after its first fields (an older header) and the struct followed
 * by fields this library does not know (a newer one). Each copy is placed (a) between guard
 * bytes and (b) so that it ends at a page boundary followed by an inaccessible page: an init,
 * read or write past the caller's size changes a guard byte or faults. docs/abi.md states the
 * rules this checks. */
#define _DEFAULT_SOURCE /* MAP_ANONYMOUS, sigaction */

#define ADAPT_EXPERIMENTAL /* its structs follow the same size rules */
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "adapt.h"

/* ---- the structs as an older adapt.h declared them: their first fields only ---- */

/* `old` holds the first fields of `own` at the same offsets and ends before `missing`. */
#define OLDER(old, own, field, missing)                                                    \
    _Static_assert(offsetof(old, field) == offsetof(own, field), #old "." #field);        \
    _Static_assert(sizeof(old) <= offsetof(own, missing), #old " reaches " #missing)

typedef struct {
    size_t struct_size;
    int32_t n_threads, backend;
} old_context_params;
OLDER(old_context_params, adapt_context_params, backend, seed);

typedef struct {
    size_t struct_size;
    int32_t n_sizes;
} old_mlp_params;
OLDER(old_mlp_params, adapt_mlp_params, n_sizes, sizes);

typedef struct {
    size_t struct_size;
    int32_t in_channels, image_size;
} old_cnn_params;
OLDER(old_cnn_params, adapt_cnn_params, image_size, n_classes);

typedef struct {
    size_t struct_size;
    int32_t image_size, in_channels;
} old_vit_params;
OLDER(old_vit_params, adapt_vit_params, in_channels, patch);

typedef struct {
    size_t struct_size;
    int32_t kind;
} old_layer_params;
OLDER(old_layer_params, adapt_layer_params, kind, out_features);

typedef struct {
    size_t struct_size;
    int32_t epochs, batch_size;
} old_train_params;
OLDER(old_train_params, adapt_train_params, batch_size, optimizer);

typedef struct {
    size_t struct_size;
    int32_t method, bins;
} old_calibrator_params;
OLDER(old_calibrator_params, adapt_calibrator_params, bins, max_iterations);

typedef struct {
    size_t struct_size;
    int32_t kind, block;
} old_head_params;
OLDER(old_head_params, adapt_head_params, block, hidden);

typedef struct {
    size_t struct_size;
    int32_t regime;
} old_exit_train_params;
OLDER(old_exit_train_params, adapt_exit_train_params, regime, backbone_phase);

typedef struct {
    size_t struct_size;
    int32_t rule;
    float threshold;
} old_exit_policy;
OLDER(old_exit_policy, adapt_exit_policy, threshold, head_thresholds);

typedef struct {
    size_t struct_size;
    int32_t *predictions;
} old_exit_outputs;
OLDER(old_exit_outputs, adapt_exit_outputs, predictions, exits);

typedef struct {
    size_t struct_size;
    const float *scores;
} old_exit_records;
OLDER(old_exit_records, adapt_exit_records, scores, kind);

typedef struct {
    size_t struct_size;
    int32_t kind, out_ndim;
} old_block_info;
OLDER(old_block_info, adapt_block_info, out_ndim, out_shape);

typedef struct {
    size_t struct_size;
    double accuracy;
} old_eval_result;
OLDER(old_eval_result, adapt_eval_result, accuracy, loss);

typedef struct {
    size_t struct_size;
    double accuracy;
} old_metrics_report;
OLDER(old_metrics_report, adapt_metrics_report, accuracy, ece);

typedef struct {
    size_t struct_size;
    int32_t kind, block;
} old_head_info;
OLDER(old_head_info, adapt_head_info, block, hidden);

typedef struct {
    size_t struct_size;
    double accuracy;
} old_exit_outcome;
OLDER(old_exit_outcome, adapt_exit_outcome, accuracy, mean_flops);

typedef struct {
    size_t struct_size;
    double accuracy_at_budget[4];
} old_exit_curve;
OLDER(old_exit_curve, adapt_exit_curve, accuracy_at_budget, area);

typedef struct {
    size_t struct_size;
    int32_t batch_size, n_threads;
} old_record_params;
OLDER(old_record_params, adapt_record_params, n_threads, spool_prefix);

typedef struct {
    size_t struct_size;
    int32_t in_ndim;
} old_submodule_info;
OLDER(old_submodule_info, adapt_submodule_info, in_ndim, in_shape);

/* ---- reporting ---- */

static int failures;
static char current[96]; /* the case being run, for messages */

#define CHECK(cond)                                                                        \
    do {                                                                                   \
        if (!(cond)) {                                                                     \
            fprintf(stderr, "%s:%d: %s: %s is false (last error: %s)\n", __FILE__, __LINE__, \
                    current, #cond, adapt_last_error());                                   \
            failures++;                                                                    \
        }                                                                                  \
    } while (0)

/* Whether `type`'s field lies wholly within the caller's `size` bytes. */
#define HAS(type, field, size) (offsetof(type, field) + sizeof(((type *)0)->field) <= (size))

/* ---- what the calls work on ---- */

enum { N = 8, FEATURES = 4, CLASSES = 3, EXITS = 2, BATCH = 4 };

static float x[N][FEATURES];
static int32_t labels[N];
static float logits[EXITS][N][CLASSES];
static int64_t exit_flops[EXITS];
static const int64_t mlp_sizes[] = {FEATURES, 8, 8, CLASSES};
static adapt_context *ctx;
static adapt_dataset *data;
static adapt_model *mlp; /* three blocks and a head after the first */
static adapt_exit_records records;

static adapt_status make_mlp(void)
{
    adapt_mlp_params mp;
    adapt_mlp_params_init(&mp, sizeof mp);
    mp.n_sizes = 4;
    mp.sizes = mlp_sizes;
    mp.seed = 1;
    adapt_head_params hp;
    adapt_head_params_init(&hp, sizeof hp);
    adapt_head *head = NULL;
    adapt_status st = adapt_model_create_mlp(&mlp, &mp);
    if (!st)
        st = adapt_head_create(&head, mlp, &hp);
    if (!st && (st = adapt_model_add_head(mlp, head, NULL)))
        adapt_head_free(head);
    return st;
}

static adapt_status setup(void)
{
    for (int i = 0; i < N; i++) {
        labels[i] = i % CLASSES;
        for (int j = 0; j < FEATURES; j++)
            x[i][j] = (float)((i * 7 + j * 3) % 5) / 5.0f - 0.4f + (j == labels[i]);
    }
    adapt_status st = adapt_context_create(&ctx, NULL);
    if (!st)
        st = adapt_dataset_wrap(&data, &x[0][0], 2, (const int64_t[]){N, FEATURES}, labels);
    if (!st)
        st = make_mlp();
    if (!st)
        st = adapt_model_exit_logits(&logits[0][0][0], EXITS * N * CLASSES, mlp, data, BATCH, 1);
    if (!st)
        st = adapt_model_exit_flops(exit_flops, EXITS, mlp);
    records = (adapt_exit_records){.struct_size = sizeof records, .scores = &logits[0][0][0],
                                   .kind = ADAPT_SCORES_LOGITS, .labels = labels, .n = N,
                                   .exits = EXITS, .classes = CLASSES, .exit_flops = exit_flops,
                                   .reference_flops = adapt_model_flops(mlp)};
    return st;
}

/* The first layer's weights (8 x FEATURES), to see that a refused call left the model alone. */
typedef struct {
    float w[8 * FEATURES];
} weights;

static weights first_weights(void)
{
    weights w = {{0}};
    CHECK(adapt_tensor_read(adapt_model_param(mlp, 0), w.w, 8 * FEATURES) == ADAPT_OK);
    return w;
}

static int same_weights(const weights *before)
{
    const weights now = first_weights();
    return memcmp(now.w, before->w, sizeof now.w) == 0;
}

/* ---- one reading or writing call per struct ---- */

/* Each fills the fields its call needs that lie within the caller's `size`, makes the call,
 * and checks that a failed call left its outputs untouched. */
typedef adapt_status (*use_fn)(void *p, size_t size);

#define SENTINEL(type) ((type *)(uintptr_t)0x5eed)

static adapt_status use_context_params(void *p, size_t size)
{
    (void)size;
    adapt_context *made = SENTINEL(adapt_context);
    adapt_status st = adapt_context_create(&made, p);
    if (st)
        CHECK(made == SENTINEL(adapt_context));
    else
        adapt_context_free(made);
    return st;
}

/* For the create functions: `st` from a call that wrote into `made` only on success. */
static adapt_status model_made(adapt_status st, adapt_model *made)
{
    if (st)
        CHECK(made == SENTINEL(adapt_model));
    else
        adapt_model_free(made);
    return st;
}

static adapt_status use_mlp_params(void *p, size_t size)
{
    adapt_mlp_params *m = p;
    m->n_sizes = 4;
    if (HAS(adapt_mlp_params, sizes, size))
        m->sizes = mlp_sizes;
    adapt_model *made = SENTINEL(adapt_model);
    const adapt_status st = adapt_model_create_mlp(&made, m);
    return model_made(st, made);
}

static adapt_status use_cnn_params(void *p, size_t size)
{
    static const int32_t channels[] = {4}, blocks[] = {1}, strides[] = {1};
    adapt_cnn_params *c = p;
    c->in_channels = 1;
    c->image_size = 4;
    if (HAS(adapt_cnn_params, stage_strides, size)) {
        c->n_stages = 1;
        c->stem_channels = 4;
        c->stage_channels = channels;
        c->stage_blocks = blocks;
        c->stage_strides = strides;
    }
    adapt_model *made = SENTINEL(adapt_model);
    const adapt_status st = adapt_model_create_cnn(&made, c);
    return model_made(st, made);
}

static adapt_status use_vit_params(void *p, size_t size)
{
    adapt_vit_params *v = p;
    v->image_size = 8;
    v->in_channels = 1;
    if (HAS(adapt_vit_params, heads, size))
        v->dim = 12, v->depth = 1, v->heads = 3;
    adapt_model *made = SENTINEL(adapt_model);
    const adapt_status st = adapt_model_create_vit(&made, v);
    return model_made(st, made);
}

static adapt_status use_layer_params(void *p, size_t size)
{
    adapt_layer_params *l = p;
    l->kind = ADAPT_LAYER_RELU;
    if (HAS(adapt_layer_params, out_features, size))
        l->kind = ADAPT_LAYER_LINEAR, l->out_features = CLASSES;
    adapt_model *seq = NULL;
    adapt_status st = adapt_model_create_sequential(&seq, 1, (const int64_t[]){FEATURES}, 1);
    if (!st && (st = adapt_model_append(seq, l)))
        CHECK(adapt_model_block_count(seq) == 0);
    adapt_model_free(seq);
    return st;
}

static adapt_status use_train_params(void *p, size_t size)
{
    (void)size;
    adapt_train_params *t = p;
    t->epochs = 1;
    t->batch_size = BATCH;
    const weights before = first_weights();
    adapt_status st = adapt_model_train(mlp, data, NULL, t);
    if (st)
        CHECK(same_weights(&before));
    else
        CHECK(!same_weights(&before));
    return st;
}

static adapt_status use_calibrator_params(void *p, size_t size)
{
    (void)size;
    adapt_calibrator_params *c = p;
    c->method = ADAPT_CALIBRATION_HISTOGRAM;
    c->bins = 4;
    adapt_calibrator *made = SENTINEL(adapt_calibrator);
    adapt_status st = adapt_calibrator_fit(&made, c, &logits[1][0][0], labels, N, CLASSES);
    if (st)
        CHECK(made == SENTINEL(adapt_calibrator));
    else
        adapt_calibrator_free(made);
    return st;
}

static adapt_status use_head_params(void *p, size_t size)
{
    (void)size;
    adapt_head_params *h = p;
    h->kind = ADAPT_HEAD_POOLED_LINEAR;
    h->block = 1;
    adapt_head *made = SENTINEL(adapt_head);
    adapt_status st = adapt_head_create(&made, mlp, h);
    if (st)
        CHECK(made == SENTINEL(adapt_head));
    else
        adapt_head_free(made);
    return st;
}

static adapt_status use_exit_train_params(void *p, size_t size)
{
    static adapt_train_params phase; /* one short step: the defaults train for 10 epochs */
    adapt_exit_train_params *e = p;
    e->regime = ADAPT_REGIME_JOINT;
    if (HAS(adapt_exit_train_params, exit_phase, size)) {
        adapt_train_params_init(&phase, sizeof phase);
        phase.epochs = 1;
        e->exit_phase = &phase;
    }
    const weights before = first_weights();
    adapt_status st = adapt_model_train_exits(mlp, data, NULL, e);
    if (st)
        CHECK(same_weights(&before));
    else
        CHECK(!same_weights(&before));
    return st;
}

/* adapt_exit_simulate() with `policy` and `recs`, checking its outputs on failure. */
static adapt_status simulate(const adapt_exit_policy *policy, const adapt_exit_records *recs)
{
    adapt_exit_outcome o = {.struct_size = sizeof o, .accuracy = -1.0};
    int64_t counts[EXITS] = {-1, -1};
    adapt_status st = adapt_exit_simulate(&o, counts, recs, policy);
    if (st)
        CHECK(o.accuracy == -1.0 && counts[0] == -1 && counts[1] == -1);
    else
        CHECK(counts[0] + counts[1] == N);
    return st;
}

static adapt_status use_exit_policy(void *p, size_t size)
{
    (void)size;
    adapt_exit_policy *e = p;
    e->rule = ADAPT_EXIT_MAX_PROBABILITY;
    e->threshold = 0.5f;
    return simulate(e, &records);
}

static adapt_status use_exit_records(void *p, size_t size)
{
    /* Records have no defaults: the copy takes the fixture's fields that fit. */
    memcpy((char *)p + sizeof(size_t), (const char *)&records + sizeof(size_t),
           (size < sizeof records ? size : sizeof records) - sizeof(size_t));
    return simulate(NULL, p);
}

static adapt_status use_exit_outputs(void *p, size_t size)
{
    int32_t predictions[N], exits[N];
    for (int i = 0; i < N; i++)
        predictions[i] = exits[i] = -1;
    adapt_exit_outputs *o = p;
    o->predictions = predictions;
    if (HAS(adapt_exit_outputs, exits, size))
        o->exits = exits;
    adapt_tensor *input = NULL;
    adapt_status st = adapt_tensor_input(&input, ctx, 2, (const int64_t[]){N, FEATURES},
                                         &x[0][0]);
    if (!st)
        st = adapt_model_infer_exits(o, ctx, mlp, input, NULL);
    for (int i = 0; i < N; i++) {
        CHECK(st ? predictions[i] == -1 : predictions[i] >= 0 && predictions[i] < CLASSES);
        CHECK(st || !HAS(adapt_exit_outputs, exits, size) ? exits[i] == -1 : exits[i] >= 0);
    }
    adapt_context_reset(ctx);
    return st;
}

static adapt_status use_block_info(void *p, size_t size)
{
    (void)size;
    return adapt_model_block_info(p, mlp, 0);
}

static adapt_status use_eval_result(void *p, size_t size)
{
    (void)size;
    return adapt_model_evaluate(p, NULL, mlp, data, BATCH, 1);
}

static adapt_status use_metrics_report(void *p, size_t size)
{
    (void)size;
    return adapt_metrics_compute(p, &logits[1][0][0], labels, N, CLASSES, ADAPT_SCORES_LOGITS);
}

static adapt_status use_head_info(void *p, size_t size)
{
    (void)size;
    return adapt_head_info_get(p, adapt_model_head(mlp, 0));
}

static adapt_status use_exit_outcome(void *p, size_t size)
{
    (void)size;
    return adapt_exit_simulate(p, NULL, &records, NULL);
}

static adapt_status use_exit_curve(void *p, size_t size)
{
    (void)size;
    return adapt_exit_sweep(p, NULL, NULL, NULL, 4, &records, ADAPT_EXIT_MAX_PROBABILITY);
}

static adapt_status use_record_params(void *p, size_t size)
{
    (void)size;
    adapt_recording *r = NULL;
    adapt_status st = adapt_model_record(&r, mlp, "0", data, p);
    adapt_recording_free(r);
    return st;
}

static adapt_status use_submodule_info(void *p, size_t size)
{
    (void)size;
    return adapt_model_submodule(p, mlp, "0");
}

/* ---- the inits, as one type ---- */

typedef void (*init_fn)(void *p, size_t size);

#define INIT(name, type)                                                                   \
    static void init_##name(void *p, size_t size)                                          \
    {                                                                                      \
        adapt_##name##_init((type *)p, size);                                              \
    }
INIT(context_params, adapt_context_params)
INIT(mlp_params, adapt_mlp_params)
INIT(cnn_params, adapt_cnn_params)
INIT(vit_params, adapt_vit_params)
INIT(layer_params, adapt_layer_params)
INIT(train_params, adapt_train_params)
INIT(calibrator_params, adapt_calibrator_params)
INIT(head_params, adapt_head_params)
INIT(exit_train_params, adapt_exit_train_params)
INIT(exit_policy, adapt_exit_policy)
INIT(record_params, adapt_record_params)

/* ---- the cases ---- */

typedef enum {
    PARAMS, /* filled by its init, read by the library */
    INPUT,  /* filled by the caller, read by the library */
    RESULT  /* struct_size set by the caller, written by the library */
} struct_role;

typedef struct {
    const char *name;
    struct_role role;
    size_t own_size, old_size;
    init_fn init;            /* PARAMS only */
    use_fn use;
    adapt_status old_status; /* what `use` returns for the older copy */
} struct_case;

#define PARAMS_CASE(name, status)                                                          \
    {#name, PARAMS, sizeof(adapt_##name), sizeof(old_##name), init_##name, use_##name, status}
#define CASE(name, role, status) {#name, role, sizeof(adapt_##name), sizeof(old_##name), NULL, \
                                  use_##name, status}

static const struct_case cases[] = {
    PARAMS_CASE(context_params, ADAPT_OK),
    PARAMS_CASE(mlp_params, ADAPT_ERR_INVALID_ARGUMENT), /* no sizes */
    PARAMS_CASE(cnn_params, ADAPT_ERR_INVALID_ARGUMENT), /* no stages */
    PARAMS_CASE(vit_params, ADAPT_OK),
    PARAMS_CASE(layer_params, ADAPT_OK),
    PARAMS_CASE(train_params, ADAPT_OK),
    PARAMS_CASE(calibrator_params, ADAPT_OK),
    PARAMS_CASE(head_params, ADAPT_OK),
    PARAMS_CASE(exit_train_params, ADAPT_OK),
    PARAMS_CASE(exit_policy, ADAPT_OK),
    PARAMS_CASE(record_params, ADAPT_OK),
    CASE(exit_outputs, INPUT, ADAPT_OK),
    CASE(exit_records, INPUT, ADAPT_ERR_INVALID_ARGUMENT), /* every field is required */
    CASE(block_info, RESULT, ADAPT_OK),
    CASE(eval_result, RESULT, ADAPT_OK),
    CASE(metrics_report, RESULT, ADAPT_OK),
    CASE(head_info, RESULT, ADAPT_OK),
    CASE(exit_outcome, RESULT, ADAPT_OK),
    CASE(exit_curve, RESULT, ADAPT_OK),
    CASE(submodule_info, RESULT, ADAPT_OK),
};

/* ---- where a struct is placed ---- */

enum { GUARD = 64, NEWER = 16, MAX_SIZE = 512, FILL = 0x5a, GUARD_BYTE = 0xa5 };

typedef enum { BETWEEN_GUARDS, AT_PAGE_END } placement;

static _Alignas(max_align_t) unsigned char arena[GUARD + MAX_SIZE + GUARD];
static unsigned char *page; /* readable page, followed by an inaccessible one */
static size_t page_size;

/* Room for `size` bytes filled with FILL, everything around it with GUARD_BYTE. */
static unsigned char *place(placement where, size_t size)
{
    unsigned char *lo = where == BETWEEN_GUARDS ? arena : page;
    memset(lo, GUARD_BYTE, where == BETWEEN_GUARDS ? sizeof arena : page_size);
    unsigned char *p = where == BETWEEN_GUARDS ? arena + GUARD : page + page_size - size;
    memset(p, FILL, size);
    return p;
}

static int guards_intact(placement where, const unsigned char *p, size_t size)
{
    const unsigned char *lo = where == BETWEEN_GUARDS ? arena : page;
    const unsigned char *hi = where == BETWEEN_GUARDS ? arena + sizeof arena : p + size;
    for (const unsigned char *q = lo; q < hi; q++)
        if ((q < p || q >= p + size) && *q != GUARD_BYTE)
            return 0;
    return 1;
}

static size_t struct_size_of(const unsigned char *p)
{
    size_t size;
    memcpy(&size, p, sizeof size);
    return size;
}

/* ---- the checks ---- */

/* The struct as the library's init fills it, for comparing defaults. */
static _Alignas(max_align_t) unsigned char reference[MAX_SIZE];

/* Fills the caller's `size` bytes at `p` as that caller would before the call. */
static void fill(const struct_case *c, placement where, unsigned char *p, size_t size)
{
    if (c->role != PARAMS) {
        memset(p, 0, size < c->own_size ? size : c->own_size);
        memcpy(p, &size, sizeof size);
        return;
    }
    c->init(p, size);
    CHECK(guards_intact(where, p, size));
    CHECK(struct_size_of(p) == size);
    const size_t known = size < c->own_size ? size : c->own_size;
    CHECK(memcmp(p + sizeof(size_t), reference + sizeof(size_t), known - sizeof(size_t)) == 0);
    for (size_t i = known; i < size; i++)
        CHECK(p[i] == 0);
}

static void older_caller(const struct_case *c, placement where)
{
    unsigned char *p = place(where, c->old_size);
    fill(c, where, p, c->old_size);
    CHECK(c->use(p, c->old_size) == c->old_status);
    CHECK(guards_intact(where, p, c->old_size));
    CHECK(struct_size_of(p) == c->old_size);
}

static void newer_caller(const struct_case *c, placement where)
{
    const size_t size = c->own_size + NEWER;
    unsigned char *p = place(where, size);
    fill(c, where, p, size);
    if (c->role == RESULT) {
        /* Written only as far as the library's own size: the newer fields keep their bytes. */
        CHECK(c->use(p, size) == ADAPT_OK);
        for (size_t i = c->own_size; i < size; i++)
            CHECK(p[i] == FILL);
    } else {
        /* Read when the fields it does not know are zero, refused when one is set. */
        memset(p + c->own_size, 0, NEWER);
        CHECK(c->use(p, size) == ADAPT_OK);
        const size_t set[] = {c->own_size, size - 1};
        for (size_t i = 0; i < 2; i++) {
            p[set[i]] = 1;
            CHECK(c->use(p, size) == ADAPT_ERR_UNSUPPORTED);
            CHECK(strstr(adapt_last_error(), "does not know set") != NULL);
            p[set[i]] = 0;
        }
    }
    CHECK(guards_intact(where, p, size));
    CHECK(struct_size_of(p) == size);
}

static int run(void)
{
    static const char *const where_names[] = {"between guard bytes", "at a page end"};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct_case *c = &cases[i];
        if (c->init)
            c->init(reference, c->own_size);
        for (placement where = BETWEEN_GUARDS; where <= AT_PAGE_END; where++) {
            snprintf(current, sizeof current, "older %s %s", c->name, where_names[where]);
            older_caller(c, where);
            snprintf(current, sizeof current, "newer %s %s", c->name, where_names[where]);
            newer_caller(c, where);
        }
    }
    return failures;
}

/* A touch of the guard page: says which case, as far as a signal handler can. */
static void on_fault(int sig)
{
    (void)sig;
    static const char what[] = "truncated_structs: access past the caller's struct: ";
    ssize_t ignored = write(2, what, sizeof what - 1);
    ignored = write(2, current, strlen(current));
    ignored = write(2, "\n", 1);
    (void)ignored;
    _exit(1);
}

int main(void)
{
    struct sigaction fault = {.sa_handler = on_fault};
    sigaction(SIGSEGV, &fault, NULL);
    page_size = (size_t)sysconf(_SC_PAGESIZE);
    unsigned char *pages =
        mmap(NULL, 2 * page_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (pages == MAP_FAILED || mprotect(pages + page_size, page_size, PROT_NONE)) {
        perror("truncated_structs: guard page");
        return 1;
    }
    page = pages;
    if (setup()) {
        fprintf(stderr, "truncated_structs: setup: %s\n", adapt_last_error());
        return 1;
    }
    const int failed = run();
    printf("%zu structs, each older and newer, between guard bytes and at a page end: "
           "%d failed checks\n", sizeof cases / sizeof cases[0], failed);
    adapt_model_free(mlp);
    adapt_dataset_free(data);
    adapt_context_free(ctx);
    munmap(pages, 2 * page_size);
    return failed ? 1 : 0;
}
