#include "fmnist_run.h"

#include <string.h>

enum { BATCH = 500, SWEEP_POINTS = 50 };

static adapt_dataset *load(const char *dir, const char *prefix)
{
    char images[512], labels[512];
    snprintf(images, sizeof images, "%s/%s-images-idx3-ubyte.gz", dir, prefix);
    snprintf(labels, sizeof labels, "%s/%s-labels-idx1-ubyte.gz", dir, prefix);
    adapt_dataset *ds;
    CHECK(adapt_dataset_load_idx(&ds, images, labels));
    return ds;
}

void fmnist_open(fmnist_run *r, const char *csv)
{
    const char *dir = getenv("FMNIST_DIR") ? getenv("FMNIST_DIR")
                                           : "/usr/share/datasets/fashion-mnist";
    r->train = load(dir, "train"), r->test = load(dir, "t10k");
    CHECK(adapt_dataset_split(&r->rest, &r->sample, r->train, 10000.0f / 60000.0f, r->seed));
    if (!(r->out = fopen(csv, "a"))) {
        perror(csv);
        exit(1);
    }
}

void fmnist_close(fmnist_run *r)
{
    fclose(r->out);
    adapt_dataset_free(r->rest), adapt_dataset_free(r->sample);
    adapt_dataset_free(r->train), adapt_dataset_free(r->test);
}

adapt_train_params fmnist_train_params(const fmnist_run *r, int32_t epochs, float lr)
{
    adapt_train_params tp;
    adapt_train_params_init(&tp, sizeof tp);
    tp.epochs = epochs, tp.batch_size = 128, tp.optimizer = ADAPT_OPTIMIZER_ADAMW;
    tp.learning_rate = lr, tp.weight_decay = 0.05f, tp.schedule = ADAPT_SCHEDULE_COSINE;
    tp.warmup_steps = 100, tp.n_threads = r->threads, tp.seed = r->seed;
    return tp;
}

adapt_model *fmnist_vit(const fmnist_run *r)
{
    adapt_vit_params p;
    adapt_vit_params_init(&p, sizeof p);
    p.image_size = 28, p.in_channels = 1, p.patch = 7, p.dim = 64, p.depth = 4, p.heads = 4;
    p.mlp_ratio = 4.0f, p.n_classes = FMNIST_CLASSES, p.seed = r->seed;
    adapt_model *m;
    CHECK(adapt_model_create_vit(&m, &p));
    return m;
}

void fmnist_train_dense(fmnist_run *r, adapt_model *m, const char *const *ffns, int32_t n)
{
    const adapt_train_params tp = fmnist_train_params(r, r->epochs, 1e-3f);
    CHECK(adapt_model_train(m, r->train, NULL, &tp));
    r->dense_mflops = (double)adapt_model_flops(m) / 1e6;
    r->ffn_mflops = 0.0;
    for (int32_t b = 0; b < n; b++) {
        adapt_submodule_info info = {.struct_size = sizeof info};
        CHECK(adapt_model_submodule(&info, m, ffns[b]));
        r->ffn_mflops += (double)info.flops / 1e6;
    }
}

adapt_context *fmnist_context(const fmnist_run *r)
{
    adapt_context_params cp;
    adapt_context_params_init(&cp, sizeof cp);
    cp.n_threads = r->threads;
    adapt_context *ctx;
    CHECK(adapt_context_create(&ctx, &cp));
    CHECK(adapt_context_set_grad(ctx, 0));
    return ctx;
}

/* Test accuracy and mean FLOPs per image of what runs now, from one metered pass. */
static void measure(const fmnist_run *r, adapt_model *m, double *accuracy, double *mflops)
{
    adapt_context *ctx = fmnist_context(r);
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
            for (int32_t c = 1; c < FMNIST_CLASSES; c++)
                best = z[i * FMNIST_CLASSES + c] > z[i * FMNIST_CLASSES + best] ? c : best;
            correct += best == labels[i];
            total_flops += flops[i];
        }
    }
    free(x);
    adapt_context_free(ctx);
    *accuracy = (double)correct / (double)n;
    *mflops = (double)total_flops / (double)n / 1e6;
}

double fmnist_emit(const fmnist_run *r, adapt_model *m, const char *method, double setting)
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

/* Test labels, the exits' logits [exits, n, classes] and their costs. */
static void exit_records(const fmnist_run *r, adapt_model *m, float **z, int32_t **labels,
                         int64_t *costs)
{
    const int32_t exits = adapt_model_head_count(m) + 1;
    const int64_t n = adapt_dataset_count(r->test);
    *z = malloc((size_t)(exits * n * FMNIST_CLASSES) * sizeof **z);
    *labels = malloc((size_t)n * sizeof **labels);
    CHECK(adapt_model_exit_logits(*z, exits * n * FMNIST_CLASSES, m, r->test, 256, r->threads));
    CHECK(adapt_model_exit_flops(costs, exits, m));
    for (int64_t i = 0; i < n; i++) {
        const float *x;
        CHECK(adapt_dataset_sample(&x, &(*labels)[i], r->test, i));
    }
}

void fmnist_early_exits(const fmnist_run *r, const char *checkpoint, int32_t head_kind,
                        int32_t first, int32_t tail)
{
    adapt_model *m;
    CHECK(adapt_model_load(&m, checkpoint));
    for (int32_t i = 0; i < adapt_model_param_count(m); i++)
        CHECK(adapt_param_set_requires_grad(adapt_model_param(m, i), 0));
    for (int32_t b = first; b < adapt_model_block_count(m) - tail; b++) {
        adapt_head_params p;
        adapt_head_params_init(&p, sizeof p);
        p.kind = head_kind, p.block = b, p.seed = r->seed + (uint64_t)b;
        adapt_head *h;
        CHECK(adapt_head_create(&h, m, &p));
        CHECK(adapt_model_add_head(m, h, NULL));
    }
    adapt_train_params phase = fmnist_train_params(r, r->epochs > 1 ? r->epochs - 1 : 1, 1e-3f);
    adapt_exit_train_params ep;
    adapt_exit_train_params_init(&ep, sizeof ep);
    ep.regime = ADAPT_REGIME_JOINT, ep.exit_phase = &phase; /* only the heads can change */
    CHECK(adapt_model_train_exits(m, r->train, NULL, &ep));
    float *z;
    int32_t *labels;
    int64_t costs[16];
    exit_records(r, m, &z, &labels, costs);
    const adapt_exit_records rec = {sizeof rec, z, ADAPT_SCORES_LOGITS, labels,
                                    adapt_dataset_count(r->test), adapt_model_head_count(m) + 1,
                                    FMNIST_CLASSES, costs, adapt_model_flops(m)};
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
