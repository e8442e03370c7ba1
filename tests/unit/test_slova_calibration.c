/* Exponential calibration of one-vs-all logits (lib/eval/calibrate_exponent.c): the fit
 * against the binary NLL it minimises and the exponent that generated the data, the rows it
 * maps to, the sub-probability score kind that reads them, and refusals. */
#include <math.h>
#include <stdlib.h>

#include "check_util.h"

enum { ROWS = 20000, K = 4 };

/* sum_k log(1 + e^{z_k}): log q_k = z_k minus it. */
static long double log_normaliser(const float *z)
{
    long double shift = 0.0L;
    for (int k = 0; k < K; k++)
        shift += log1pl(expl((long double)z[k]));
    return shift;
}

/* log max_k q_k of one row and its first largest class, in long double. */
static long double log_top(const float *z, int *top)
{
    int t = 0;
    for (int k = 1; k < K; k++)
        t = z[k] > z[t] ? k : t;
    *top = t;
    return (long double)z[t] - log_normaliser(z);
}

/* Rows whose prediction is right with probability (max q)^alpha, exactly: labels drawn so. */
static void make_rows(float *z, int32_t *labels, double alpha, uint64_t seed)
{
    static float u[ROWS * 2];
    tu_fill(z, ROWS * K, seed, -4.0f, 4.0f);
    tu_fill(u, ROWS * 2, seed + 1, 0.0f, 1.0f);
    for (int i = 0; i < ROWS; i++) {
        int top;
        const double c = (double)expl(alpha * log_top(z + i * K, &top));
        const int other = (top + 1 + (int)(u[2 * i + 1] * (K - 1))) % K;
        labels[i] = u[2 * i] < c ? top : other;
    }
}

/* The mean binary NLL of (max q)^alpha against the predictions' correctness. */
static long double correctness_nll(const float *z, const int32_t *labels, long double alpha)
{
    long double total = 0.0L;
    for (int i = 0; i < ROWS; i++) {
        int top;
        const long double c = expl(alpha * log_top(z + i * K, &top));
        total -= top == labels[i] ? logl(c) : log1pl(-c);
    }
    return total / ROWS;
}

static adapt_calibrator *fit_exponent(const float *z, const int32_t *labels, double *alpha)
{
    adapt_calibrator_params p;
    adapt_calibrator_params_init(&p, sizeof p);
    p.method = ADAPT_CALIBRATION_EXPONENTIAL;
    adapt_calibrator *cal = NULL;
    TU_OK(adapt_calibrator_fit(&cal, &p, z, labels, ROWS, K));
    TU_OK(adapt_calibrator_exponent(alpha, cal));
    return cal;
}

/* Labels made right with probability (max q)^a: the fit finds a back within sampling error,
 * at the minimum of the NLL computed here, and the calibrated confidences are calibrated. */
START_TEST(the_fit_finds_the_exponent_that_made_the_labels)
{
    static float z[ROWS * K], calibrated[ROWS * K];
    static int32_t labels[ROWS];
    const double truth[] = {0.5, 2.0};
    for (int t = 0; t < 2; t++) {
        make_rows(z, labels, truth[t], 40 + (uint64_t)t);
        double alpha;
        adapt_calibrator *cal = fit_exponent(z, labels, &alpha);
        ck_assert_msg(fabs(alpha / truth[t] - 1.0) < 0.1, "alpha %g for %g", alpha, truth[t]);
        const long double at = correctness_nll(z, labels, alpha);
        ck_assert(at <= correctness_nll(z, labels, alpha * 1.01));
        ck_assert(at <= correctness_nll(z, labels, alpha * 0.99));
        adapt_metrics_report raw = {.struct_size = sizeof raw}, fitted = raw;
        TU_OK(adapt_metrics_compute(&raw, z, labels, ROWS, K, ADAPT_SCORES_ONE_VS_ALL));
        TU_OK(adapt_calibrator_apply(calibrated, cal, z, ROWS, K));
        TU_OK(adapt_metrics_compute(&fitted, calibrated, labels, ROWS, K,
                                    ADAPT_SCORES_SUB_PROBABILITIES));
        ck_assert_msg(fitted.ece < 0.02 && fitted.ece < raw.ece / 3, "ECE %g from %g",
                      fitted.ece, raw.ece);
        ck_assert_double_eq(fitted.accuracy, raw.accuracy);
        ck_assert_double_eq_tol(fitted.auroc, raw.auroc, 1e-3); /* the same ranking, up to float ties */
        adapt_calibrator_free(cal);
    }
}
END_TEST

/* Rows with saturated and tied logits: the largest value is (max q)^a, the prediction stays,
 * the others are q_k times the factor that keeps both, and the row sums to at most 1. */
START_TEST(calibrated_rows_keep_the_prediction_and_sum_to_at_most_one)
{
    enum { SHOWN = 64 }; /* rows checked; the fit's rows follow them */
    static float z[(SHOWN + ROWS) * K], out[SHOWN * K];
    static int32_t labels[ROWS];
    tu_fill(z, SHOWN * K, 9, -6.0f, 6.0f);
    const float edges[][K] = {{80, -80, -80, -80}, {80, 80, -80, -80}, {-80, -80, -80, -80},
                              {3, 3, 3, 3}, {0.5f, 0.4f, 0.3f, -9}};
    for (int e = 0; e < 5; e++)
        for (int k = 0; k < K; k++)
            z[e * K + k] = edges[e][k];
    for (int s = 0; s < 2; s++) {
        make_rows(z + SHOWN * K, labels, s ? 3.0 : 0.3, 50 + (uint64_t)s); /* alpha > 1, < 1 */
        double alpha;
        adapt_calibrator *cal = fit_exponent(z + SHOWN * K, labels, &alpha);
        ck_assert(s ? alpha > 1.0 : alpha < 1.0);
        TU_OK(adapt_calibrator_apply(out, cal, z, SHOWN, K));
        for (int i = 0; i < SHOWN; i++) {
            int top;
            const long double L = log_top(z + i * K, &top), m = expl(L);
            const long double mine = expl(alpha * L);
            const long double keep_total = L == 0.0L ? alpha : expm1l(alpha * L) / expm1l(L);
            const long double f = fminl(mine / m, keep_total);
            double sum = 0.0;
            for (int k = 0; k < K; k++) {
                const long double q = expl(z[i * K + k] - log_normaliser(z + i * K));
                const long double want = k == top ? mine : q * f;
                ck_assert_msg(fabsl(out[i * K + k] - want) <= 1e-6L * want + 1e-30L,
                              "row %d class %d: %g against %Lg", i, k, out[i * K + k], want);
                ck_assert(k == top || out[i * K + k] <= out[i * K + top]);
                sum += out[i * K + k];
            }
            ck_assert_msg(sum <= 1.0 + 1e-6, "row %d sums to %.9g", i, sum);
        }
        adapt_calibrator_free(cal);
    }
}
END_TEST

START_TEST(sub_probabilities_and_refusals)
{
    const float half[2 * 2] = {0.3f, 0.2f, 0.0f, 0.0f}, over[2] = {0.6f, 0.41f};
    const int32_t labels[2] = {0, 1};
    adapt_metrics_report r = {.struct_size = sizeof r};
    TU_OK(adapt_metrics_compute(&r, half, labels, 2, 2, ADAPT_SCORES_SUB_PROBABILITIES));
    ck_assert_double_eq_tol(r.nll, (-log(0.3) - log(1e-15)) / 2, 1e-6); /* q_y = 0 clamped */
    TU_FAILS(adapt_metrics_compute(&r, half, labels, 2, 2, ADAPT_SCORES_PROBABILITIES),
             ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_metrics_compute(&r, over, labels, 1, 2, ADAPT_SCORES_SUB_PROBABILITIES),
             ADAPT_ERR_INVALID_ARGUMENT);
    adapt_calibrator_params p;
    adapt_calibrator_params_init(&p, sizeof p);
    adapt_calibrator *temperature = NULL;
    TU_OK(adapt_calibrator_fit(&temperature, &p, half, labels, 2, 2));
    double value = -1.0;
    TU_FAILS(adapt_calibrator_exponent(&value, temperature), ADAPT_ERR_STATE);
    TU_FAILS(adapt_calibrator_exponent(NULL, temperature), ADAPT_ERR_INVALID_ARGUMENT);
    ck_assert_double_eq(value, -1.0);
    p.method = ADAPT_CALIBRATION_EXPONENTIAL + 1;
    adapt_calibrator *cal = NULL;
    TU_FAILS(adapt_calibrator_fit(&cal, &p, half, labels, 2, 2), ADAPT_ERR_INVALID_ARGUMENT);
    p.method = ADAPT_CALIBRATION_EXPONENTIAL;
    const float nan_row[2] = {NAN, 0.0f};
    TU_FAILS(adapt_calibrator_fit(&cal, &p, nan_row, labels, 1, 2), ADAPT_ERR_NONFINITE);
    TU_OK(adapt_calibrator_fit(&cal, &p, half, labels, 2, 2));
    TU_FAILS(adapt_calibrator_temperature(&value, cal), ADAPT_ERR_STATE);
    float rows[3 * 2];
    TU_FAILS(adapt_calibrator_apply(rows, cal, half, 1, 3), ADAPT_ERR_SHAPE);
    TU_FAILS(adapt_calibrator_apply(rows, cal, nan_row, 1, 2), ADAPT_ERR_NONFINITE);
    adapt_calibrator_free(cal);
    adapt_calibrator_free(temperature);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("slova_calibration");
    TCase *tc = tcase_create("slova_calibration");
    tcase_add_test(tc, the_fit_finds_the_exponent_that_made_the_labels);
    tcase_add_test(tc, calibrated_rows_keep_the_prediction_and_sum_to_at_most_one);
    tcase_add_test(tc, sub_probabilities_and_refusals);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
