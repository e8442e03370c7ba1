/* The calibrator handle: parameters, fitting by method, applying to logits, release. */
#include "lib/eval/calibrator.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lib/core/error.h"
#include "lib/core/struct_io.h"

#define MAX_BINS (1 << 20)

void adapt_calibrator_params_init(adapt_calibrator_params *params, size_t size)
{
    static const adapt_calibrator_params defaults = {.method = ADAPT_CALIBRATION_TEMPERATURE,
                                                     .bins = 15, .max_iterations = 500,
                                                     .tolerance = 1e-7};
    ad_struct_init(params, size, &defaults, sizeof defaults);
}

/* Defaults overlaid with the fields the caller knows, then checked. */
static adapt_status read_params(adapt_calibrator_params *own,
                                const adapt_calibrator_params *user, const char *fn)
{
    adapt_calibrator_params_init(own, sizeof *own);
    adapt_status st = ad_struct_read(own, sizeof *own, user, "adapt_calibrator_params", fn);
    if (st)
        return st;
    if (own->method < ADAPT_CALIBRATION_TEMPERATURE || own->method > ADAPT_CALIBRATION_EXPONENTIAL)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: unknown method %d", fn,
                       (int)own->method);
    if (own->bins < 1 || own->bins > MAX_BINS)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: bins = %d outside [1, %d]", fn,
                       (int)own->bins, MAX_BINS);
    if (own->max_iterations < 1)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: max_iterations = %d; must be >= 1", fn,
                       (int)own->max_iterations);
    if (!isfinite(own->tolerance))
        return ad_fail(ADAPT_ERR_NONFINITE, "%s: tolerance is %g", fn, own->tolerance);
    if (own->tolerance < 0.0)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: tolerance = %g is negative", fn,
                       own->tolerance);
    return ADAPT_OK;
}

void adapt_calibrator_free(adapt_calibrator *calibrator)
{
    if (!calibrator)
        return;
    free(calibrator->scale);
    free(calibrator->shift);
    free(calibrator->bin_value);
    ad_isotonic_curves_free(calibrator->curves, calibrator->classes);
    free(calibrator);
}

static adapt_status fit_vector(adapt_calibrator *cal, const adapt_calibrator_params *p,
                               const float *logits, const int32_t *labels, int64_t n,
                               const char *fn)
{
    cal->scale = malloc((size_t)cal->classes * sizeof(double));
    cal->shift = malloc((size_t)cal->classes * sizeof(double));
    if (!cal->scale || !cal->shift)
        return ad_fail(ADAPT_ERR_OUT_OF_MEMORY, "%s: no memory for %d classes", fn,
                       (int)cal->classes);
    return ad_vector_fit(cal->scale, cal->shift, logits, labels, n, cal->classes,
                         p->max_iterations, p->tolerance, fn);
}

/* Histogram binning and isotonic regression: one map per class of its softmax probability. */
static adapt_status fit_per_class(adapt_calibrator *cal, const adapt_calibrator_params *p,
                                  const float *logits, const int32_t *labels, int64_t n,
                                  const char *fn)
{
    const size_t classes = (size_t)cal->classes;
    if (cal->method == ADAPT_CALIBRATION_HISTOGRAM) {
        cal->bins = p->bins;
        cal->bin_value = malloc(classes * (size_t)p->bins * sizeof(double));
    } else {
        cal->curves = calloc(classes, sizeof *cal->curves);
    }
    if (!cal->bin_value && !cal->curves)
        return ad_fail(ADAPT_ERR_OUT_OF_MEMORY, "%s: no memory for %zu classes", fn, classes);
    ad_score_rows rows;
    adapt_status st = ad_score_rows_open(&rows, logits, n, cal->classes, ADAPT_SCORES_LOGITS, fn);
    if (st)
        return st;
    if (cal->bin_value)
        st = ad_histogram_fit(cal->bin_value, cal->bins, &rows, labels, fn);
    else
        st = ad_isotonic_fit(cal->curves, &rows, labels, fn);
    ad_score_rows_close(&rows);
    return st;
}

/* Fits the method the calibrator was made for; its arrays are allocated here and released
 * by adapt_calibrator_free() also after a failure. */
static adapt_status fit_method(adapt_calibrator *cal, const adapt_calibrator_params *p,
                               const float *logits, const int32_t *labels, int64_t n,
                               const char *fn)
{
    switch (cal->method) {
    case ADAPT_CALIBRATION_TEMPERATURE:
        cal->temperature = ad_temperature_fit(logits, labels, n, cal->classes);
        return ADAPT_OK;
    case ADAPT_CALIBRATION_VECTOR:
        return fit_vector(cal, p, logits, labels, n, fn);
    case ADAPT_CALIBRATION_EXPONENTIAL:
        return ad_exponent_fit(&cal->exponent, logits, labels, n, cal->classes, fn);
    default:
        return fit_per_class(cal, p, logits, labels, n, fn);
    }
}

adapt_status adapt_calibrator_fit(adapt_calibrator **out, const adapt_calibrator_params *params,
                                  const float *logits, const int32_t *labels, int64_t n,
                                  int32_t classes)
{
    const char *fn = "adapt_calibrator_fit";
    if (!out)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: out is NULL", fn);
    adapt_calibrator_params p;
    adapt_status st = read_params(&p, params, fn);
    if (!st)
        st = ad_score_rows_check(logits, n, classes, ADAPT_SCORES_LOGITS, 1, "logits", fn);
    if (!st)
        st = ad_labels_check(labels, n, classes, fn);
    if (!st && p.method == ADAPT_CALIBRATION_VECTOR && classes > INT32_MAX / 2)
        st = ad_fail(ADAPT_ERR_OVERFLOW, "%s: %d classes are too many for vector scaling", fn,
                     (int)classes);
    if (st)
        return st;
    adapt_calibrator *cal = calloc(1, sizeof *cal);
    if (!cal)
        return ad_fail(ADAPT_ERR_OUT_OF_MEMORY, "%s: no memory for the calibrator", fn);
    cal->method = (adapt_calibration_method)p.method;
    cal->classes = classes;
    st = fit_method(cal, &p, logits, labels, n, fn);
    if (st) {
        adapt_calibrator_free(cal);
        return st;
    }
    *out = cal;
    return ADAPT_OK;
}

/* The one parameter of a calibrator of `method`, or ADAPT_ERR_STATE for another method. */
static adapt_status read_parameter(double *out, const adapt_calibrator *calibrator,
                                   adapt_calibration_method method, const char *name,
                                   const char *fn)
{
    if (!out || !calibrator)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: %s is NULL", fn,
                       out ? "calibrator" : name);
    if (calibrator->method != method)
        return ad_fail(ADAPT_ERR_STATE, "%s: the calibrator uses method %d, which has no %s",
                       fn, (int)calibrator->method, name);
    *out = method == ADAPT_CALIBRATION_TEMPERATURE ? calibrator->temperature
                                                   : calibrator->exponent;
    return ADAPT_OK;
}

adapt_status adapt_calibrator_temperature(double *temperature,
                                          const adapt_calibrator *calibrator)
{
    return read_parameter(temperature, calibrator, ADAPT_CALIBRATION_TEMPERATURE,
                          "temperature", "adapt_calibrator_temperature");
}

adapt_status adapt_calibrator_exponent(double *exponent, const adapt_calibrator *calibrator)
{
    return read_parameter(exponent, calibrator, ADAPT_CALIBRATION_EXPONENTIAL, "exponent",
                          "adapt_calibrator_exponent");
}
