/*
 * Interval forward against point forward (docs/intervals.md, docs/benchmarks.md): for an MLP
 * 784-400-400-10 with point weights, the same with interval_linear layers (InterContiNet's
 * network), and the small CNN of the IBP examples, at each batch size, the median time of the
 * point forward, of the interval forward giving bounds only, and of the interval forward
 * giving bounds and the mid output, on the same images. The copies are timed in alternating
 * windows of about 50 ms until each has run at least `seconds`, so that a slow spell of the
 * machine falls on all of them.
 *
 *   bench_interval [-t threads] [-s seconds] [batch ...]      defaults: 2 threads, 2 s, 1 256
 *
 * Prints one line per model and batch:
 *   result model=mlp batch=1 point_ms=... bounds_ms=... bounds_ratio=... mid_ms=... mid_ratio=...
 */
#define _POSIX_C_SOURCE 200809L /* clock_gettime, getopt */
#define ADAPT_EXPERIMENTAL
#include <string.h>
#include <unistd.h>

#include "bench_util.h"

enum { IMAGE = 28 * 28, MAX_BATCHES = 8, MAX_SAMPLES = 4096 };

static const char *program = "bench_interval";

static void check(adapt_status st, const char *what)
{
    bench_check(program, st, what);
}

static void append(adapt_model *m, int32_t kind, int64_t out, int32_t kernel, int32_t stride)
{
    adapt_layer_params p;
    adapt_layer_params_init(&p, sizeof p);
    p.kind = kind, p.out_features = out, p.kernel = kernel, p.stride = stride;
    check(adapt_model_append(m, &p), "append");
}

static adapt_model *mlp(int32_t linear_kind)
{
    adapt_model *m;
    check(adapt_model_create_sequential(&m, 3, (int64_t[]){1, 28, 28}, 1), "mlp");
    append(m, ADAPT_LAYER_FLATTEN, 0, 3, 1);
    append(m, linear_kind, 400, 3, 1);
    append(m, ADAPT_LAYER_RELU, 0, 3, 1);
    append(m, linear_kind, 400, 3, 1);
    append(m, ADAPT_LAYER_RELU, 0, 3, 1);
    append(m, linear_kind, 10, 3, 1);
    return m;
}

static adapt_model *cnn(void)
{
    adapt_model *m;
    check(adapt_model_create_sequential(&m, 3, (int64_t[]){1, 28, 28}, 1), "cnn");
    append(m, ADAPT_LAYER_CONV2D, 16, 4, 2);
    append(m, ADAPT_LAYER_RELU, 0, 3, 1);
    append(m, ADAPT_LAYER_CONV2D, 32, 4, 1);
    append(m, ADAPT_LAYER_RELU, 0, 3, 1);
    append(m, ADAPT_LAYER_FLATTEN, 0, 3, 1);
    append(m, ADAPT_LAYER_LINEAR, 100, 3, 1);
    append(m, ADAPT_LAYER_RELU, 0, 3, 1);
    append(m, ADAPT_LAYER_LINEAR, 10, 3, 1);
    return m;
}

typedef enum { POINT, BOUNDS, BOUNDS_AND_MID, N_WAYS } way;

typedef struct {
    adapt_context *ctx;
    adapt_model *model;
    adapt_tensor *lo, *mid, *hi; /* parameters: they outlive the context's resets */
} job;

static void run_once(const job *j, way w)
{
    adapt_context_reset(j->ctx);
    adapt_tensor *y, *lo, *mid, *hi;
    if (w == POINT)
        check(adapt_model_forward(&y, j->ctx, j->model, j->mid), "point forward");
    else
        check(adapt_model_forward_interval(&lo, w == BOUNDS ? NULL : &mid, &hi, j->ctx,
                                           j->model, j->lo, w == BOUNDS ? NULL : j->mid, j->hi),
              "interval forward");
}

/* Runs of w for about `window` seconds; appends each run's time to times[w]. */
static void window_of(const job *j, way w, double window, double *times, int *n, int cap)
{
    const double end = bench_now() + window;
    do {
        const double t0 = bench_now();
        run_once(j, w);
        if (*n < cap)
            times[(*n)++] = bench_now() - t0;
    } while (bench_now() < end);
}

static void measure(const char *name, adapt_model *model, int64_t batch, int32_t threads,
                    double seconds)
{
    adapt_context_params cp;
    adapt_context_params_init(&cp, sizeof cp);
    cp.n_threads = threads;
    job j = {.model = model};
    check(adapt_context_create(&j.ctx, &cp), "context");
    check(adapt_context_set_grad(j.ctx, 0), "context");
    const int64_t shape[] = {batch, 1, 28, 28};
    adapt_tensor **parts[] = {&j.lo, &j.mid, &j.hi};
    for (int k = 0; k < 3; k++)
        check(adapt_param_create(parts[k], 4, shape), "input");
    float *lo = adapt_tensor_data(j.lo), *mid = adapt_tensor_data(j.mid);
    float *hi = adapt_tensor_data(j.hi);
    for (int64_t i = 0; i < batch * IMAGE; i++) { /* an image-like box of radius 0.05 */
        mid[i] = (float)((i * 7919) % 1000) / 1000.0f;
        lo[i] = mid[i] > 0.05f ? mid[i] - 0.05f : 0.0f;
        hi[i] = mid[i] < 0.95f ? mid[i] + 0.05f : 1.0f;
    }
    static double times[N_WAYS][MAX_SAMPLES];
    int n[N_WAYS] = {0};
    double spent[N_WAYS] = {0};
    for (way w = 0; w < N_WAYS; w++)
        run_once(&j, w); /* warm: arenas sized, kernels chosen */
    while (spent[POINT] < seconds || spent[BOUNDS] < seconds || spent[BOUNDS_AND_MID] < seconds)
        for (way w = 0; w < N_WAYS; w++) {
            const double t0 = bench_now();
            window_of(&j, w, 0.05, times[w], &n[w], MAX_SAMPLES);
            spent[w] += bench_now() - t0;
        }
    double ms[N_WAYS];
    for (way w = 0; w < N_WAYS; w++)
        ms[w] = 1e3 * bench_median(times[w], n[w]);
    printf("result model=%s batch=%lld threads=%d point_ms=%.4f bounds_ms=%.4f "
           "bounds_ratio=%.2f mid_ms=%.4f mid_ratio=%.2f\n",
           name, (long long)batch, (int)threads, ms[POINT], ms[BOUNDS], ms[BOUNDS] / ms[POINT],
           ms[BOUNDS_AND_MID], ms[BOUNDS_AND_MID] / ms[POINT]);
    fflush(stdout);
    for (int k = 0; k < 3; k++)
        adapt_tensor_free(*parts[k]);
    adapt_context_free(j.ctx);
}

int main(int argc, char **argv)
{
    int32_t threads = 2;
    double seconds = 2.0;
    for (int c; (c = getopt(argc, argv, "t:s:")) != -1;) {
        if (c == 't')
            threads = atoi(optarg);
        else if (c == 's')
            seconds = atof(optarg);
        else {
            fprintf(stderr, "usage: %s [-t threads] [-s seconds] [batch ...]\n", program);
            return 2;
        }
    }
    int64_t batches[MAX_BATCHES] = {1, 256};
    int n_batches = 2;
    if (optind < argc)
        for (n_batches = 0; optind < argc && n_batches < MAX_BATCHES; optind++)
            batches[n_batches++] = atoll(argv[optind]);
    adapt_model *models[] = {mlp(ADAPT_LAYER_LINEAR), mlp(ADAPT_LAYER_INTERVAL_LINEAR), cnn()};
    const char *names[] = {"mlp", "interval_mlp", "cnn"};
    for (int b = 0; b < n_batches; b++)
        for (int m = 0; m < 3; m++)
            measure(names[m], models[m], batches[b], threads, seconds);
    for (int m = 0; m < 3; m++)
        adapt_model_free(models[m]);
    return 0;
}
