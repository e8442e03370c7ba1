/* Calibration metrics: how far the probabilities are from the frequencies they claim. */
#include <math.h>

#include "lib/eval/metrics.h"

static int32_t ece_bin(double confidence)
{
    /* Bin b holds (b / B, (b + 1) / B]; ceil puts an upper edge in the bin below it. */
    const double b = ceil(confidence * AD_ECE_BINS) - 1.0;
    return b < 0.0 ? 0 : b > AD_ECE_BINS - 1 ? AD_ECE_BINS - 1 : (int32_t)b;
}

double ad_metric_ece(const ad_top_label *top)
{
    /* |B_b| / N * |acc_b - conf_b| = |sum over the bin of (correct - confidence)| / N. */
    double gap[AD_ECE_BINS] = {0};
    for (int64_t i = 0; i < top->n; i++)
        gap[ece_bin(top->confidence[i])] += top->correct[i] - top->confidence[i];
    double ece = 0.0;
    for (int32_t b = 0; b < AD_ECE_BINS; b++)
        ece += fabs(gap[b]);
    return ece / (double)top->n;
}

/* max over thresholds t of |sum over samples with p_k <= t of (p_k - [y = k])| / N. Only
 * whole tie groups are summed: the set {p_k <= t} never splits one, so the result does not
 * depend on the order of samples with equal probabilities. */
static double ks_of_class(const ad_score_rows *rows, const int32_t *labels, int32_t k,
                          ad_ranked *work)
{
    const int64_t n = rows->n;
    for (int64_t i = 0; i < n; i++)
        work[i] = (ad_ranked){ad_score_prob(rows, i, k), i};
    ad_rank_ascending(work, n);
    double sum = 0.0, largest = 0.0;
    for (int64_t start = 0, end; start < n; start = end) {
        end = ad_tie_group_end(work, start, n);
        for (int64_t j = start; j < end; j++)
            sum += work[j].key - (labels[work[j].index] == k);
        largest = fmax(largest, fabs(sum));
    }
    return largest / (double)n;
}

double ad_metric_ks(const ad_score_rows *rows, const int32_t *labels, ad_ranked *work)
{
    double total = 0.0;
    for (int32_t k = 0; k < rows->classes; k++)
        total += ks_of_class(rows, labels, k, work);
    return total / rows->classes;
}

void ad_metric_nll_brier(double *nll, double *brier, const ad_score_rows *rows,
                         const int32_t *labels)
{
    const double max_loss = -log(AD_NLL_MIN_PROB);
    double nll_sum = 0.0, brier_sum = 0.0;
    for (int64_t i = 0; i < rows->n; i++) {
        nll_sum += fmin(-ad_score_log_prob(rows, i, labels[i]), max_loss);
        for (int32_t k = 0; k < rows->classes; k++) {
            const double d = ad_score_prob(rows, i, k) - (labels[i] == k);
            brier_sum += d * d;
        }
    }
    *nll = nll_sum / (double)rows->n;
    *brier = brier_sum / (double)rows->n;
}
