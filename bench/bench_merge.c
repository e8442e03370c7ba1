/* bench_merge — time and added peak memory of merging n = 1 ... 16 sources (docs/transfer.md):
 * AXIS, task arithmetic, TIES and the preparation of singular-value fine-tuning, on an MLP of
 * the given sizes whose sources are the base plus random task vectors.
 *
 *   bench_merge [REPEATS] [SIZES...]        (default 3 repeats, 784 512 512 10)
 *   bench_merge --once METHOD N [SIZES...]   one call, for a heap profiler
 *
 * Prints one line per method and n, the median time over the repeats. With --once it sets
 * up the same models and makes one call of METHOD (tune_singular_values, axis,
 * task_arithmetic, ties, or none for the setup alone) on N sources: run_merge.sh measures
 * the call's peak heap as the difference of valgrind massif's peaks with and without it. */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#define ADAPT_EXPERIMENTAL
#include <adapt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"

#define MAX_SOURCES 16
#define MAX_SIZES 8

static const char *const program = "bench_merge";

static adapt_model *mlp(const int64_t *sizes, int32_t n, uint64_t seed)
{
    adapt_mlp_params p;
    adapt_mlp_params_init(&p, sizeof p);
    p.n_sizes = n, p.sizes = sizes, p.seed = seed;
    adapt_model *m;
    bench_check(program, adapt_model_create_mlp(&m, &p), "create the MLP");
    return m;
}

typedef struct {
    adapt_model *target, *base, **sources;
    int32_t n, method; /* adapt_merge_method, or -1: adapt_model_low_rank_tune */
} job;

static void run(const job *j)
{
    if (j->method < 0) {
        bench_check(program, adapt_model_low_rank_tune(j->target, j->base, j->sources, j->n,
                                                       NULL), "prepare");
        return;
    }
    adapt_merge_params p;
    adapt_merge_params_init(&p, sizeof p);
    p.method = j->method;
    bench_check(program, adapt_models_merge(j->target, j->base, j->sources, j->n, &p), "merge");
}

static const char *const names[] = {"tune_singular_values", "axis", "task_arithmetic",
                                    "ties"};

/* The sizes from argv[first ...], or the default MLP's. */
static int32_t read_sizes(int64_t *sizes, int argc, char **argv, int first)
{
    static const int64_t fallback[] = {784, 512, 512, 10};
    int32_t n = 0;
    for (int i = first; i < argc && n < MAX_SIZES; i++)
        sizes[n++] = atoll(argv[i]);
    if (n >= 2)
        return n;
    memcpy(sizes, fallback, sizeof fallback);
    return 4;
}

/* The base and MAX_SOURCES sources, each the base plus a random task vector. */
static adapt_model *setup(adapt_model **sources, const int64_t *sizes, int32_t n_sizes)
{
    adapt_model *base = mlp(sizes, n_sizes, 1);
    for (int s = 0; s < MAX_SOURCES; s++) {
        sources[s] = mlp(sizes, n_sizes, 1);
        adapt_model *noise = mlp(sizes, n_sizes, 100 + (uint64_t)s);
        for (int32_t i = 0; i < adapt_model_param_count(base); i++) {
            float *v = adapt_tensor_data(adapt_model_param(sources[s], i));
            const float *d = adapt_tensor_data(adapt_model_param(noise, i));
            for (int64_t k = 0; k < adapt_tensor_numel(adapt_model_param(base, i)); k++)
                v[k] += 0.1f * d[k];
        }
        adapt_model_free(noise);
    }
    return base;
}

static void release(adapt_model *base, adapt_model **sources)
{
    for (int s = 0; s < MAX_SOURCES; s++)
        adapt_model_free(sources[s]);
    adapt_model_free(base);
}

static int once(int argc, char **argv)
{
    int64_t sizes[MAX_SIZES];
    const int32_t n_sizes = read_sizes(sizes, argc, argv, 4);
    adapt_model *sources[MAX_SOURCES], *base = setup(sources, sizes, n_sizes);
    adapt_model *target = mlp(sizes, n_sizes, 2);
    for (int method = -1; method <= ADAPT_MERGE_TIES; method++)
        if (!strcmp(argv[2], names[method + 1])) {
            const job j = {target, base, sources, atoi(argv[3]), method};
            run(&j);
        }
    adapt_model_free(target);
    release(base, sources);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 3 && !strcmp(argv[1], "--once"))
        return once(argc, argv);
    const int repeats = argc > 1 ? atoi(argv[1]) : 3;
    int64_t sizes[MAX_SIZES];
    const int32_t n_sizes = read_sizes(sizes, argc, argv, 2);
    adapt_model *sources[MAX_SOURCES], *base = setup(sources, sizes, n_sizes);
    printf("# MLP");
    for (int32_t i = 0; i < n_sizes; i++)
        printf(" %lld", (long long)sizes[i]);
    printf(", median of %d\n%-22s %8s %10s\n", repeats, "method", "sources", "seconds");
    for (int method = -1; method <= ADAPT_MERGE_TIES; method++)
        for (int32_t n = 1; n <= MAX_SOURCES; n *= 2) {
            double t[32];
            for (int r = 0; r < repeats && r < 32; r++) {
                adapt_model *target = mlp(sizes, n_sizes, 2); /* prepared once each */
                const job j = {target, base, sources, n, method};
                const double start = bench_now();
                run(&j);
                t[r] = bench_now() - start;
                adapt_model_free(target);
            }
            printf("%-22s %8d %10.4f\n", names[method + 1], (int)n,
                   bench_median(t, repeats < 32 ? repeats : 32));
            fflush(stdout);
        }
    release(base, sources);
    return 0;
}
