/* Evaluation metrics and calibrators (lib/eval): hand-computed cases for every metric, the
 * ranking invariant of failure prediction, the calibrators' fits, and argument errors. */
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "check_util.h"
#include "lib/eval/calibrator.h"

#define TOL 1e-9 /* hand-computed values: dyadic inputs, so only double rounding remains */

static adapt_metrics_report measure(const float *scores, const int32_t *labels, int64_t n,
                                    int32_t classes, adapt_score_kind kind)
{
    adapt_metrics_report r = {.struct_size = sizeof r};
    TU_OK(adapt_metrics_compute(&r, scores, labels, n, classes, kind));
    return r;
}

static void assert_near(double got, double want, double tol, const char *what)
{
    ck_assert_msg(fabs(got - want) <= tol, "%s: %.12g, expected %.12g", what, got, want);
}

/* Five binary rows with dyadic probabilities; prediction, confidence, verdict:
 *   row  p0      p1      label  pred  conf    correct  ECE bin = ceil(15 conf) - 1
 *   0    0.875   0.125   0      0     0.875   yes      13 (13.125 -> 14 - 1)
 *   1    0.25    0.75    1      1     0.75    yes      11 (11.25)
 *   2    0.375   0.625   0      1     0.625   no        9 (9.375)
 *   3    0.5625  0.4375  0      0     0.5625  yes       8 (8.4375)
 *   4    0.875   0.125   1      0     0.875   no       13
 * Rows 0 and 4 tie in confidence with opposite verdicts, which the tie rules must settle. */
static const float hand_probs[5][2] = {
    {0.875f, 0.125f}, {0.25f, 0.75f}, {0.375f, 0.625f}, {0.5625f, 0.4375f}, {0.875f, 0.125f}};
static const int32_t hand_labels[5] = {0, 1, 0, 0, 1};

static void assert_hand_metrics(const adapt_metrics_report *r, double tol)
{
    /* 3 of 5 correct. */
    assert_near(r->accuracy, 0.6, tol, "accuracy");
    /* Bin 13: 1 correct - 1.75 confidence = -0.75; bin 11: 1 - 0.75; bin 9: 0 - 0.625;
     * bin 8: 1 - 0.5625. (0.75 + 0.25 + 0.625 + 0.4375) / 5 = 2.0625 / 5. */
    assert_near(r->ece, 0.4125, tol, "ece");
    /* Class 0, p0 ascending with d = p0 - [y = 0]: 0.25 (+0.25), 0.375 (-0.625),
     * 0.5625 (-0.4375), then the tie group 0.875 {-0.125, +0.875}. Prefix sums at group
     * ends: 0.25, -0.375, -0.8125, -0.0625 -> max 0.8125 / 5 = 0.1625. (Splitting the tie
     * would reach -0.9375.) Class 1 mirrors it, p1 ascending: tie 0.125 {+0.125, -0.875}
     * -> -0.75, then 0.4375 -> -0.3125, 0.625 -> 0.3125, 0.75 -> 0.0625: max 0.75 / 5 = 0.15.
     * Mean (0.1625 + 0.15) / 2. */
    assert_near(r->ks_error, 0.15625, tol, "ks_error");
    /* p(label) = 0.875, 0.75, 0.375, 0.5625, 0.125. */
    const double nll = -(log(0.875) + log(0.75) + log(0.375) + log(0.5625) + log(0.125)) / 5;
    assert_near(r->nll, nll, tol, "nll");
    /* Two classes: sum_k (p_k - [y = k])^2 = 2 (1 - p(label))^2 =
     * 0.03125 + 0.125 + 0.78125 + 0.3828125 + 1.53125 = 2.8515625, / 5. */
    assert_near(r->brier, 0.5703125, tol, "brier");
    /* Correct confidences {0.875, 0.75, 0.5625} against wrong {0.625, 0.875}: wins
     * 1 + 1/2 (tie) + 1 + 0 + 0 + 0 = 2.5 of 6 pairs. */
    assert_near(r->auroc, 2.5 / 6, tol, "auroc");
    /* Descending: tie group {row 0 ok, row 4 wrong} holds 1/2 error after 1 row, 1 after 2;
     * then 0.75 ok, 0.625 wrong, 0.5625 ok. Risks 1/2, 1/2, 1/3, 2/4, 2/5: mean 67/150. */
    assert_near(r->aurc, 67.0 / 150, tol, "aurc");
    /* Oracle with 2 errors in 5: risks 0, 0, 0, 1/4, 2/5 -> 0.13. */
    assert_near(r->eaurc, 67.0 / 150 - 0.13, tol, "eaurc");
    /* TPR reaches 0.95 only at the last threshold, where both wrong rows are accepted. */
    assert_near(r->fpr_at_95_tpr, 1.0, tol, "fpr_at_95_tpr");
}

START_TEST(hand_computed_from_probabilities)
{
    adapt_metrics_report r = measure(&hand_probs[0][0], hand_labels, 5, 2,
                                     ADAPT_SCORES_PROBABILITIES);
    assert_hand_metrics(&r, TOL);
}
END_TEST

START_TEST(hand_computed_from_logits)
{
    /* log p is a logit row of p; float32 rounding of the logs is the only difference, and
     * rows 0 and 4 stay identical, so they still tie. */
    float logits[5][2];
    for (int i = 0; i < 5; i++)
        for (int k = 0; k < 2; k++)
            logits[i][k] = (float)log(hand_probs[i][k]);
    adapt_metrics_report r = measure(&logits[0][0], hand_labels, 5, 2, ADAPT_SCORES_LOGITS);
    assert_hand_metrics(&r, 1e-6);
}
END_TEST

/* 20 correct rows at confidence 0.99, 0.98, ..., 0.80 and two wrong ones at 0.995 (above
 * all) and 0.805 (between the 19th and 20th correct). */
static void fpr_case(float *probs, int32_t *labels)
{
    for (int i = 0; i < 22; i++) {
        const float c = i < 20 ? 0.99f - 0.01f * (float)i : i == 20 ? 0.995f : 0.805f;
        probs[2 * i] = c;
        probs[2 * i + 1] = 1.0f - c;
        labels[i] = i < 20 ? 0 : 1;
    }
}

START_TEST(fpr_at_95_tpr_stops_at_the_first_threshold_reaching_it)
{
    float probs[44];
    int32_t labels[22];
    fpr_case(probs, labels);
    adapt_metrics_report r = measure(probs, labels, 22, 2, ADAPT_SCORES_PROBABILITIES);
    /* The threshold 0.81 accepts 19 of 20 correct (TPR 0.95) and one of two wrong. */
    assert_near(r.fpr_at_95_tpr, 0.5, TOL, "fpr_at_95_tpr");
    /* 0.995 beats every correct row, 0.805 is beaten by 19: 19 wins of 40 pairs. */
    assert_near(r.auroc, 19.0 / 40, TOL, "auroc");
    assert_near(r.accuracy, 20.0 / 22, TOL, "accuracy");
}
END_TEST

START_TEST(all_correct_or_all_wrong_leave_auroc_and_fpr_undefined)
{
    /* _i = 0: every row's label is its prediction; _i = 1: never. */
    float probs[8] = {0.75f, 0.25f, 0.25f, 0.75f, 0.625f, 0.375f, 0.5f, 0.5f};
    int32_t labels[4] = {0, 1, 0, 0};
    for (int i = 0; i < 4 && _i; i++)
        labels[i] = 1 - labels[i];
    adapt_metrics_report r = measure(probs, labels, 4, 2, ADAPT_SCORES_PROBABILITIES);
    ck_assert(isnan(r.auroc));
    ck_assert(isnan(r.fpr_at_95_tpr));
    assert_near(r.accuracy, _i ? 0.0 : 1.0, TOL, "accuracy");
    /* Risk is 0 (or 1) at every coverage, as is the oracle's. */
    assert_near(r.aurc, _i ? 1.0 : 0.0, TOL, "aurc");
    assert_near(r.eaurc, 0.0, TOL, "eaurc");
    ck_assert(isfinite(r.ece) && isfinite(r.ks_error) && isfinite(r.nll) && isfinite(r.brier));
}
END_TEST

START_TEST(nll_clamps_a_zero_probability)
{
    /* p(label) = 0 in row 1 costs -log(1e-15) instead of infinity. */
    const float probs[4] = {1.0f, 0.0f, 1.0f, 0.0f};
    const int32_t labels[2] = {0, 1};
    adapt_metrics_report r = measure(probs, labels, 2, 2, ADAPT_SCORES_PROBABILITIES);
    assert_near(r.nll, -log(1e-15) / 2, TOL, "nll");
    assert_near(r.brier, 1.0, TOL, "brier"); /* (0 + 2) / 2 */
    /* Both confidences are 1, in the last ECE bin: |1 correct - 2 confidence| / 2. */
    assert_near(r.ece, 0.5, TOL, "ece");
}
END_TEST

START_TEST(a_shorter_report_is_filled_only_as_far_as_its_size)
{
    unsigned char buffer[sizeof(adapt_metrics_report)];
    memset(buffer, 0xab, sizeof buffer);
    adapt_metrics_report *r = (adapt_metrics_report *)buffer;
    r->struct_size = offsetof(adapt_metrics_report, nll);
    TU_OK(adapt_metrics_compute(r, &hand_probs[0][0], hand_labels, 5, 2,
                                ADAPT_SCORES_PROBABILITIES));
    assert_near(r->ks_error, 0.15625, TOL, "ks_error");
    for (size_t i = offsetof(adapt_metrics_report, nll); i < sizeof buffer; i++)
        ck_assert_uint_eq(buffer[i], 0xab);
}
END_TEST

/* ------------------------------------------------------------------ random data */

/* Logits u in [-spread, spread) and labels drawn from softmax(u): a calibrated model. The
 * caller may scale the logits afterwards to make it over- or under-confident. */
static void draw_problem(float *logits, int32_t *labels, int64_t n, int32_t classes,
                         float spread, uint64_t seed)
{
    float *draw = malloc((size_t)n * sizeof *draw);
    tu_fill(logits, n * classes, seed, -spread, spread);
    tu_fill(draw, n, seed + 1, 0.0f, 1.0f);
    for (int64_t i = 0; i < n; i++) {
        const float *u = logits + i * classes;
        double total = 0.0, running = 0.0;
        for (int32_t k = 0; k < classes; k++)
            total += exp(u[k]);
        labels[i] = classes - 1;
        for (int32_t k = 0; k < classes; k++) {
            running += exp(u[k]) / total;
            if (draw[i] < running) {
                labels[i] = k;
                break;
            }
        }
    }
    free(draw);
}

static void scale(float *x, int64_t count, float factor)
{
    for (int64_t i = 0; i < count; i++)
        x[i] *= factor;
}

START_TEST(temperature_keeps_a_binary_heads_ranking_but_not_its_calibration)
{
    /* With two classes the confidence is sigmoid(|z0 - z1| / T), strictly increasing in the
     * margin for every T > 0: the ranking of rows is unchanged, ECE is not. */
    enum { N = 400 };
    static float logits[N * 2], scaled[N * 2];
    static int32_t labels[N];
    draw_problem(logits, labels, N, 2, 3.0f, 7);
    const adapt_metrics_report base = measure(logits, labels, N, 2, ADAPT_SCORES_LOGITS);
    const float temperatures[] = {0.25f, 0.5f, 3.0f, 7.0f};
    for (size_t t = 0; t < sizeof temperatures / sizeof temperatures[0]; t++) {
        memcpy(scaled, logits, sizeof logits);
        scale(scaled, N * 2, 1.0f / temperatures[t]);
        const adapt_metrics_report r = measure(scaled, labels, N, 2, ADAPT_SCORES_LOGITS);
        assert_near(r.auroc, base.auroc, 1e-12, "auroc");
        assert_near(r.aurc, base.aurc, 1e-12, "aurc");
        assert_near(r.eaurc, base.eaurc, 1e-12, "eaurc");
        assert_near(r.accuracy, base.accuracy, 0.0, "accuracy");
        ck_assert_msg(fabs(r.ece - base.ece) > 1e-3, "T = %g: ECE %g unchanged", temperatures[t],
                      r.ece);
    }
}
END_TEST

START_TEST(a_monotone_map_of_the_confidence_keeps_auroc_and_aurc)
{
    /* Four classes as probabilities; the top-label confidence c becomes sqrt(c) (strictly
     * increasing and >= c, so the top class stays on top), the other classes share
     * 1 - sqrt(c) in their old proportions. */
    enum { N = 300, K = 4 };
    static float logits[N * K], probs[N * K], mapped[N * K];
    static int32_t labels[N];
    draw_problem(logits, labels, N, K, 2.0f, 11);
    for (int i = 0; i < N; i++) {
        double row[K];
        int32_t best = 0;
        for (int k = 0; k < K; k++)
            row[k] = logits[i * K + k];
        ad_softmax_in_place(row, K);
        for (int k = 0; k < K; k++) {
            probs[i * K + k] = (float)row[k];
            best = row[k] > row[best] ? k : best;
        }
        const double top = row[best];
        const double rest = (1 - sqrt(top)) / (1 - top);
        for (int k = 0; k < K; k++)
            mapped[i * K + k] = (float)(k == best ? sqrt(top) : row[k] * rest);
    }
    const adapt_metrics_report a = measure(probs, labels, N, K, ADAPT_SCORES_PROBABILITIES);
    const adapt_metrics_report b = measure(mapped, labels, N, K, ADAPT_SCORES_PROBABILITIES);
    assert_near(b.auroc, a.auroc, 1e-12, "auroc");
    assert_near(b.aurc, a.aurc, 1e-12, "aurc");
    assert_near(b.accuracy, a.accuracy, 0.0, "accuracy");
    ck_assert_msg(fabs(a.ece - b.ece) > 1e-2, "ECE %g -> %g", a.ece, b.ece);
}
END_TEST

START_TEST(temperature_can_reorder_a_multiclass_heads_confidences)
{
    /* Why docs/metrics.md does not call temperature scaling rank-preserving for K > 2:
     * row A = [2, 0, 0] (correct) has confidence 0.787 at T = 1 and 0.379 at T = 10;
     * row B = [3, 2.5, -10] (wrong) has 0.622 and 0.450. A ranks above B, then below. */
    const float rows[6] = {2.0f, 0.0f, 0.0f, 3.0f, 2.5f, -10.0f};
    float hot[6];
    const int32_t labels[2] = {0, 1};
    memcpy(hot, rows, sizeof rows);
    scale(hot, 6, 0.1f);
    assert_near(measure(rows, labels, 2, 3, ADAPT_SCORES_LOGITS).auroc, 1.0, 0.0, "T = 1");
    assert_near(measure(hot, labels, 2, 3, ADAPT_SCORES_LOGITS).auroc, 0.0, 0.0, "T = 10");
}
END_TEST

/* ------------------------------------------------------------------ calibrators */

static adapt_calibrator *fit(adapt_calibration_method method, const float *logits,
                             const int32_t *labels, int64_t n, int32_t classes)
{
    adapt_calibrator_params p;
    adapt_calibrator_params_init(&p, sizeof p);
    p.method = method;
    adapt_calibrator *cal = NULL;
    TU_OK(adapt_calibrator_fit(&cal, &p, logits, labels, n, classes));
    return cal;
}

/* Mean NLL of softmax(z / t), computed here independently of the library. */
static double nll_at(const float *z, const int32_t *labels, int64_t n, int32_t classes,
                     double t)
{
    double total = 0.0;
    for (int64_t i = 0; i < n; i++) {
        const float *row = z + i * classes;
        double top = row[0], sum = 0.0;
        for (int32_t k = 1; k < classes; k++)
            top = fmax(top, row[k]);
        for (int32_t k = 0; k < classes; k++)
            sum += exp((row[k] - top) / t);
        total += log(sum) - (row[labels[i]] - top) / t;
    }
    return total / (double)n;
}

/* The T of the smallest NLL on a grid of step 1e-3 over [0.2, 10], refined to 1e-5. */
static double grid_temperature(const float *z, const int32_t *labels, int64_t n,
                               int32_t classes)
{
    double best = 1.0, best_nll = INFINITY;
    for (double step = 1e-3, lo = 0.2, hi = 10.0; step >= 1e-5; step /= 10) {
        for (double t = lo; t <= hi; t += step) {
            const double v = nll_at(z, labels, n, classes, t);
            if (v < best_nll)
                best_nll = v, best = t;
        }
        lo = best - 10 * step, hi = best + 10 * step;
    }
    return best;
}

START_TEST(temperature_fit_finds_the_nll_minimum)
{
    /* Calibrated logits scaled by 2.5: an over-confident model wanting T near 2.5. */
    enum { N = 300, K = 4 };
    static float logits[N * K];
    static int32_t labels[N];
    draw_problem(logits, labels, N, K, 2.0f, 3);
    scale(logits, N * K, 2.5f);
    adapt_calibrator *cal = fit(ADAPT_CALIBRATION_TEMPERATURE, logits, labels, N, K);
    double t = 0.0;
    TU_OK(adapt_calibrator_temperature(&t, cal));
    const double grid = grid_temperature(logits, labels, N, K);
    ck_assert_msg(fabs(t - grid) < 1e-3, "fitted T %.6f, grid minimum %.6f", t, grid);
    ck_assert_msg(nll_at(logits, labels, N, K, t) < nll_at(logits, labels, N, K, 1.0),
                  "T = %g does not beat T = 1", t);
    /* The applied probabilities are softmax(z / T): their NLL is the minimum. */
    static float probs[N * K];
    TU_OK(adapt_calibrator_apply(probs, cal, logits, N, K));
    const adapt_metrics_report r = measure(probs, labels, N, K, ADAPT_SCORES_PROBABILITIES);
    assert_near(r.nll, nll_at(logits, labels, N, K, t), 1e-6, "nll of the applied rows");
    adapt_calibrator_free(cal);
}
END_TEST

START_TEST(temperature_fit_stops_at_the_range_ends)
{
    /* Logits that always point at the label want T -> 0; logits that always point away
     * want T -> infinity. The fit ends at the documented bounds. (A margin of 0.01 keeps
     * the slope of the NLL from underflowing before beta = 1 / T reaches 1000.) */
    const float logits[4] = {0.01f, 0.0f, 0.0f, 0.01f};
    const int32_t right[2] = {0, 1}, wrong[2] = {1, 0};
    double t;
    adapt_calibrator *cal = fit(ADAPT_CALIBRATION_TEMPERATURE, logits, right, 2, 2);
    TU_OK(adapt_calibrator_temperature(&t, cal));
    assert_near(t, AD_TEMPERATURE_MIN, 1e-9, "separable T");
    adapt_calibrator_free(cal);
    cal = fit(ADAPT_CALIBRATION_TEMPERATURE, logits, wrong, 2, 2);
    TU_OK(adapt_calibrator_temperature(&t, cal));
    assert_near(t, AD_TEMPERATURE_MAX, 1e-3, "anti-correlated T");
    adapt_calibrator_free(cal);
}
END_TEST

START_TEST(vector_scaling_is_deterministic_and_beats_temperature)
{
    /* Vector scaling contains temperature scaling (a_k = 1 / T, b = 0), so its fitted NLL
     * can only be lower; a second fit must give the same probabilities bit for bit. */
    enum { N = 300, K = 3 };
    static float logits[N * K], p1[N * K], p2[N * K], pt[N * K];
    static int32_t labels[N];
    draw_problem(logits, labels, N, K, 2.0f, 5);
    for (int i = 0; i < N; i++) /* class-dependent miscalibration */
        logits[i * K + 1] = 0.5f * logits[i * K + 1] + 0.7f;
    adapt_calibrator *v1 = fit(ADAPT_CALIBRATION_VECTOR, logits, labels, N, K);
    adapt_calibrator *v2 = fit(ADAPT_CALIBRATION_VECTOR, logits, labels, N, K);
    adapt_calibrator *t = fit(ADAPT_CALIBRATION_TEMPERATURE, logits, labels, N, K);
    TU_OK(adapt_calibrator_apply(p1, v1, logits, N, K));
    TU_OK(adapt_calibrator_apply(p2, v2, logits, N, K));
    TU_OK(adapt_calibrator_apply(pt, t, logits, N, K));
    ck_assert_mem_eq(p1, p2, sizeof p1);
    const double vector_nll = measure(p1, labels, N, K, ADAPT_SCORES_PROBABILITIES).nll;
    const double temperature_nll = measure(pt, labels, N, K, ADAPT_SCORES_PROBABILITIES).nll;
    const double raw_nll = measure(logits, labels, N, K, ADAPT_SCORES_LOGITS).nll;
    ck_assert_msg(vector_nll < temperature_nll - 1e-3 && temperature_nll <= raw_nll,
                  "NLL raw %g, temperature %g, vector %g", raw_nll, temperature_nll,
                  vector_nll);
    double unused;
    TU_FAILS(adapt_calibrator_temperature(&unused, v1), ADAPT_ERR_STATE);
    adapt_calibrator_free(v1);
    adapt_calibrator_free(v2);
    adapt_calibrator_free(t);
}
END_TEST

/* Five binary rows with logits [0, t]: p1 = sigmoid(t) increases down the table.
 *   row  t    label  [y = 1]  [y = 0]
 *   0    -2   0      0        1
 *   1    -1   1      1        0
 *   2     0   0      0        1
 *   3     1   1      1        0
 *   4     2   1      1        0
 * Class 1 targets by p1 ascending: 0 1 0 1 1 -> PAVA pools (1, 0): 0 .5 .5 1 1.
 * Class 0 targets by p0 ascending (rows 4..0): 0 0 1 0 1 -> 0 0 .5 .5 1, i.e. rows 0..4
 * get 1 .5 .5 0 0. Every row already sums to 1: [1,0] [.5,.5] [.5,.5] [0,1] [0,1]. */
static const float iso_logits[10] = {0, -2, 0, -1, 0, 0, 0, 1, 0, 2};
static const int32_t iso_labels[5] = {0, 1, 0, 1, 1};

START_TEST(isotonic_hand_computed)
{
    adapt_calibrator *cal = fit(ADAPT_CALIBRATION_ISOTONIC, iso_logits, iso_labels, 5, 2);
    float p[10];
    TU_OK(adapt_calibrator_apply(p, cal, iso_logits, 5, 2));
    const float want[10] = {1, 0, 0.5f, 0.5f, 0.5f, 0.5f, 0, 1, 0, 1};
    for (int i = 0; i < 10; i++)
        assert_near(p[i], want[i], 1e-7, "isotonic probability");
    /* Beyond the fitted range the curves are clipped: t = -5 maps like t = -2, t = 9 like
     * t = 2. Between knots they interpolate: class 1 rises linearly from 0 at sigmoid(-2)
     * to 0.5 at sigmoid(-1), class 0 falls from 1 to 0.5 over the same interval. */
    const float outside[4] = {0, -5, 0, 9};
    TU_OK(adapt_calibrator_apply(p, cal, outside, 2, 2));
    assert_near(p[0], 1.0, 1e-7, "clipped low");
    assert_near(p[3], 1.0, 1e-7, "clipped high");
    const double s1 = 1 / (1 + exp(2.0)), s2 = 1 / (1 + exp(1.0));
    const double mid = 0.5 * (s1 + s2); /* p1 halfway between the two knots */
    const float between[2] = {0, (float)log(mid / (1 - mid))};
    TU_OK(adapt_calibrator_apply(p, cal, between, 1, 2));
    /* Class 1: 0.25; class 0 at p0 = 1 - mid, halfway between its knots 1 - s2 and
     * 1 - s1: 0.75. The row already sums to 1. */
    assert_near(p[0], 0.75, 1e-6, "interpolated class 0");
    assert_near(p[1], 0.25, 1e-6, "interpolated class 1");
    adapt_calibrator_free(cal);
}
END_TEST

START_TEST(isotonic_curves_are_monotone_per_class)
{
    enum { N = 500, K = 5 };
    static float logits[N * K];
    static int32_t labels[N];
    draw_problem(logits, labels, N, K, 3.0f, 9);
    adapt_calibrator *cal = fit(ADAPT_CALIBRATION_ISOTONIC, logits, labels, N, K);
    for (int32_t k = 0; k < K; k++) {
        const ad_isotonic_curve *c = &cal->curves[k];
        ck_assert_int_ge(c->count, 2);
        for (int64_t j = 1; j < c->count; j++) {
            ck_assert(c->x[j] > c->x[j - 1]);
            ck_assert(c->value[j] >= c->value[j - 1]);
        }
        double previous = -1.0;
        for (int step = 0; step <= 1000; step++) {
            const double v = ad_isotonic_map(c, step / 1000.0);
            ck_assert_msg(v >= previous && v >= 0.0 && v <= 1.0, "class %d at %g: %g after %g",
                          k, step / 1000.0, v, previous);
            previous = v;
        }
    }
    adapt_calibrator_free(cal);
}
END_TEST

START_TEST(histogram_binning_hand_computed)
{
    /* Two bins (0, 0.5], (0.5, 1] on the isotonic rows; row 2 has p0 = p1 = 0.5 exactly,
     * an upper edge, so it is in the lower bin of both classes.
     *   class 1, lower bin: rows 0, 1, 2, targets 0 1 0 -> 1/3; upper: rows 3, 4 -> 1
     *   class 0, lower bin: rows 2, 3, 4, targets 1 0 0 -> 1/3; upper: rows 0, 1 -> 1/2
     * Row 0: [1/2, 1/3] -> [0.6, 0.4]; row 2: [1/3, 1/3] -> [0.5, 0.5];
     * row 4: [1/3, 1] -> [0.25, 0.75]. */
    adapt_calibrator_params params;
    adapt_calibrator_params_init(&params, sizeof params);
    params.method = ADAPT_CALIBRATION_HISTOGRAM;
    params.bins = 2;
    adapt_calibrator *cal = NULL;
    TU_OK(adapt_calibrator_fit(&cal, &params, iso_logits, iso_labels, 5, 2));
    float p[10];
    TU_OK(adapt_calibrator_apply(p, cal, iso_logits, 5, 2));
    assert_near(p[0], 0.6, 1e-7, "row 0 class 0");
    assert_near(p[4], 0.5, 1e-7, "row 2 class 0");
    assert_near(p[9], 0.75, 1e-7, "row 4 class 1");
    adapt_calibrator_free(cal);
}
END_TEST

START_TEST(histogram_empty_bins_keep_their_centre)
{
    /* Ten bins, every probability in (0.5, 1] or [0, 0.5): bin (0.3, 0.4] of class 0 is
     * empty and holds 0.35, so a new row with p0 = 0.35 (p1 = 0.65, bin (0.6, 0.7], also
     * empty: 0.65) keeps [0.35, 0.65]. */
    const float logits[4] = {3, 0, 0, 3};
    const int32_t labels[2] = {0, 1};
    adapt_calibrator_params params;
    adapt_calibrator_params_init(&params, sizeof params);
    params.method = ADAPT_CALIBRATION_HISTOGRAM;
    params.bins = 10;
    adapt_calibrator *cal = NULL;
    TU_OK(adapt_calibrator_fit(&cal, &params, logits, labels, 2, 2));
    const float row[2] = {0, (float)log(0.65 / 0.35)};
    float p[2];
    TU_OK(adapt_calibrator_apply(p, cal, row, 1, 2));
    assert_near(p[0], 0.35, 1e-6, "class 0");
    assert_near(p[1], 0.65, 1e-6, "class 1");
    adapt_calibrator_free(cal);
}
END_TEST

START_TEST(calibrated_rows_are_distributions_and_apply_works_in_place)
{
    enum { N = 200, K = 4 };
    static float logits[N * K], copy[N * K], out[N * K];
    static int32_t labels[N];
    draw_problem(logits, labels, N, K, 2.5f, 13);
    adapt_calibrator *cal = fit((adapt_calibration_method)_i, logits, labels, N, K);
    TU_OK(adapt_calibrator_apply(out, cal, logits, N, K));
    for (int i = 0; i < N; i++) {
        double sum = 0.0;
        for (int k = 0; k < K; k++) {
            ck_assert(out[i * K + k] >= 0.0f && out[i * K + k] <= 1.0f);
            sum += out[i * K + k];
        }
        assert_near(sum, 1.0, 1e-5, "row sum");
    }
    memcpy(copy, logits, sizeof logits);
    TU_OK(adapt_calibrator_apply(copy, cal, copy, N, K));
    ck_assert_mem_eq(copy, out, sizeof out);
    TU_OK(adapt_calibrator_apply(out, cal, logits, 0, K)); /* an empty batch */
    adapt_calibrator_free(cal);
}
END_TEST

/* ------------------------------------------------------------------ argument errors */

START_TEST(metrics_refuse_bad_input_and_write_nothing)
{
    float probs[10];
    memcpy(probs, hand_probs, sizeof probs);
    int32_t labels[5];
    memcpy(labels, hand_labels, sizeof labels);
    adapt_metrics_report r, untouched;
    memset(&r, 0x5a, sizeof r);
    r.struct_size = sizeof r;
    untouched = r;
    const adapt_score_kind P = ADAPT_SCORES_PROBABILITIES;
    TU_FAILS(adapt_metrics_compute(NULL, probs, labels, 5, 2, P), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_metrics_compute(&r, NULL, labels, 5, 2, P), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_metrics_compute(&r, probs, NULL, 5, 2, P), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_metrics_compute(&r, probs, labels, 0, 2, P), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_metrics_compute(&r, probs, labels, -3, 2, P), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_metrics_compute(&r, probs, labels, 10, 1, P), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_metrics_compute(&r, probs, labels, 5, 2, (adapt_score_kind)4),
             ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_metrics_compute(&r, probs, labels, INT64_MAX / 2, 2, P), ADAPT_ERR_OVERFLOW);
    labels[3] = 2;
    TU_FAILS(adapt_metrics_compute(&r, probs, labels, 5, 2, P), ADAPT_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(adapt_last_error(), "labels[3] = 2"));
    labels[3] = -1;
    TU_FAILS(adapt_metrics_compute(&r, probs, labels, 5, 2, P), ADAPT_ERR_INVALID_ARGUMENT);
    labels[3] = 0;
    probs[5] = NAN;
    TU_FAILS(adapt_metrics_compute(&r, probs, labels, 5, 2, P), ADAPT_ERR_NONFINITE);
    TU_FAILS(adapt_metrics_compute(&r, probs, labels, 5, 2, ADAPT_SCORES_LOGITS),
             ADAPT_ERR_NONFINITE);
    probs[5] = INFINITY;
    TU_FAILS(adapt_metrics_compute(&r, probs, labels, 5, 2, ADAPT_SCORES_LOGITS),
             ADAPT_ERR_NONFINITE);
    probs[5] = 0.4f; /* row 2 sums to 0.775 */
    TU_FAILS(adapt_metrics_compute(&r, probs, labels, 5, 2, P), ADAPT_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(adapt_last_error(), "row 2"));
    probs[4] = 1.1f, probs[5] = -0.1f; /* sums to 1, one value negative */
    TU_FAILS(adapt_metrics_compute(&r, probs, labels, 5, 2, P), ADAPT_ERR_INVALID_ARGUMENT);
    ck_assert_mem_eq(&r, &untouched, sizeof r);
    r.struct_size = 0;
    TU_FAILS(adapt_metrics_compute(&r, probs, labels, 5, 2, P), ADAPT_ERR_INVALID_ARGUMENT);
    /* Within the 1e-3 tolerance a row is accepted as it is. */
    probs[4] = 0.3755f, probs[5] = 0.625f;
    r.struct_size = sizeof r;
    TU_OK(adapt_metrics_compute(&r, probs, labels, 5, 2, P));
}
END_TEST

START_TEST(calibrators_refuse_bad_input_and_write_nothing)
{
    const float logits[4] = {1, 0, 0, 1};
    int32_t labels[2] = {0, 1};
    static char marker; /* *out must keep this on every error */
    adapt_calibrator *const sentinel = (adapt_calibrator *)&marker, *cal = sentinel;
    adapt_calibrator_params p;
    const struct {
        int32_t method, bins, max_iterations;
        double tolerance;
        adapt_status status;
    } bad[] = {
        {5, 15, 500, 1e-7, ADAPT_ERR_INVALID_ARGUMENT},
        {-1, 15, 500, 1e-7, ADAPT_ERR_INVALID_ARGUMENT},
        {2, 0, 500, 1e-7, ADAPT_ERR_INVALID_ARGUMENT},
        {2, (1 << 20) + 1, 500, 1e-7, ADAPT_ERR_INVALID_ARGUMENT},
        {1, 15, 0, 1e-7, ADAPT_ERR_INVALID_ARGUMENT},
        {1, 15, 500, -1.0, ADAPT_ERR_INVALID_ARGUMENT},
        {1, 15, 500, NAN, ADAPT_ERR_NONFINITE},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        adapt_calibrator_params_init(&p, sizeof p);
        p.method = bad[i].method, p.bins = bad[i].bins;
        p.max_iterations = bad[i].max_iterations, p.tolerance = bad[i].tolerance;
        TU_FAILS(adapt_calibrator_fit(&cal, &p, logits, labels, 2, 2), bad[i].status);
    }
    adapt_calibrator_params_init(&p, sizeof p);
    p.struct_size = 0;
    TU_FAILS(adapt_calibrator_fit(&cal, &p, logits, labels, 2, 2), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_calibrator_fit(NULL, NULL, logits, labels, 2, 2), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_calibrator_fit(&cal, NULL, NULL, labels, 2, 2), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_calibrator_fit(&cal, NULL, logits, NULL, 2, 2), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_calibrator_fit(&cal, NULL, logits, labels, 0, 2), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_calibrator_fit(&cal, NULL, logits, labels, 4, 1), ADAPT_ERR_INVALID_ARGUMENT);
    labels[1] = 2;
    TU_FAILS(adapt_calibrator_fit(&cal, NULL, logits, labels, 2, 2), ADAPT_ERR_INVALID_ARGUMENT);
    labels[1] = 1;
    const float nan_logits[4] = {1, NAN, 0, 1};
    TU_FAILS(adapt_calibrator_fit(&cal, NULL, nan_logits, labels, 2, 2), ADAPT_ERR_NONFINITE);
    ck_assert_ptr_eq(cal, sentinel);

    TU_OK(adapt_calibrator_fit(&cal, NULL, logits, labels, 2, 2)); /* NULL: defaults */
    float out[4] = {7, 7, 7, 7};
    TU_FAILS(adapt_calibrator_apply(out, cal, nan_logits, 2, 2), ADAPT_ERR_NONFINITE);
    TU_FAILS(adapt_calibrator_apply(out, cal, logits, 1, 4), ADAPT_ERR_SHAPE);
    TU_FAILS(adapt_calibrator_apply(out, cal, logits, -1, 2), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_calibrator_apply(out, NULL, logits, 2, 2), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_calibrator_apply(NULL, cal, logits, 2, 2), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_calibrator_apply(out, cal, NULL, 2, 2), ADAPT_ERR_INVALID_ARGUMENT);
    for (int i = 0; i < 4; i++)
        ck_assert_float_eq(out[i], 7.0f);
    double t = -1.0;
    TU_FAILS(adapt_calibrator_temperature(NULL, cal), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_calibrator_temperature(&t, NULL), ADAPT_ERR_INVALID_ARGUMENT);
    ck_assert(t == -1.0);
    adapt_calibrator_free(cal);
    adapt_calibrator_free(NULL);
    adapt_calibrator_params_init(NULL, sizeof(adapt_calibrator_params));
}
END_TEST

START_TEST(calibrator_params_defaults)
{
    adapt_calibrator_params p;
    adapt_calibrator_params_init(&p, sizeof p);
    ck_assert_uint_eq(p.struct_size, sizeof p);
    ck_assert_int_eq(p.method, ADAPT_CALIBRATION_TEMPERATURE);
    ck_assert_int_eq(p.bins, 15);
    ck_assert_int_eq(p.max_iterations, 500);
    ck_assert(p.tolerance == 1e-7);
}
END_TEST

static Suite *metrics_suite(void)
{
    Suite *s = suite_create("metrics");
    TCase *metrics = tcase_create("metrics");
    tcase_add_test(metrics, hand_computed_from_probabilities);
    tcase_add_test(metrics, hand_computed_from_logits);
    tcase_add_test(metrics, fpr_at_95_tpr_stops_at_the_first_threshold_reaching_it);
    tcase_add_loop_test(metrics, all_correct_or_all_wrong_leave_auroc_and_fpr_undefined, 0, 2);
    tcase_add_test(metrics, nll_clamps_a_zero_probability);
    tcase_add_test(metrics, a_shorter_report_is_filled_only_as_far_as_its_size);
    tcase_add_test(metrics, temperature_keeps_a_binary_heads_ranking_but_not_its_calibration);
    tcase_add_test(metrics, a_monotone_map_of_the_confidence_keeps_auroc_and_aurc);
    tcase_add_test(metrics, temperature_can_reorder_a_multiclass_heads_confidences);
    tcase_add_test(metrics, metrics_refuse_bad_input_and_write_nothing);
    suite_add_tcase(s, metrics);
    TCase *calibration = tcase_create("calibration");
    tcase_add_test(calibration, temperature_fit_finds_the_nll_minimum);
    tcase_add_test(calibration, temperature_fit_stops_at_the_range_ends);
    tcase_add_test(calibration, vector_scaling_is_deterministic_and_beats_temperature);
    tcase_add_test(calibration, isotonic_hand_computed);
    tcase_add_test(calibration, isotonic_curves_are_monotone_per_class);
    tcase_add_test(calibration, histogram_binning_hand_computed);
    tcase_add_test(calibration, histogram_empty_bins_keep_their_centre);
    tcase_add_loop_test(calibration, calibrated_rows_are_distributions_and_apply_works_in_place,
                        ADAPT_CALIBRATION_TEMPERATURE, ADAPT_CALIBRATION_ISOTONIC + 1);
    tcase_add_test(calibration, calibrators_refuse_bad_input_and_write_nothing);
    tcase_add_test(calibration, calibrator_params_defaults);
    suite_add_tcase(s, calibration);
    return s;
}

int main(void)
{
    return tu_run(metrics_suite());
}
