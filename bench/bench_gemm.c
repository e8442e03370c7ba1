/* GEMM throughput: the library's matmul path (adapt_op_matmul in an
 * inference context, as a linear layer calls it: x[M,K] W[N,K]^T) against
 * the raw BLAS / oneDNN call on the same shapes and thread count.
 *
 *   bench_gemm [threads] [seconds-per-shape]
 *
 * Prints median GFLOP/s of each path ("lib:" = through libadapt) and the
 * ratio of medians raw time / library time (1.00 = no overhead; the target
 * is >= 0.90 at every shape). */
#define _POSIX_C_SOURCE 200809L
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "adapt.h"
#include "adapt_config.h"

#if AD_HAVE_ONEDNN
#include <oneapi/dnnl/dnnl.h>
#include <omp.h>
#endif

typedef struct {
    const char *use;
    int m, k, n;
} shape;

static const shape shapes[] = {
    {"MLP layer, batch 128", 128, 784, 1024},
    {"MLP layer, batch 256", 256, 1024, 1024},
    {"ViT MLP, 128 x 100 tokens", 12800, 192, 768},
    {"batch-1 linear", 1, 768, 768},
    {"square", 1024, 1024, 1024},
};

enum { PATH_BLAS, PATH_LIB_BLAS, PATH_DNNL, PATH_LIB_DNNL, N_PATHS };
static const char *path_names[N_PATHS] = {"blas", "lib:blas", "dnnl", "lib:dnnl"};

typedef struct {
    const shape *s;
    int threads;
    const float *x, *w;
    float *y;
    adapt_context *ctx[2]; /* OpenBLAS and oneDNN backends */
    adapt_tensor *xt, *wt;
} bench_case;

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* One op call with its share of the step bookkeeping (the reset); x is a
 * persistent tensor, as a layer's input is an activation already in place. */
static int run_library(bench_case *c, int which)
{
    adapt_context *ctx = c->ctx[which];
    adapt_context_reset(ctx);
    adapt_tensor *y;
    if (adapt_op_matmul(&y, ctx, c->xt, c->wt, ADAPT_MATMUL_TRANS_B)) {
        fprintf(stderr, "library path failed: %s\n", adapt_last_error());
        return 1;
    }
    return 0;
}

/* The raw calls thread as the BLAS does; the library runs the BLAS on one thread
 * per call and threads the product itself, setting the counts back each time. */
static int run_path(bench_case *c, int path)
{
    const shape *s = c->s;
    switch (path) {
    case PATH_BLAS:
        openblas_set_num_threads(c->threads);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, s->m, s->n, s->k, 1.0f, c->x, s->k,
                    c->w, s->k, 0.0f, c->y, s->n);
        return 0;
    case PATH_LIB_BLAS:
        return run_library(c, 0);
#if AD_HAVE_ONEDNN
    case PATH_DNNL:
        omp_set_num_threads(c->threads);
        return dnnl_sgemm('N', 'T', s->m, s->n, s->k, 1.0f, c->x, s->k, c->w, s->k, 0.0f, c->y,
                          s->n) != dnnl_success;
    case PATH_LIB_DNNL:
        return run_library(c, 1);
#endif
    }
    return 1;
}

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Alternates a raw path and its library twin call by call, so that machine
 * noise hits both alike, and stores each one's median seconds per call. The
 * pairs run apart: OpenMP threads still spinning after a oneDNN call would
 * otherwise slow the next OpenBLAS one. */
static int time_pair(bench_case *c, int raw, double budget, double *median)
{
    enum { MAX_ROUNDS = 4001 };
    static double samples[2][MAX_ROUNDS];
    int rounds = 0;
    for (int p = 0; p < 2; p++) /* warm-up: page faults, thread start */
        if (run_path(c, raw + p))
            return 1;
    double start = now();
    while (rounds < MAX_ROUNDS && (rounds < 5 || now() - start < budget)) {
        for (int p = 0; p < 2; p++) {
            double t0 = now();
            if (run_path(c, raw + p))
                return 1;
            samples[p][rounds] = now() - t0;
        }
        rounds++;
    }
    for (int p = 0; p < 2; p++) {
        qsort(samples[p], (size_t)rounds, sizeof(double), compare_doubles);
        median[raw + p] = samples[p][rounds / 2];
    }
    return 0;
}

static float *random_floats(size_t n)
{
    float *v = malloc(n * sizeof *v);
    for (size_t i = 0; v && i < n; i++)
        v[i] = (float)rand() / (float)RAND_MAX - 0.5f;
    return v;
}

static int bench_shape(const shape *s, int threads, double budget, int n_paths)
{
    bench_case c = {.s = s, .threads = threads};
    float *x = random_floats((size_t)s->m * s->k), *w = random_floats((size_t)s->n * s->k);
    c.x = x, c.w = w, c.y = malloc((size_t)s->m * s->n * sizeof(float));
    adapt_context_params p;
    adapt_context_params_init(&p, sizeof p);
    p.n_threads = threads;
    int fail = !x || !w || !c.y;
    for (int i = 0; i < n_paths / 2 && !fail; i++) {
        p.backend = i ? ADAPT_BACKEND_ONEDNN : ADAPT_BACKEND_OPENBLAS;
        fail = adapt_context_create(&c.ctx[i], &p) != ADAPT_OK;
    }
    fail = fail || adapt_param_create(&c.wt, 2, (const int64_t[]){s->n, s->k}) ||
           adapt_param_write(c.wt, w, (int64_t)s->n * s->k) ||
           adapt_param_create(&c.xt, 2, (const int64_t[]){s->m, s->k}) ||
           adapt_param_write(c.xt, x, (int64_t)s->m * s->k);
    double median[N_PATHS];
    for (int raw = 0; raw < n_paths && !fail; raw += 2)
        fail = time_pair(&c, raw, budget / (n_paths / 2), median);
    if (!fail) {
        double flops = 2.0 * s->m * s->n * s->k;
        printf("%5d x %4d x %4d  %-26s", s->m, s->k, s->n, s->use);
        for (int i = 0; i < n_paths; i++)
            printf("  %8.1f", flops / median[i] * 1e-9);
        for (int i = 0; i < n_paths; i += 2)
            printf("  %10.3f", median[i] / median[i + 1]);
        printf("\n");
    }
    adapt_tensor_free(c.xt);
    adapt_tensor_free(c.wt);
    adapt_context_free(c.ctx[0]);
    adapt_context_free(c.ctx[1]);
    free(x), free(w), free(c.y);
    return fail;
}

int main(int argc, char **argv)
{
    int threads = argc > 1 ? atoi(argv[1]) : 0;
    double budget = argc > 2 ? atof(argv[2]) : 2.0;
    if (threads <= 0)
        threads = (int)sysconf(_SC_NPROCESSORS_ONLN);
    int n_paths = adapt_backend_available(ADAPT_BACKEND_ONEDNN) ? 4 : 2;
    printf("libadapt %s, %d threads, median of interleaved rounds, %.1f s per shape\n",
           adapt_version_string(), threads, budget);
    printf("%-45s", "    M x    K x    N  (GFLOP/s)");
    for (int i = 0; i < n_paths; i++)
        printf("  %8s", path_names[i]);
    printf("  %s\n", n_paths > 2 ? "blas-ratio  dnnl-ratio" : "blas-ratio");
    for (size_t i = 0; i < sizeof shapes / sizeof *shapes; i++)
        if (bench_shape(&shapes[i], threads, budget, n_paths))
            return 1;
    return 0;
}
