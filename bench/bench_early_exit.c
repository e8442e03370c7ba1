/* Early-exit speed: does stopping early save the time its FLOPs say it should?
 *
 *   bench_early_exit [-t threads] [-r rounds] [-n images] CHECKPOINT IMAGES LABELS
 *
 * Loads a model with heads (e.g. from examples/early_exit/early_exit_fmnist) and IDX test
 * images, then at batch 1 and batch 256 times the plain forward pass of the backbone against
 * adapt_model_infer_exits under a sweep of max-probability thresholds. For each threshold it
 * prints the budget (mean FLOPs spent per image over the backbone's), the counted speedup
 * (backbone FLOPs / mean FLOPs spent), the measured one (backbone time / early-exit time) and
 * their ratio. A second table times each head's path alone (every image made to leave
 * there) against the FLOPs of that path, which shows where the time goes. Rounds interleave
 * the full pass and every policy, so a slow spell of the machine hits all of them alike; each
 * figure is the median over rounds of one pass over the images (-n, default 2560 at batch 256
 * and a tenth of that at batch 1). */
#define ADAPT_EXPERIMENTAL /* the early exits */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "adapt.h"

#include "bench_util.h"

#define MAX_ROUNDS 64
#define MAX_HEADS 64
static const float thresholds[] = {0.0f, 0.5f, 0.7f, 0.8f, 0.9f, 0.95f, 0.99f, 0.999f, 1.01f};
#define N_THRESHOLDS ((int)(sizeof thresholds / sizeof *thresholds))

typedef struct {
    adapt_model *model;
    adapt_context *ctx;
    const float *images; /* [n][pixels] */
    int64_t n, pixels, batch;
    int64_t shape[ADAPT_MAX_DIMS];
    int32_t ndim;
} bench;

static void check(adapt_status st, const char *what) { bench_check("bench_early_exit", st, what); }

static adapt_tensor *batch_at(bench *b, int64_t first, int64_t count)
{
    adapt_context_reset(b->ctx);
    b->shape[0] = count;
    adapt_tensor *x;
    check(adapt_tensor_input(&x, b->ctx, b->ndim, b->shape, b->images + first * b->pixels),
          "input");
    return x;
}

/* Seconds for one pass over the images: the backbone alone when policy is NULL. Accumulates
 * the FLOPs spent into *flops when given. */
static double pass(bench *b, const adapt_exit_policy *policy, int64_t *flops_out)
{
    int64_t flops[256], total = 0;
    const double start = bench_now();
    for (int64_t first = 0; first < b->n; first += b->batch) {
        const int64_t count = b->n - first < b->batch ? b->n - first : b->batch;
        adapt_tensor *x = batch_at(b, first, count), *logits;
        if (!policy) {
            check(adapt_model_forward(&logits, b->ctx, b->model, x), "forward");
            continue;
        }
        adapt_exit_outputs out = {sizeof out, NULL, NULL, NULL, flops};
        check(adapt_model_infer_exits(&out, b->ctx, b->model, x, policy), "infer_exits");
        for (int64_t i = 0; i < count; i++)
            total += flops[i];
    }
    const double seconds = bench_now() - start;
    if (flops_out)
        *flops_out = total;
    return seconds;
}

#define MAX_CASES (N_THRESHOLDS + MAX_HEADS)

/* Policies timed: the threshold sweep, then one path per head (0 there and 2 elsewhere, so
 * that every image leaves at that head), which shows where the time goes. */
static int make_cases(adapt_exit_policy *cases, float (*only)[MAX_HEADS], int32_t heads)
{
    for (int j = 0; j < N_THRESHOLDS; j++) {
        adapt_exit_policy_init(&cases[j], sizeof *cases);
        cases[j].threshold = thresholds[j];
    }
    for (int32_t k = 0; k < heads; k++) {
        for (int32_t i = 0; i < heads; i++)
            only[k][i] = i == k ? 0.0f : 2.0f;
        adapt_exit_policy_init(&cases[N_THRESHOLDS + k], sizeof *cases);
        cases[N_THRESHOLDS + k].head_thresholds = only[k];
    }
    return N_THRESHOLDS + heads;
}

static void run(bench *b, int rounds)
{
    static double full[MAX_ROUNDS], times[MAX_CASES][MAX_ROUNDS];
    static float only[MAX_HEADS][MAX_HEADS];
    int64_t spent[MAX_CASES];
    adapt_exit_policy cases[MAX_CASES];
    const int32_t heads = adapt_model_head_count(b->model);
    const int n_cases = make_cases(cases, only, heads);
    pass(b, NULL, NULL); /* warm-up: arena, caches, thread pool */
    for (int r = 0; r < rounds; r++) {
        full[r] = pass(b, NULL, NULL);
        for (int j = 0; j < n_cases; j++)
            times[j][r] = pass(b, &cases[j], &spent[j]);
    }
    const double t_full = bench_median(full, rounds);
    const double backbone = (double)adapt_model_flops(b->model);
    printf("\nbatch %lld, %lld images, %d rounds: backbone pass %.2f ms (%.3f ms per image)\n",
           (long long)b->batch, (long long)b->n, rounds, 1e3 * t_full, 1e3 * t_full / b->n);
    printf("| threshold | budget | counted speedup | measured speedup | measured / counted |\n"
           "|---:|---:|---:|---:|---:|\n");
    for (int j = 0; j < N_THRESHOLDS; j++) {
        const double mean = (double)spent[j] / (double)b->n;
        const double counted = backbone / mean, measured = t_full / bench_median(times[j], rounds);
        printf("| %.3f | %.1f %% | %.2f | %.2f | %.2f |\n", (double)thresholds[j],
               100.0 * mean / backbone, counted, measured, measured / counted);
    }
    printf("\n| every image leaves at | FLOPs (%% of backbone) | time (%% of backbone) |\n"
           "|---:|---:|---:|\n");
    for (int32_t k = 0; k < heads; k++)
        printf("| head %d | %.1f | %.1f |\n", (int)k,
               100.0 * (double)spent[N_THRESHOLDS + k] / (double)b->n / backbone,
               100.0 * bench_median(times[N_THRESHOLDS + k], rounds) / t_full);
}

/* The first n images of the dataset, contiguous. */
static float *gather_images(const adapt_dataset *ds, int64_t n, int64_t *pixels)
{
    int64_t shape[ADAPT_MAX_DIMS];
    const int32_t ndim = adapt_dataset_sample_shape(ds, shape);
    *pixels = 1;
    for (int32_t i = 0; i < ndim; i++)
        *pixels *= shape[i];
    float *x = malloc((size_t)(n * *pixels) * sizeof *x);
    for (int64_t i = 0; x && i < n; i++) {
        const float *sample;
        int32_t label;
        check(adapt_dataset_sample(&sample, &label, ds, i), "sample");
        memcpy(x + i * *pixels, sample, (size_t)*pixels * sizeof *x);
    }
    return x;
}

int main(int argc, char **argv)
{
    int threads = 0, rounds = 7, opt;
    int64_t images = 2560;
    while ((opt = getopt(argc, argv, "t:r:n:")) != -1) {
        if (opt == 't')
            threads = atoi(optarg);
        else if (opt == 'r')
            rounds = atoi(optarg);
        else if (opt == 'n')
            images = atoll(optarg);
        else
            return 2;
    }
    if (argc - optind != 3 || rounds < 1 || rounds > MAX_ROUNDS || images < 256) {
        fprintf(stderr, "usage: %s [-t threads] [-r rounds 1..%d] [-n images >= 256] "
                        "CHECKPOINT IMAGES LABELS\n", argv[0], MAX_ROUNDS);
        return 2;
    }
    bench b = {0};
    adapt_dataset *ds;
    check(adapt_model_load(&b.model, argv[optind]), argv[optind]);
    check(adapt_dataset_load_idx(&ds, argv[optind + 1], argv[optind + 2]), "images");
    images = images < adapt_dataset_count(ds) ? images : adapt_dataset_count(ds);
    float *x = gather_images(ds, images, &b.pixels);
    b.images = x;
    b.ndim = adapt_dataset_sample_shape(ds, b.shape + 1) + 1;
    adapt_context_params cp;
    adapt_context_params_init(&cp, sizeof cp);
    cp.n_threads = threads;
    check(adapt_context_create(&b.ctx, &cp), "context");
    check(adapt_context_set_grad(b.ctx, 0), "context");
    int64_t costs[MAX_HEADS + 1];
    if (adapt_model_head_count(b.model) > MAX_HEADS) {
        fprintf(stderr, "bench_early_exit: more than %d heads\n", MAX_HEADS);
        return 2;
    }
    check(adapt_model_exit_flops(costs, MAX_HEADS + 1, b.model), "exit costs");
    printf("%s: %d exits, backbone %.2f MFLOPs; exit costs (%% of backbone):", argv[optind],
           adapt_model_head_count(b.model) + 1, adapt_model_flops(b.model) / 1e6);
    for (int32_t k = 0; k <= adapt_model_head_count(b.model); k++)
        printf(" %.1f", 100.0 * (double)costs[k] / (double)adapt_model_flops(b.model));
    printf("\n");
    b.batch = 256, b.n = images;
    run(&b, rounds);
    b.batch = 1, b.n = images / 10;
    run(&b, rounds);
    adapt_context_free(b.ctx);
    adapt_dataset_free(ds);
    adapt_model_free(b.model);
    free(x);
    return 0;
}
