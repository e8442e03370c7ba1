/* The convolutions of the early-exit benchmark's CNN, one layer at a time:
 *
 *   bench_conv [-t threads] [-b batch] [-r rounds]
 *
 * The CNN of examples/early_exit (Fashion-MNIST, stem 1 -> 16 channels at 28 x 28, then
 * stages of 16, 32 and 64 channels, each halving the map, with 1 x 1 projections on the
 * shortcuts) spends its time in these ten layers. Each is timed as adapt_op_conv2d in an
 * inference context (no bias, no tape), the rounds interleaving the layers so that a slow
 * spell of the machine hits them alike; prints the median per layer, its multiply-adds per
 * second and a line per layer in the format of bench/peers/torch_conv.py, which
 * bench/run_conv.sh sets side by side. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "adapt.h"

#include "bench_util.h"

typedef struct {
    const char *name;
    int32_t in, out, size, kernel, stride;
} layer;

/* Keep in step with bench/peers/torch_conv.py. */
static const layer layers[] = {
    {"stem", 1, 16, 28, 3, 1},          {"stage1.conv1", 16, 16, 28, 3, 2},
    {"stage1.conv2", 16, 16, 14, 3, 1}, {"stage1.shortcut", 16, 16, 28, 1, 2},
    {"stage2.conv1", 16, 32, 14, 3, 2}, {"stage2.conv2", 32, 32, 7, 3, 1},
    {"stage2.shortcut", 16, 32, 14, 1, 2}, {"stage3.conv1", 32, 64, 7, 3, 2},
    {"stage3.conv2", 64, 64, 4, 3, 1},  {"stage3.shortcut", 32, 64, 7, 1, 2},
};
#define N_LAYERS ((int)(sizeof layers / sizeof *layers))
#define MAX_ROUNDS 1001

static void check(adapt_status st, const char *what) { bench_check("bench_conv", st, what); }

static void fill(float *x, int64_t n, float scale)
{
    for (int64_t i = 0; i < n; i++)
        x[i] = scale * ((float)rand() / (float)RAND_MAX - 0.5f);
}

typedef struct {
    adapt_tensor *weight;
    float *input;
    int64_t shape[4];
    double macs;
} prepared;

static void prepare(prepared *p, const layer *l, int64_t batch)
{
    const int64_t out_size = (l->size + 2 * (l->kernel / 2) - l->kernel) / l->stride + 1;
    const int64_t w_shape[] = {l->out, l->in, l->kernel, l->kernel};
    check(adapt_param_create(&p->weight, 4, w_shape), "weight");
    fill(adapt_tensor_data(p->weight), adapt_tensor_numel(p->weight), 0.2f);
    const int64_t numel = batch * l->in * l->size * l->size;
    p->input = malloc((size_t)numel * sizeof *p->input);
    if (!p->input) {
        fprintf(stderr, "bench_conv: out of memory\n");
        exit(1);
    }
    fill(p->input, numel, 2.0f);
    p->shape[0] = batch, p->shape[1] = l->in, p->shape[2] = p->shape[3] = l->size;
    p->macs = (double)batch * l->out * l->in * l->kernel * l->kernel * out_size * out_size;
}

/* Seconds for one convolution, the input made beforehand and not timed. */
static double time_one(adapt_context *ctx, const prepared *p, const layer *l)
{
    adapt_context_reset(ctx);
    adapt_tensor *x, *y;
    check(adapt_tensor_input(&x, ctx, 4, p->shape, p->input), "input");
    const double start = bench_now();
    check(adapt_op_conv2d(&y, ctx, x, p->weight, NULL, l->stride, l->kernel / 2), l->name);
    return bench_now() - start;
}

int main(int argc, char **argv)
{
    int threads = 0, rounds = 41, opt;
    int64_t batch = 256;
    while ((opt = getopt(argc, argv, "t:b:r:")) != -1) {
        if (opt == 't')
            threads = atoi(optarg);
        else if (opt == 'b')
            batch = atoll(optarg);
        else if (opt == 'r')
            rounds = atoi(optarg);
        else
            return 2;
    }
    if (optind != argc || batch < 1 || rounds < 1 || rounds > MAX_ROUNDS) {
        fprintf(stderr, "usage: %s [-t threads] [-b batch >= 1] [-r rounds 1..%d]\n", argv[0],
                MAX_ROUNDS);
        return 2;
    }
    adapt_context_params cp;
    adapt_context_params_init(&cp, sizeof cp);
    cp.n_threads = threads;
    adapt_context *ctx;
    check(adapt_context_create(&ctx, &cp), "context");
    check(adapt_context_set_grad(ctx, 0), "context");
    static prepared p[N_LAYERS];
    static double times[N_LAYERS][MAX_ROUNDS];
    for (int i = 0; i < N_LAYERS; i++) {
        prepare(&p[i], &layers[i], batch);
        time_one(ctx, &p[i], &layers[i]); /* warm-up: arena, caches, threads */
    }
    for (int r = 0; r < rounds; r++)
        for (int i = 0; i < N_LAYERS; i++)
            times[i][r] = time_one(ctx, &p[i], &layers[i]);
    for (int i = 0; i < N_LAYERS; i++) {
        const double median = bench_median(times[i], rounds);
        printf("result impl=libadapt layer=%s batch=%lld ms=%.4f gmacs=%.2f\n", layers[i].name,
               (long long)batch, 1e3 * median, p[i].macs / median / 1e9);
        adapt_tensor_free(p[i].weight);
        free(p[i].input);
    }
    adapt_context_free(ctx);
    return 0;
}
