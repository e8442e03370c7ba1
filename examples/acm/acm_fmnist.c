/* acm_fmnist — one run of the Adaptive Computation Module reproduction on Fashion-MNIST
 * (docs/acm.md), on the ViT of the D2DMoE reproduction (examples/moe), trained the same way
 * from the same seed.
 *
 *   acm_fmnist SEED RESULTS.csv [EPOCHS] [LEARNERS] [THREADS]
 *
 * Trains the ViT for EPOCHS epochs (default 3), then:
 *   early exits  heads after blocks 1-2 trained on the frozen model: the cost-accuracy curve
 *                of a max-probability threshold sweep, as in the D2DMoE run;
 *   phase 1      an ACM of LEARNERS learners (default 4) for every block's MLP, distilled 4
 *                epochs on what the MLPs receive and return for 10000 training images; then
 *                every fixed learner count c run by every token;
 *   phase 2      the gates trained 3 epochs on the labels of gamma = 1.2;
 *   phase 3      from there, for each budget beta in 0.25, 0.4, 0.6, 0.75: the whole model
 *                fine-tuned EPOCHS - 1 epochs with the budget terms, then tested; and the
 *                mean learner count of every token position per block over the test set.
 * Appends CSV rows seed,method,setting,accuracy,mflops,ffn_mflops, and map rows
 * seed,map,beta,block,counts (the 17 token positions' mean counts, ';'-separated).
 * examples/acm/summarize.py turns the runs into tables and plots. */
#include <string.h>

#include "../common/fmnist_run.h"

enum { BLOCKS = 4, TOKENS = 17, MAP_IMAGES = 2000 };

static const char *const mlps[BLOCKS] = {"blocks.0.mlp", "blocks.1.mlp", "blocks.2.mlp",
                                         "blocks.3.mlp"};
static const float budgets[] = {0.25f, 0.4f, 0.6f, 0.75f};

/* What every MLP receives and returns for the 10000 sampled training images. */
static void record_mlps(const fmnist_run *r, adapt_model *m, adapt_recording **recs)
{
    adapt_record_params rp;
    adapt_record_params_init(&rp, sizeof rp);
    rp.n_threads = r->threads;
    for (int32_t b = 0; b < BLOCKS; b++)
        CHECK(adapt_model_record(&recs[b], m, mlps[b], r->sample, &rp));
}

/* Phases 1 and 2 for every MLP, the ACMs then in place of the MLPs. */
static void acmize(const fmnist_run *r, adapt_model *m, int32_t learners)
{
    adapt_recording *recs[BLOCKS];
    adapt_model *acms[BLOCKS];
    record_mlps(r, m, recs);
    adapt_acm_params ap;
    adapt_acm_params_init(&ap, sizeof ap);
    ap.learners = learners, ap.seed = r->seed;
    for (int32_t b = 0; b < BLOCKS; b++)
        CHECK(adapt_acm_for(&acms[b], m, mlps[b], &ap));
    const adapt_recording *const *recorded = (const adapt_recording *const *)recs;
    adapt_train_params tp = fmnist_train_params(r, 4, 1e-3f);
    tp.weight_decay = 0.0f;
    printf("  phase 1: distilling %d ACMs of %d learners\n", BLOCKS, (int)learners);
    CHECK(adapt_acm_distill(acms, recorded, BLOCKS, &tp));
    tp.epochs = 3;
    printf("  phase 2: the gates\n");
    CHECK(adapt_acm_train_gates(acms, recorded, BLOCKS, 1.2f, &tp));
    for (int32_t b = 0; b < BLOCKS; b++) {
        CHECK(adapt_model_replace(m, mlps[b], acms[b], NULL));
        adapt_recording_free(recs[b]);
    }
}

/* The mean learner count of each token position per block, over the first MAP_IMAGES test
 * images: what each block's ACM receives, recorded, and its counts on that. */
static void compute_map(const fmnist_run *r, adapt_model *m, double beta)
{
    adapt_dataset *rest, *images;
    CHECK(adapt_dataset_split(&rest, &images, r->test,
                              (float)MAP_IMAGES / (float)adapt_dataset_count(r->test), 0));
    adapt_record_params rp;
    adapt_record_params_init(&rp, sizeof rp);
    rp.n_threads = r->threads;
    adapt_context *ctx = fmnist_context(r);
    for (int32_t b = 0; b < BLOCKS; b++) {
        adapt_recording *rec;
        adapt_model *acm; /* handed back for the counts, then put in place again */
        CHECK(adapt_model_record(&rec, m, mlps[b], images, &rp));
        CHECK(adapt_model_replace(m, mlps[b], NULL, &acm));
        int32_t ndim;
        int64_t shape[ADAPT_MAX_DIMS];
        const float *in = adapt_recording_data(rec, 0, &ndim, shape);
        adapt_tensor *x;
        adapt_context_reset(ctx);
        CHECK(adapt_tensor_input(&x, ctx, ndim, shape, in));
        int32_t *counts = malloc((size_t)(shape[0] * TOKENS) * sizeof *counts);
        CHECK(adapt_acm_learner_counts(counts, ctx, acm, x));
        CHECK(adapt_model_replace(m, mlps[b], acm, NULL));
        fprintf(r->out, "%llu,map,%g,%d,", (unsigned long long)r->seed, beta, (int)b);
        for (int32_t t = 0; t < TOKENS; t++) {
            double sum = 0.0;
            for (int64_t i = 0; i < shape[0]; i++)
                sum += counts[i * TOKENS + t];
            fprintf(r->out, "%s%.4f", t ? ";" : "", sum / (double)shape[0]);
        }
        fprintf(r->out, ",\n");
        free(counts);
        adapt_recording_free(rec);
    }
    adapt_context_free(ctx);
    adapt_dataset_free(rest), adapt_dataset_free(images);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s SEED RESULTS.csv [EPOCHS] [LEARNERS] [THREADS]\n", argv[0]);
        return 2;
    }
    fmnist_run r = {.seed = strtoull(argv[1], NULL, 10), .epochs = argc > 3 ? atoi(argv[3]) : 3,
                    .threads = argc > 5 ? atoi(argv[5]) : 0};
    const int32_t learners = argc > 4 ? atoi(argv[4]) : 4;
    fmnist_open(&r, argv[2]);
    printf("seed %llu: vit, %d epochs; %d learners\n", (unsigned long long)r.seed,
           (int)r.epochs, (int)learners);
    adapt_model *m = fmnist_vit(&r);
    fmnist_train_dense(&r, m, mlps, BLOCKS);
    fmnist_emit(&r, m, "dense", 0);
    char dense[64], phase2[64];
    snprintf(dense, sizeof dense, "acm_dense_%llu.safetensors", (unsigned long long)r.seed);
    snprintf(phase2, sizeof phase2, "acm_gates_%llu.safetensors", (unsigned long long)r.seed);
    CHECK(adapt_model_save(m, dense));
    fmnist_early_exits(&r, dense, ADAPT_HEAD_CLS_MLP, 1, 2);
    remove(dense);
    acmize(&r, m, learners);
    for (int32_t c = 0; c <= learners; c++) {
        CHECK(adapt_model_set_acm_learners(m, c, NULL));
        fmnist_emit(&r, m, "acm_fixed", c);
    }
    CHECK(adapt_model_set_acm_learners(m, -1, NULL));
    fmnist_emit(&r, m, "acm_gates", 0);
    CHECK(adapt_model_save(m, phase2));
    adapt_model_free(m);
    for (size_t i = 0; i < sizeof budgets / sizeof *budgets; i++) {
        CHECK(adapt_model_load(&m, phase2));
        adapt_train_params tp = fmnist_train_params(&r, r.epochs > 1 ? r.epochs - 1 : 1, 5e-4f);
        tp.acm_budget = budgets[i];
        printf("  phase 3: budget %g\n", (double)budgets[i]);
        CHECK(adapt_model_train(m, r.train, NULL, &tp));
        fmnist_emit(&r, m, "acm", budgets[i]);
        compute_map(&r, m, budgets[i]);
        adapt_model_free(m);
    }
    remove(phase2);
    fmnist_close(&r);
    return 0;
}
