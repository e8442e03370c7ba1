/* d2dmoe_fmnist — one run of the dense-to-dynamic-k Mixture-of-Experts reproduction on
 * Fashion-MNIST (D2DMoE, docs/moe.md).
 *
 *   d2dmoe_fmnist SEED RESULTS.csv [EPOCHS] [ALPHA] [EXPERTS] [THREADS] [MODEL]
 *
 * MODEL is vit (default) or mlp:
 *   vit  28 x 28 images, patch 7, width 64, 4 blocks, MLPs of 256 units (GELU): its FFNs are
 *        the blocks' MLPs "blocks.B.mlp";
 *   mlp  784-1024-1024-1024-10 with ReLU: its FFNs are the slices "0:3" (784 -> 1024 -> 1024)
 *        and "4:7" (1024 -> 1024 -> 10) of its layers, which cover every product.
 * Trains the model for EPOCHS epochs (default 3), then:
 *   early exits  heads after the inner blocks trained on the frozen model: the cost-accuracy
 *                curve of a max-probability threshold sweep;
 *   sparsify     every FFN's GELU swapped for ReLU (the ViT's; the MLP has ReLU), fine-tuned
 *                EPOCHS - 1 epochs with the Hoyer penalty of weight ALPHA (default 0.01):
 *                ReLU zeros per FFN before and after;
 *   split        each FFN split into EXPERTS experts (default 16) by balanced k-means, the
 *                routers trained on 10000 recorded training images;
 *   sweep        test accuracy and FLOPs per image for dynamic-k tau in [0, 1] and static
 *                top-k.
 * Appends one CSV row per measured point: seed,method,setting,accuracy,mflops,ffn_mflops.
 * examples/moe/summarize.py turns the runs into tables and plots. */
#define ADAPT_EXPERIMENTAL /* replacement, recording, the early exits and the experts */
#include <adapt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(call)                                                                     \
    do {                                                                                \
        adapt_status st_ = (call);                                                      \
        if (st_ != ADAPT_OK) {                                                          \
            fprintf(stderr, "%s failed: %s (%s)\n", #call, adapt_status_string(st_),   \
                    adapt_last_error());                                                \
            exit(1);                                                                    \
        }                                                                               \
    } while (0)

enum { DEPTH = 4, DIM = 64, HIDDEN = 256, CLASSES = 10, BATCH = 500, MAX_FFNS = DEPTH };
#define SWEEP_POINTS 50

/* What differs between the two models. */
typedef struct {
    const char *name;
    int32_t n_ffns;
    const char *ffns[MAX_FFNS]; /* paths of the networks D2DMoE turns into experts */
    bool swaps_gelu;
    /* The paper's routers are 128 wide for a 768-wide ViT-B, 3.5 % of an FFN's cost; 32 keeps
     * the 64-wide ViT's routers near that share (8 %) instead of 31 % at 128. */
    int32_t router_width;
    int32_t head_kind;
    int32_t first_head, tail_blocks; /* exit heads after blocks [first_head, blocks - tail) */
    const float *taus;               /* the dynamic-k sweep, ending at 1 */
} backbone;

static const float vit_taus[] = {0.0f, 0.01f, 0.02f, 0.03f, 0.04f, 0.05f, 0.06f, 0.08f,
                                 0.1f, 0.15f, 0.2f,  0.3f,  0.5f,  0.7f,  1.0f};
/* The MLP's accuracy falls off at smaller tau: finer steps there. */
static const float mlp_taus[] = {0.0f,   0.0025f, 0.005f, 0.0075f, 0.01f, 0.0125f, 0.015f,
                                 0.0175f, 0.02f,  0.025f, 0.03f,   0.04f, 0.06f,   0.1f,
                                 0.2f,   0.5f,    1.0f};
static const backbone vit_backbone = {
    "vit", DEPTH, {"blocks.0.mlp", "blocks.1.mlp", "blocks.2.mlp", "blocks.3.mlp"}, true, 32,
    ADAPT_HEAD_CLS_MLP, 1, 2, vit_taus};
static const backbone mlp_backbone = {"mlp", 2, {"0:3", "4:7"}, false, 128,
                                      ADAPT_HEAD_POOLED_LINEAR, 0, 1, mlp_taus};

typedef struct {
    uint64_t seed;
    int32_t epochs, experts, threads;
    float alpha;
    const backbone *model;
    FILE *out;
    adapt_dataset *train, *test, *rest, *sample; /* sample: 10000 training images */
    double dense_mflops, ffn_mflops;             /* of the dense model */
} run;

static adapt_dataset *load(const char *dir, const char *prefix)
{
    char images[512], labels[512];
    snprintf(images, sizeof images, "%s/%s-images-idx3-ubyte.gz", dir, prefix);
    snprintf(labels, sizeof labels, "%s/%s-labels-idx1-ubyte.gz", dir, prefix);
    adapt_dataset *ds;
    CHECK(adapt_dataset_load_idx(&ds, images, labels));
    return ds;
}

static adapt_train_params train_params(const run *r, int32_t epochs, float lr)
{
    adapt_train_params tp;
    adapt_train_params_init(&tp, sizeof tp);
    tp.epochs = epochs, tp.batch_size = 128, tp.optimizer = ADAPT_OPTIMIZER_ADAMW;
    tp.learning_rate = lr, tp.weight_decay = 0.05f, tp.schedule = ADAPT_SCHEDULE_COSINE;
    tp.warmup_steps = 100, tp.n_threads = r->threads, tp.seed = r->seed;
    return tp;
}

static adapt_model *dense_model(const run *r)
{
    adapt_model *m;
    if (r->model == &vit_backbone) {
        adapt_vit_params p;
        adapt_vit_params_init(&p, sizeof p);
        p.image_size = 28, p.in_channels = 1, p.patch = 7, p.dim = DIM, p.depth = DEPTH;
        p.heads = 4, p.mlp_ratio = (float)HIDDEN / DIM, p.n_classes = CLASSES;
        p.seed = r->seed;
        CHECK(adapt_model_create_vit(&m, &p));
    } else {
        adapt_mlp_params p;
        adapt_mlp_params_init(&p, sizeof p);
        p.n_sizes = 5, p.sizes = (int64_t[]){28 * 28, 1024, 1024, 1024, CLASSES};
        p.seed = r->seed;
        CHECK(adapt_model_create_mlp(&m, &p));
    }
    const adapt_train_params tp = train_params(r, r->epochs, 1e-3f);
    CHECK(adapt_model_train(m, r->train, NULL, &tp));
    return m;
}

/* Test accuracy and mean FLOPs per image of what runs now, from one metered pass. */
static void measure(const run *r, adapt_model *m, double *accuracy, double *mflops)
{
    adapt_context_params cp;
    adapt_context_params_init(&cp, sizeof cp);
    cp.n_threads = r->threads;
    adapt_context *ctx;
    CHECK(adapt_context_create(&ctx, &cp));
    CHECK(adapt_context_set_grad(ctx, 0));
    const int64_t n = adapt_dataset_count(r->test), pixels = 28 * 28;
    float *x = malloc((size_t)(BATCH * pixels) * sizeof *x);
    int32_t labels[BATCH];
    int64_t flops[BATCH], correct = 0, total_flops = 0;
    for (int64_t first = 0; first < n; first += BATCH) {
        const int64_t b = n - first < BATCH ? n - first : BATCH;
        for (int64_t i = 0; i < b; i++) {
            const float *sample;
            CHECK(adapt_dataset_sample(&sample, &labels[i], r->test, first + i));
            memcpy(x + i * pixels, sample, (size_t)pixels * sizeof *x);
        }
        adapt_context_reset(ctx);
        adapt_tensor *in, *logits;
        CHECK(adapt_tensor_input(&in, ctx, 4, (int64_t[]){b, 1, 28, 28}, x));
        CHECK(adapt_model_forward_flops(&logits, flops, ctx, m, in));
        const float *z = adapt_tensor_data(logits);
        for (int64_t i = 0; i < b; i++) {
            int32_t best = 0;
            for (int32_t c = 1; c < CLASSES; c++)
                best = z[i * CLASSES + c] > z[i * CLASSES + best] ? c : best;
            correct += best == labels[i];
            total_flops += flops[i];
        }
    }
    free(x);
    adapt_context_free(ctx);
    *accuracy = (double)correct / (double)n;
    *mflops = (double)total_flops / (double)n / 1e6;
}

/* One CSV row for what runs now; returns its accuracy. */
static double emit(const run *r, adapt_model *m, const char *method, double setting)
{
    double accuracy, mflops;
    measure(r, m, &accuracy, &mflops);
    const double ffn = mflops - (r->dense_mflops - r->ffn_mflops);
    fprintf(r->out, "%llu,%s,%g,%.4f,%.4f,%.4f\n", (unsigned long long)r->seed, method, setting,
            100.0 * accuracy, mflops, ffn);
    fflush(r->out);
    printf("  %-10s %-6g accuracy %6.2f %%  %.3f MFLOPs (FFNs %.3f)\n", method, setting,
           100.0 * accuracy, mflops, ffn);
    return accuracy;
}

/* Heads after the inner blocks (the ViT's transformer blocks 1-3, the MLP's hidden layers)
 * trained on the frozen model (a copy from `checkpoint`), and the test set's cost-accuracy
 * curve of a max-probability threshold sweep. */
static void early_exits(const run *r, const char *checkpoint)
{
    adapt_model *m;
    CHECK(adapt_model_load(&m, checkpoint));
    for (int32_t i = 0; i < adapt_model_param_count(m); i++)
        CHECK(adapt_param_set_requires_grad(adapt_model_param(m, i), 0));
    const int32_t end = adapt_model_block_count(m) - r->model->tail_blocks;
    for (int32_t b = r->model->first_head; b < end; b++) {
        adapt_head_params p;
        adapt_head_params_init(&p, sizeof p);
        p.kind = r->model->head_kind, p.block = b, p.seed = r->seed + (uint64_t)b;
        adapt_head *h;
        CHECK(adapt_head_create(&h, m, &p));
        CHECK(adapt_model_add_head(m, h, NULL));
    }
    adapt_train_params phase = train_params(r, r->epochs - 1 > 0 ? r->epochs - 1 : 1, 1e-3f);
    adapt_exit_train_params ep;
    adapt_exit_train_params_init(&ep, sizeof ep);
    ep.regime = ADAPT_REGIME_JOINT, ep.exit_phase = &phase; /* only the heads can change */
    CHECK(adapt_model_train_exits(m, r->train, NULL, &ep));
    const int32_t exits = adapt_model_head_count(m) + 1;
    const int64_t n = adapt_dataset_count(r->test);
    float *z = malloc((size_t)(exits * n * CLASSES) * sizeof *z);
    int32_t *labels = malloc((size_t)n * sizeof *labels);
    int64_t costs[8];
    CHECK(adapt_model_exit_logits(z, exits * n * CLASSES, m, r->test, 256, r->threads));
    CHECK(adapt_model_exit_flops(costs, exits, m));
    for (int64_t i = 0; i < n; i++) {
        const float *x;
        CHECK(adapt_dataset_sample(&x, &labels[i], r->test, i));
    }
    const adapt_exit_records rec = {sizeof rec, z, ADAPT_SCORES_LOGITS, labels, n, exits,
                                    CLASSES, costs, adapt_model_flops(m)};
    adapt_exit_curve curve = {.struct_size = sizeof curve};
    double thresholds[SWEEP_POINTS], budgets[SWEEP_POINTS], accuracies[SWEEP_POINTS];
    CHECK(adapt_exit_sweep(&curve, thresholds, budgets, accuracies, SWEEP_POINTS, &rec,
                           ADAPT_EXIT_MAX_PROBABILITY));
    for (int i = 0; i < SWEEP_POINTS; i++)
        fprintf(r->out, "%llu,early_exit,%g,%.4f,%.4f,\n", (unsigned long long)r->seed,
                thresholds[i], 100.0 * accuracies[i], budgets[i] * r->dense_mflops);
    printf("  early exits: accuracy %.2f %% at 50 %% budget, %.2f %% at 75 %%\n",
           100.0 * curve.accuracy_at_budget[1], 100.0 * curve.accuracy_at_budget[2]);
    free(z);
    free(labels);
    adapt_model_free(m);
}

/* What each FFN receives for the 10000 sampled training images. */
static void record_ffns(const run *r, adapt_model *m, adapt_recording **recs)
{
    adapt_record_params rp;
    adapt_record_params_init(&rp, sizeof rp);
    rp.n_threads = r->threads;
    for (int32_t b = 0; b < r->model->n_ffns; b++)
        CHECK(adapt_model_record(&recs[b], m, r->model->ffns[b], r->sample, &rp));
}

/* Share of exact zeros among the ReLU outputs of each FFN, on the recorded inputs: the
 * layer "1" of a copy of the FFN recorded over them. */
static void relu_zeros(const run *r, adapt_model *m, const char *when)
{
    adapt_recording *recs[MAX_FFNS];
    record_ffns(r, m, recs);
    printf("  ReLU zeros %s:", when);
    fprintf(r->out, "%llu,zeros_%s,", (unsigned long long)r->seed, when);
    for (int32_t b = 0; b < r->model->n_ffns; b++) {
        int32_t ndim;
        int64_t shape[ADAPT_MAX_DIMS];
        const float *in = adapt_recording_data(recs[b], 0, &ndim, shape);
        int32_t *labels = calloc((size_t)shape[0], sizeof *labels);
        adapt_dataset *inputs;
        CHECK(adapt_dataset_wrap(&inputs, in, ndim, shape, labels));
        adapt_model *module;
        CHECK(adapt_ffn_module(&module, m, r->model->ffns[b], ADAPT_ACTIVATION_RELU));
        adapt_recording *hidden;
        adapt_record_params rp;
        adapt_record_params_init(&rp, sizeof rp);
        rp.n_threads = r->threads;
        CHECK(adapt_model_record(&hidden, module, "1", inputs, &rp));
        const float *a = adapt_recording_data(hidden, 1, &ndim, shape);
        int64_t count = 1;
        for (int32_t i = 0; i < ndim; i++)
            count *= shape[i];
        int64_t zeros = 0;
        for (int64_t i = 0; i < count; i++)
            zeros += a[i] == 0.0f;
        printf(" %.1f %%", 100.0 * (double)zeros / (double)count);
        fprintf(r->out, "%s%.4f", b ? ";" : "", 100.0 * (double)zeros / (double)count);
        adapt_recording_free(hidden);
        adapt_model_free(module);
        adapt_dataset_free(inputs);
        free(labels);
        adapt_recording_free(recs[b]);
    }
    fprintf(r->out, ",,,\n");
    printf("\n");
}

/* GELU swapped for ReLU in every FFN, then the whole model fine-tuned with the penalty. */
static void sparsify(run *r, adapt_model *m)
{
    for (int32_t b = 0; b < r->model->n_ffns && r->model->swaps_gelu; b++) {
        adapt_model *relu;
        CHECK(adapt_ffn_module(&relu, m, r->model->ffns[b], ADAPT_ACTIVATION_RELU));
        CHECK(adapt_model_replace(m, r->model->ffns[b], relu, NULL));
    }
    if (r->model->swaps_gelu)
        emit(r, m, "relu_swap", 0);
    relu_zeros(r, m, "before");
    adapt_train_params tp = train_params(r, r->epochs - 1 > 0 ? r->epochs - 1 : 1, 5e-4f);
    tp.sparsity_penalty = r->alpha, tp.sparsity_warmup = 0.5f;
    CHECK(adapt_model_train(m, r->train, NULL, &tp));
    emit(r, m, "sparsified", r->alpha);
    relu_zeros(r, m, "after");
}

/* Every FFN split into experts whose routers learn from the recorded inputs. */
static void split(const run *r, adapt_model *m)
{
    const int32_t n = r->model->n_ffns;
    adapt_recording *recs[MAX_FFNS];
    adapt_model *moes[MAX_FFNS];
    record_ffns(r, m, recs);
    adapt_moe_params mp;
    adapt_moe_params_init(&mp, sizeof mp);
    mp.experts = r->experts, mp.router_width = r->model->router_width, mp.seed = r->seed;
    for (int32_t b = 0; b < n; b++)
        CHECK(adapt_moe_from_ffn(&moes[b], m, r->model->ffns[b], &mp));
    adapt_train_params tp = train_params(r, 3, 1e-3f);
    tp.weight_decay = 0.0f;
    CHECK(adapt_moe_train_routers(moes, (const adapt_recording *const *)recs, n, &tp));
    for (int32_t b = 0; b < n; b++) {
        CHECK(adapt_model_replace(m, r->model->ffns[b], moes[b], NULL));
        adapt_recording_free(recs[b]);
    }
}

static void sweep(const run *r, adapt_model *m)
{
    const float *taus = r->model->taus;
    for (size_t i = 0; i == 0 || taus[i - 1] < 1.0f; i++) {
        CHECK(adapt_model_set_routing(m, ADAPT_ROUTING_DYNAMIC_K, taus[i], 1, NULL));
        emit(r, m, "dynamic_k", taus[i]);
    }
    for (int32_t k = 1; k <= r->experts; k += k < 4 ? 1 : 2) {
        CHECK(adapt_model_set_routing(m, ADAPT_ROUTING_TOP_K, 0.0f, k, NULL));
        emit(r, m, "top_k", k);
    }
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s SEED RESULTS.csv [EPOCHS] [ALPHA] [EXPERTS] [THREADS] "
                "[vit|mlp]\n", argv[0]);
        return 2;
    }
    const char *model = argc > 7 ? argv[7] : "vit";
    if (strcmp(model, "vit") && strcmp(model, "mlp")) {
        fprintf(stderr, "%s: unknown model \"%s\" (vit or mlp)\n", argv[0], model);
        return 2;
    }
    run r = {.seed = strtoull(argv[1], NULL, 10), .epochs = argc > 3 ? atoi(argv[3]) : 3,
             .alpha = argc > 4 ? (float)atof(argv[4]) : 0.01f,
             .experts = argc > 5 ? atoi(argv[5]) : 16, .threads = argc > 6 ? atoi(argv[6]) : 0,
             .model = strcmp(model, "mlp") ? &vit_backbone : &mlp_backbone};
    const char *dir = getenv("FMNIST_DIR") ? getenv("FMNIST_DIR")
                                           : "/usr/share/datasets/fashion-mnist";
    r.train = load(dir, "train"), r.test = load(dir, "t10k");
    CHECK(adapt_dataset_split(&r.rest, &r.sample, r.train, 10000.0f / 60000.0f, r.seed));
    if (!(r.out = fopen(argv[2], "a"))) {
        perror(argv[2]);
        return 1;
    }
    printf("seed %llu: %s, %d epochs; alpha %g; %d experts\n", (unsigned long long)r.seed,
           r.model->name, (int)r.epochs, (double)r.alpha, (int)r.experts);
    adapt_model *m = dense_model(&r);
    r.dense_mflops = (double)adapt_model_flops(m) / 1e6;
    for (int32_t b = 0; b < r.model->n_ffns; b++) {
        adapt_submodule_info info = {.struct_size = sizeof info};
        CHECK(adapt_model_submodule(&info, m, r.model->ffns[b]));
        r.ffn_mflops += (double)info.flops / 1e6;
    }
    emit(&r, m, "dense", 0);
    char checkpoint[64];
    snprintf(checkpoint, sizeof checkpoint, "d2dmoe_dense_%llu.safetensors",
             (unsigned long long)r.seed);
    CHECK(adapt_model_save(m, checkpoint));
    early_exits(&r, checkpoint);
    remove(checkpoint);
    sparsify(&r, m);
    split(&r, m);
    sweep(&r, m);
    fclose(r.out);
    adapt_model_free(m);
    adapt_dataset_free(r.rest), adapt_dataset_free(r.sample);
    adapt_dataset_free(r.train), adapt_dataset_free(r.test);
    return 0;
}
