/* early_exit_fmnist — one run of the early-exit reproduction on Fashion-MNIST.
 *
 *   early_exit_fmnist [--one-vs-all] cnn|vit joint|disjoint|mixed SEED RESULTS.json
 *                     [BACKBONE_EPOCHS EXIT_EPOCHS] [THREADS] [TRAIN_IMAGES] [CHECKPOINT]
 *
 * Builds a small CNN with SDN heads or a small ViT with class-token MLP heads, trains it in
 * the regime (the joint regime trains BACKBONE_EPOCHS + EXIT_EPOCHS epochs at once), then on
 * the test set, for the raw heads and for each calibration method fitted on the validation
 * images: every head's calibration and failure-prediction metrics, the cost-accuracy curve of
 * a max-probability threshold sweep, and thresholds chosen on validation for 25/50/75 %
 * budgets. With --one-vs-all both phases train on SLOVA's one-vs-all loss, the heads are read
 * as SLOVA's q and the calibration is exponential (docs/slova.md). Writes everything as one
 * JSON object; examples/early_exit/summarize.py (examples/slova/summarize_exits.py for the
 * comparison of losses) turns the runs into tables and plots. With CHECKPOINT it also saves
 * the model, heads included. */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#define ADAPT_EXPERIMENTAL /* the early exits */
#include <adapt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CHECK(call)                                                                     \
    do {                                                                                \
        adapt_status st_ = (call);                                                      \
        if (st_ != ADAPT_OK) {                                                          \
            fprintf(stderr, "%s failed: %s (%s)\n", #call, adapt_status_string(st_),   \
                    adapt_last_error());                                                \
            exit(1);                                                                    \
        }                                                                               \
    } while (0)

#define CLASSES 10
#define SWEEP_POINTS 100

/* The calibrations compared: none, or each exit's calibrator of a method. */
typedef struct {
    const char *name;
    int32_t calibration; /* adapt_calibration_method, or -1 for the raw heads */
} method;

static const method softmax_methods[] = {{"raw", -1},
                                         {"temperature", ADAPT_CALIBRATION_TEMPERATURE},
                                         {"vector", ADAPT_CALIBRATION_VECTOR},
                                         {"histogram", ADAPT_CALIBRATION_HISTOGRAM},
                                         {"isotonic", ADAPT_CALIBRATION_ISOTONIC}};
static const method one_vs_all_methods[] = {{"raw", -1},
                                            {"exponential", ADAPT_CALIBRATION_EXPONENTIAL}};

typedef struct {
    adapt_dataset *all, *rest, *unused; /* the images the splits below borrow */
    adapt_dataset *train, *val, *test;
    int32_t *val_labels, *test_labels;
} data;

static adapt_dataset *load(const char *dir, const char *prefix)
{
    char images[512], labels[512];
    snprintf(images, sizeof images, "%s/%s-images-idx3-ubyte.gz", dir, prefix);
    snprintf(labels, sizeof labels, "%s/%s-labels-idx1-ubyte.gz", dir, prefix);
    adapt_dataset *ds;
    CHECK(adapt_dataset_load_idx(&ds, images, labels));
    return ds;
}

static int32_t *labels_of(const adapt_dataset *ds)
{
    const int64_t n = adapt_dataset_count(ds);
    int32_t *labels = malloc((size_t)n * sizeof *labels);
    for (int64_t i = 0; i < n; i++) {
        const float *x;
        CHECK(adapt_dataset_sample(&x, &labels[i], ds, i));
    }
    return labels;
}

/* 5000 validation images, and at most `train_images` of the rest for training. */
static data load_data(uint64_t seed, int64_t train_images)
{
    const char *dir = getenv("FMNIST_DIR") ? getenv("FMNIST_DIR")
                                           : "/usr/share/datasets/fashion-mnist";
    data d = {.all = load(dir, "train"), .test = load(dir, "t10k")};
    CHECK(adapt_dataset_split(&d.rest, &d.val, d.all, 5000.0f / 60000.0f, seed));
    const int64_t n = adapt_dataset_count(d.rest);
    const float unused = train_images > 0 && train_images < n
                             ? 1.0f - (float)train_images / (float)n
                             : 0.0f;
    CHECK(adapt_dataset_split(&d.train, &d.unused, d.rest, unused, seed + 1));
    d.val_labels = labels_of(d.val);
    d.test_labels = labels_of(d.test);
    return d;
}

static void add_head(adapt_model *m, int32_t kind, int32_t block, int32_t hidden,
                     uint64_t seed)
{
    adapt_head_params p;
    adapt_head_params_init(&p, sizeof p);
    p.kind = kind, p.block = block, p.hidden = hidden, p.seed = seed + (uint64_t)block;
    adapt_head *h;
    CHECK(adapt_head_create(&h, m, &p));
    CHECK(adapt_model_add_head(m, h, NULL));
}

/* The architecture with a head after every block but the last, and its optimiser. */
static adapt_model *build(const char *arch, uint64_t seed, adapt_train_params *tp)
{
    adapt_model *m;
    if (!strcmp(arch, "cnn")) {
        const int32_t channels[] = {16, 32, 64}, blocks[] = {1, 1, 1}, strides[] = {2, 2, 2};
        adapt_cnn_params p;
        adapt_cnn_params_init(&p, sizeof p);
        p.in_channels = 1, p.image_size = 28, p.n_classes = CLASSES, p.stem_channels = 16;
        p.n_stages = 3, p.stage_channels = channels, p.stage_blocks = blocks;
        p.stage_strides = strides, p.seed = seed;
        CHECK(adapt_model_create_cnn(&m, &p));
        for (int32_t b = 0; b < adapt_model_block_count(m) - 1; b++)
            add_head(m, ADAPT_HEAD_SDN, b, 0, seed);
        tp->optimizer = ADAPT_OPTIMIZER_SGD, tp->learning_rate = 0.05f, tp->momentum = 0.9f;
        tp->weight_decay = 5e-4f;
    } else if (!strcmp(arch, "vit")) {
        adapt_vit_params p;
        adapt_vit_params_init(&p, sizeof p);
        p.image_size = 28, p.in_channels = 1, p.patch = 7, p.dim = 64, p.depth = 4;
        p.heads = 4, p.mlp_ratio = 2.0f, p.n_classes = CLASSES, p.seed = seed;
        CHECK(adapt_model_create_vit(&m, &p));
        for (int32_t b = 1; b < adapt_model_block_count(m) - 2; b++) /* after blocks 1..3 */
            add_head(m, ADAPT_HEAD_CLS_MLP, b, 0, seed);
        tp->optimizer = ADAPT_OPTIMIZER_ADAMW, tp->learning_rate = 1e-3f;
        tp->weight_decay = 0.05f, tp->warmup_steps = 100;
    } else {
        fprintf(stderr, "unknown architecture '%s' (cnn or vit)\n", arch);
        exit(2);
    }
    return m;
}

static int32_t regime_of(const char *name)
{
    const char *names[] = {"joint", "disjoint", "mixed"};
    for (int32_t r = 0; r < 3; r++)
        if (!strcmp(name, names[r]))
            return r;
    fprintf(stderr, "unknown regime '%s' (joint, disjoint or mixed)\n", name);
    exit(2);
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Scores of every exit on validation and test images under one calibration method: the raw
 * logits, or each exit's calibrator fitted on validation logits applied to both sets. */
typedef struct {
    float *val, *test;
    adapt_score_kind kind;
} scores;

static scores calibrated(const method *how, adapt_score_kind raw, float *val, float *test,
                         const data *d, int32_t exits)
{
    if (how->calibration < 0)
        return (scores){val, test, raw};
    const int64_t nv = adapt_dataset_count(d->val), nt = adapt_dataset_count(d->test);
    scores s = {malloc((size_t)(exits * nv * CLASSES) * sizeof(float)),
                malloc((size_t)(exits * nt * CLASSES) * sizeof(float)),
                raw == ADAPT_SCORES_ONE_VS_ALL ? ADAPT_SCORES_SUB_PROBABILITIES
                                               : ADAPT_SCORES_PROBABILITIES};
    for (int32_t k = 0; k < exits; k++) {
        adapt_calibrator *cal;
        adapt_calibrator_params cp;
        adapt_calibrator_params_init(&cp, sizeof cp);
        cp.method = how->calibration;
        CHECK(adapt_calibrator_fit(&cal, &cp, val + k * nv * CLASSES, d->val_labels, nv,
                                   CLASSES));
        CHECK(adapt_calibrator_apply(s.val + k * nv * CLASSES, cal, val + k * nv * CLASSES, nv,
                                     CLASSES));
        CHECK(adapt_calibrator_apply(s.test + k * nt * CLASSES, cal, test + k * nt * CLASSES,
                                     nt, CLASSES));
        adapt_calibrator_free(cal);
    }
    return s;
}

/* JSON has no NaN: undefined metrics are written as null. */
static void number(FILE *f, double v)
{
    if (v == v)
        fprintf(f, "%.9g", v);
    else
        fputs("null", f);
}

static void numbers(FILE *f, const double *v, int32_t n)
{
    fputc('[', f);
    for (int32_t i = 0; i < n; i++) {
        if (i)
            fputc(',', f);
        number(f, v[i]);
    }
    fputc(']', f);
}

static void write_head_metrics(FILE *f, const scores *s, const data *d, int32_t exits)
{
    const int64_t nt = adapt_dataset_count(d->test);
    fputs("\"heads\":[", f);
    for (int32_t k = 0; k < exits; k++) {
        adapt_metrics_report r = {.struct_size = sizeof r};
        CHECK(adapt_metrics_compute(&r, s->test + k * nt * CLASSES, d->test_labels, nt,
                                    CLASSES, s->kind));
        const double v[] = {r.accuracy, r.ece, r.ks_error, r.nll, r.brier,
                            r.auroc, r.aurc, r.eaurc, r.fpr_at_95_tpr};
        fputs(k ? "," : "", f);
        numbers(f, v, 9);
    }
    fputs("]", f);
}

static void write_curve(FILE *f, const adapt_exit_records *test)
{
    double t[SWEEP_POINTS], b[SWEEP_POINTS], a[SWEEP_POINTS];
    adapt_exit_curve c = {.struct_size = sizeof c};
    CHECK(adapt_exit_sweep(&c, t, b, a, SWEEP_POINTS, test, ADAPT_EXIT_MAX_PROBABILITY));
    fputs(",\"curve\":{\"threshold\":", f);
    numbers(f, t, SWEEP_POINTS);
    fputs(",\"budget\":", f);
    numbers(f, b, SWEEP_POINTS);
    fputs(",\"accuracy\":", f);
    numbers(f, a, SWEEP_POINTS);
    fputs(",\"accuracy_at_budget\":", f);
    numbers(f, c.accuracy_at_budget, 4);
    fputs(",\"area\":", f);
    number(f, c.area);
    fputs("}", f);
}

/* Thresholds chosen on validation for a budget, and what they do on the test set. */
static void write_fitted(FILE *f, const adapt_exit_records *val,
                         const adapt_exit_records *test, int32_t exits)
{
    const double budgets[] = {0.25, 0.5, 0.75};
    fputs(",\"fitted\":[", f);
    for (int i = 0; i < 3; i++) {
        fprintf(f, "%s{\"target\":%g", i ? "," : "", budgets[i]);
        for (int per_head = 0; per_head < 2; per_head++) {
            float thresholds[16];
            adapt_exit_outcome on_val = {.struct_size = sizeof on_val}, on_test = on_val;
            adapt_status st = adapt_exit_fit(thresholds, &on_val, val, ADAPT_EXIT_MAX_PROBABILITY,
                                             per_head, ADAPT_TARGET_BUDGET, budgets[i]);
            fprintf(f, ",\"%s\":", per_head ? "per_head" : "global");
            if (st) { /* a budget below the first exit's cost */
                fputs("null", f);
                continue;
            }
            adapt_exit_policy policy;
            adapt_exit_policy_init(&policy, sizeof policy);
            policy.threshold = thresholds[0];
            policy.head_thresholds = per_head ? thresholds : NULL;
            CHECK(adapt_exit_simulate(&on_test, NULL, test, &policy));
            fputs("{\"thresholds\":", f);
            double t[16];
            for (int32_t k = 0; k < (per_head ? exits - 1 : 1); k++)
                t[k] = thresholds[k];
            numbers(f, t, per_head ? exits - 1 : 1);
            fprintf(f, ",\"val_accuracy\":%.9g,\"test_accuracy\":%.9g,\"test_budget\":%.9g}",
                    on_val.accuracy, on_test.accuracy, on_test.budget);
        }
        fputs("}", f);
    }
    fputs("]", f);
}

static void write_method(FILE *f, const method *how, adapt_score_kind raw, float *val_logits,
                         float *test_logits, const data *d, const adapt_model *m)
{
    const int32_t exits = adapt_model_head_count(m) + 1;
    int64_t costs[16];
    CHECK(adapt_model_exit_flops(costs, 16, m));
    scores s = calibrated(how, raw, val_logits, test_logits, d, exits);
    const adapt_exit_records val = {sizeof val, s.val, s.kind, d->val_labels,
                                    adapt_dataset_count(d->val), exits, CLASSES, costs,
                                    adapt_model_flops(m)};
    adapt_exit_records test = val;
    test.scores = s.test, test.labels = d->test_labels, test.n = adapt_dataset_count(d->test);
    fprintf(f, "%s\"%s\":{", how->calibration < 0 ? "" : ",", how->name);
    write_head_metrics(f, &s, d, exits);
    write_curve(f, &test);
    write_fitted(f, &val, &test, exits);
    fputs("}", f);
    if (how->calibration >= 0) {
        free(s.val);
        free(s.test);
    }
}

static float *exit_logits(adapt_model *m, const adapt_dataset *ds, int32_t threads)
{
    const int64_t n = (int64_t)(adapt_model_head_count(m) + 1) * adapt_dataset_count(ds) * CLASSES;
    float *z = malloc((size_t)n * sizeof *z);
    CHECK(adapt_model_exit_logits(z, n, m, ds, 256, threads));
    return z;
}

int main(int argc, char **argv)
{
    const bool one_vs_all = argc > 1 && !strcmp(argv[1], "--one-vs-all");
    if (one_vs_all)
        argv[1] = argv[0], argv++, argc--;
    if (argc < 5) {
        fprintf(stderr, "usage: %s [--one-vs-all] cnn|vit joint|disjoint|mixed SEED "
                        "RESULTS.json [BACKBONE_EPOCHS EXIT_EPOCHS] [THREADS] [TRAIN_IMAGES] "
                        "[CHECKPOINT]\n", argv[0]);
        return 2;
    }
    const uint64_t seed = strtoull(argv[3], NULL, 10);
    const int32_t backbone_epochs = argc > 6 ? atoi(argv[5]) : 3;
    const int32_t exit_epochs = argc > 6 ? atoi(argv[6]) : 3;
    const int32_t threads = argc > 7 ? atoi(argv[7]) : 0;
    data d = load_data(seed, argc > 8 ? atoll(argv[8]) : 0);
    adapt_train_params backbone, exits;
    adapt_train_params_init(&backbone, sizeof backbone);
    adapt_model *m = build(argv[1], seed, &backbone);
    backbone.schedule = ADAPT_SCHEDULE_COSINE, backbone.batch_size = 128;
    backbone.n_threads = threads, backbone.seed = seed;
    backbone.loss = one_vs_all ? ADAPT_LOSS_ONE_VS_ALL : ADAPT_LOSS_CROSS_ENTROPY;
    exits = backbone;
    backbone.epochs = backbone_epochs, exits.epochs = exit_epochs;
    adapt_exit_train_params r;
    adapt_exit_train_params_init(&r, sizeof r);
    r.regime = regime_of(argv[2]);
    if (r.regime == ADAPT_REGIME_JOINT)
        exits.epochs = backbone_epochs + exit_epochs;
    r.backbone_phase = &backbone, r.exit_phase = &exits;
    printf("%s %s seed %llu: %d exits, backbone %.2f MFLOPs, %lld training images\n", argv[1],
           argv[2], (unsigned long long)seed, adapt_model_head_count(m) + 1,
           (double)adapt_model_flops(m) / 1e6, (long long)adapt_dataset_count(d.train));
    const double t0 = now();
    CHECK(adapt_model_train_exits(m, d.train, d.val, &r));
    const double seconds = now() - t0;
    float *val_logits = exit_logits(m, d.val, threads), *test_logits = exit_logits(m, d.test, threads);

    FILE *f = fopen(argv[4], "w");
    if (!f) {
        perror(argv[4]);
        return 1;
    }
    int64_t costs[16];
    CHECK(adapt_model_exit_flops(costs, 16, m));
    fprintf(f, "{\"arch\":\"%s\",\"regime\":\"%s\",\"loss\":\"%s\",\"seed\":%llu,"
               "\"epochs\":[%d,%d],\"train_seconds\":%.1f,\"train_images\":%lld,"
               "\"backbone_flops\":%lld,\"exit_flops\":[", argv[1], argv[2],
            one_vs_all ? "one_vs_all" : "cross_entropy", (unsigned long long)seed,
            (int)backbone_epochs, (int)exit_epochs, seconds,
            (long long)adapt_dataset_count(d.train), (long long)adapt_model_flops(m));
    for (int32_t k = 0; k <= adapt_model_head_count(m); k++)
        fprintf(f, "%s%lld", k ? "," : "", (long long)costs[k]);
    fputs("],\"methods\":{", f);
    const method *methods = one_vs_all ? one_vs_all_methods : softmax_methods;
    const int n_methods = one_vs_all ? 2 : 5;
    const adapt_score_kind raw = one_vs_all ? ADAPT_SCORES_ONE_VS_ALL : ADAPT_SCORES_LOGITS;
    for (int i = 0; i < n_methods; i++)
        write_method(f, &methods[i], raw, val_logits, test_logits, &d, m);
    fputs("}}\n", f);
    fclose(f);
    printf("trained in %.0f s; results in %s\n", seconds, argv[4]);
    if (argc > 9)
        CHECK(adapt_model_save(m, argv[9]));

    free(val_logits), free(test_logits);
    free(d.val_labels), free(d.test_labels);
    adapt_dataset_free(d.train), adapt_dataset_free(d.unused), adapt_dataset_free(d.val);
    adapt_dataset_free(d.rest), adapt_dataset_free(d.all), adapt_dataset_free(d.test);
    adapt_model_free(m);
    return 0;
}
