/* adapt_calibrator_apply: logits to calibrated probability rows, one row at a time in
 * double. Temperature and vector scaling transform the logits before the softmax; histogram
 * binning and isotonic regression map each class's softmax probability on its own and then
 * renormalise the row; exponential calibration reads one-vs-all logits (calibrate_exponent.c). */
#include "lib/eval/calibrator.h"

#include <stdlib.h>

#include "lib/core/error.h"

static double map_class(const adapt_calibrator *cal, int32_t k, double p)
{
    if (cal->method == ADAPT_CALIBRATION_HISTOGRAM)
        return cal->bin_value[(size_t)k * cal->bins + (size_t)ad_histogram_bin(p, cal->bins)];
    return ad_isotonic_map(&cal->curves[k], p);
}

/* `row` holds one row of `logits` on entry and its calibrated probabilities on return;
 * `mapped` is scratch of the same size. */
static void calibrate_row(const adapt_calibrator *cal, const float *logits, double *row,
                          double *mapped)
{
    const int32_t classes = cal->classes;
    switch (cal->method) {
    case ADAPT_CALIBRATION_EXPONENTIAL:
        ad_exponent_row(row, logits, classes, cal->exponent);
        return;
    case ADAPT_CALIBRATION_TEMPERATURE:
        for (int32_t k = 0; k < classes; k++)
            row[k] /= cal->temperature;
        ad_softmax_in_place(row, classes);
        return;
    case ADAPT_CALIBRATION_VECTOR:
        for (int32_t k = 0; k < classes; k++)
            row[k] = cal->scale[k] * row[k] + cal->shift[k];
        ad_softmax_in_place(row, classes);
        return;
    default:
        break;
    }
    ad_softmax_in_place(row, classes);
    double sum = 0.0;
    for (int32_t k = 0; k < classes; k++)
        sum += mapped[k] = map_class(cal, k, row[k]);
    /* Every class mapped to 0 says nothing about the row: it keeps its softmax. */
    if (sum > 0.0)
        for (int32_t k = 0; k < classes; k++)
            row[k] = mapped[k] / sum;
}

adapt_status adapt_calibrator_apply(float *probabilities, const adapt_calibrator *calibrator,
                                    const float *logits, int64_t n, int32_t classes)
{
    const char *fn = "adapt_calibrator_apply";
    if (!probabilities || !calibrator)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: %s is NULL", fn,
                       probabilities ? "calibrator" : "probabilities");
    if (classes != calibrator->classes)
        return ad_fail(ADAPT_ERR_SHAPE, "%s: %d classes given, the calibrator was fitted on %d",
                       fn, (int)classes, (int)calibrator->classes);
    adapt_status st =
        ad_score_rows_check(logits, n, classes, ADAPT_SCORES_LOGITS, 0, "logits", fn);
    if (st)
        return st;
    double *row = malloc(2 * (size_t)classes * sizeof *row);
    if (!row)
        return ad_fail(ADAPT_ERR_OUT_OF_MEMORY, "%s: no memory for a row of %d classes", fn,
                       (int)classes);
    /* Each row is read whole before it is written, so `probabilities` may be `logits`. */
    for (int64_t i = 0; i < n; i++) {
        for (int32_t k = 0; k < classes; k++)
            row[k] = logits[i * classes + k];
        calibrate_row(calibrator, logits + i * classes, row, row + classes);
        for (int32_t k = 0; k < classes; k++)
            probabilities[i * classes + k] = (float)row[k];
    }
    free(row);
    return ADAPT_OK;
}
