/* The metrics behind adapt_metrics_compute, one function per family, on checked input. */
#ifndef AD_EVAL_METRICS_H
#define AD_EVAL_METRICS_H

#include <stdint.h>

#include "lib/eval/ranking.h"
#include "lib/eval/score_rows.h"

/* Equal-width bins of the expected calibration error. */
#define AD_ECE_BINS 15
/* Probabilities below this count as this in the NLL, so one confident mistake costs
 * -log(1e-15) ~ 34.5 instead of infinity. */
#define AD_NLL_MIN_PROB 1e-15

/* The top-label view of a classifier on n samples, shared by the calibration and the
 * failure-prediction metrics. */
typedef struct {
    int64_t n;
    double *confidence;     /* largest probability of each sample */
    unsigned char *correct; /* 1 where the prediction (first largest probability) is the label */
} ad_top_label;

typedef struct {
    double auroc, aurc, eaurc, fpr_at_95_tpr;
} ad_failure_metrics;

/* Expected calibration error over AD_ECE_BINS bins (lo, hi] of the confidence, 0 in the
 * first bin and anything above 1 (allowed by the row-sum tolerance) in the last. */
double ad_metric_ece(const ad_top_label *top);

/* Kolmogorov-Smirnov calibration error, averaged over classes; `work` holds n items. */
double ad_metric_ks(const ad_score_rows *rows, const int32_t *labels, ad_ranked *work);

/* Mean clamped negative log-likelihood and mean multiclass Brier score. */
void ad_metric_nll_brier(double *nll, double *brier, const ad_score_rows *rows,
                         const int32_t *labels);

/* AUROC, AURC, E-AURC and FPR at 95 % TPR of the confidence as a predictor of correctness;
 * `work` holds n items. */
void ad_metric_failure(ad_failure_metrics *out, const ad_top_label *top, ad_ranked *work);

#endif
