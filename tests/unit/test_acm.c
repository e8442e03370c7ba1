/* The Adaptive Computation Module (lib/adaptive/acm*.c): every token runs exactly the learners
 * its gate chose and pays for exactly those, fixed learner counts, the taped path's values and
 * gradients (the task's gradient reaches the gate through the straight-through one-hot), the
 * modules built for a ViT's submodules, and refusals. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check_util.h"
#include "file_util.h"
#include "lib/adaptive/acm.h"
#include "lib/adaptive/acm_budget.h"
#include "lib/autograd/tape.h"
#include "lib/core/context.h"
#include "lib/core/rng.h"
#include "lib/core/tensor.h"

enum { BATCH = 3, TOKENS = 5, DIM = 6, LEARNERS = 4, WIDTH = 3, GATE = 5 };

static adapt_model *acm_model(int32_t activation, int32_t min_learners, uint64_t seed)
{
    adapt_model *m = NULL;
    TU_OK(adapt_model_create_sequential(&m, 2, (int64_t[]){TOKENS, DIM}, seed));
    adapt_layer_params p;
    adapt_layer_params_init(&p, sizeof p);
    p.kind = ADAPT_LAYER_ACM, p.out_features = DIM, p.learners = LEARNERS;
    p.learner_width = WIDTH, p.gate_width = GATE, p.activation = activation;
    p.min_learners = min_learners;
    TU_OK(adapt_model_append(m, &p));
    return m;
}

static float *param_data(adapt_model *m, const char *name)
{
    for (int32_t i = 0; i < adapt_model_param_count(m); i++)
        if (strcmp(adapt_model_param_name(m, i), name) == 0)
            return adapt_tensor_data(adapt_model_param(m, i));
    ck_abort_msg("no parameter %s", name);
    return NULL;
}

static adapt_tensor *input(int64_t batch, uint64_t seed, int requires_grad)
{
    adapt_tensor *x = tu_param(3, (int64_t[]){batch, TOKENS, DIM}, seed, -1.0f, 1.0f);
    TU_OK(adapt_param_set_requires_grad(x, requires_grad));
    return x;
}

static double act(int32_t activation, double z)
{
    if (activation == ADAPT_ACTIVATION_RELU)
        return z > 0.0 ? z : 0.0;
    return activation == ADAPT_ACTIVATION_GELU ? 0.5 * z * (1.0 + erf(z / sqrt(2.0))) : z;
}

/* Learner n's output o for one token, by hand. */
static double learner_output(adapt_model *m, int32_t activation, int n, const float *xt, int o)
{
    const float *w1 = param_data(m, "0.learners.w1"), *b1 = param_data(m, "0.learners.b1");
    const float *w2 = param_data(m, "0.learners.w2");
    double y = 0.0;
    for (int j = 0; j < WIDTH; j++) {
        double z = b1[n * WIDTH + j];
        for (int i = 0; i < DIM; i++)
            z += (double)xt[i] * w1[(n * DIM + i) * WIDTH + j];
        y += act(activation, z) * w2[(n * WIDTH + j) * DIM + o];
    }
    return y;
}

/* The gate's logits for one token, by hand; `choices` of them. */
static void gate_logits(double *z, adapt_model *m, const float *xt, int choices)
{
    const char *names[3][2] = {{"0.gate.0.weight", "0.gate.0.bias"},
                               {"0.gate.2.weight", "0.gate.2.bias"},
                               {"0.gate.4.weight", "0.gate.4.bias"}};
    const int sizes[4] = {DIM, GATE, GATE, choices};
    double h[DIM > GATE ? DIM : GATE], next[DIM > GATE ? DIM : GATE];
    for (int i = 0; i < DIM; i++)
        h[i] = xt[i];
    for (int k = 0; k < 3; k++) {
        const float *w = param_data(m, names[k][0]), *b = param_data(m, names[k][1]);
        for (int o = 0; o < sizes[k + 1]; o++) {
            double s = b[o];
            for (int i = 0; i < sizes[k]; i++)
                s += (double)w[o * sizes[k] + i] * h[i];
            next[o] = k < 2 && s < 0.0 ? 0.0 : s;
        }
        for (int o = 0; o < sizes[k + 1]; o++)
            h[o] = next[o];
    }
    for (int c = 0; c < choices; c++)
        z[c] = h[c];
}

/* The learners token t's gate chooses: min_learners + the argmax of its logits. */
static int chosen(adapt_model *m, const float *xt, int min_learners)
{
    double z[LEARNERS + 1];
    const int choices = LEARNERS + 1 - min_learners;
    gate_logits(z, m, xt, choices);
    int best = 0;
    for (int c = 0; c < choices; c++)
        best = z[c] > z[best] ? c : best;
    return min_learners + best;
}

static const float *forward(adapt_context *ctx, adapt_model *m, adapt_tensor *x)
{
    adapt_tensor *y = NULL;
    TU_OK(adapt_model_forward_blocks(&y, ctx, m, x, 0, 1));
    return adapt_tensor_data(y);
}

/* Each token runs exactly the c learners its gate chose (counted by the layer as it runs
 * them), its output is their sum by hand, and each sample is charged its gate and those
 * learners, no more. */
START_TEST(every_token_runs_and_pays_for_the_learners_its_gate_chose)
{
    for (int32_t a = ADAPT_ACTIVATION_RELU; a <= ADAPT_ACTIVATION_IDENTITY; a++) {
        adapt_model *m = acm_model(a, a == ADAPT_ACTIVATION_IDENTITY, 11 + (uint64_t)a);
        const int min = a == ADAPT_ACTIVATION_IDENTITY;
        float *last = param_data(m, "0.gate.4.weight"); /* spread the choices */
        for (int i = 0; i < GATE * (LEARNERS + 1 - min); i++)
            last[i] *= 30.0f;
        const int64_t gate = 2 * (DIM * GATE + GATE * GATE + GATE * (LEARNERS + 1 - min));
        const int64_t learner = 2 * (DIM * WIDTH + WIDTH * DIM);
        ck_assert_int_eq(adapt_model_flops(m), TOKENS * (gate + LEARNERS * learner));
        adapt_context *ctx = tu_context_threads(ADAPT_BACKEND_DEFAULT, 2);
        TU_OK(adapt_context_set_grad(ctx, 0));
        adapt_tensor *x = input(BATCH, 21 + (uint64_t)a, 0), *y = NULL;
        const float *xd = adapt_tensor_data(x);
        int32_t counts[BATCH * TOKENS];
        int64_t flops[BATCH];
        TU_OK(adapt_acm_learner_counts(counts, ctx, m, x));
        TU_OK(adapt_model_forward_flops(&y, flops, ctx, m, x));
        int seen[LEARNERS + 1] = {0};
        for (int i = 0; i < BATCH; i++) {
            int64_t want = TOKENS * gate;
            for (int t = i * TOKENS; t < (i + 1) * TOKENS; t++) {
                const int c = chosen(m, xd + t * DIM, min);
                ck_assert_int_eq(counts[t], c);
                seen[c]++;
                want += c * learner;
                for (int o = 0; o < DIM; o++) {
                    double sum = 0.0;
                    for (int n = 0; n < c; n++)
                        sum += learner_output(m, a, n, xd + t * DIM, o);
                    const float got = adapt_tensor_data(y)[t * DIM + o];
                    ck_assert_msg(fabs(got - sum) < 1e-5, "act %d token %d: %.7g, by hand "
                                  "%.7g", (int)a, t, (double)got, sum);
                }
            }
            ck_assert_int_eq(flops[i], want);
        }
        int kinds = 0;
        for (int c = 0; c <= LEARNERS; c++)
            kinds += seen[c] > 0;
        ck_assert_msg(kinds >= 2, "the gate chose one count for every token");
        adapt_tensor_free(x);
        adapt_context_free(ctx);
        adapt_model_free(m);
    }
}
END_TEST

/* With a fixed count every token runs that many learners, the gate not at all; 0 learners
 * output zeros; -1 gives the choice back to the gate. */
START_TEST(fixed_counts_run_for_every_token)
{
    adapt_model *m = acm_model(ADAPT_ACTIVATION_GELU, 0, 31);
    adapt_context *ctx = tu_context(ADAPT_BACKEND_REFERENCE);
    TU_OK(adapt_context_set_grad(ctx, 0));
    adapt_tensor *x = input(2, 41, 0);
    const float *xd = adapt_tensor_data(x);
    const int64_t learner = 2 * (DIM * WIDTH + WIDTH * DIM);
    for (int32_t c = 0; c <= LEARNERS; c++) {
        int32_t count = -1;
        TU_OK(adapt_model_set_acm_learners(m, c, &count));
        ck_assert_int_eq(count, 1);
        int64_t flops[2];
        adapt_tensor *y = NULL;
        TU_OK(adapt_model_forward_flops(&y, flops, ctx, m, x));
        ck_assert_int_eq(flops[0], TOKENS * c * learner);
        for (int t = 0; t < 2 * TOKENS; t++)
            for (int o = 0; o < DIM; o++) {
                double sum = 0.0;
                for (int n = 0; n < c; n++)
                    sum += learner_output(m, ADAPT_ACTIVATION_GELU, n, xd + t * DIM, o);
                ck_assert(fabs(adapt_tensor_data(y)[t * DIM + o] - sum) < 1e-5);
            }
    }
    TU_FAILS(adapt_model_set_acm_learners(m, LEARNERS + 1, NULL), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_model_set_acm_learners(m, -2, NULL), ADAPT_ERR_INVALID_ARGUMENT);
    TU_OK(adapt_model_set_acm_learners(m, -1, NULL));
    int32_t counts[2 * TOKENS];
    TU_OK(adapt_acm_learner_counts(counts, ctx, m, x));
    for (int t = 0; t < 2 * TOKENS; t++)
        ck_assert_int_eq(counts[t], chosen(m, xd + t * DIM, 0));
    adapt_model *one = acm_model(ADAPT_ACTIVATION_IDENTITY, 1, 32);
    TU_FAILS(adapt_model_set_acm_learners(one, 0, NULL), ADAPT_ERR_INVALID_ARGUMENT);
    adapt_model_free(one);
    adapt_tensor_free(x);
    adapt_context_free(ctx);
    adapt_model_free(m);
}
END_TEST

typedef struct {
    adapt_model *model;
} acm_arg;

static adapt_status acm_forward(adapt_tensor **out, adapt_context *ctx, adapt_tensor **params,
                                void *arg)
{
    const acm_arg *a = arg;
    return adapt_model_forward_blocks(out, ctx, a->model, params[0], 0, 1);
}

static void model_params(adapt_tensor **params, adapt_model *m, const char *const *names,
                         int n)
{
    for (int i = 0; i < n; i++)
        for (int32_t k = 0; k < adapt_model_param_count(m); k++)
            if (strcmp(adapt_model_param_name(m, k), names[i]) == 0)
                params[i] = adapt_model_param(m, k);
}

/* Outside training the taped forward computes what inference does (within rounding), and the
 * learners' gradients match finite differences, under the gate and under fixed counts. */
START_TEST(taped_forward_matches_inference_and_its_gradients_check)
{
    adapt_model *m = acm_model(ADAPT_ACTIVATION_GELU, 0, 51);
    adapt_context *ctx = tu_context(ADAPT_BACKEND_DEFAULT);
    adapt_tensor *x = input(BATCH, 61, 0);
    TU_OK(adapt_context_set_grad(ctx, 0));
    const float *untaped = forward(ctx, m, x);
    float want[BATCH * TOKENS * DIM];
    memcpy(want, untaped, sizeof want);
    TU_OK(adapt_context_set_grad(ctx, 1));
    const float *taped = forward(ctx, m, x);
    for (int i = 0; i < BATCH * TOKENS * DIM; i++)
        ck_assert_msg(fabsf(taped[i] - want[i]) <= 1e-6f * fmaxf(1.0f, fabsf(want[i])),
                      "value %d: taped %.8g, untaped %.8g", i, (double)taped[i],
                      (double)want[i]);
    adapt_context_free(ctx);
    const char *names[] = {"0.learners.w1", "0.learners.b1", "0.learners.w2"};
    adapt_tensor *params[4] = {x};
    model_params(params + 1, m, names, 3);
    acm_arg a = {m};
    tu_gradcheck(acm_forward, params, 4, &a, 1e-3, 2e-2, 30);
    TU_OK(adapt_model_set_acm_learners(m, 3, NULL));
    params[0] = input(BATCH, 62, 1);
    tu_gradcheck(acm_forward, params, 4, &a, 1e-3, 2e-2, 30);
    adapt_tensor_free(params[0]);
    adapt_tensor_free(x);
    adapt_model_free(m);
}
END_TEST

/* The gradient reaching the gate's last bias is the straight-through one: for
 * L = sum(y * R), d L / d z_c = p_c (g_c - sum_k p_k g_k) / tau, with p = softmax(z / tau) and
 * g_c = the sum over learners n < c of <R_t, h_n(x_t)>. The authors' gated forward sends
 * nothing there. */
START_TEST(the_task_gradient_reaches_the_gate)
{
    adapt_model *m = acm_model(ADAPT_ACTIVATION_RELU, 0, 71);
    adapt_context *ctx = tu_context(ADAPT_BACKEND_REFERENCE);
    adapt_tensor *x = input(1, 81, 0), *y = NULL, *loss = NULL;
    float r[TOKENS * DIM];
    tu_fill(r, TOKENS * DIM, 91, -1.0f, 1.0f);
    adapt_tensor *weights = tu_param(3, (int64_t[]){1, TOKENS, DIM}, 91, -1.0f, 1.0f);
    TU_OK(adapt_param_set_requires_grad(weights, 0));
    memcpy(r, adapt_tensor_data(weights), sizeof r);
    for (int32_t k = 0; k < adapt_model_param_count(m); k++)
        TU_OK(adapt_param_zero_grad(adapt_model_param(m, k)));
    TU_OK(adapt_model_forward_blocks(&y, ctx, m, x, 0, 1));
    TU_OK(adapt_op_mul(&y, ctx, y, weights));
    TU_OK(adapt_op_sum(&loss, ctx, y, ADAPT_AXIS_ALL));
    TU_OK(adapt_backward(ctx, loss));
    const float *dbias = NULL;
    for (int32_t k = 0; k < adapt_model_param_count(m); k++)
        if (strcmp(adapt_model_param_name(m, k), "0.gate.4.bias") == 0)
            dbias = adapt_tensor_grad(adapt_model_param(m, k));
    ck_assert_ptr_nonnull(dbias);
    double want[LEARNERS + 1] = {0};
    const float *xd = adapt_tensor_data(x);
    for (int t = 0; t < TOKENS; t++) {
        double z[LEARNERS + 1], p[LEARNERS + 1], g[LEARNERS + 1], top = -INFINITY, sum = 0.0;
        gate_logits(z, m, xd + t * DIM, LEARNERS + 1);
        for (int c = 0; c <= LEARNERS; c++)
            top = fmax(top, z[c] / AD_ACM_GATE_TAU);
        for (int c = 0; c <= LEARNERS; c++)
            sum += p[c] = exp(z[c] / AD_ACM_GATE_TAU - top);
        double inner = 0.0;
        for (int c = 0; c <= LEARNERS; c++) {
            p[c] /= sum;
            g[c] = 0.0;
            for (int n = 0; n < c; n++)
                for (int o = 0; o < DIM; o++)
                    g[c] += r[t * DIM + o] *
                            learner_output(m, ADAPT_ACTIVATION_RELU, n, xd + t * DIM, o);
            inner += p[c] * g[c];
        }
        for (int c = 0; c <= LEARNERS; c++)
            want[c] += p[c] * (g[c] - inner) / AD_ACM_GATE_TAU;
    }
    double scale = 0.0;
    for (int c = 0; c <= LEARNERS; c++) {
        ck_assert_msg(fabs(dbias[c] - want[c]) < 1e-4 * fmax(1.0, fabs(want[c])),
                      "choice %d: %.7g, by hand %.7g", c, (double)dbias[c], want[c]);
        scale = fmax(scale, fabs(want[c]));
    }
    ck_assert_msg(scale > 1e-3, "a vanishing gate gradient proves nothing");
    adapt_tensor_free(weights);
    adapt_tensor_free(x);
    adapt_context_free(ctx);
    adapt_model_free(m);
}
END_TEST

START_TEST(bits_do_not_depend_on_the_thread_count)
{
    adapt_model *m = acm_model(ADAPT_ACTIVATION_GELU, 0, 101);
    const char *names[] = {"0.learners.w1", "0.learners.b1", "0.learners.w2", "0.gate.4.weight"};
    adapt_tensor *params[5] = {input(40, 111, 1)};
    model_params(params + 1, m, names, 4);
    acm_arg a = {m};
    for (int32_t threads = 2; threads <= 3; threads++)
        tu_check_threads(acm_forward, params, 5, &a, ADAPT_BACKEND_DEFAULT, threads, 0.0);
    adapt_tensor_free(params[0]);
    adapt_model_free(m);
}
END_TEST

/* The gradient of the learners' w1 under the distillation loss of one batch. */
static void distill_grads(float *dw, adapt_model *m, adapt_tensor *x, adapt_tensor *target)
{
    adapt_context *ctx = tu_context(ADAPT_BACKEND_REFERENCE);
    adapt_tensor *loss;
    for (int32_t k = 0; k < adapt_model_param_count(m); k++)
        TU_OK(adapt_param_zero_grad(adapt_model_param(m, k)));
    TU_OK(ad_acm_distill_loss(&loss, ctx, m, tu_record(x), tu_record(target), NULL));
    TU_OK(ad_backward(ctx, loss));
    const float *g = NULL;
    for (int32_t k = 0; k < adapt_model_param_count(m); k++)
        if (strcmp(adapt_model_param_name(m, k), "0.learners.w1") == 0)
            g = adapt_tensor_grad(adapt_model_param(m, k));
    memcpy(dw, g, LEARNERS * DIM * WIDTH * sizeof *dw);
    adapt_context_free(ctx);
}

/* Learner n learns from choice n on what the learners before it left: its gradient depends on
 * learners 1 .. n only, not on those after it. */
START_TEST(distillation_fits_each_learner_to_the_residual_before_it)
{
    enum { BLOCK = DIM * WIDTH };
    adapt_model *m = acm_model(ADAPT_ACTIVATION_GELU, 0, 141);
    adapt_tensor *x = input(2, 151, 0), *target = input(2, 152, 0);
    float before[LEARNERS * BLOCK], after[LEARNERS * BLOCK];
    distill_grads(before, m, x, target);
    float *w1 = param_data(m, "0.learners.w1");
    for (int i = 2 * BLOCK; i < 3 * BLOCK; i++) /* learner 2 changes */
        w1[i] += 0.25f;
    distill_grads(after, m, x, target);
    for (int i = 0; i < 2 * BLOCK; i++)
        ck_assert_msg(before[i] == after[i], "learner %d's gradient moved with learner 2's "
                      "weights", i / BLOCK);
    ck_assert(memcmp(before + 2 * BLOCK, after + 2 * BLOCK, BLOCK * sizeof *before) != 0);
    ck_assert(memcmp(before + 3 * BLOCK, after + 3 * BLOCK, BLOCK * sizeof *before) != 0);
    adapt_tensor_free(x);
    adapt_tensor_free(target);
    adapt_model_free(m);
}
END_TEST

START_TEST(the_label_rule_reaches_every_count)
{
    const double stalls_at_once[] = {1.0, 0.95, 0.5, 0.2, 0.1};
    const double stalls_after_one[] = {1.0, 0.5, 0.45, 0.2, 0.1};
    const double keeps_improving[] = {1.0, 0.5, 0.25, 0.12, 0.06};
    const double exact_after_two[] = {1.0, 0.5, 0.0, 0.0, 0.0};
    const double never_helps[] = {1.0, 0.95, 0.9, 0.85, 0.8};
    ck_assert_int_eq(ad_acm_label(stalls_at_once, 0, LEARNERS, 1.2), 0);
    ck_assert_int_eq(ad_acm_label(stalls_after_one, 0, LEARNERS, 1.2), 1);
    ck_assert_int_eq(ad_acm_label(keeps_improving, 0, LEARNERS, 1.2), LEARNERS);
    ck_assert_int_eq(ad_acm_label(exact_after_two, 0, LEARNERS, 1.2), 2);
    ck_assert_int_eq(ad_acm_label(never_helps, 0, LEARNERS, 1.2), 0);
    ck_assert_int_eq(ad_acm_label(never_helps, 1, LEARNERS, 1.2), 1); /* one always runs */
    ck_assert_int_eq(ad_acm_label(stalls_after_one, 0, LEARNERS, 1.0), LEARNERS);
}
END_TEST

static void last_loss(const adapt_progress *p, void *user)
{
    float *losses = user;
    if (losses[0] != losses[0])
        losses[0] = p->loss;
    losses[1] = p->loss;
}

/* Root mean squared error of every token's output against the recording's, under `count`
 * learners for every token. */
static double error_at(adapt_model *acm, int32_t count, adapt_tensor *x, const float *want,
                       int64_t n)
{
    adapt_context *ctx = tu_context(ADAPT_BACKEND_DEFAULT);
    TU_OK(adapt_context_set_grad(ctx, 0));
    TU_OK(adapt_model_set_acm_learners(acm, count, NULL));
    const float *y = forward(ctx, acm, x);
    double sum = 0.0;
    for (int64_t i = 0; i < n; i++)
        sum += ((double)y[i] - want[i]) * ((double)y[i] - want[i]);
    adapt_context_free(ctx);
    TU_OK(adapt_model_set_acm_learners(acm, -1, NULL));
    return sqrt(sum / (double)n);
}

/* An ACM for a two-layer network learns it from a recording: every added learner lowers the
 * error and all of them come close; then its gate learns the labels (its loss falls). */
START_TEST(learners_then_gates_learn_from_a_recording)
{
    enum { SAMPLES = 64 };
    adapt_model *teacher = tu_token_mlp(TOKENS, DIM, 8, 7);
    adapt_tensor *data = input(SAMPLES, 161, 0);
    int32_t labels[SAMPLES] = {0};
    adapt_dataset *set = NULL;
    TU_OK(adapt_dataset_wrap(&set, adapt_tensor_data(data), 3,
                             (int64_t[]){SAMPLES, TOKENS, DIM}, labels));
    adapt_recording *rec = NULL;
    adapt_record_params rp;
    adapt_record_params_init(&rp, sizeof rp);
    rp.n_threads = 1;
    TU_OK(adapt_model_record(&rec, teacher, "0:3", set, &rp));
    const float *want = adapt_recording_data(rec, 1, NULL, NULL);
    adapt_acm_params ap;
    adapt_acm_params_init(&ap, sizeof ap);
    ap.learners = LEARNERS, ap.seed = 3;
    adapt_model *acm = NULL;
    TU_OK(adapt_acm_for(&acm, teacher, "0:3", &ap));
    const int64_t n = SAMPLES * TOKENS * DIM;
    const double untrained = error_at(acm, LEARNERS, data, want, n);
    float losses[2] = {NAN, NAN};
    adapt_train_params tp;
    adapt_train_params_init(&tp, sizeof tp);
    tp.epochs = 150, tp.batch_size = 16, tp.optimizer = ADAPT_OPTIMIZER_ADAMW;
    tp.learning_rate = 1e-2f, tp.n_threads = 1, tp.progress = last_loss, tp.user_data = losses;
    const adapt_recording *const recs[] = {rec};
    TU_OK(adapt_acm_distill(&acm, recs, 1, &tp));
    double e[LEARNERS + 1];
    for (int32_t c = 0; c <= LEARNERS; c++)
        e[c] = error_at(acm, c, data, want, n);
    for (int32_t c = 1; c <= LEARNERS; c++)
        ck_assert_msg(e[c] < e[c - 1], "%d learners: error %g, %d: %g", (int)c, e[c],
                      (int)c - 1, e[c - 1]);
    ck_assert_msg(e[LEARNERS] < 0.3 * e[0] && e[LEARNERS] < 0.3 * untrained,
                  "all learners: error %g, none %g, untrained %g", e[LEARNERS], e[0], untrained);
    losses[0] = losses[1] = NAN;
    tp.epochs = 60;
    TU_OK(adapt_acm_train_gates(&acm, recs, 1, 1.2f, &tp));
    ck_assert_msg(losses[1] < 0.8f * losses[0], "gate loss %g, first step %g", (double)losses[1],
                  (double)losses[0]);
    TU_FAILS(adapt_acm_train_gates(&acm, recs, 1, 0.5f, &tp), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_acm_train_gates(&acm, recs, 1, NAN, &tp), ADAPT_ERR_NONFINITE);
    TU_FAILS(adapt_acm_distill(&teacher, recs, 1, &tp), ADAPT_ERR_INVALID_ARGUMENT);
    adapt_model_free(acm);
    adapt_recording_free(rec);
    adapt_dataset_free(set);
    adapt_tensor_free(data);
    adapt_model_free(teacher);
}
END_TEST

/* The budget terms on soft stand-ins for one-hot choices: two ACMs' notes, [3, 4, 5] and
 * [3, 2, 4] (min_learners 1); params[0], params[1]. */
static adapt_status budget_forward(adapt_tensor **out, adapt_context *ctx,
                                   adapt_tensor **params, void *arg)
{
    (void)arg;
    const ad_acm first = {.in = 6, .hidden = 2, .out = 6, .learners = 4};
    const ad_acm second = {.in = 6, .hidden = 3, .out = 6, .learners = 4, .min_learners = 1};
    const ad_acm_budget w = {0.05f, 0.7f, 0.3f, 0.2f};
    ctx->acm_noting = true, ctx->acm_notes = NULL;
    adapt_tensor *loss = NULL;
    adapt_status st = ad_acm_note_choices(ctx, &first, tu_record(params[0]));
    if (!st)
        st = ad_acm_note_choices(ctx, &second, tu_record(params[1]));
    if (!st)
        st = ad_acm_budget_loss(&loss, ctx, &w);
    ctx->acm_noting = false, ctx->acm_notes = NULL;
    if (!st)
        *out = tu_handle(loss);
    return st;
}

START_TEST(budget_terms_gradients_check)
{
    adapt_tensor *params[2] = {tu_param(3, (int64_t[]){3, 4, 5}, 171, 0.05f, 1.0f),
                               tu_param(3, (int64_t[]){3, 2, 4}, 172, 0.05f, 1.0f)};
    tu_gradcheck(budget_forward, params, 2, NULL, 1e-3, 2e-2, 60);
    adapt_tensor_free(params[0]);
    adapt_tensor_free(params[1]);
}
END_TEST

/* The share of the learners' cost each sample runs, mean over a batch. */
static double cost_share(adapt_model *m, adapt_tensor *x, int64_t samples)
{
    adapt_context *ctx = tu_context(ADAPT_BACKEND_DEFAULT);
    TU_OK(adapt_context_set_grad(ctx, 0));
    int64_t *flops = malloc((size_t)samples * sizeof *flops);
    adapt_tensor *y = NULL;
    TU_OK(adapt_model_forward_flops(&y, flops, ctx, m, x));
    const double gate = 2.0 * (DIM * GATE + GATE * GATE + GATE * (LEARNERS + 1));
    const double learner = 2.0 * (DIM * WIDTH + WIDTH * DIM), head = 2.0 * TOKENS * DIM * 3;
    double sum = 0.0;
    for (int64_t i = 0; i < samples; i++)
        sum += ((double)flops[i] - head - TOKENS * gate) / (TOKENS * LEARNERS * learner);
    free(flops);
    adapt_context_free(ctx);
    return sum / (double)samples;
}

/* End to end with a budget of a quarter, a model whose gates all start at every learner ends
 * near a quarter of the learners' cost. */
START_TEST(budget_training_moves_the_cost_towards_beta)
{
    enum { SAMPLES = 64 };
    adapt_model *m = acm_model(ADAPT_ACTIVATION_GELU, 0, 181);
    adapt_layer_params p;
    adapt_layer_params_init(&p, sizeof p);
    p.kind = ADAPT_LAYER_LINEAR, p.out_features = 3;
    TU_OK(adapt_model_append(m, &p));
    param_data(m, "0.gate.4.bias")[LEARNERS] = 8.0f;
    adapt_tensor *x = input(SAMPLES, 191, 0);
    int32_t labels[SAMPLES];
    for (int i = 0; i < SAMPLES; i++)
        labels[i] = i % 3;
    adapt_dataset *set = NULL;
    TU_OK(adapt_dataset_wrap(&set, adapt_tensor_data(x), 3, (int64_t[]){SAMPLES, TOKENS, DIM},
                             labels));
    const double before = cost_share(m, x, SAMPLES);
    ck_assert_msg(before > 0.95, "cost share %g at the start", before);
    adapt_train_params tp;
    adapt_train_params_init(&tp, sizeof tp);
    tp.epochs = 40, tp.batch_size = 16, tp.optimizer = ADAPT_OPTIMIZER_ADAMW;
    tp.learning_rate = 1e-2f, tp.n_threads = 1;
    tp.acm_budget = 0.25f, tp.acm_budget_weight = 2.0f;
    tp.acm_entropy_weight = 0.0f, tp.acm_diversity_weight = 0.0f;
    TU_OK(adapt_model_train(m, set, NULL, &tp));
    const double after = cost_share(m, x, SAMPLES);
    ck_assert_msg(fabs(after - 0.25) < 0.1, "cost share %g after training, %g before", after,
                  before);
    TU_OK(adapt_model_set_acm_learners(m, 2, NULL)); /* no gate runs: nothing to budget */
    TU_FAILS(adapt_model_train(m, set, NULL, &tp), ADAPT_ERR_INVALID_ARGUMENT);
    TU_OK(adapt_model_set_acm_learners(m, -1, NULL));
    tp.acm_budget = 1.5f;
    TU_FAILS(adapt_model_train(m, set, NULL, &tp), ADAPT_ERR_INVALID_ARGUMENT);
    tp.acm_budget = 0.25f, tp.recompute_blocks = 1;
    TU_FAILS(adapt_model_train(m, set, NULL, &tp), ADAPT_ERR_INVALID_ARGUMENT);
    adapt_dataset_free(set);
    adapt_tensor_free(x);
    adapt_model_free(m);
}
END_TEST

/* The gate's Gumbel noise is finite for every draw, the top one included, whose uniform
 * rounds to 1 in float (and whose noise would then be infinite, the sampled softmax NaN). */
START_TEST(gumbel_noise_is_finite_for_every_draw)
{
    const uint32_t top = (1u << 24) - 1;
    ck_assert_float_eq((float)top / 16777216.0f + 0.5f / 16777216.0f, 1.0f);
    ck_assert(isfinite(ad_gumbel_of_bits(0)) && isfinite(ad_gumbel_of_bits(top)));
    ck_assert_msg(ad_gumbel_of_bits(0) < -2.8f && ad_gumbel_of_bits(top) > 17.0f,
                  "noise range %g .. %g", (double)ad_gumbel_of_bits(0),
                  (double)ad_gumbel_of_bits(top));
    for (uint32_t bits = 1; bits < top; bits += 4099)
        ck_assert(ad_gumbel_of_bits(bits) > ad_gumbel_of_bits(bits - 1));
}
END_TEST

static adapt_model *vit(uint64_t seed)
{
    adapt_vit_params p;
    adapt_vit_params_init(&p, sizeof p);
    p.image_size = 8, p.in_channels = 1, p.patch = 4, p.dim = 8, p.depth = 2, p.heads = 2;
    p.mlp_ratio = 4.0f, p.n_classes = 4, p.seed = seed;
    adapt_model *m = NULL;
    TU_OK(adapt_model_create_vit(&m, &p));
    return m;
}

/* An ACM for a block's MLP splits its 32 hidden units among 4 GELU learners, one for its qkv
 * projection has identity learners of the FLOP-matched rank and always runs one; both
 * replace their submodules and the model runs. */
START_TEST(acms_stand_in_for_a_vit_s_submodules)
{
    adapt_model *model = vit(3);
    adapt_acm_params p;
    adapt_acm_params_init(&p, sizeof p);
    adapt_model *ffn = NULL, *qkv = NULL;
    TU_OK(adapt_acm_for(&ffn, model, "blocks.0.mlp", &p));
    TU_OK(adapt_acm_for(&qkv, model, "blocks.1.attn.qkv", &p));
    const ad_acm *f = ad_acm_of(ffn), *q = ad_acm_of(qkv);
    ck_assert_int_eq(f->hidden, 8);
    ck_assert_int_eq(f->learners, 4);
    ck_assert_int_eq(f->act, AD_ACT_GELU);
    ck_assert_int_eq(f->min_learners, 0);
    /* (8 * 24 + 24) / (4 * (8 + 24 + 1)) = 1.64 */
    ck_assert_int_eq(q->hidden, 2);
    ck_assert_int_eq(q->out, 24);
    ck_assert_int_eq(q->act, AD_ACT_NONE);
    ck_assert_int_eq(q->min_learners, 1);
    TU_OK(adapt_model_replace(model, "blocks.0.mlp", ffn, NULL));
    TU_OK(adapt_model_replace(model, "blocks.1.attn.qkv", qkv, NULL));
    adapt_context *ctx = tu_context(ADAPT_BACKEND_DEFAULT);
    TU_OK(adapt_context_set_grad(ctx, 0));
    adapt_tensor *pixels = tu_param(4, (int64_t[]){2, 1, 8, 8}, 5, 0.0f, 1.0f), *y = NULL;
    TU_OK(adapt_param_set_requires_grad(pixels, 0));
    TU_OK(adapt_model_forward(&y, ctx, model, pixels));
    ck_assert_int_eq(adapt_tensor_numel(y), 8);
    int32_t count = 0;
    TU_OK(adapt_model_set_acm_learners(model, 1, &count));
    ck_assert_int_eq(count, 2);
    p.learners = 3; /* does not divide 32 */
    adapt_model *bad = NULL;
    TU_FAILS(adapt_acm_for(&bad, model, "blocks.1.mlp", &p), ADAPT_ERR_INVALID_ARGUMENT);
    p.learners = 0;
    TU_FAILS(adapt_acm_for(&bad, model, "blocks.1.mlp", &p), ADAPT_ERR_INVALID_ARGUMENT);
    p.learners = 4;
    TU_FAILS(adapt_acm_for(&bad, model, "blocks.7.mlp", &p), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_acm_for(&bad, model, "blocks.1", &p), ADAPT_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_null(bad);
    adapt_tensor_free(pixels);
    adapt_context_free(ctx);
    adapt_model_free(model);
}
END_TEST

/* A ViT with ACMs in place saves and loads whole: the same outputs bit for bit, gated, and
 * the loaded model runs its gates whatever count the saved one was fixed at. A checkpoint
 * whose gate has another width is refused by a model it does not fit. */
START_TEST(checkpoints_keep_the_learners_and_gates)
{
    adapt_model *model = vit(17), *acm = NULL;
    adapt_acm_params ap;
    adapt_acm_params_init(&ap, sizeof ap);
    ap.seed = 4;
    TU_OK(adapt_acm_for(&acm, model, "blocks.1.mlp", &ap));
    TU_OK(adapt_model_replace(model, "blocks.1.mlp", acm, NULL));
    TU_OK(adapt_model_set_acm_learners(model, 2, NULL));
    const char *path = tu_in_scratch("acm.safetensors");
    TU_OK(adapt_model_save(model, path));
    TU_OK(adapt_model_set_acm_learners(model, -1, NULL));
    adapt_model *loaded = NULL;
    TU_OK(adapt_model_load(&loaded, path));
    adapt_context *ctx = tu_context(ADAPT_BACKEND_DEFAULT);
    TU_OK(adapt_context_set_grad(ctx, 0));
    adapt_tensor *pixels = tu_param(4, (int64_t[]){3, 1, 8, 8}, 19, 0.0f, 1.0f), *a = NULL,
                 *b = NULL;
    TU_OK(adapt_param_set_requires_grad(pixels, 0));
    TU_OK(adapt_model_forward(&a, ctx, model, pixels));
    TU_OK(adapt_model_forward(&b, ctx, loaded, pixels));
    ck_assert_int_eq(memcmp(adapt_tensor_data(a), adapt_tensor_data(b),
                            (size_t)adapt_tensor_numel(a) * sizeof(float)), 0);
    adapt_model *other = vit(17), *wide = NULL;
    ap.gate_width = 8;
    TU_OK(adapt_acm_for(&wide, other, "blocks.1.mlp", &ap));
    TU_OK(adapt_model_replace(other, "blocks.1.mlp", wide, NULL));
    const adapt_status st = adapt_model_load_weights(other, path);
    ck_assert_msg(st == ADAPT_ERR_SHAPE || st == ADAPT_ERR_FORMAT, "a 16-wide gate loaded into "
                  "an 8-wide one: %s", adapt_status_string(st));
    adapt_tensor_free(pixels);
    adapt_context_free(ctx);
    adapt_model_free(other);
    adapt_model_free(loaded);
    adapt_model_free(model);
}
END_TEST

/* Zero learners or gate width, an unknown activation and NaN inputs are statuses. */
START_TEST(bad_input_is_a_status)
{
    adapt_model *m = NULL;
    TU_OK(adapt_model_create_sequential(&m, 2, (int64_t[]){TOKENS, DIM}, 1));
    adapt_layer_params p;
    adapt_layer_params_init(&p, sizeof p);
    p.kind = ADAPT_LAYER_ACM, p.out_features = DIM, p.learner_width = WIDTH;
    p.learners = 0;
    TU_FAILS(adapt_model_append(m, &p), ADAPT_ERR_INVALID_ARGUMENT);
    p.learners = 2, p.gate_width = 0;
    TU_FAILS(adapt_model_append(m, &p), ADAPT_ERR_INVALID_ARGUMENT);
    p.gate_width = 4, p.activation = 3;
    TU_FAILS(adapt_model_append(m, &p), ADAPT_ERR_INVALID_ARGUMENT);
    p.activation = ADAPT_ACTIVATION_RELU, p.min_learners = 2;
    TU_FAILS(adapt_model_append(m, &p), ADAPT_ERR_INVALID_ARGUMENT);
    adapt_model_free(m);
    m = acm_model(ADAPT_ACTIVATION_RELU, 0, 121);
    adapt_context *ctx = tu_context(ADAPT_BACKEND_DEFAULT);
    adapt_tensor *x = input(2, 131, 0), *y = NULL;
    adapt_tensor_data(x)[7] = NAN;
    TU_OK(adapt_context_set_grad(ctx, 0));
    TU_FAILS(adapt_model_forward_blocks(&y, ctx, m, x, 0, 1), ADAPT_ERR_NONFINITE);
    TU_OK(adapt_context_set_grad(ctx, 1));
    TU_FAILS(adapt_model_forward_blocks(&y, ctx, m, x, 0, 1), ADAPT_ERR_NONFINITE);
    int32_t counts[2 * TOKENS];
    TU_FAILS(adapt_acm_learner_counts(NULL, ctx, m, x), ADAPT_ERR_INVALID_ARGUMENT);
    adapt_model *dense = tu_token_mlp(TOKENS, DIM, 8, 1);
    TU_FAILS(adapt_acm_learner_counts(counts, ctx, dense, x), ADAPT_ERR_INVALID_ARGUMENT);
    adapt_model_free(dense);
    adapt_tensor_free(x);
    adapt_context_free(ctx);
    adapt_model_free(m);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("acm");
    TCase *tc = tcase_create("acm");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, every_token_runs_and_pays_for_the_learners_its_gate_chose);
    tcase_add_test(tc, fixed_counts_run_for_every_token);
    tcase_add_test(tc, taped_forward_matches_inference_and_its_gradients_check);
    tcase_add_test(tc, the_task_gradient_reaches_the_gate);
    tcase_add_test(tc, bits_do_not_depend_on_the_thread_count);
    tcase_add_test(tc, distillation_fits_each_learner_to_the_residual_before_it);
    tcase_add_test(tc, the_label_rule_reaches_every_count);
    tcase_add_test(tc, learners_then_gates_learn_from_a_recording);
    tcase_add_test(tc, gumbel_noise_is_finite_for_every_draw);
    tcase_add_test(tc, budget_terms_gradients_check);
    tcase_add_test(tc, budget_training_moves_the_cost_towards_beta);
    tcase_add_test(tc, acms_stand_in_for_a_vit_s_submodules);
    tcase_add_test(tc, checkpoints_keep_the_learners_and_gates);
    tcase_add_test(tc, bad_input_is_a_status);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
