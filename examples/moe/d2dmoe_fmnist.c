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
#include <stdbool.h>
#include <string.h>

#include "../common/fmnist_run.h"

enum { MAX_FFNS = 4 };

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
    "vit", 4, {"blocks.0.mlp", "blocks.1.mlp", "blocks.2.mlp", "blocks.3.mlp"}, true, 32,
    ADAPT_HEAD_CLS_MLP, 1, 2, vit_taus};
static const backbone mlp_backbone = {"mlp", 2, {"0:3", "4:7"}, false, 128,
                                      ADAPT_HEAD_POOLED_LINEAR, 0, 1, mlp_taus};

typedef struct {
    fmnist_run base;
    int32_t experts;
    float alpha;
    const backbone *model;
} run;

static adapt_model *dense_model(run *r)
{
    adapt_model *m;
    if (r->model == &vit_backbone) {
        m = fmnist_vit(&r->base);
    } else {
        adapt_mlp_params p;
        adapt_mlp_params_init(&p, sizeof p);
        p.n_sizes = 5, p.sizes = (int64_t[]){28 * 28, 1024, 1024, 1024, FMNIST_CLASSES};
        p.seed = r->base.seed;
        CHECK(adapt_model_create_mlp(&m, &p));
    }
    fmnist_train_dense(&r->base, m, r->model->ffns, r->model->n_ffns);
    return m;
}

/* What each FFN receives for the 10000 sampled training images. */
static void record_ffns(const run *r, adapt_model *m, adapt_recording **recs)
{
    adapt_record_params rp;
    adapt_record_params_init(&rp, sizeof rp);
    rp.n_threads = r->base.threads;
    for (int32_t b = 0; b < r->model->n_ffns; b++)
        CHECK(adapt_model_record(&recs[b], m, r->model->ffns[b], r->base.sample, &rp));
}

/* Share of exact zeros among the ReLU outputs of each FFN, on the recorded inputs: the
 * layer "1" of a copy of the FFN recorded over them. */
static void relu_zeros(const run *r, adapt_model *m, const char *when)
{
    adapt_recording *recs[MAX_FFNS];
    record_ffns(r, m, recs);
    printf("  ReLU zeros %s:", when);
    fprintf(r->base.out, "%llu,zeros_%s,", (unsigned long long)r->base.seed, when);
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
        rp.n_threads = r->base.threads;
        CHECK(adapt_model_record(&hidden, module, "1", inputs, &rp));
        const float *a = adapt_recording_data(hidden, 1, &ndim, shape);
        int64_t count = 1;
        for (int32_t i = 0; i < ndim; i++)
            count *= shape[i];
        int64_t zeros = 0;
        for (int64_t i = 0; i < count; i++)
            zeros += a[i] == 0.0f;
        printf(" %.1f %%", 100.0 * (double)zeros / (double)count);
        fprintf(r->base.out, "%s%.4f", b ? ";" : "", 100.0 * (double)zeros / (double)count);
        adapt_recording_free(hidden);
        adapt_model_free(module);
        adapt_dataset_free(inputs);
        free(labels);
        adapt_recording_free(recs[b]);
    }
    fprintf(r->base.out, ",,,\n");
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
        fmnist_emit(&r->base, m, "relu_swap", 0);
    relu_zeros(r, m, "before");
    const int32_t epochs = r->base.epochs > 1 ? r->base.epochs - 1 : 1;
    adapt_train_params tp = fmnist_train_params(&r->base, epochs, 5e-4f);
    tp.sparsity_penalty = r->alpha, tp.sparsity_warmup = 0.5f;
    CHECK(adapt_model_train(m, r->base.train, NULL, &tp));
    fmnist_emit(&r->base, m, "sparsified", r->alpha);
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
    mp.experts = r->experts, mp.router_width = r->model->router_width, mp.seed = r->base.seed;
    for (int32_t b = 0; b < n; b++)
        CHECK(adapt_moe_from_ffn(&moes[b], m, r->model->ffns[b], &mp));
    adapt_train_params tp = fmnist_train_params(&r->base, 3, 1e-3f);
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
        fmnist_emit(&r->base, m, "dynamic_k", taus[i]);
    }
    for (int32_t k = 1; k <= r->experts; k += k < 4 ? 1 : 2) {
        CHECK(adapt_model_set_routing(m, ADAPT_ROUTING_TOP_K, 0.0f, k, NULL));
        fmnist_emit(&r->base, m, "top_k", k);
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
    run r = {.base = {.seed = strtoull(argv[1], NULL, 10),
                      .epochs = argc > 3 ? atoi(argv[3]) : 3,
                      .threads = argc > 6 ? atoi(argv[6]) : 0},
             .alpha = argc > 4 ? (float)atof(argv[4]) : 0.01f,
             .experts = argc > 5 ? atoi(argv[5]) : 16,
             .model = strcmp(model, "mlp") ? &vit_backbone : &mlp_backbone};
    fmnist_open(&r.base, argv[2]);
    printf("seed %llu: %s, %d epochs; alpha %g; %d experts\n", (unsigned long long)r.base.seed,
           r.model->name, (int)r.base.epochs, (double)r.alpha, (int)r.experts);
    adapt_model *m = dense_model(&r);
    fmnist_emit(&r.base, m, "dense", 0);
    char checkpoint[64];
    snprintf(checkpoint, sizeof checkpoint, "d2dmoe_dense_%llu.safetensors",
             (unsigned long long)r.base.seed);
    CHECK(adapt_model_save(m, checkpoint));
    fmnist_early_exits(&r.base, checkpoint, r.model->head_kind, r.model->first_head,
                       r.model->tail_blocks);
    remove(checkpoint);
    sparsify(&r, m);
    split(&r, m);
    sweep(&r, m);
    adapt_model_free(m);
    fmnist_close(&r.base);
    return 0;
}
