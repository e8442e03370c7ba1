/* Exponential calibration of a one-vs-all model (docs/slova.md): the confidence m = max_k q_k
 * becomes m^alpha, with one alpha > 0 fitted on validation rows.
 *
 * m^alpha is read as the probability that the prediction is right, so alpha minimises the
 * binary NLL of the predictions' correctness c_i, mean_i [-c_i alpha L_i - (1 - c_i)
 * log(1 - e^{alpha L_i})] with L_i = log m_i <= 0. Its second derivative, the mean over the
 * wrong rows of L^2 u / (1 - u)^2 with u = e^{alpha L}, is never negative, so
 * ad_convex_minimise finds it. (The NLL of the label under rows q^alpha would not do: nothing
 * normalises them, and it falls towards alpha = 0.) */
#include "lib/eval/calibrator.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>

#include "lib/core/error.h"
#include "lib/eval/convex_1d.h"
#include "lib/kernels/row_reduce.h"

typedef struct {
    double log_top; /* L = log max_k q_k */
    bool correct;   /* the row's prediction is its label */
} validation_row;

typedef struct {
    const validation_row *rows;
    int64_t n;
} validation_set;

static ad_derivatives nll_derivatives(double alpha, const void *data)
{
    const validation_set *v = data;
    double slope = 0.0, curvature = 0.0;
    for (int64_t i = 0; i < v->n; i++) {
        const double L = v->rows[i].log_top;
        if (v->rows[i].correct) {
            slope -= L;
            continue;
        }
        const double g = -alpha * L; /* -log m^alpha */
        if (g == 0.0) { /* the limits as L -> 0 */
            slope -= 1.0 / alpha;
            curvature += 1.0 / (alpha * alpha);
            continue;
        }
        const double u = exp(-g), rest = -expm1(-g); /* m^alpha and 1 - m^alpha */
        slope += L * u / rest;
        curvature += L * L * u / (rest * rest);
    }
    return (ad_derivatives){slope / (double)v->n, curvature / (double)v->n};
}

adapt_status ad_exponent_fit(double *exponent, const float *logits, const int32_t *labels,
                             int64_t n, int32_t classes, const char *fn)
{
    validation_row *rows = malloc((size_t)n * sizeof *rows);
    if (!rows)
        return ad_fail(ADAPT_ERR_OUT_OF_MEMORY, "%s: no memory for %lld validation rows", fn,
                       (long long)n);
    for (int64_t i = 0; i < n; i++) {
        int64_t top;
        rows[i].log_top = ad_row_one_vs_all_log_top(logits + i * classes, classes, &top);
        rows[i].correct = top == labels[i];
    }
    const validation_set v = {rows, n};
    *exponent = ad_convex_minimise(nll_derivatives, &v, AD_EXPONENT_MIN, AD_EXPONENT_MAX, 1.0);
    free(rows);
    return ADAPT_OK;
}

/* The other classes are scaled by the largest factor that keeps both the prediction
 * (q_k f <= m^alpha, as q_k <= m) and a row total of at most 1 ((1 - m) f <= 1 - m^alpha):
 * for alpha > 1 that is m^(alpha - 1), every class losing the same share to "none"; for
 * alpha < 1 the others give up what the confidence gains. */
void ad_exponent_row(double *row, const float *logits, int32_t classes, double exponent)
{
    int64_t top;
    const double L = ad_row_one_vs_all_log_top(logits, classes, &top);
    const double normaliser = ad_row_softplus_sum(logits, classes);
    const double keep_prediction = exp((exponent - 1.0) * L);
    const double keep_total = L == 0.0 ? exponent : expm1(exponent * L) / expm1(L);
    const double factor = fmin(keep_prediction, keep_total);
    for (int32_t k = 0; k < classes; k++)
        row[k] = exp((double)logits[k] - normaliser) * factor;
    row[top] = exp(exponent * L);
}
