#include "lib/eval/score_rows.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>

#include "lib/core/error.h"
#include "lib/kernels/row_reduce.h"

static adapt_status check_sizes(int64_t n, int32_t classes, int64_t min_n, const char *fn)
{
    if (n < min_n)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: n = %lld; must be >= %lld", fn,
                       (long long)n, (long long)min_n);
    if (classes < 2)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: classes = %d; must be >= 2", fn,
                       (int)classes);
    /* Scores and the double work arrays beside them must be addressable. */
    if (n > (int64_t)(PTRDIFF_MAX / sizeof(double)) / classes)
        return ad_fail(ADAPT_ERR_OVERFLOW, "%s: %lld x %d scores do not fit in memory", fn,
                       (long long)n, (int)classes);
    return ADAPT_OK;
}

adapt_status ad_labels_check(const int32_t *labels, int64_t n, int32_t classes, const char *fn)
{
    if (!labels)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: labels is NULL", fn);
    for (int64_t i = 0; i < n; i++)
        if (labels[i] < 0 || labels[i] >= classes)
            return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: labels[%lld] = %d outside [0, %d)",
                           fn, (long long)i, (int)labels[i], (int)classes);
    return ADAPT_OK;
}

static adapt_status check_finite(const float *scores, int64_t n, int32_t classes,
                                 const char *what, const char *fn)
{
    for (int64_t i = 0; i < n * classes; i++)
        if (!isfinite(scores[i]))
            return ad_fail(ADAPT_ERR_NONFINITE, "%s: %s[%lld, %d] is %g", fn, what,
                           (long long)(i / classes), (int)(i % classes), (double)scores[i]);
    return ADAPT_OK;
}

/* Rows of non-negative values summing to 1 or, for sub-probabilities, to at most 1, each
 * within AD_PROB_SUM_TOLERANCE. */
static adapt_status check_distributions(const float *scores, int64_t n, int32_t classes,
                                        adapt_score_kind kind, const char *fn)
{
    const bool partial = kind == ADAPT_SCORES_SUB_PROBABILITIES;
    for (int64_t i = 0; i < n; i++) {
        const float *row = scores + i * classes;
        double sum = 0.0;
        for (int32_t k = 0; k < classes; k++) {
            if (row[k] < 0.0f)
                return ad_fail(ADAPT_ERR_INVALID_ARGUMENT,
                               "%s: probability [%lld, %d] = %g is negative", fn, (long long)i,
                               (int)k, (double)row[k]);
            sum += row[k];
        }
        const double excess = partial ? sum - 1.0 : fabs(sum - 1.0);
        if (excess > AD_PROB_SUM_TOLERANCE)
            return ad_fail(ADAPT_ERR_INVALID_ARGUMENT,
                           "%s: probability row %lld sums to %.9g, not %s1 (within %g); pass "
                           "ADAPT_SCORES_LOGITS for logits",
                           fn, (long long)i, sum, partial ? "at most " : "",
                           AD_PROB_SUM_TOLERANCE);
    }
    return ADAPT_OK;
}

adapt_status ad_score_rows_check(const float *scores, int64_t n, int32_t classes,
                                 adapt_score_kind kind, int64_t min_n, const char *what,
                                 const char *fn)
{
    if (!scores)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: %s is NULL", fn, what);
    adapt_status st = check_sizes(n, classes, min_n, fn);
    if (st)
        return st;
    if (kind < ADAPT_SCORES_PROBABILITIES || kind > ADAPT_SCORES_SUB_PROBABILITIES)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: unknown score kind %d", fn, (int)kind);
    if ((st = check_finite(scores, n, classes, what, fn)))
        return st;
    return ad_score_kind_is_probability(kind)
               ? check_distributions(scores, n, classes, kind, fn)
               : ADAPT_OK;
}

/* The largest value of a row, as a double. */
static double row_top(const float *z, int32_t classes)
{
    float top = z[0];
    for (int32_t k = 1; k < classes; k++)
        top = z[k] > top ? z[k] : top;
    return top;
}

double ad_softmax_in_place(double *z, int32_t classes)
{
    double top = z[0];
    for (int32_t k = 1; k < classes; k++)
        top = z[k] > top ? z[k] : top;
    double sum = 0.0;
    for (int32_t k = 0; k < classes; k++)
        sum += z[k] = exp(z[k] - top);
    for (int32_t k = 0; k < classes; k++)
        z[k] /= sum;
    return top + log(sum);
}

void ad_probabilities_in_place(double *z, int32_t classes, adapt_score_kind kind)
{
    if (kind == ADAPT_SCORES_LOGITS) {
        ad_softmax_in_place(z, classes);
        return;
    }
    if (kind != ADAPT_SCORES_ONE_VS_ALL)
        return;
    double normaliser = 0.0; /* summed in ad_row_softplus_sum's order */
    for (int32_t k = 0; k < classes; k++)
        normaliser += ad_softplus(z[k]);
    for (int32_t k = 0; k < classes; k++)
        z[k] = exp(z[k] - normaliser);
}

adapt_status ad_score_rows_open(ad_score_rows *rows, const float *scores, int64_t n,
                                int32_t classes, adapt_score_kind kind, const char *fn)
{
    *rows = (ad_score_rows){.scores = scores, .n = n, .classes = classes};
    if (ad_score_kind_is_probability(kind))
        return ADAPT_OK;
    rows->row_shift = malloc((size_t)n * sizeof *rows->row_shift);
    rows->row_sum = malloc((size_t)n * sizeof *rows->row_sum);
    if (!rows->row_shift || !rows->row_sum) {
        ad_score_rows_close(rows);
        return ad_fail(ADAPT_ERR_OUT_OF_MEMORY, "%s: no memory for %lld row normalisers", fn,
                       (long long)n);
    }
    for (int64_t i = 0; i < n; i++) {
        const float *z = scores + i * classes;
        if (kind == ADAPT_SCORES_ONE_VS_ALL) {
            rows->row_shift[i] = ad_row_softplus_sum(z, classes), rows->row_sum[i] = 1.0;
            continue;
        }
        const double top = row_top(z, classes);
        double sum = 0.0;
        for (int32_t k = 0; k < classes; k++)
            sum += exp((double)z[k] - top);
        rows->row_shift[i] = top;
        rows->row_sum[i] = sum;
    }
    return ADAPT_OK;
}

void ad_score_rows_close(ad_score_rows *rows)
{
    free(rows->row_shift);
    free(rows->row_sum);
    rows->row_shift = rows->row_sum = NULL;
}
