/* Model speed: training steps, batch-1 latency and batch-256 throughput of the two models the
 * peer comparison uses (bench/run_models.sh runs this next to PyTorch and ONNX Runtime).
 *
 *   bench_models [-t threads] [-w weights.safetensors] [-W warm-up] [-n rounds] [-s seconds]
 *                [-b batch] [-r] MODEL MODE
 *     MODEL  mlp, vit, vit12 or vit-large (bench_models.h)
 *     MODE   train128  one AdamW training step on a batch of 128 (adapt_model_train's step:
 *                      batch assembly, forward, cross-entropy, backward, update)
 *            infer1    forward of one sample, inference context (no tape, eval behaviour)
 *            infer256  forward of 256 samples, same context
 *     -b     another batch size for the mode; -r  training recomputes blocks in backward
 *
 * After `-W` untimed warm-up iterations (default 2) it times iterations until it has at least
 * `-n` of them (default 5) and `-s` seconds (default 3) have passed, and reports the median.
 * One (model, mode) per process, so that the peak resident set (getrusage) is that case's
 * alone. Synthetic inputs; the weights are the model's own initialisation unless `-w` loads a
 * safetensors file under PyTorch's names (as bench/peers/torch_models.py writes).
 *
 * Prints one line: "result impl=libadapt model=... mode=... batch=... median_ms=...
 * samples_per_s=... flops_per_sample=... rss_mib=... arena_mib=...". flops_per_sample is
 * adapt_model_flops: forward matrix-product FLOPs, a multiply-add counting 2. arena_mib is the
 * context's peak arena use; for training, that of one forward and backward on the batch. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define ADAPT_EXPERIMENTAL /* adapt_context_set_recompute */
#include "adapt.h"
#include "bench_models.h"

enum { MAX_ROUNDS = 10000 };

typedef struct {
    const char *model, *mode, *weights;
    int threads, warmup, min_rounds, recompute;
    long long batch; /* 0: the mode's */
    double seconds;
} options;

/* Durations of the timed iterations and the rule that ends timing. */
typedef struct {
    double samples[MAX_ROUNDS];
    int count, warmup, min_rounds;
    double budget, start;
    double last; /* end of the previous training step */
} timing;

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int failed(adapt_status st, const char *what)
{
    if (st)
        fprintf(stderr, "bench_models: %s: %s (%s)\n", what, adapt_last_error(),
                adapt_status_string(st));
    return st != ADAPT_OK;
}

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Upper median, the same definition as the peer scripts use. */
static double median(timing *t)
{
    qsort(t->samples, (size_t)t->count, sizeof(double), compare_doubles);
    return t->samples[t->count / 2];
}

static int timing_done(const timing *t)
{
    return t->count == MAX_ROUNDS ||
           (t->count >= t->min_rounds && now() - t->start >= t->budget);
}

/* ---- inference ------------------------------------------------------------------------- */

/* The input is a persistent tensor, as a caller's batch already in place, so that the timed
 * call is the forward alone (as for the peers, whose input tensors exist beforehand). */
static int time_inference(timing *t, adapt_model *model, const options *o, int64_t batch,
                          size_t *arena_peak)
{
    int64_t shape[4];
    int32_t ndim = bench_input_shape(shape, o->model, batch);
    float *x = bench_synthetic_inputs(bench_numel(shape, ndim));
    adapt_context_params cp;
    adapt_context_params_init(&cp, sizeof cp);
    cp.n_threads = o->threads;
    adapt_context *ctx = NULL;
    adapt_tensor *input = NULL, *logits;
    int fail = !x || failed(adapt_context_create(&ctx, &cp), "context") ||
               failed(adapt_param_create(&input, ndim, shape), "input") ||
               failed(adapt_param_set_requires_grad(input, 0), "input") ||
               failed(adapt_param_write(input, x, bench_numel(shape, ndim)), "input");
    for (int i = 0; !fail && !timing_done(t); i++) {
        double t0 = now();
        adapt_context_reset(ctx);
        fail = failed(adapt_model_forward(&logits, ctx, model, input), "forward");
        if (i == t->warmup)
            t->start = t0;
        if (i >= t->warmup)
            t->samples[t->count++] = now() - t0;
    }
    *arena_peak = ctx ? adapt_context_peak_bytes(ctx) : 0;
    adapt_tensor_free(input);
    adapt_context_free(ctx);
    free(x);
    return fail;
}

/* ---- training -------------------------------------------------------------------------- */

/* adapt_model_train reports after every step: the time between two reports is one step. */
static void on_step(const adapt_progress *progress, void *user_data)
{
    timing *t = user_data;
    double end = now();
    if (progress->step == t->warmup + 1)
        t->start = t->last;
    if (progress->step > t->warmup && t->count < MAX_ROUNDS)
        t->samples[t->count++] = end - t->last;
    t->last = end;
}

static int stop_training(void *user_data)
{
    return timing_done(user_data);
}

/* Arena use of one training step's forward and backward, which the trainer's own context
 * does not expose. */
static int measure_step_arena(adapt_model *model, const options *o, const float *x,
                              const int64_t *shape, int32_t ndim, const int32_t *labels,
                              size_t *arena_peak)
{
    adapt_context_params cp;
    adapt_context_params_init(&cp, sizeof cp);
    cp.n_threads = o->threads;
    adapt_context *ctx = NULL;
    adapt_tensor *input, *logits, *loss;
    int fail = failed(adapt_context_create(&ctx, &cp), "context") ||
               failed(adapt_context_set_grad(ctx, 1), "grad") ||
               failed(adapt_context_set_training(ctx, 1), "training") ||
               failed(adapt_context_set_recompute(ctx, o->recompute), "recompute") ||
               failed(adapt_tensor_input(&input, ctx, ndim, shape, x), "input") ||
               failed(adapt_model_forward(&logits, ctx, model, input), "forward") ||
               failed(adapt_op_cross_entropy(&loss, ctx, logits, labels, 0.0f), "loss") ||
               failed(adapt_backward(ctx, loss), "backward");
    *arena_peak = ctx ? adapt_context_peak_bytes(ctx) : 0;
    adapt_context_free(ctx);
    return fail;
}

/* One batch as the whole dataset, one step per epoch: every step sees the same 128 samples,
 * as the peers' loops do, and the timing callbacks stop the run. */
static int time_training(timing *t, adapt_model *model, const options *o, int64_t batch,
                         size_t *arena_peak)
{
    int64_t shape[4];
    int32_t ndim = bench_input_shape(shape, o->model, batch);
    float *x = bench_synthetic_inputs(bench_numel(shape, ndim));
    int32_t *labels = malloc((size_t)batch * sizeof *labels);
    adapt_dataset *data = NULL;
    int fail = !x || !labels;
    for (int64_t i = 0; !fail && i < batch; i++)
        labels[i] = (int32_t)(i % CLASSES);
    fail = fail || failed(adapt_dataset_wrap(&data, x, ndim, shape, labels), "dataset");
    adapt_train_params p;
    adapt_train_params_init(&p, sizeof p);
    p.epochs = t->warmup + MAX_ROUNDS + 1;
    p.batch_size = (int32_t)batch;
    p.optimizer = ADAPT_OPTIMIZER_ADAMW;
    p.learning_rate = 1e-3f;
    p.weight_decay = 0.01f; /* torch.optim.AdamW's defaults */
    p.n_threads = o->threads;
    p.recompute_blocks = o->recompute;
    p.progress = on_step;
    p.cancel = stop_training;
    p.user_data = t;
    t->last = now();
    if (!fail) {
        adapt_status st = adapt_model_train(model, data, NULL, &p);
        fail = st != ADAPT_ERR_CANCELLED && failed(st, "training");
    }
    fail = fail || measure_step_arena(model, o, x, shape, ndim, labels, arena_peak);
    adapt_dataset_free(data);
    free(x);
    free(labels);
    return fail;
}

/* ---- driver ---------------------------------------------------------------------------- */

static int usage(void)
{
    fprintf(stderr, "usage: bench_models [-t threads] [-w weights.safetensors] [-W warm-up] "
                    "[-n rounds] [-s seconds] [-b batch] [-r] mlp|vit|vit12|vit-large "
                    "train128|infer1|infer256\n");
    return 2;
}

static int parse_options(options *o, int argc, char **argv)
{
    *o = (options){.warmup = 2, .min_rounds = 5, .seconds = 3.0};
    for (int c; (c = getopt(argc, argv, "t:w:W:n:s:b:r")) != -1;) {
        switch (c) {
        case 't': o->threads = atoi(optarg); break;
        case 'w': o->weights = optarg; break;
        case 'W': o->warmup = atoi(optarg); break;
        case 'n': o->min_rounds = atoi(optarg); break;
        case 's': o->seconds = atof(optarg); break;
        case 'b': o->batch = atoll(optarg); break;
        case 'r': o->recompute = 1; break;
        default: return 1;
        }
    }
    if (argc - optind != 2)
        return 1;
    o->model = argv[optind], o->mode = argv[optind + 1];
    if (o->threads <= 0)
        o->threads = (int)sysconf(_SC_NPROCESSORS_ONLN);
    return !bench_model_known(o->model) ||
           (strcmp(o->mode, "train128") && strcmp(o->mode, "infer1") &&
            strcmp(o->mode, "infer256")) ||
           o->warmup < 0 || o->min_rounds < 1 || o->min_rounds > MAX_ROUNDS || o->batch < 0 ||
           !(o->seconds >= 0.0);
}

static double peak_rss_mib(void)
{
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return (double)u.ru_maxrss / 1024.0; /* KiB on Linux */
}

int main(int argc, char **argv)
{
    options o;
    if (parse_options(&o, argc, argv))
        return usage();
    static timing t;
    t = (timing){.warmup = o.warmup, .min_rounds = o.min_rounds, .budget = o.seconds};
    const int64_t batch = o.batch                      ? o.batch
                          : !strcmp(o.mode, "infer1")   ? 1
                          : !strcmp(o.mode, "train128") ? 128
                                                        : 256;
    adapt_model *model = NULL;
    size_t arena = 0;
    int fail = failed(bench_create_model(&model, o.model), "model") ||
               (o.weights && failed(adapt_model_load_weights(model, o.weights), "weights"));
    if (!fail && !strcmp(o.mode, "train128"))
        fail = time_training(&t, model, &o, batch, &arena);
    else if (!fail)
        fail = time_inference(&t, model, &o, batch, &arena);
    if (!fail && t.count > 0) {
        double m = median(&t);
        printf("result impl=libadapt model=%s mode=%s threads=%d batch=%lld rounds=%d "
               "median_ms=%.4f samples_per_s=%.2f flops_per_sample=%lld rss_mib=%.1f "
               "arena_mib=%.2f\n",
               o.model, o.mode, o.threads, (long long)batch, t.count, 1e3 * m,
               (double)batch / m, (long long)adapt_model_flops(model), peak_rss_mib(),
               (double)arena / (1024.0 * 1024.0));
    }
    adapt_model_free(model);
    return fail || t.count == 0;
}
