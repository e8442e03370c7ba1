/* The calibrator handle and the fitting and mapping functions of its five methods. */
#ifndef AD_EVAL_CALIBRATOR_H
#define AD_EVAL_CALIBRATOR_H

#include <stdint.h>

#include "adapt.h"
#include "lib/eval/score_rows.h"

/* A non-decreasing piecewise-linear map of [0, 1], constant outside its first and last
 * knots: one class of an isotonic calibrator. */
typedef struct {
    int64_t count; /* knots, >= 1 */
    double *x;     /* increasing */
    double *value; /* non-decreasing */
} ad_isotonic_curve;

struct adapt_calibrator {
    adapt_calibration_method method;
    int32_t classes;
    double temperature;        /* TEMPERATURE */
    double exponent;           /* EXPONENTIAL */
    double *scale, *shift;     /* VECTOR: a_k and b_k, `classes` each */
    int32_t bins;              /* HISTOGRAM */
    double *bin_value;         /* HISTOGRAM: [classes, bins] */
    ad_isotonic_curve *curves; /* ISOTONIC: one per class */
};

/* Temperature T minimising the mean NLL of softmax(logits / T), T in
 * [AD_TEMPERATURE_MIN, AD_TEMPERATURE_MAX]. */
#define AD_TEMPERATURE_MIN 1e-3
#define AD_TEMPERATURE_MAX 1e3
double ad_temperature_fit(const float *logits, const int32_t *labels, int64_t n,
                          int32_t classes);

/* alpha minimising the binary NLL of (max q)^alpha, SLOVA's confidence, as the probability
 * that a row's prediction is right; alpha in [AD_EXPONENT_MIN, AD_EXPONENT_MAX]. */
#define AD_EXPONENT_MIN 1e-3
#define AD_EXPONENT_MAX 1e3
adapt_status ad_exponent_fit(double *exponent, const float *logits, const int32_t *labels,
                             int64_t n, int32_t classes, const char *fn);
/* One row of one-vs-all logits to its calibrated single-label probabilities: the largest
 * becomes (max q)^exponent, the others are scaled so that the prediction stays and the row
 * sums to at most 1. */
void ad_exponent_row(double *row, const float *logits, int32_t classes, double exponent);

/* a_k, b_k minimising the mean NLL of softmax(a * z + b) by L-BFGS from a = 1, b = 0. */
adapt_status ad_vector_fit(double *scale, double *shift, const float *logits,
                           const int32_t *labels, int64_t n, int32_t classes,
                           int32_t max_iterations, double tolerance, const char *fn);

/* Bin of probability p among `bins` equal-width bins (lo, hi], 0 in the first. */
int32_t ad_histogram_bin(double p, int32_t bins);
/* Frequency of each class in each bin of its own probability ([classes, bins]). */
adapt_status ad_histogram_fit(double *bin_value, int32_t bins, const ad_score_rows *rows,
                              const int32_t *labels, const char *fn);

/* One isotonic curve per class, fitted to (p_k, [y = k]); free with
 * ad_isotonic_curves_free(). */
adapt_status ad_isotonic_fit(ad_isotonic_curve *curves, const ad_score_rows *rows,
                             const int32_t *labels, const char *fn);
double ad_isotonic_map(const ad_isotonic_curve *curve, double p);
void ad_isotonic_curves_free(ad_isotonic_curve *curves, int32_t classes);

#endif
