/* Classifier outputs as the evaluation code reads them: validated rows of probabilities, given
 * directly or as logits with each row's normaliser (a softmax's, or SLOVA's for one-vs-all
 * logits), so no [n, classes] double copy is ever made. A probability read from logits is computed exactly as ad_softmax_in_place
 * computes it, so a calibrator maps the same values when it is fitted and when applied. */
#ifndef AD_EVAL_SCORE_ROWS_H
#define AD_EVAL_SCORE_ROWS_H

#include <math.h>
#include <stdbool.h>
#include <stdint.h>

#include "adapt.h"

/* Largest |row sum - 1| accepted for rows given as probabilities: float32 softmax rows of a
 * few thousand classes stay far inside it, a row that is not a distribution does not. */
#define AD_PROB_SUM_TOLERANCE 1e-3

typedef struct {
    const float *scores; /* [n, classes], row-major */
    int64_t n;
    int32_t classes;
    /* Logits only (NULL for probabilities): log p_k = z_k - row_shift - log(row_sum). A
     * softmax: the largest logit and sum_k exp(z_k - it); one-vs-all, where p_k is SLOVA's
     * single-label probability q_k = e^{z_k} / prod_j (1 + e^{z_j}): sum_j softplus(z_j)
     * and 1. */
    double *row_shift, *row_sum;
} ad_score_rows;

/* Scores given as probabilities, used as they are (rather than logits to normalise). */
static inline bool ad_score_kind_is_probability(adapt_score_kind kind)
{
    return kind == ADAPT_SCORES_PROBABILITIES || kind == ADAPT_SCORES_SUB_PROBABILITIES;
}

/* Checks a score array as every evaluation entry point needs it: non-NULL, n >= min_n,
 * classes >= 2, n * classes addressable, every value finite and, for probabilities, rows of
 * non-negative values summing to 1 (sub-probabilities: at most 1) within
 * AD_PROB_SUM_TOLERANCE. `what` names the array in messages. */
adapt_status ad_score_rows_check(const float *scores, int64_t n, int32_t classes,
                                 adapt_score_kind kind, int64_t min_n, const char *what,
                                 const char *fn);

/* Checks n labels: non-NULL, each in [0, classes). */
adapt_status ad_labels_check(const int32_t *labels, int64_t n, int32_t classes, const char *fn);

/* Prepares checked scores for reading; free with ad_score_rows_close(). */
adapt_status ad_score_rows_open(ad_score_rows *rows, const float *scores, int64_t n,
                                int32_t classes, adapt_score_kind kind, const char *fn);
void ad_score_rows_close(ad_score_rows *rows);

/* Log-probability of class k in row i, in double; -inf for a probability of 0. */
static inline double ad_score_log_prob(const ad_score_rows *r, int64_t i, int32_t k)
{
    const double s = r->scores[i * r->classes + k];
    return r->row_shift ? s - r->row_shift[i] - log(r->row_sum[i]) : log(s);
}

/* Probability of class k in row i, in double. */
static inline double ad_score_prob(const ad_score_rows *r, int64_t i, int32_t k)
{
    const double s = r->scores[i * r->classes + k];
    return r->row_shift ? exp(s - r->row_shift[i]) / r->row_sum[i] : s;
}

/* Replaces z[0..classes) by softmax(z): exp(z_k - max z) / sum_j exp(z_j - max z). Returns
 * log-sum-exp(z), the row's log-normaliser. */
double ad_softmax_in_place(double *z, int32_t classes);

/* Replaces a row of scores of `kind` by the probabilities evaluation reads them as: logits by
 * their softmax, one-vs-all logits by SLOVA's q_k = exp(z_k - sum_j softplus(z_j)) (the
 * doubles ad_score_prob computes), probabilities kept. */
void ad_probabilities_in_place(double *z, int32_t classes, adapt_score_kind kind);

#endif
