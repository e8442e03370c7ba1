/* bench_moe — wall-clock against counted FLOPs for dynamic-k Mixture-of-Experts layers.
 *
 *   bench_moe [-t threads] [-b batch] [-e experts] [-s seconds] [-o dir] [-B onednn]
 *             [tau ...]
 *
 * The benchmark ViT (bench_models.h: dim 192, depth 6, 65 tokens, MLPs of 768) with its MLPs
 * swapped to ReLU is the dense model; each MLP split into `experts` experts (default 24, 32
 * units each) with routers trained on the MLP's inputs recorded over 256 synthetic images, so
 * that routing follows a trained router's predictions, is the MoE. For each tau (default 0 0.1 0.2 0.3 0.4 0.5 0.6
 * 0.8 1) it measures, on one batch of synthetic images (default 1):
 *   layers  the six MoE modules on their recorded inputs against the six dense modules;
 *   model   the whole MoE ViT against the whole dense ViT;
 * each as median milliseconds of timed rounds (at least 5 and `seconds`, default 2), the
 * measured speed-up, the speed-up the FLOPs predict and their ratio. With -o, writes the
 * modules' weights and inputs there for bench/peers/torch_moe.py. -B onednn times the
 * context's oneDNN backend instead of the default, whose expert products run on the library's
 * small-product kernel (lib/kernels/gemm_small.h). One "result" line per
 * tau; bench/run_moe.sh prints the table. */
#define _POSIX_C_SOURCE 200809L /* clock_gettime, getopt */
#define ADAPT_EXPERIMENTAL
#include <stdbool.h>
#include <string.h>
#include <unistd.h>

#include "bench_models.h"
#include "bench_util.h"

#define DEPTH 6
#define MAX_TAUS 32

static const char *const program = "bench_moe";

typedef struct {
    int32_t threads, experts;
    adapt_backend backend;
    int64_t batch;
    double seconds;
    const char *out_dir;
    float taus[MAX_TAUS];
    int n_taus;
} options;

#define ROUTER_IMAGES 256

typedef struct {
    adapt_model *dense_vit, *moe_vit;
    adapt_model *dense[DEPTH], *moe[DEPTH]; /* the MoE modules belong to moe_vit once in it */
    adapt_recording *inputs[DEPTH];         /* over the router images */
    adapt_dataset *images;
    float *pixels;
    int32_t *labels;
    adapt_tensor *batch_images, *batch_inputs[DEPTH]; /* the timed batch, as parameters */
} setup;

static void check(adapt_status st, const char *what)
{
    bench_check(program, st, what);
}

static const char *mlp_path(int b)
{
    static char path[32];
    snprintf(path, sizeof path, "blocks.%d.mlp", b);
    return path;
}

static adapt_context *context(const options *o)
{
    adapt_context_params cp;
    adapt_context_params_init(&cp, sizeof cp);
    cp.n_threads = o->threads, cp.backend = o->backend;
    adapt_context *ctx;
    check(adapt_context_create(&ctx, &cp), "context");
    check(adapt_context_set_grad(ctx, 0), "context");
    return ctx;
}

/* The ReLU ViT twice, and the recorded inputs of its MLPs on the batch. */
static void build_dense(setup *s, const options *o)
{
    for (int copy = 0; copy < 2; copy++) {
        adapt_model *vit;
        check(bench_create_model(&vit, "vit"), "ViT");
        for (int b = 0; b < DEPTH; b++) {
            adapt_model *relu;
            check(adapt_ffn_module(&relu, vit, mlp_path(b), ADAPT_ACTIVATION_RELU), "ReLU");
            check(adapt_model_replace(vit, mlp_path(b), relu, NULL), "replace");
        }
        *(copy ? &s->moe_vit : &s->dense_vit) = vit;
    }
    const int64_t images = o->batch > ROUTER_IMAGES ? o->batch : ROUTER_IMAGES;
    s->pixels = bench_synthetic_inputs(images * CHANNELS * IMAGE_SIZE * IMAGE_SIZE);
    s->labels = calloc((size_t)images, sizeof *s->labels);
    check(adapt_dataset_wrap(&s->images, s->pixels, 4,
                             (int64_t[]){images, CHANNELS, IMAGE_SIZE, IMAGE_SIZE}, s->labels),
          "images");
    adapt_record_params rp;
    adapt_record_params_init(&rp, sizeof rp);
    rp.n_threads = o->threads;
    for (int b = 0; b < DEPTH; b++) {
        check(adapt_model_record(&s->inputs[b], s->dense_vit, mlp_path(b), s->images, &rp),
              "record");
        check(adapt_ffn_module(&s->dense[b], s->dense_vit, mlp_path(b), ADAPT_ACTIVATION_RELU),
              "dense module");
    }
}

/* Each MLP of the second copy split, its routers trained on its inputs, put in place. */
static void build_moe(setup *s, const options *o)
{
    adapt_moe_params mp;
    adapt_moe_params_init(&mp, sizeof mp);
    mp.experts = o->experts, mp.seed = 1;
    for (int b = 0; b < DEPTH; b++)
        check(adapt_moe_from_ffn(&s->moe[b], s->moe_vit, mlp_path(b), &mp), "split");
    adapt_train_params tp;
    adapt_train_params_init(&tp, sizeof tp);
    tp.epochs = 2, tp.batch_size = 16, tp.optimizer = ADAPT_OPTIMIZER_ADAMW;
    tp.learning_rate = 1e-3f, tp.n_threads = o->threads;
    tp.progress = NULL;
    check(adapt_moe_train_routers(s->moe, (const adapt_recording *const *)s->inputs, DEPTH,
                                  &tp), "routers");
    for (int b = 0; b < DEPTH; b++)
        check(adapt_model_replace(s->moe_vit, mlp_path(b), s->moe[b], NULL), "replace");
}

/* The modules' weights and the timed batch's inputs for the PyTorch peer. */
static void export_for_peer(const setup *s, const options *o)
{
    char path[512];
    for (int b = 0; b < DEPTH; b++) {
        snprintf(path, sizeof path, "%s/moe%d.safetensors", o->out_dir, b);
        check(adapt_model_save(s->moe[b], path), "save");
        const adapt_tensor *x = s->batch_inputs[b];
        const int64_t shape[] = {adapt_tensor_dim(x, 0), adapt_tensor_dim(x, 1),
                                 adapt_tensor_dim(x, 2)};
        snprintf(path, sizeof path, "%s/inputs%d.npy", o->out_dir, b);
        check(adapt_npy_write(path, adapt_tensor_data(x), 3, shape), "npy");
    }
}

/* Parameter `rows` x shape[1..] holding the first rows of `data`: an input that outlives the
 * context's resets. */
static adapt_tensor *held(const float *data, int32_t ndim, const int64_t *shape, int64_t rows)
{
    int64_t dims[ADAPT_MAX_DIMS];
    memcpy(dims, shape, (size_t)ndim * sizeof *dims);
    dims[0] = rows;
    adapt_tensor *t;
    check(adapt_param_create(&t, ndim, dims), "input");
    check(adapt_param_set_requires_grad(t, 0), "input");
    memcpy(adapt_tensor_data(t), data, (size_t)adapt_tensor_numel(t) * sizeof(float));
    return t;
}

static void hold_batch(setup *s, const options *o)
{
    s->batch_images = held(s->pixels, 4, (int64_t[]){0, CHANNELS, IMAGE_SIZE, IMAGE_SIZE},
                           o->batch);
    for (int b = 0; b < DEPTH; b++) {
        int32_t ndim;
        int64_t shape[ADAPT_MAX_DIMS];
        const float *x = adapt_recording_data(s->inputs[b], 0, &ndim, shape);
        s->batch_inputs[b] = held(x, ndim, shape, o->batch);
    }
}

typedef enum { LAYERS, MODEL } scope;

/* One pass of the scope, MoE or dense. */
static void pass(adapt_context *ctx, const setup *s, scope what, bool moe)
{
    adapt_context_reset(ctx);
    adapt_tensor *y;
    if (what == MODEL) {
        check(adapt_model_forward(&y, ctx, moe ? s->moe_vit : s->dense_vit, s->batch_images),
              "model");
        return;
    }
    for (int b = 0; b < DEPTH; b++) {
        adapt_model *m = moe ? s->moe[b] : s->dense[b];
        check(adapt_model_forward_blocks(&y, ctx, m, s->batch_inputs[b], 0,
                                         adapt_model_block_count(m)), "layer");
    }
}

/* Median milliseconds of timed passes, after two untimed ones. */
static double time_pass(adapt_context *ctx, const setup *s, scope what, bool moe,
                        const options *o)
{
    enum { MAX_ROUNDS = 20000 };
    static double t[MAX_ROUNDS];
    pass(ctx, s, what, moe), pass(ctx, s, what, moe);
    int n = 0;
    const double start = bench_now();
    while (n < MAX_ROUNDS && (n < 5 || bench_now() - start < o->seconds)) {
        const double t0 = bench_now();
        pass(ctx, s, what, moe);
        t[n++] = 1e3 * (bench_now() - t0);
    }
    return bench_median(t, n);
}

/* FLOPs the scope's MoE executed on the batch, and what the dense one does. */
static void counted(adapt_context *ctx, const setup *s, scope what, const options *o,
                    double *moe, double *dense)
{
    int64_t *flops = malloc((size_t)o->batch * sizeof *flops);
    adapt_tensor *y;
    *moe = *dense = 0.0;
    for (int b = 0; b < (what == MODEL ? 1 : DEPTH); b++) {
        adapt_context_reset(ctx);
        adapt_model *m = what == MODEL ? s->moe_vit : s->moe[b];
        check(adapt_model_forward_flops(&y, flops, ctx, m,
                                        what == MODEL ? s->batch_images : s->batch_inputs[b]),
              "flops");
        for (int64_t i = 0; i < o->batch; i++)
            *moe += (double)flops[i];
        *dense += (double)o->batch *
                  (double)adapt_model_flops(what == MODEL ? s->dense_vit : s->dense[b]);
    }
    free(flops);
}

static void measure(adapt_context *ctx, const setup *s, const options *o, float tau)
{
    check(adapt_model_set_routing(s->moe_vit, ADAPT_ROUTING_DYNAMIC_K, tau, 1, NULL),
          "routing");
    printf("result tau=%g batch=%lld experts=%d threads=%d", (double)tau, (long long)o->batch,
           (int)o->experts, (int)o->threads);
    const char *names[] = {"layers", "model"};
    for (scope what = LAYERS; what <= MODEL; what++) {
        double moe_flops, dense_flops;
        counted(ctx, s, what, o, &moe_flops, &dense_flops);
        const double moe_ms = time_pass(ctx, s, what, true, o);
        const double dense_ms = time_pass(ctx, s, what, false, o);
        printf(" %s_ms=%.4f dense_%s_ms=%.4f %s_counted=%.4f %s_measured=%.4f", names[what],
               moe_ms, names[what], dense_ms, names[what], dense_flops / moe_flops,
               names[what], dense_ms / moe_ms);
    }
    printf("\n");
    fflush(stdout);
}

static void usage(void)
{
    fprintf(stderr, "usage: bench_moe [-t threads] [-b batch] [-e experts] [-s seconds] "
                    "[-o dir] [-B onednn] [tau ...]\n");
    exit(2);
}

static options parse(int argc, char **argv)
{
    options o = {.threads = 2, .experts = 24, .batch = 1, .seconds = 2.0};
    for (int c; (c = getopt(argc, argv, "t:b:e:s:o:B:")) != -1;) {
        switch (c) {
        case 't': o.threads = atoi(optarg); break;
        case 'b': o.batch = atoll(optarg); break;
        case 'e': o.experts = atoi(optarg); break;
        case 's': o.seconds = atof(optarg); break;
        case 'o': o.out_dir = optarg; break;
        case 'B':
            if (strcmp(optarg, "onednn"))
                usage();
            o.backend = ADAPT_BACKEND_ONEDNN;
            break;
        default: usage();
        }
    }
    const float defaults[] = {0.0f, 0.1f, 0.2f, 0.3f, 0.4f, 0.5f, 0.6f, 0.8f, 1.0f};
    for (int i = optind; i < argc && o.n_taus < MAX_TAUS; i++)
        o.taus[o.n_taus++] = (float)atof(argv[i]);
    for (int i = 0; !o.n_taus && i < (int)(sizeof defaults / sizeof *defaults); i++)
        o.taus[i] = defaults[i], o.n_taus = i + 1;
    if (o.threads < 1 || o.batch < 1 || o.experts < 1 || o.seconds < 0)
        usage();
    return o;
}

int main(int argc, char **argv)
{
    const options o = parse(argc, argv);
    setup s = {0};
    build_dense(&s, &o);
    build_moe(&s, &o);
    hold_batch(&s, &o);
    if (o.out_dir)
        export_for_peer(&s, &o);
    adapt_context *ctx = context(&o);
    for (int i = 0; i < o.n_taus; i++)
        measure(ctx, &s, &o, o.taus[i]);
    adapt_context_free(ctx);
    return 0;
}
