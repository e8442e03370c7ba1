/* What bench_moe and bench_acm share: the benchmark ViT (bench_models.h) as the dense model, a
 * second copy whose MLPs become per-token conditional modules (Mixture-of-Experts layers,
 * ACMs), the MLPs' inputs recorded over synthetic images, one held batch, and the timing of
 * either copy as six modules on their inputs ("layers") or whole ("model") against the FLOPs
 * it executed. Header-only, each program stays one translation unit. */
#ifndef BENCH_TOKEN_MODULES_H
#define BENCH_TOKEN_MODULES_H

#include <stdbool.h>
#include <string.h>

#include "bench_models.h"
#include "bench_util.h"

enum { TM_DEPTH = 6, TM_RECORDED_IMAGES = 256 };

typedef struct {
    const char *program;
    adapt_model *dense_vit, *adaptive_vit;
    /* The modules of each copy; the adaptive ones belong to adaptive_vit once in it. */
    adapt_model *dense[TM_DEPTH], *adaptive[TM_DEPTH];
    adapt_recording *inputs[TM_DEPTH]; /* over the recorded images */
    adapt_dataset *images;
    float *pixels;
    int32_t *labels;
    adapt_tensor *batch_images, *batch_inputs[TM_DEPTH]; /* the timed batch, as parameters */
    int64_t batch;
    int32_t threads;
} tm_setup;

typedef enum { TM_LAYERS, TM_MODEL } tm_scope;

static inline void tm_check(const tm_setup *s, adapt_status st, const char *what)
{
    bench_check(s->program, st, what);
}

static inline const char *tm_mlp_path(int b)
{
    static char path[32];
    snprintf(path, sizeof path, "blocks.%d.mlp", b);
    return path;
}

static inline adapt_context *tm_context(const tm_setup *s, adapt_backend backend)
{
    adapt_context_params cp;
    adapt_context_params_init(&cp, sizeof cp);
    cp.n_threads = s->threads, cp.backend = backend;
    adapt_context *ctx;
    tm_check(s, adapt_context_create(&ctx, &cp), "context");
    tm_check(s, adapt_context_set_grad(ctx, 0), "context");
    return ctx;
}

/* The ViT twice (its MLPs with `activation`), the recorded inputs of its MLPs, and each MLP
 * alone as the dense module. */
static inline void tm_build_dense(tm_setup *s, int32_t activation)
{
    for (int copy = 0; copy < 2; copy++) {
        adapt_model *vit;
        tm_check(s, bench_create_model(&vit, "vit"), "ViT");
        for (int b = 0; b < TM_DEPTH && activation == ADAPT_ACTIVATION_RELU; b++) {
            adapt_model *relu;
            tm_check(s, adapt_ffn_module(&relu, vit, tm_mlp_path(b), activation), "ReLU");
            tm_check(s, adapt_model_replace(vit, tm_mlp_path(b), relu, NULL), "replace");
        }
        *(copy ? &s->adaptive_vit : &s->dense_vit) = vit;
    }
    const int64_t images = s->batch > TM_RECORDED_IMAGES ? s->batch : TM_RECORDED_IMAGES;
    s->pixels = bench_synthetic_inputs(images * CHANNELS * IMAGE_SIZE * IMAGE_SIZE);
    s->labels = calloc((size_t)images, sizeof *s->labels);
    tm_check(s, adapt_dataset_wrap(&s->images, s->pixels, 4,
                                   (int64_t[]){images, CHANNELS, IMAGE_SIZE, IMAGE_SIZE},
                                   s->labels), "images");
    adapt_record_params rp;
    adapt_record_params_init(&rp, sizeof rp);
    rp.n_threads = s->threads;
    for (int b = 0; b < TM_DEPTH; b++) {
        tm_check(s, adapt_model_record(&s->inputs[b], s->dense_vit, tm_mlp_path(b), s->images,
                                       &rp), "record");
        tm_check(s, adapt_ffn_module(&s->dense[b], s->dense_vit, tm_mlp_path(b), activation),
                 "dense module");
    }
}

/* The adaptive modules put in place of the second copy's MLPs. */
static inline void tm_install(tm_setup *s)
{
    for (int b = 0; b < TM_DEPTH; b++)
        tm_check(s, adapt_model_replace(s->adaptive_vit, tm_mlp_path(b), s->adaptive[b], NULL),
                 "replace");
}

/* Parameter `rows` x shape[1..] holding the first rows of `data`: an input that outlives the
 * context's resets. */
static inline adapt_tensor *tm_held(const tm_setup *s, const float *data, int32_t ndim,
                                    const int64_t *shape, int64_t rows)
{
    int64_t dims[ADAPT_MAX_DIMS];
    memcpy(dims, shape, (size_t)ndim * sizeof *dims);
    dims[0] = rows;
    adapt_tensor *t;
    tm_check(s, adapt_param_create(&t, ndim, dims), "input");
    tm_check(s, adapt_param_set_requires_grad(t, 0), "input");
    memcpy(adapt_tensor_data(t), data, (size_t)adapt_tensor_numel(t) * sizeof(float));
    return t;
}

static inline void tm_hold_batch(tm_setup *s)
{
    s->batch_images = tm_held(s, s->pixels, 4,
                              (int64_t[]){0, CHANNELS, IMAGE_SIZE, IMAGE_SIZE}, s->batch);
    for (int b = 0; b < TM_DEPTH; b++) {
        int32_t ndim;
        int64_t shape[ADAPT_MAX_DIMS];
        const float *x = adapt_recording_data(s->inputs[b], 0, &ndim, shape);
        s->batch_inputs[b] = tm_held(s, x, ndim, shape, s->batch);
    }
}

/* One pass of the scope, adaptive or dense. */
static inline void tm_pass(adapt_context *ctx, const tm_setup *s, tm_scope what, bool adaptive)
{
    adapt_context_reset(ctx);
    adapt_tensor *y;
    if (what == TM_MODEL) {
        tm_check(s, adapt_model_forward(&y, ctx, adaptive ? s->adaptive_vit : s->dense_vit,
                                        s->batch_images), "model");
        return;
    }
    for (int b = 0; b < TM_DEPTH; b++) {
        adapt_model *m = adaptive ? s->adaptive[b] : s->dense[b];
        tm_check(s, adapt_model_forward_blocks(&y, ctx, m, s->batch_inputs[b], 0,
                                               adapt_model_block_count(m)), "layer");
    }
}

/* Median milliseconds of the adaptive and the dense copy's passes, timed in alternating
 * windows of about 50 ms each (after two untimed passes of each), until both have at least 5
 * and `seconds` has passed for each. A slow spell of the machine then falls on both copies
 * alike rather than on whichever ran during it, and within a window each copy runs with its
 * own weights in cache, as it would alone. */
static inline void tm_time_pair(adapt_context *ctx, const tm_setup *s, tm_scope what,
                                double seconds, double *adaptive_ms, double *dense_ms)
{
    enum { MAX_ROUNDS = 20000 };
    const double window_seconds = 0.05;
    static double t[2][MAX_ROUNDS];
    int n[2] = {0, 0};
    double spent[2] = {0.0, 0.0};
    for (int copy = 0; copy < 2; copy++)
        tm_pass(ctx, s, what, copy == 0), tm_pass(ctx, s, what, copy == 0);
    while (n[0] < MAX_ROUNDS && n[1] < MAX_ROUNDS &&
           (n[0] < 5 || n[1] < 5 || spent[0] < seconds || spent[1] < seconds)) {
        for (int copy = 0; copy < 2; copy++) {
            const double window = bench_now();
            while (n[copy] < MAX_ROUNDS) {
                const double t0 = bench_now();
                tm_pass(ctx, s, what, copy == 0);
                t[copy][n[copy]++] = 1e3 * (bench_now() - t0);
                if (bench_now() - window >= window_seconds)
                    break;
            }
            spent[copy] += bench_now() - window;
        }
    }
    *adaptive_ms = bench_median(t[0], n[0]);
    *dense_ms = bench_median(t[1], n[1]);
}

/* FLOPs the scope's adaptive copy executed on the batch, and what the dense one does. */
static inline void tm_counted(adapt_context *ctx, const tm_setup *s, tm_scope what,
                              double *adaptive, double *dense)
{
    int64_t *flops = malloc((size_t)s->batch * sizeof *flops);
    adapt_tensor *y;
    *adaptive = *dense = 0.0;
    for (int b = 0; b < (what == TM_MODEL ? 1 : TM_DEPTH); b++) {
        adapt_context_reset(ctx);
        adapt_model *m = what == TM_MODEL ? s->adaptive_vit : s->adaptive[b];
        tm_check(s, adapt_model_forward_flops(&y, flops, ctx, m,
                                              what == TM_MODEL ? s->batch_images
                                                               : s->batch_inputs[b]), "flops");
        for (int64_t i = 0; i < s->batch; i++)
            *adaptive += (double)flops[i];
        *dense += (double)s->batch *
                  (double)adapt_model_flops(what == TM_MODEL ? s->dense_vit : s->dense[b]);
    }
    free(flops);
}

/* Prints " layers_ms=.. dense_layers_ms=.. layers_counted=.. layers_measured=.." and the same
 * for the model: what the adaptive copy runs now against the dense one. */
static inline void tm_measure(adapt_context *ctx, const tm_setup *s, double seconds)
{
    const char *names[] = {"layers", "model"};
    for (tm_scope what = TM_LAYERS; what <= TM_MODEL; what++) {
        double adaptive_flops, dense_flops;
        tm_counted(ctx, s, what, &adaptive_flops, &dense_flops);
        double adaptive_ms, dense_ms;
        tm_time_pair(ctx, s, what, seconds, &adaptive_ms, &dense_ms);
        printf(" %s_ms=%.4f dense_%s_ms=%.4f %s_counted=%.4f %s_measured=%.4f", names[what],
               adaptive_ms, names[what], dense_ms, names[what], dense_flops / adaptive_flops,
               names[what], dense_ms / adaptive_ms);
    }
    printf("\n");
    fflush(stdout);
}

#endif
