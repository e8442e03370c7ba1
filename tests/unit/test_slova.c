/* SLOVA's one-vs-all loss (lib/ops/one_vs_all.c) against the formula in long double, at
 * ordinary and saturating logits; its gradient; refusals; and training with it. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check_util.h"

/* -log p_y - sum_{j != y} log(1 - p_j) of one row, from the sigmoids in long double. */
static long double row_loss(const float *f, int64_t c, int32_t y)
{
    long double total = 0.0L;
    for (int64_t j = 0; j < c; j++) {
        const long double z = f[j], log_p = -log1pl(expl(-z)), log_not_p = -log1pl(expl(z));
        total -= j == y ? log_p : log_not_p;
    }
    return total;
}

typedef struct {
    const int32_t *labels;
} ova_args;

static adapt_status ova_fwd(adapt_tensor **out, adapt_context *ctx, adapt_tensor **params,
                            void *arg)
{
    const ova_args *a = arg;
    return adapt_op_one_vs_all_loss(out, ctx, params[0], a->labels);
}

START_TEST(loss_matches_the_formula_at_every_scale)
{
    adapt_context *ctx = tu_context(ADAPT_BACKEND_DEFAULT);
    const float scales[] = {1.0f, 10.0f, 80.0f};
    const int32_t labels[4] = {0, 3, 1, 4};
    for (int s = 0; s < 3; s++) {
        adapt_tensor *z = tu_param(2, (int64_t[]){4, 5}, 7 + (uint64_t)s, -scales[s], scales[s]);
        float *f = adapt_tensor_data(z);
        f[0] = scales[s], f[8] = -scales[s]; /* the label at both extremes */
        adapt_tensor *loss = NULL;
        TU_OK(adapt_op_one_vs_all_loss(&loss, ctx, z, labels));
        long double want = 0.0L;
        for (int i = 0; i < 4; i++)
            want += row_loss(f + 5 * i, 5, labels[i]) / 4.0L;
        const double got = adapt_tensor_data(loss)[0];
        ck_assert_msg(isfinite(got) && fabs(got - (double)want) <= 1e-6 * (1.0 + (double)want),
                      "scale %g: %.9g against %.9Lg", (double)scales[s], got, want);
        ova_args a = {labels};
        if (s < 2)
            tu_gradcheck(ova_fwd, &z, 1, &a, 1e-2, 2e-3, 100);
        adapt_tensor_free(z);
    }
    adapt_context_free(ctx);
}
END_TEST

/* At logits of +-80 a float sigmoid is 0 or 1 exactly; the gradient must still be finite and
 * point the right way: down at the other classes, up at the label. */
START_TEST(saturated_logits_keep_finite_gradients)
{
    adapt_context *ctx = tu_context(ADAPT_BACKEND_DEFAULT);
    TU_OK(adapt_context_set_grad(ctx, 1));
    adapt_tensor *z = tu_param(2, (int64_t[]){1, 3}, 1, 0, 0);
    float *f = adapt_tensor_data(z);
    f[0] = -80.0f, f[1] = 80.0f, f[2] = -80.0f;
    adapt_tensor *loss = NULL;
    TU_OK(adapt_op_one_vs_all_loss(&loss, ctx, z, (int32_t[]){0}));
    ck_assert_double_eq_tol(adapt_tensor_data(loss)[0], 160.0, 1e-4);
    TU_OK(adapt_backward(ctx, loss));
    const float *g = adapt_tensor_grad(z);
    ck_assert(isfinite(g[0]) && isfinite(g[1]) && isfinite(g[2]));
    ck_assert_float_eq_tol(g[0], -1.0f, 1e-6f);
    ck_assert_float_eq_tol(g[1], 1.0f, 1e-6f);
    ck_assert(g[2] >= 0.0f && g[2] < 1e-30f);
    adapt_tensor_free(z);
    adapt_context_free(ctx);
}
END_TEST

START_TEST(bad_logits_and_labels_are_refused)
{
    adapt_context *ctx = tu_context(ADAPT_BACKEND_DEFAULT);
    adapt_tensor *z = tu_param(2, (int64_t[]){2, 3}, 1, -1, 1), *y = (adapt_tensor *)0x1;
    adapt_tensor *flat = tu_param(1, (int64_t[]){3}, 1, -1, 1);
    const int32_t ok[2] = {0, 2};
    TU_FAILS(adapt_op_one_vs_all_loss(&y, ctx, z, (int32_t[]){0, 3}), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_op_one_vs_all_loss(&y, ctx, z, (int32_t[]){-1, 0}), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_op_one_vs_all_loss(&y, ctx, z, NULL), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_op_one_vs_all_loss(&y, ctx, flat, ok), ADAPT_ERR_SHAPE);
    TU_FAILS(adapt_op_one_vs_all_loss(&y, NULL, z, ok), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_op_one_vs_all_loss(NULL, ctx, z, ok), ADAPT_ERR_INVALID_ARGUMENT);
    adapt_tensor_data(z)[4] = NAN;
    TU_FAILS(adapt_op_one_vs_all_loss(&y, ctx, z, ok), ADAPT_ERR_NONFINITE);
    adapt_tensor_data(z)[4] = -INFINITY;
    TU_FAILS(adapt_op_one_vs_all_loss(&y, ctx, z, ok), ADAPT_ERR_NONFINITE);
    ck_assert_ptr_eq(y, (adapt_tensor *)0x1);
    adapt_tensor_free(z);
    adapt_tensor_free(flat);
    adapt_context_free(ctx);
}
END_TEST

/* Metrics of one-vs-all logits read q_k = e^{z_k} / prod_j (1 + e^{z_j}): the NLL, Brier
 * score and confidence (through the accuracy-ordered ECE) against q computed here. */
START_TEST(metrics_read_one_vs_all_logits_as_single_label_probabilities)
{
    enum { ROWS = 64, K = 4 };
    float z[ROWS * K];
    int32_t labels[ROWS];
    tu_fill(z, ROWS * K, 11, -8.0f, 8.0f);
    z[0] = 80.0f, z[1] = -80.0f, z[2] = -80.0f, z[3] = 80.0f; /* two classes saturated */
    for (int i = 0; i < ROWS; i++)
        labels[i] = (i * 7) % K;
    double nll = 0.0, brier = 0.0, correct = 0.0;
    for (int i = 0; i < ROWS; i++) {
        long double shift = 0.0L, q[K];
        for (int k = 0; k < K; k++)
            shift += log1pl(expl((long double)z[i * K + k]));
        int best = 0;
        for (int k = 0; k < K; k++) {
            q[k] = expl((long double)z[i * K + k] - shift);
            best = z[i * K + k] > z[i * K + best] ? k : best;
            brier += (double)((q[k] - (k == labels[i])) * (q[k] - (k == labels[i])));
        }
        nll -= log(fmax((double)q[labels[i]], 1e-15));
        correct += best == labels[i];
    }
    adapt_metrics_report r = {.struct_size = sizeof r};
    TU_OK(adapt_metrics_compute(&r, z, labels, ROWS, K, ADAPT_SCORES_ONE_VS_ALL));
    ck_assert_double_eq_tol(r.accuracy, correct / ROWS, 1e-12);
    ck_assert_double_eq_tol(r.nll, nll / ROWS, 1e-9);
    ck_assert_double_eq_tol(r.brier, brier / ROWS, 1e-9);
    adapt_metrics_report soft = {.struct_size = sizeof soft};
    TU_OK(adapt_metrics_compute(&soft, z, labels, ROWS, K, ADAPT_SCORES_LOGITS));
    ck_assert_double_eq(soft.accuracy, r.accuracy); /* the same prediction */
    ck_assert(r.nll > soft.nll); /* q_y <= softmax_y: the mass of "none or several" */
    TU_FAILS(adapt_metrics_compute(&r, z, labels, ROWS, K, 4), ADAPT_ERR_INVALID_ARGUMENT);
    adapt_exit_records rec = {.struct_size = sizeof rec, .scores = z, .labels = labels,
                              .kind = ADAPT_SCORES_ONE_VS_ALL, .n = ROWS, .exits = 1,
                              .classes = K, .exit_flops = (int64_t[]){1},
                              .reference_flops = 1};
    adapt_exit_outcome o = {.struct_size = sizeof o}, soft_o = o;
    TU_OK(adapt_exit_simulate(&o, NULL, &rec, NULL)); /* one exit: the final answers all */
    rec.kind = ADAPT_SCORES_LOGITS;
    TU_OK(adapt_exit_simulate(&soft_o, NULL, &rec, NULL));
    ck_assert_double_eq(o.accuracy, soft_o.accuracy);
}
END_TEST

enum { N = 96, IN = 6, CLASSES = 3 };

static float last;
static void last_loss(const adapt_progress *p, void *user) { *(float *)user = p->loss; }

/* Three separable blobs: training on the one-vs-all loss learns them, and the loss it
 * reports is the op's on the final batch's logits (one batch, so the same weights). */
START_TEST(training_minimises_the_one_vs_all_loss)
{
    static float x[N * IN];
    static int32_t y[N];
    tu_fill(x, N * IN, 3, 0.0f, 0.5f);
    for (int i = 0; i < N; i++)
        y[i] = i % CLASSES, x[i * IN + y[i]] = 1.0f;
    adapt_dataset *ds = NULL;
    TU_OK(adapt_dataset_wrap(&ds, x, 2, (int64_t[]){N, IN}, y));
    adapt_mlp_params mp;
    adapt_mlp_params_init(&mp, sizeof mp);
    mp.n_sizes = 3, mp.sizes = (int64_t[]){IN, 16, CLASSES}, mp.seed = 5;
    adapt_model *m = NULL;
    TU_OK(adapt_model_create_mlp(&m, &mp));
    adapt_train_params tp;
    adapt_train_params_init(&tp, sizeof tp);
    tp.loss = ADAPT_LOSS_ONE_VS_ALL, tp.epochs = 40, tp.batch_size = N, tp.learning_rate = 0.5f;
    tp.n_threads = 1, tp.progress = last_loss, tp.user_data = &last;
    TU_OK(adapt_model_train(m, ds, NULL, &tp));
    adapt_eval_result r = {.struct_size = sizeof r};
    TU_OK(adapt_model_evaluate(&r, NULL, m, ds, N, 1));
    ck_assert(r.accuracy > 0.95);
    ck_assert(last < 0.5f); /* from about 3 log 2 = 2.08 at zero logits */
    tp.label_smoothing = 0.1f; /* the softmax's: refused, not ignored */
    TU_FAILS(adapt_model_train(m, ds, NULL, &tp), ADAPT_ERR_INVALID_ARGUMENT);
    tp.label_smoothing = 0.0f, tp.ibp_epsilon = 0.1f;
    TU_FAILS(adapt_model_train(m, ds, NULL, &tp), ADAPT_ERR_INVALID_ARGUMENT);
    tp.ibp_epsilon = 0.0f, tp.loss = 2;
    TU_FAILS(adapt_model_train(m, ds, NULL, &tp), ADAPT_ERR_INVALID_ARGUMENT);
    adapt_model_free(m);
    adapt_dataset_free(ds);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("slova");
    TCase *tc = tcase_create("slova");
    tcase_add_test(tc, loss_matches_the_formula_at_every_scale);
    tcase_add_test(tc, saturated_logits_keep_finite_gradients);
    tcase_add_test(tc, bad_logits_and_labels_are_refused);
    tcase_add_test(tc, metrics_read_one_vs_all_logits_as_single_label_probabilities);
    tcase_add_test(tc, training_minimises_the_one_vs_all_loss);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
