/* SLOVA heads as early exits: exits trained on the one-vs-all loss, inference deciding on
 * SLOVA's q (raw and exponentially calibrated) exactly as the simulation of recorded logits
 * does, on an MLP and on a CNN whose first exit is decided in the stem's pass; refusals. */
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "check_util.h"

enum { N = 192, CLASSES = 3, PIXELS = 3 * 8 * 8, EXITS = 3 };

static float images[N * PIXELS];
static int32_t labels[N];

/* Noise whose label's channel is brighter: separable, and harder for the early exits. */
static adapt_dataset *pictures(void)
{
    tu_fill(images, N * PIXELS, 3, 0.0f, 1.0f);
    for (int i = 0; i < N; i++) {
        labels[i] = i % CLASSES;
        for (int p = 0; p < 64; p++)
            images[i * PIXELS + labels[i] * 64 + p] += 0.3f;
    }
    adapt_dataset *ds = NULL;
    TU_OK(adapt_dataset_wrap(&ds, images, 4, (int64_t[]){N, 3, 8, 8}, labels));
    return ds;
}

static void add_head(adapt_model *m, int32_t kind, int32_t block)
{
    adapt_head_params p;
    adapt_head_params_init(&p, sizeof p);
    p.kind = kind, p.block = block, p.seed = 40 + (uint64_t)block;
    adapt_head *h = NULL;
    TU_OK(adapt_head_create(&h, m, &p));
    TU_OK(adapt_model_add_head(m, h, NULL));
}

/* An MLP on the flattened pictures, or a CNN whose first head is SDN on the stem's block. */
static adapt_model *model_with_exits(bool cnn)
{
    adapt_model *m = NULL;
    if (cnn) {
        static const int32_t channels[] = {4, 8}, blocks[] = {1, 1}, strides[] = {1, 2};
        adapt_cnn_params p;
        adapt_cnn_params_init(&p, sizeof p);
        p.image_size = 8, p.n_classes = CLASSES, p.stem_channels = 4, p.n_stages = 2;
        p.stage_channels = channels, p.stage_blocks = blocks, p.stage_strides = strides;
        p.seed = 9;
        TU_OK(adapt_model_create_cnn(&m, &p));
    } else {
        adapt_mlp_params p;
        adapt_mlp_params_init(&p, sizeof p);
        p.n_sizes = 4, p.sizes = (int64_t[]){PIXELS, 24, 24, CLASSES}, p.seed = 8;
        TU_OK(adapt_model_create_mlp(&m, &p));
    }
    add_head(m, cnn ? ADAPT_HEAD_SDN : ADAPT_HEAD_POOLED_LINEAR, 0);
    add_head(m, ADAPT_HEAD_POOLED_LINEAR, 1);
    return m;
}

static adapt_train_params phase(uint64_t seed, int32_t loss)
{
    adapt_train_params p;
    adapt_train_params_init(&p, sizeof p);
    p.epochs = 8, p.batch_size = 32, p.optimizer = ADAPT_OPTIMIZER_ADAMW;
    p.learning_rate = 0.01f, p.seed = seed, p.n_threads = 1, p.loss = loss;
    return p;
}

/* A model with exits trained in the mixed regime on `loss`, and its exits' logits z. */
static adapt_model *trained(bool cnn, int32_t loss, adapt_dataset *ds, float *z)
{
    adapt_model *m = model_with_exits(cnn);
    const adapt_train_params backbone = phase(1, loss), exits = phase(2, loss);
    adapt_exit_train_params tp;
    adapt_exit_train_params_init(&tp, sizeof tp);
    tp.backbone_phase = &backbone, tp.exit_phase = &exits;
    TU_OK(adapt_model_train_exits(m, ds, NULL, &tp));
    TU_OK(adapt_model_exit_logits(z, EXITS * N * CLASSES, m, ds, 64, 1));
    return m;
}

/* Exit k's mean one-vs-all loss sum_c softplus(z_c) - z_y, in long double. */
static long double one_vs_all_loss(const float *z, int k)
{
    long double total = 0.0L;
    for (int i = 0; i < N; i++) {
        const float *row = z + ((int64_t)k * N + i) * CLASSES;
        for (int c = 0; c < CLASSES; c++)
            total += log1pl(expl((long double)row[c]));
        total -= row[labels[i]];
    }
    return total / N;
}

/* log max_k q_k of a row of one-vs-all logits, in long double. */
static long double log_top_q(const float *z)
{
    long double normaliser = 0.0L, top = z[0];
    for (int c = 0; c < CLASSES; c++) {
        normaliser += log1pl(expl((long double)z[c]));
        top = z[c] > top ? z[c] : top;
    }
    return top - normaliser;
}

static int compare_doubles(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The median over samples of exit 0's max q: a threshold that splits. */
static float median_top_q(const float *z)
{
    double top[N];
    for (int i = 0; i < N; i++)
        top[i] = (double)expl(log_top_q(z + i * CLASSES));
    qsort(top, N, sizeof *top, compare_doubles);
    return (float)top[N / 2];
}

typedef struct {
    int32_t prediction[N], exit[N];
    float confidence[N];
} results;

static void infer(results *r, adapt_model *m, const adapt_exit_policy *policy)
{
    adapt_context *ctx = tu_context(ADAPT_BACKEND_DEFAULT);
    TU_OK(adapt_context_set_grad(ctx, 0));
    adapt_tensor *x;
    TU_OK(adapt_tensor_input(&x, ctx, 4, (int64_t[]){N, 3, 8, 8}, images));
    adapt_exit_outputs out = {sizeof out, r->prediction, r->exit, r->confidence, NULL};
    TU_OK(adapt_model_infer_exits(&out, ctx, m, x, policy));
    adapt_context_free(ctx);
}

/* Inference under `policy` answers as the simulation of `scores` (of `kind`) predicts. */
static void check_agreement(adapt_model *m, const adapt_exit_policy *policy,
                            const float *scores, int32_t kind, int64_t *counts)
{
    int64_t costs[EXITS], at[EXITS] = {0}, right = 0;
    TU_OK(adapt_model_exit_flops(costs, EXITS, m));
    adapt_exit_records rec = {sizeof rec, scores, kind, labels, N, EXITS, CLASSES, costs,
                              adapt_model_flops(m)};
    adapt_exit_outcome outcome = {.struct_size = sizeof outcome};
    TU_OK(adapt_exit_simulate(&outcome, counts, &rec, policy));
    results r;
    infer(&r, m, policy);
    for (int i = 0; i < N; i++)
        at[r.exit[i]]++, right += r.prediction[i] == labels[i];
    ck_assert_mem_eq(at, counts, sizeof at);
    ck_assert_double_eq_tol(outcome.accuracy, (double)right / N, 1e-12);
}

/* Exits trained on the one-vs-all loss have a lower mean one-vs-all loss than exits trained
 * on the cross-entropy. Inference on q, raw and calibrated, exits where the simulation of the
 * recorded logits says, with confidence max q; q below the softmax lets fewer samples out
 * early than a softmax reading would. */
START_TEST(one_vs_all_exits_train_and_decide_on_q)
{
    const bool cnn = _i == 1;
    adapt_dataset *ds = pictures();
    static float z[EXITS * N * CLASSES], softmax_z[EXITS * N * CLASSES];
    static float calibrated[EXITS * N * CLASSES];
    adapt_model *m = trained(cnn, ADAPT_LOSS_ONE_VS_ALL, ds, z);
    adapt_model_free(trained(cnn, ADAPT_LOSS_CROSS_ENTROPY, ds, softmax_z));
    long double objective = 0.0L, softmax_objective = 0.0L; /* the exit phase's, 1/E each */
    for (int k = 0; k < EXITS; k++) {
        objective += one_vs_all_loss(z, k) / EXITS;
        softmax_objective += one_vs_all_loss(softmax_z, k) / EXITS;
    }
    ck_assert_msg(objective < 0.8L * softmax_objective, "%Lg against %Lg", objective,
                  softmax_objective);
    adapt_exit_policy policy;
    adapt_exit_policy_init(&policy, sizeof policy);
    policy.threshold = median_top_q(z), policy.scores = ADAPT_SCORES_ONE_VS_ALL;
    int64_t on_q[EXITS], on_softmax[EXITS];
    check_agreement(m, &policy, z, ADAPT_SCORES_ONE_VS_ALL, on_q);
    results r;
    infer(&r, m, &policy);
    for (int i = 0; i < N; i++) {
        const float *row = z + ((int64_t)r.exit[i] * N + i) * CLASSES;
        ck_assert_double_eq_tol(r.confidence[i], (double)expl(log_top_q(row)), 1e-6);
    }
    policy.scores = ADAPT_SCORES_LOGITS;
    check_agreement(m, &policy, z, ADAPT_SCORES_LOGITS, on_softmax);
    ck_assert_msg(on_q[0] < on_softmax[0], "first exit: %lld on q, %lld on the softmax",
                  (long long)on_q[0], (long long)on_softmax[0]);
    adapt_calibrator *cal[EXITS];
    adapt_calibrator_params cp;
    adapt_calibrator_params_init(&cp, sizeof cp);
    cp.method = ADAPT_CALIBRATION_EXPONENTIAL;
    for (int k = 0; k < EXITS; k++) {
        const float *zk = z + (int64_t)k * N * CLASSES;
        TU_OK(adapt_calibrator_fit(&cal[k], &cp, zk, labels, N, CLASSES));
        TU_OK(adapt_calibrator_apply(calibrated + (int64_t)k * N * CLASSES, cal[k], zk, N,
                                     CLASSES));
    }
    policy.scores = ADAPT_SCORES_ONE_VS_ALL;
    policy.calibrators = (const adapt_calibrator *const *)cal;
    check_agreement(m, &policy, calibrated, ADAPT_SCORES_SUB_PROBABILITIES, on_q);
    for (int k = 0; k < EXITS; k++)
        adapt_calibrator_free(cal[k]);
    adapt_model_free(m);
    adapt_dataset_free(ds);
}
END_TEST

START_TEST(mismatched_settings_are_refused)
{
    adapt_dataset *ds = pictures();
    adapt_model *m = model_with_exits(false);
    adapt_train_params exits = phase(2, ADAPT_LOSS_ONE_VS_ALL);
    exits.epochs = 1;
    adapt_exit_train_params tp;
    adapt_exit_train_params_init(&tp, sizeof tp);
    tp.regime = ADAPT_REGIME_JOINT, tp.exit_phase = &exits, tp.distillation = 0.5f;
    TU_FAILS(adapt_model_train_exits(m, ds, NULL, &tp), ADAPT_ERR_INVALID_ARGUMENT);
    tp.distillation = 0.0f;
    TU_OK(adapt_model_train_exits(m, ds, NULL, &tp));
    static float z[EXITS * N * CLASSES];
    TU_OK(adapt_model_exit_logits(z, EXITS * N * CLASSES, m, ds, 64, 1));
    adapt_calibrator_params cp;
    adapt_calibrator_params_init(&cp, sizeof cp);
    adapt_calibrator *temperature, *exponential;
    TU_OK(adapt_calibrator_fit(&temperature, &cp, z, labels, N, CLASSES));
    cp.method = ADAPT_CALIBRATION_EXPONENTIAL;
    TU_OK(adapt_calibrator_fit(&exponential, &cp, z, labels, N, CLASSES));
    const adapt_calibrator *softmax_one[EXITS] = {NULL, temperature, NULL};
    const adapt_calibrator *slova_one[EXITS] = {exponential, NULL, NULL};
    adapt_exit_policy policy;
    adapt_exit_policy_init(&policy, sizeof policy);
    results r = {0};
    adapt_exit_outputs out = {sizeof out, r.prediction, r.exit, r.confidence, NULL};
    adapt_context *ctx = tu_context(ADAPT_BACKEND_DEFAULT);
    TU_OK(adapt_context_set_grad(ctx, 0));
    adapt_tensor *x;
    TU_OK(adapt_tensor_input(&x, ctx, 4, (int64_t[]){N, 3, 8, 8}, images));
    const struct {
        int32_t scores;
        const adapt_calibrator *const *calibrators;
    } bad[] = {{ADAPT_SCORES_PROBABILITIES, NULL}, {ADAPT_SCORES_SUB_PROBABILITIES, NULL},
               {ADAPT_SCORES_ONE_VS_ALL, softmax_one}, {ADAPT_SCORES_LOGITS, slova_one}};
    for (size_t b = 0; b < sizeof bad / sizeof bad[0]; b++) {
        policy.scores = bad[b].scores, policy.calibrators = bad[b].calibrators;
        TU_FAILS(adapt_model_infer_exits(&out, ctx, m, x, &policy), ADAPT_ERR_INVALID_ARGUMENT);
        ck_assert_int_eq(r.exit[0], 0); /* outputs untouched */
    }
    policy.scores = ADAPT_SCORES_ONE_VS_ALL, policy.calibrators = slova_one;
    TU_OK(adapt_model_infer_exits(&out, ctx, m, x, &policy));
    adapt_context_free(ctx);
    adapt_calibrator_free(temperature);
    adapt_calibrator_free(exponential);
    adapt_model_free(m);
    adapt_dataset_free(ds);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("slova_exits");
    TCase *tc = tcase_create("slova_exits");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, one_vs_all_exits_train_and_decide_on_q, 0, 2);
    tcase_add_test(tc, mismatched_settings_are_refused);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
