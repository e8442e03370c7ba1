/* Hidden-state probes (lib/probe): Gaussian prototypes against their closed form worked out
 * here in long double, logistic regression and the L1 combination at their optimality
 * conditions, the threshold for a false-positive rate, the MLP probe, reading features from
 * safetensors, and refusals that leave everything as it was. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check_util.h"
#include "file_util.h"

enum { N = 400 };

/* Two classes in d dims: class 1's rows shifted by `shift` per dim, labels alternating
 * (a seeded uniform spread, so the classes overlap). */
static void two_classes(float *x, int32_t *labels, int64_t n, int64_t d, float shift,
                        uint64_t seed)
{
    tu_fill(x, n * d, seed, -1.0f, 1.0f);
    for (int64_t i = 0; i < n; i++) {
        labels[i] = (int32_t)(i % 3 == 0); /* a third flagged: unequal priors */
        for (int64_t j = 0; j < d; j++)
            x[i * d + j] += labels[i] ? shift * (float)(j + 1) : 0.0f;
        x[i * d + 1 % d] += 0.5f * x[i * d]; /* correlated features */
    }
}

static adapt_probe *fit(const float *x, int64_t d, const int32_t *labels, int64_t n,
                        adapt_probe_kind kind)
{
    adapt_probe_params p;
    adapt_probe_params_init(&p, sizeof p);
    p.kind = kind, p.max_iterations = 5000, p.tolerance = 1e-10;
    adapt_probe *probe = NULL;
    TU_OK(adapt_probe_fit(&probe, (const float *[]){x}, (int64_t[]){d}, 1, labels, n, &p));
    return probe;
}

START_TEST(prototypes_match_the_closed_form)
{
    enum { D = 2 };
    float x[N * D];
    int32_t y[N];
    two_classes(x, y, N, D, 0.7f, 11);
    long double mean[2][D] = {{0}}, count[2] = {0}, s[D][D] = {{0}};
    for (int i = 0; i < N; i++) {
        count[y[i]] += 1;
        for (int j = 0; j < D; j++)
            mean[y[i]][j] += x[i * D + j];
    }
    for (int c = 0; c < 2; c++)
        for (int j = 0; j < D; j++)
            mean[c][j] /= count[c];
    for (int i = 0; i < N; i++)
        for (int j = 0; j < D; j++)
            for (int k = 0; k < D; k++)
                s[j][k] += (x[i * D + j] - mean[y[i]][j]) * (x[i * D + k] - mean[y[i]][k]);
    /* P = d (S + tr(S / (n - 1)) I)^-1, inverted as a 2 x 2 matrix. */
    const long double tr = (s[0][0] + s[1][1]) / (N - 1);
    const long double a = s[0][0] + tr, b = s[0][1], c = s[1][1] + tr, det = a * c - b * b;
    const long double p[D][D] = {{D * c / det, -D * b / det}, {-D * b / det, D * a / det}};
    long double pm[2][D], quad[2] = {0, 0};
    for (int k = 0; k < 2; k++)
        for (int j = 0; j < D; j++) {
            pm[k][j] = p[j][0] * mean[k][0] + p[j][1] * mean[k][1];
            quad[k] += mean[k][j] * pm[k][j];
        }
    const long double bias = -(quad[1] - quad[0]) / 2 + logl(count[1] / count[0]);
    adapt_probe *probe = fit(x, D, y, N, ADAPT_PROBE_PROTOTYPES);
    double w[D + 1];
    TU_OK(adapt_probe_layer_weights(probe, 0, w));
    for (int j = 0; j < D; j++)
        ck_assert_double_eq_tol(w[j], (double)(pm[1][j] - pm[0][j]), 1e-9);
    ck_assert_double_eq_tol(w[D], (double)bias, 1e-9);
    float scores[N];
    TU_OK(adapt_probe_score(probe, scores, NULL, (const float *[]){x}, (int64_t[]){D}, 1, N));
    for (int i = 0; i < N; i++) {
        const double z = w[0] * x[i * D] + w[1] * x[i * D + 1] + w[2];
        ck_assert_float_eq_tol(scores[i], (float)(1.0 / (1.0 + exp(-z))), 1e-6f);
    }
    adapt_probe_free(probe);
}
END_TEST

/* The gradient of mean log loss at w [d + 1] over rows x [n, d], in long double. */
static void loss_gradient(long double *g, const double *w, const float *x, int64_t d,
                          const int32_t *y, int64_t n)
{
    memset(g, 0, (size_t)(d + 1) * sizeof *g);
    for (int64_t i = 0; i < n; i++) {
        long double z = w[d];
        for (int64_t j = 0; j < d; j++)
            z += w[j] * (long double)x[i * d + j];
        const long double r = 1.0L / (1.0L + expl(-z)) - y[i];
        for (int64_t j = 0; j < d; j++)
            g[j] += r * x[i * d + j] / n;
        g[d] += r / n;
    }
}

START_TEST(logistic_regression_reaches_its_optimum)
{
    enum { D = 5 };
    float x[N * D];
    int32_t y[N];
    two_classes(x, y, N, D, 0.3f, 12);
    adapt_probe *probe = fit(x, D, y, N, ADAPT_PROBE_LOGISTIC);
    double w[D + 1];
    TU_OK(adapt_probe_layer_weights(probe, 0, w));
    long double g[D + 1];
    loss_gradient(g, w, x, D, y, N);
    for (int j = 0; j <= D; j++) /* the default l2 = 1 penalises the weights alone */
        ck_assert_double_le(fabs((double)(g[j] + (j < D ? w[j] / (long double)N : 0))), 1e-8);
    ck_assert_double_gt(fabs(w[0]), 0.1); /* it learnt something */
    adapt_probe_free(probe);
}
END_TEST

START_TEST(the_combination_meets_the_l1_optimality_conditions)
{
    enum { D = 3, LAYERS = 3 };
    float x[LAYERS][N * D];
    int32_t y[N];
    for (int l = 0; l < LAYERS; l++) /* the same labels, layers of different quality */
        two_classes(x[l], y, N, D, 0.1f + 0.4f * (float)l, 20 + (uint64_t)l);
    adapt_probe_params p;
    adapt_probe_params_init(&p, sizeof p);
    p.l1 = 2.0, p.max_iterations = 100, p.tolerance = 1e-12;
    adapt_probe *probe = NULL;
    const float *features[LAYERS] = {x[0], x[1], x[2]};
    const int64_t widths[LAYERS] = {D, D, D};
    TU_OK(adapt_probe_fit(&probe, features, widths, LAYERS, y, N, &p));
    double w[LAYERS + 1];
    TU_OK(adapt_probe_combination(probe, w));
    float scores[N], per_layer[N * LAYERS];
    TU_OK(adapt_probe_score(probe, scores, per_layer, features, widths, LAYERS, N));
    long double g[LAYERS + 1];
    loss_gradient(g, w, per_layer, LAYERS, y, N);
    const double lambda = p.l1 / N; /* on the mean loss */
    int nonzero = 0;
    for (int l = 0; l < LAYERS; l++) {
        if (w[l] != 0.0) /* |g_l + lambda sign(w_l)| = 0, else |g_l| <= lambda */
            ck_assert_double_le(fabs((double)g[l] + copysign(lambda, w[l])), 1e-9);
        else
            ck_assert_double_le(fabs((double)g[l]), lambda + 1e-9);
        nonzero += w[l] != 0.0;
    }
    ck_assert_double_le(fabs((double)g[LAYERS]), 1e-9);
    ck_assert_int_ge(nonzero, 1);
    ck_assert_double_gt(w[2], 0.0); /* the best layer counts */
    for (int i = 0; i < N; i++) {
        const double z = w[0] * per_layer[i * LAYERS] + w[1] * per_layer[i * LAYERS + 1]
                         + w[2] * per_layer[i * LAYERS + 2] + w[3];
        ck_assert_float_eq_tol(scores[i], (float)(1.0 / (1.0 + exp(-z))), 1e-6f);
    }
    adapt_probe_free(probe);
}
END_TEST

START_TEST(the_threshold_keeps_the_false_positive_rate)
{
    enum { D = 2, BENIGN = 50 };
    float x[N * D], benign[BENIGN * D];
    int32_t y[N];
    two_classes(x, y, N, D, 0.7f, 13);
    tu_fill(benign, BENIGN * D, 14, -1.0f, 1.0f);
    adapt_probe *probe = fit(x, D, y, N, ADAPT_PROBE_PROTOTYPES);
    const float *features[] = {benign};
    const int64_t widths[] = {D};
    float scores[BENIGN];
    TU_OK(adapt_probe_score(probe, scores, NULL, features, widths, 1, BENIGN));
    const double rates[] = {0.0, 0.1, 0.25, 0.999};
    for (int r = 0; r < 4; r++) {
        TU_OK(adapt_probe_set_threshold_for_fpr(probe, features, widths, 1, BENIGN, rates[r]));
        int above = 0;
        for (int i = 0; i < BENIGN; i++)
            above += scores[i] > adapt_probe_threshold(probe);
        ck_assert_int_eq(above, (int)floor(rates[r] * BENIGN)); /* distinct scores: exact */
    }
    const double kept = adapt_probe_threshold(probe);
    TU_FAILS(adapt_probe_set_threshold_for_fpr(probe, features, widths, 1, BENIGN, 1.0),
             ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_probe_set_threshold_for_fpr(probe, features, widths, 1, BENIGN, NAN),
             ADAPT_ERR_NONFINITE);
    TU_FAILS(adapt_probe_set_threshold(probe, INFINITY), ADAPT_ERR_NONFINITE);
    ck_assert_double_eq(adapt_probe_threshold(probe), kept);
    TU_OK(adapt_probe_set_threshold(probe, 0.25));
    ck_assert_double_eq(adapt_probe_threshold(probe), 0.25);
    adapt_probe_free(probe);
}
END_TEST

START_TEST(the_mlp_probe_learns_and_is_deterministic)
{
    enum { D = 4 };
    float x[N * D];
    int32_t y[N];
    two_classes(x, y, N, D, 1.0f, 15);
    adapt_probe_params p;
    adapt_probe_params_init(&p, sizeof p);
    p.kind = ADAPT_PROBE_MLP, p.hidden = 16, p.epochs = 40, p.learning_rate = 1e-2,
    p.seed = 3, p.n_threads = 1;
    adapt_probe *a = NULL, *b = NULL;
    const float *features[] = {x};
    TU_OK(adapt_probe_fit(&a, features, (int64_t[]){D}, 1, y, N, &p));
    TU_OK(adapt_probe_fit(&b, features, (int64_t[]){D}, 1, y, N, &p));
    float sa[N], sb[N];
    TU_OK(adapt_probe_score(a, sa, NULL, features, (int64_t[]){D}, 1, N));
    TU_OK(adapt_probe_score(b, sb, NULL, features, (int64_t[]){D}, 1, N));
    int right = 0;
    for (int i = 0; i < N; i++) {
        ck_assert_float_eq(sa[i], sb[i]);
        right += (sa[i] > 0.5f) == (y[i] == 1);
    }
    ck_assert_int_ge(right, N * 95 / 100);
    double w[D + 1];
    TU_FAILS(adapt_probe_layer_weights(a, 0, w), ADAPT_ERR_STATE);
    adapt_probe_free(a);
    adapt_probe_free(b);
}
END_TEST

START_TEST(bad_input_is_refused_and_leaves_everything_alone)
{
    enum { D = 3 };
    float x[N * D], constant[N * D];
    int32_t y[N], one_class[N], bad_label[N];
    two_classes(x, y, N, D, 0.5f, 16);
    for (int i = 0; i < N * D; i++)
        constant[i] = 1.0f;
    for (int i = 0; i < N; i++)
        one_class[i] = 0, bad_label[i] = y[i];
    bad_label[7] = 2;
    const float *features[] = {x};
    const int64_t widths[] = {D}, wrong[] = {D + 1};
    adapt_probe *probe = (adapt_probe *)&probe; /* a sentinel that must stay */
    adapt_probe *const sentinel = probe;
    TU_FAILS(adapt_probe_fit(NULL, features, widths, 1, y, N, NULL),
             ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_probe_fit(&probe, features, widths, 0, y, N, NULL),
             ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_probe_fit(&probe, features, widths, 1, y, 1, NULL),
             ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_probe_fit(&probe, features, widths, 1, one_class, N, NULL),
             ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_probe_fit(&probe, features, widths, 1, bad_label, N, NULL),
             ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_probe_fit(&probe, (const float *[]){constant}, widths, 1, y, N, NULL),
             ADAPT_ERR_INVALID_ARGUMENT); /* a covariance of 0: no precision */
    TU_FAILS(adapt_probe_fit(&probe, features, (int64_t[]){0}, 1, y, N, NULL), ADAPT_ERR_SHAPE);
    adapt_probe_params p;
    adapt_probe_params_init(&p, sizeof p);
    p.l1 = -1.0;
    TU_FAILS(adapt_probe_fit(&probe, features, widths, 1, y, N, &p), ADAPT_ERR_INVALID_ARGUMENT);
    p.l1 = 0.0, p.kind = 7;
    TU_FAILS(adapt_probe_fit(&probe, features, widths, 1, y, N, &p), ADAPT_ERR_INVALID_ARGUMENT);
    x[5] = NAN;
    TU_FAILS(adapt_probe_fit(&probe, features, widths, 1, y, N, NULL), ADAPT_ERR_NONFINITE);
    ck_assert_ptr_eq(probe, sentinel);
    x[5] = 0.0f;
    TU_OK(adapt_probe_fit(&probe, features, widths, 1, y, N, NULL));
    float scores[N], before = 123.0f;
    scores[0] = before;
    TU_FAILS(adapt_probe_score(probe, scores, NULL, features, wrong, 1, N), ADAPT_ERR_SHAPE);
    TU_FAILS(adapt_probe_score(probe, scores, NULL, features, widths, 2, N),
             ADAPT_ERR_INVALID_ARGUMENT);
    x[2] = INFINITY;
    TU_FAILS(adapt_probe_score(probe, scores, NULL, features, widths, 1, N),
             ADAPT_ERR_NONFINITE);
    ck_assert_float_eq(scores[0], before);
    TU_FAILS(adapt_probe_score(NULL, scores, NULL, features, widths, 1, N),
             ADAPT_ERR_INVALID_ARGUMENT);
    ck_assert(isnan(adapt_probe_threshold(NULL)));
    ck_assert_int_eq(adapt_probe_layer_count(probe), 1);
    adapt_probe_free(probe);
    adapt_probe_free(NULL);
}
END_TEST

START_TEST(safetensors_tensors_read_back_by_name)
{
    adapt_mlp_params mp;
    adapt_mlp_params_init(&mp, sizeof mp);
    mp.n_sizes = 3, mp.sizes = (int64_t[]){5, 4, 3}, mp.seed = 2;
    adapt_model *m = NULL;
    TU_OK(adapt_model_create_mlp(&m, &mp));
    const char *path = tu_in_scratch("features.safetensors");
    TU_OK(adapt_model_save(m, path));
    float *data = NULL;
    int32_t ndim = -1;
    int64_t shape[ADAPT_MAX_DIMS];
    TU_OK(adapt_safetensors_read(&data, &ndim, shape, path, adapt_model_param_name(m, 2)));
    const adapt_tensor *w = adapt_model_param(m, 2);
    ck_assert_int_eq(ndim, 2);
    ck_assert(shape[0] == 3 && shape[1] == 4);
    ck_assert_mem_eq(data, adapt_tensor_data(w), 12 * sizeof(float));
    free(data);
    data = NULL;
    TU_FAILS(adapt_safetensors_read(&data, &ndim, shape, path, "no such tensor"),
             ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_safetensors_read(&data, &ndim, shape, path, NULL), ADAPT_ERR_INVALID_ARGUMENT);
    size_t len = 0;
    unsigned char *bytes = tu_slurp(path, &len);
    tu_write_file(path, bytes, 40); /* truncated inside the header */
    free(bytes);
    TU_FAILS(adapt_safetensors_read(&data, &ndim, shape, path, adapt_model_param_name(m, 2)),
             ADAPT_ERR_FORMAT);
    ck_assert_ptr_null(data);
    ck_assert_int_eq(ndim, 2);
    adapt_model_free(m);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("probe");
    TCase *tc = tcase_create("probe");
    tcase_add_checked_fixture(tc, tu_scratch_setup, tu_scratch_teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, prototypes_match_the_closed_form);
    tcase_add_test(tc, logistic_regression_reaches_its_optimum);
    tcase_add_test(tc, the_combination_meets_the_l1_optimality_conditions);
    tcase_add_test(tc, the_threshold_keeps_the_false_positive_rate);
    tcase_add_test(tc, the_mlp_probe_learns_and_is_deterministic);
    tcase_add_test(tc, bad_input_is_refused_and_leaves_everything_alone);
    tcase_add_test(tc, safetensors_tensors_read_back_by_name);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
