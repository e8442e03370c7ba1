/* Training regimes and early-stopping inference of multi-exit models: which parameters each
 * regime moves (bit for bit), that exits learn, determinism, every decision rule against a
 * simulation written here from the logits of every exit, compaction giving the per-sample
 * results of batch-1 runs, agreement with adapt_exit_simulate on recorded logits, and errors
 * that leave the caller's arrays alone. */
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "check_util.h"
#include "lib/models/model.h"

#define N_SAMPLES 192
#define N_FEATURES 8
#define N_CLASSES 3

static float xs[N_SAMPLES * N_FEATURES];
static int32_t ys[N_SAMPLES];
static float images[N_SAMPLES * 192];

/* Labels = argmax of a fixed linear map, points pushed away from the boundaries; the images
 * carry the same label in their first eight values. */
static void make_problem(void)
{
    float w[N_CLASSES * N_FEATURES];
    tu_fill(w, N_CLASSES * N_FEATURES, 5, -1.0f, 1.0f);
    tu_fill(xs, N_SAMPLES * N_FEATURES, 6, -1.0f, 1.0f);
    tu_fill(images, N_SAMPLES * 192, 7, -1.0f, 1.0f);
    for (int i = 0; i < N_SAMPLES; i++) {
        float *x = xs + i * N_FEATURES, score[N_CLASSES] = {0};
        for (int c = 0; c < N_CLASSES; c++)
            for (int j = 0; j < N_FEATURES; j++)
                score[c] += w[c * N_FEATURES + j] * x[j];
        int best = 0;
        for (int c = 1; c < N_CLASSES; c++)
            best = score[c] > score[best] ? c : best;
        ys[i] = best;
        for (int j = 0; j < N_FEATURES; j++)
            x[j] += 0.3f * w[best * N_FEATURES + j];
        memcpy(images + i * 192, x, N_FEATURES * sizeof *x);
    }
}

static adapt_dataset *vectors(void)
{
    adapt_dataset *ds = NULL;
    TU_OK(adapt_dataset_wrap(&ds, xs, 2, (int64_t[]){N_SAMPLES, N_FEATURES}, ys));
    return ds;
}

static adapt_dataset *pictures(void)
{
    adapt_dataset *ds = NULL;
    TU_OK(adapt_dataset_wrap(&ds, images, 4, (int64_t[]){N_SAMPLES, 3, 8, 8}, ys));
    return ds;
}

static void add(adapt_model *m, int32_t kind, int32_t block, int32_t cascade)
{
    adapt_head_params p;
    adapt_head_params_init(&p, sizeof p);
    p.kind = kind, p.block = block, p.cascade = cascade, p.seed = 40 + (uint64_t)block;
    adapt_head *h = NULL;
    TU_OK(adapt_head_create(&h, m, &p));
    TU_OK(adapt_model_add_head(m, h, NULL));
}

/* MLP 8-24-24-3 with pooled heads after blocks 0 and 1. */
static adapt_model *mlp_with_exits(void)
{
    const int64_t sizes[] = {N_FEATURES, 24, 24, N_CLASSES};
    adapt_mlp_params p;
    adapt_mlp_params_init(&p, sizeof p);
    p.n_sizes = 4, p.sizes = sizes, p.seed = 8;
    adapt_model *m = NULL;
    TU_OK(adapt_model_create_mlp(&m, &p));
    add(m, ADAPT_HEAD_POOLED_LINEAR, 0, 0);
    add(m, ADAPT_HEAD_POOLED_LINEAR, 1, 1);
    return m;
}

/* CNN on 3x8x8 (batch norm in every block) with a pooled head and a cascading SDN head that
 * pools 8x8 maps with window 2. */
static adapt_model *cnn_with_exits(void)
{
    static const int32_t channels[] = {4, 8}, blocks[] = {1, 1}, strides[] = {1, 2};
    adapt_cnn_params p;
    adapt_cnn_params_init(&p, sizeof p);
    p.image_size = 8, p.n_classes = N_CLASSES, p.stem_channels = 4, p.n_stages = 2;
    p.stage_channels = channels, p.stage_blocks = blocks, p.stage_strides = strides;
    p.seed = 9;
    adapt_model *m = NULL;
    TU_OK(adapt_model_create_cnn(&m, &p));
    add(m, ADAPT_HEAD_POOLED_LINEAR, 0, 0);
    add(m, ADAPT_HEAD_SDN, 1, 1);
    return m;
}

static adapt_train_params phase(int32_t epochs, uint64_t seed)
{
    adapt_train_params p;
    adapt_train_params_init(&p, sizeof p);
    p.epochs = epochs, p.batch_size = 32, p.optimizer = ADAPT_OPTIMIZER_ADAMW;
    p.learning_rate = 0.02f, p.seed = seed, p.n_threads = 1;
    return p;
}

static adapt_exit_train_params regime(int32_t kind, const adapt_train_params *backbone,
                                      const adapt_train_params *exits)
{
    adapt_exit_train_params p;
    adapt_exit_train_params_init(&p, sizeof p);
    p.regime = kind, p.backbone_phase = backbone, p.exit_phase = exits;
    return p;
}

/* Whether parameters [first, last) of a and b hold the same bits. */
static bool same_params(const adapt_model *a, const adapt_model *b, int32_t first, int32_t last)
{
    for (int32_t i = first; i < last; i++) {
        const adapt_tensor *x = adapt_model_param(a, i), *y = adapt_model_param(b, i);
        if (memcmp(adapt_tensor_data(x), adapt_tensor_data(y),
                   (size_t)adapt_tensor_numel(x) * sizeof(float)) != 0)
            return false;
    }
    return true;
}

START_TEST(disjoint_trains_heads_on_a_frozen_backbone)
{
    make_problem();
    adapt_dataset *ds = pictures();
    adapt_model *a = cnn_with_exits(), *b = cnn_with_exits(), *fresh = cnn_with_exits();
    const adapt_train_params p1 = phase(1, 1), p2 = phase(2, 2);
    const adapt_exit_train_params r = regime(ADAPT_REGIME_DISJOINT, &p1, &p2);
    TU_OK(adapt_model_train_exits(a, ds, NULL, &r));
    TU_OK(adapt_model_train(b, ds, NULL, &p1)); /* the backbone phase alone */
    const int32_t n = adapt_model_param_count(a), backbone = ad_backbone_param_count(a);
    /* Backbone, batch-norm statistics included, exactly as after its own phase... */
    ck_assert(same_params(a, b, 0, backbone));
    ck_assert(!same_params(a, fresh, 0, backbone));
    /* ...and heads trained, which adapt_model_train leaves alone. */
    ck_assert(same_params(b, fresh, backbone, n));
    for (int32_t i = backbone; i < n; i++)
        ck_assert_msg(!same_params(a, fresh, i, i + 1), "%s untrained",
                      adapt_model_param_name(a, i));
    adapt_model_free(a);
    adapt_model_free(b);
    adapt_model_free(fresh);
    adapt_dataset_free(ds);
}
END_TEST

START_TEST(mixed_and_joint_train_everything_reproducibly)
{
    make_problem();
    adapt_dataset *ds = pictures();
    adapt_model *mixed = cnn_with_exits(), *backbone_only = cnn_with_exits();
    adapt_model *joint = cnn_with_exits(), *again = cnn_with_exits(), *fresh = cnn_with_exits();
    const adapt_train_params p1 = phase(1, 1), p2 = phase(1, 2);
    adapt_exit_train_params r = regime(ADAPT_REGIME_MIXED, &p1, &p2);
    TU_OK(adapt_model_train_exits(mixed, ds, NULL, &r));
    TU_OK(adapt_model_train(backbone_only, ds, NULL, &p1));
    const int32_t n = adapt_model_param_count(mixed), backbone = ad_backbone_param_count(mixed);
    ck_assert(!same_params(mixed, backbone_only, 0, backbone)); /* the exit phase moved it */
    ck_assert(!same_params(mixed, fresh, backbone, n));
    r = regime(ADAPT_REGIME_JOINT, &p1, &p2); /* the backbone phase is ignored */
    TU_OK(adapt_model_train_exits(joint, ds, NULL, &r));
    TU_OK(adapt_model_train_exits(again, ds, NULL, &r));
    ck_assert(same_params(joint, again, 0, n));
    ck_assert(!same_params(joint, fresh, 0, backbone));
    ck_assert(!same_params(joint, mixed, 0, n));
    adapt_model *models[] = {mixed, backbone_only, joint, again, fresh};
    for (size_t i = 0; i < 5; i++)
        adapt_model_free(models[i]);
    adapt_dataset_free(ds);
}
END_TEST

/* Accuracy of exit k over the whole dataset. */
static double exit_accuracy(adapt_model *m, const adapt_dataset *ds, int32_t k)
{
    const int32_t exits = adapt_model_head_count(m) + 1;
    const int64_t count = (int64_t)exits * N_SAMPLES * N_CLASSES;
    float *z = malloc((size_t)count * sizeof *z);
    TU_OK(adapt_model_exit_logits(z, count, m, ds, 50, 1));
    int64_t right = 0;
    for (int64_t i = 0; i < N_SAMPLES; i++) {
        const float *row = z + ((int64_t)k * N_SAMPLES + i) * N_CLASSES;
        int32_t best = 0;
        for (int32_t c = 1; c < N_CLASSES; c++)
            best = row[c] > row[best] ? c : best;
        right += best == ys[i];
    }
    free(z);
    return (double)right / N_SAMPLES;
}

START_TEST(every_exit_learns_and_options_matter)
{
    make_problem();
    adapt_dataset *ds = vectors();
    adapt_model *plain = mlp_with_exits(), *distilled = mlp_with_exits();
    adapt_model *weighted = mlp_with_exits();
    const adapt_train_params p1 = phase(3, 1), p2 = phase(6, 2);
    adapt_exit_train_params r = regime(ADAPT_REGIME_MIXED, &p1, &p2);
    TU_OK(adapt_model_train_exits(plain, ds, NULL, &r));
    for (int32_t k = 0; k < 3; k++) {
        const double acc = exit_accuracy(plain, ds, k);
        ck_assert_msg(acc > 0.9, "exit %d: accuracy %.3f", (int)k, acc);
    }
    r.distillation = 0.5f, r.distillation_temperature = 2.0f;
    TU_OK(adapt_model_train_exits(distilled, ds, NULL, &r));
    r = regime(ADAPT_REGIME_MIXED, &p1, &p2), r.proportional_weights = 1;
    TU_OK(adapt_model_train_exits(weighted, ds, NULL, &r));
    const int32_t n = adapt_model_param_count(plain), backbone = ad_backbone_param_count(plain);
    ck_assert(!same_params(plain, distilled, backbone, n));
    ck_assert(!same_params(plain, weighted, 0, n));
    adapt_model_free(plain);
    adapt_model_free(distilled);
    adapt_model_free(weighted);
    adapt_dataset_free(ds);
}
END_TEST

START_TEST(training_exits_rejects_bad_arguments)
{
    make_problem();
    adapt_dataset *ds = vectors();
    adapt_model *m = mlp_with_exits(), *bare = NULL;
    const int64_t sizes[] = {N_FEATURES, 24, N_CLASSES};
    adapt_mlp_params mp;
    adapt_mlp_params_init(&mp, sizeof mp);
    mp.n_sizes = 3, mp.sizes = sizes;
    TU_OK(adapt_model_create_mlp(&bare, &mp));
    adapt_exit_train_params r = regime(ADAPT_REGIME_JOINT, NULL, NULL);
    TU_FAILS(adapt_model_train_exits(bare, ds, NULL, &r), ADAPT_ERR_STATE);
    TU_FAILS(adapt_model_train_exits(NULL, ds, NULL, &r), ADAPT_ERR_INVALID_ARGUMENT);
    r.regime = 3;
    TU_FAILS(adapt_model_train_exits(m, ds, NULL, &r), ADAPT_ERR_INVALID_ARGUMENT);
    r = regime(ADAPT_REGIME_JOINT, NULL, NULL), r.distillation = 1.5f;
    TU_FAILS(adapt_model_train_exits(m, ds, NULL, &r), ADAPT_ERR_INVALID_ARGUMENT);
    r = regime(ADAPT_REGIME_JOINT, NULL, NULL), r.distillation_temperature = NAN;
    TU_FAILS(adapt_model_train_exits(m, ds, NULL, &r), ADAPT_ERR_INVALID_ARGUMENT);
    r = regime(ADAPT_REGIME_JOINT, NULL, NULL), r.struct_size = 0;
    TU_FAILS(adapt_model_train_exits(m, ds, NULL, &r), ADAPT_ERR_INVALID_ARGUMENT);
    adapt_train_params bad = phase(1, 1);
    bad.learning_rate = -1.0f;
    r = regime(ADAPT_REGIME_JOINT, NULL, &bad);
    TU_FAILS(adapt_model_train_exits(m, ds, NULL, &r), ADAPT_ERR_INVALID_ARGUMENT);
    adapt_model_free(m);
    adapt_model_free(bare);
    adapt_dataset_free(ds);
}
END_TEST

/* ---- inference ---------------------------------------------------------------------- */

typedef struct {
    int32_t prediction[N_SAMPLES], exit[N_SAMPLES];
    float confidence[N_SAMPLES];
    int64_t flops[N_SAMPLES];
} results;

static adapt_exit_outputs outputs_of(results *r)
{
    return (adapt_exit_outputs){sizeof(adapt_exit_outputs), r->prediction, r->exit,
                                r->confidence, r->flops};
}

static adapt_context *inference_context(void)
{
    adapt_context *ctx = tu_context(ADAPT_BACKEND_REFERENCE); /* rows independent of batch */
    TU_OK(adapt_context_set_grad(ctx, 0));
    return ctx;
}

/* Samples [first, first + n) of the pictures through adapt_model_infer_exits into r. */
static void infer(results *r, adapt_context *ctx, adapt_model *m, int64_t first, int64_t n,
                  const adapt_exit_policy *policy)
{
    adapt_context_reset(ctx);
    adapt_tensor *x;
    TU_OK(adapt_tensor_input(&x, ctx, 4, (int64_t[]){n, 3, 8, 8}, images + first * 192));
    results part;
    adapt_exit_outputs out = outputs_of(&part);
    TU_OK(adapt_model_infer_exits(&out, ctx, m, x, policy));
    memcpy(r->prediction + first, part.prediction, (size_t)n * sizeof(int32_t));
    memcpy(r->exit + first, part.exit, (size_t)n * sizeof(int32_t));
    memcpy(r->confidence + first, part.confidence, (size_t)n * sizeof(float));
    memcpy(r->flops + first, part.flops, (size_t)n * sizeof(int64_t));
}

/* The decision of `policy` for sample i, from the logits of every exit, written out here. */
static void simulate(int32_t *prediction, int32_t *exit, double *top, const float *z,
                     int32_t exits, int64_t i, const adapt_exit_policy *policy)
{
    int32_t streak = 0, last = -1;
    for (int32_t k = 0; k < exits; k++) {
        const float *row = z + ((int64_t)k * N_SAMPLES + i) * N_CLASSES;
        double p[N_CLASSES], m = row[0], sum = 0.0, entropy = 0.0;
        for (int c = 1; c < N_CLASSES; c++)
            m = row[c] > m ? row[c] : m;
        for (int c = 0; c < N_CLASSES; c++)
            sum += p[c] = exp(row[c] - m);
        int32_t best = 0;
        for (int c = 0; c < N_CLASSES; c++) {
            p[c] /= sum;
            entropy -= p[c] > 0 ? p[c] * log(p[c]) : 0.0;
            best = p[c] > p[best] ? c : best;
        }
        streak = best == last ? streak + 1 : 1;
        last = best;
        const bool leaves = policy->rule == ADAPT_EXIT_MAX_PROBABILITY ? p[best] >= policy->threshold
                            : policy->rule == ADAPT_EXIT_ENTROPY ? entropy <= policy->threshold
                                                                  : streak >= policy->patience;
        if (leaves || k == exits - 1) {
            *prediction = best, *exit = k, *top = p[best];
            return;
        }
    }
}

/* The inference tests share one trained CNN and its recorded exit logits, made once before
 * they fork (an unchecked fixture); no test changes them. */
static adapt_model *trained;
static adapt_dataset *test_set;
static float *recorded; /* [3][N_SAMPLES][N_CLASSES] */
static int64_t costs[3];

static void train_once(void)
{
    make_problem();
    test_set = pictures();
    trained = cnn_with_exits();
    const adapt_train_params p1 = phase(2, 1), p2 = phase(2, 2);
    const adapt_exit_train_params r = regime(ADAPT_REGIME_MIXED, &p1, &p2);
    TU_OK(adapt_model_train_exits(trained, test_set, NULL, &r));
    const int64_t count = 3 * N_SAMPLES * N_CLASSES;
    recorded = malloc((size_t)count * sizeof *recorded);
    TU_OK(adapt_model_exit_logits(recorded, count, trained, test_set, 64, 1));
    TU_OK(adapt_model_exit_flops(costs, 3, trained));
}

static void release_once(void)
{
    free(recorded);
    adapt_dataset_free(test_set);
    adapt_model_free(trained);
}

static int compare_doubles(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The median over samples of exit 0's largest probability: a threshold that splits. */
static float median_top(const float *z)
{
    double top[N_SAMPLES];
    for (int64_t i = 0; i < N_SAMPLES; i++) {
        const float *row = z + i * N_CLASSES;
        double m = row[0], sum = 0.0;
        for (int c = 1; c < N_CLASSES; c++)
            m = row[c] > m ? row[c] : m;
        for (int c = 0; c < N_CLASSES; c++)
            sum += exp(row[c] - m);
        top[i] = 1.0 / sum;
    }
    qsort(top, N_SAMPLES, sizeof *top, compare_doubles);
    return (float)top[N_SAMPLES / 2];
}

START_TEST(inference_decides_as_the_rules_say)
{
    adapt_model *m = trained;
    const float *z = recorded;
    adapt_context *ctx = inference_context();
    const struct { int32_t rule; float threshold; int32_t patience; } cases[] = {
        {ADAPT_EXIT_MAX_PROBABILITY, 0.0f, 1}, {ADAPT_EXIT_MAX_PROBABILITY, median_top(z), 1},
        {ADAPT_EXIT_MAX_PROBABILITY, 1.5f, 1}, {ADAPT_EXIT_ENTROPY, 0.5f, 1},
        {ADAPT_EXIT_PATIENCE, 0.0f, 2}};
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        adapt_exit_policy policy;
        adapt_exit_policy_init(&policy, sizeof policy);
        policy.rule = cases[c].rule, policy.threshold = cases[c].threshold;
        policy.patience = cases[c].patience;
        results r;
        infer(&r, ctx, m, 0, N_SAMPLES, &policy);
        int64_t at[3] = {0};
        for (int64_t i = 0; i < N_SAMPLES; i++) {
            int32_t prediction, exit;
            double top;
            simulate(&prediction, &exit, &top, z, 3, i, &policy);
            ck_assert_int_eq(r.exit[i], exit);
            ck_assert_int_eq(r.prediction[i], prediction);
            ck_assert_float_eq_tol(r.confidence[i], top, 1e-6);
            ck_assert_int_eq(r.flops[i], costs[exit]);
            at[exit]++;
        }
        if (c == 0)
            ck_assert_int_eq(at[0], N_SAMPLES); /* threshold 0: everyone leaves first */
        if (c == 2)
            ck_assert_int_eq(at[2], N_SAMPLES); /* above 1: nobody leaves early */
        if (c == 1)
            ck_assert_msg(at[0] > 0 && at[0] < N_SAMPLES, "a split case: %lld at head 0",
                          (long long)at[0]);
    }
    adapt_context_free(ctx);
}
END_TEST

START_TEST(compacted_batches_give_batch_one_results)
{
    adapt_model *m = trained;
    const float *z = recorded;
    adapt_context *ctx = inference_context();
    adapt_exit_policy policy;
    adapt_exit_policy_init(&policy, sizeof policy);
    policy.threshold = median_top(z);
    results batch, single;
    infer(&batch, ctx, m, 0, N_SAMPLES, &policy);
    for (int64_t i = 0; i < N_SAMPLES; i++)
        infer(&single, ctx, m, i, 1, &policy);
    ck_assert_mem_eq(batch.prediction, single.prediction, sizeof batch.prediction);
    ck_assert_mem_eq(batch.exit, single.exit, sizeof batch.exit);
    ck_assert_mem_eq(batch.confidence, single.confidence, sizeof batch.confidence);
    ck_assert_mem_eq(batch.flops, single.flops, sizeof batch.flops);
    int64_t at[3] = {0};
    for (int64_t i = 0; i < N_SAMPLES; i++)
        at[batch.exit[i]]++;
    ck_assert_msg(at[0] && at[1] && at[2], "exits taken: %lld %lld %lld", (long long)at[0],
                  (long long)at[1], (long long)at[2]);
    adapt_context_free(ctx);
}
END_TEST

START_TEST(recorded_logits_simulate_what_inference_does)
{
    adapt_model *m = trained;
    const float *z = recorded;
    const float thresholds[] = {0.7f, 0.5f};
    adapt_exit_policy policy;
    adapt_exit_policy_init(&policy, sizeof policy);
    policy.head_thresholds = thresholds;
    adapt_exit_records rec = {sizeof rec, z, ADAPT_SCORES_LOGITS, ys, N_SAMPLES, 3, N_CLASSES,
                              costs, adapt_model_flops(m)};
    adapt_exit_outcome outcome = {.struct_size = sizeof outcome};
    int64_t counts[3];
    TU_OK(adapt_exit_simulate(&outcome, counts, &rec, &policy));
    adapt_context *ctx = inference_context();
    results r;
    infer(&r, ctx, m, 0, N_SAMPLES, &policy);
    int64_t right = 0, flops = 0, at[3] = {0};
    for (int64_t i = 0; i < N_SAMPLES; i++)
        right += r.prediction[i] == ys[i], flops += r.flops[i], at[r.exit[i]]++;
    ck_assert_mem_eq(at, counts, sizeof at);
    ck_assert_double_eq_tol(outcome.accuracy, (double)right / N_SAMPLES, 1e-12);
    ck_assert_double_eq_tol(outcome.mean_flops, (double)flops / N_SAMPLES, 1e-6);
    adapt_context_free(ctx);
}
END_TEST

START_TEST(calibrated_exits_decide_on_calibrated_probabilities)
{
    adapt_model *m = trained;
    const float *z = recorded;
    float *p = malloc(3 * N_SAMPLES * N_CLASSES * sizeof *p);
    adapt_calibrator *cal[3];
    adapt_calibrator_params cp;
    adapt_calibrator_params_init(&cp, sizeof cp);
    cp.method = ADAPT_CALIBRATION_HISTOGRAM;
    for (int k = 0; k < 3; k++) {
        const float *zk = z + (int64_t)k * N_SAMPLES * N_CLASSES;
        TU_OK(adapt_calibrator_fit(&cal[k], &cp, zk, ys, N_SAMPLES, N_CLASSES));
        TU_OK(adapt_calibrator_apply(p + (int64_t)k * N_SAMPLES * N_CLASSES, cal[k], zk,
                                     N_SAMPLES, N_CLASSES));
    }
    adapt_exit_policy policy;
    adapt_exit_policy_init(&policy, sizeof policy);
    policy.threshold = 0.8f;
    policy.calibrators = (const adapt_calibrator *const *)cal;
    adapt_exit_records rec = {sizeof rec, p, ADAPT_SCORES_PROBABILITIES, ys, N_SAMPLES, 3,
                              N_CLASSES, costs, adapt_model_flops(m)};
    int64_t counts[3], at[3] = {0};
    adapt_exit_outcome outcome = {.struct_size = sizeof outcome};
    TU_OK(adapt_exit_simulate(&outcome, counts, &rec, &policy));
    adapt_context *ctx = inference_context();
    results r;
    infer(&r, ctx, m, 0, N_SAMPLES, &policy);
    for (int64_t i = 0; i < N_SAMPLES; i++)
        at[r.exit[i]]++;
    ck_assert_mem_eq(at, counts, sizeof at);
    for (int k = 0; k < 3; k++)
        adapt_calibrator_free(cal[k]);
    adapt_context_free(ctx);
    free(p);
}
END_TEST

START_TEST(inference_errors_leave_outputs_alone)
{
    adapt_model *m = cnn_with_exits();
    adapt_context *ctx = inference_context();
    make_problem();
    adapt_tensor *x;
    TU_OK(adapt_tensor_input(&x, ctx, 4, (int64_t[]){4, 3, 8, 8}, images));
    results r;
    memset(&r, 0x5a, sizeof r);
    const results before = r;
    adapt_exit_outputs out = outputs_of(&r);
    adapt_exit_policy policy;
    adapt_exit_policy_init(&policy, sizeof policy);
    policy.threshold = NAN;
    TU_FAILS(adapt_model_infer_exits(&out, ctx, m, x, &policy), ADAPT_ERR_NONFINITE);
    const float bad[] = {0.5f, INFINITY};
    adapt_exit_policy_init(&policy, sizeof policy);
    policy.head_thresholds = bad;
    TU_FAILS(adapt_model_infer_exits(&out, ctx, m, x, &policy), ADAPT_ERR_NONFINITE);
    adapt_exit_policy_init(&policy, sizeof policy);
    policy.rule = 5;
    TU_FAILS(adapt_model_infer_exits(&out, ctx, m, x, &policy), ADAPT_ERR_INVALID_ARGUMENT);
    policy.rule = ADAPT_EXIT_PATIENCE, policy.patience = 0;
    TU_FAILS(adapt_model_infer_exits(&out, ctx, m, x, &policy), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_model_infer_exits(NULL, ctx, m, x, NULL), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_model_infer_exits(&out, ctx, NULL, x, NULL), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_model_infer_exits(&out, ctx, m, NULL, NULL), ADAPT_ERR_INVALID_ARGUMENT);
    adapt_tensor *wrong;
    TU_OK(adapt_tensor_input(&wrong, ctx, 4, (int64_t[]){1, 3, 4, 16}, images));
    TU_FAILS(adapt_model_infer_exits(&out, ctx, m, wrong, NULL), ADAPT_ERR_SHAPE);
    TU_OK(adapt_context_set_grad(ctx, 1));
    TU_FAILS(adapt_model_infer_exits(&out, ctx, m, x, NULL), ADAPT_ERR_STATE);
    ck_assert_mem_eq(&r, &before, sizeof r);
    adapt_context_free(ctx);
    adapt_model_free(m);
}
END_TEST

static Suite *exits_suite(void)
{
    Suite *s = suite_create("exits");
    TCase *train = tcase_create("training");
    tcase_set_timeout(train, 120);
    tcase_add_test(train, disjoint_trains_heads_on_a_frozen_backbone);
    tcase_add_test(train, mixed_and_joint_train_everything_reproducibly);
    tcase_add_test(train, every_exit_learns_and_options_matter);
    tcase_add_test(train, training_exits_rejects_bad_arguments);
    suite_add_tcase(s, train);
    TCase *infer_case = tcase_create("inference");
    tcase_set_timeout(infer_case, 120);
    tcase_add_unchecked_fixture(infer_case, train_once, release_once);
    tcase_add_test(infer_case, inference_decides_as_the_rules_say);
    tcase_add_test(infer_case, compacted_batches_give_batch_one_results);
    tcase_add_test(infer_case, recorded_logits_simulate_what_inference_does);
    tcase_add_test(infer_case, calibrated_exits_decide_on_calibrated_probabilities);
    tcase_add_test(infer_case, inference_errors_leave_outputs_alone);
    suite_add_tcase(s, infer_case);
    return s;
}

int main(void)
{
    return tu_run(exits_suite());
}
