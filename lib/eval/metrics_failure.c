/* Failure prediction: how well the top-label confidence separates correct predictions
 * (positives) from wrong ones. Every metric walks the samples from the most to the least
 * confident, one tie group at a time, so equal confidences are treated alike whatever the
 * sample order. */
#include <math.h>
#include <stdbool.h>

#include "lib/eval/metrics.h"

/* Correct and wrong predictions among order[start..end). */
typedef struct {
    double correct, wrong;
} counts;

static counts group_counts(const ad_top_label *top, const ad_ranked *order, int64_t start,
                           int64_t end)
{
    counts c = {0.0, 0.0};
    for (int64_t j = start; j < end; j++) {
        const bool ok = top->correct[order[j].index];
        c.correct += ok;
        c.wrong += !ok;
    }
    return c;
}

/* Risk at coverage i, averaged over i = 1..N. Inside a tie group of m samples with e errors
 * the first j of them hold e * j / m errors: the mean over every order of the group. */
static double risk_area(const ad_top_label *top, const ad_ranked *order)
{
    double errors_before = 0.0, sum = 0.0;
    for (int64_t start = 0, end; start < top->n; start = end) {
        end = ad_tie_group_end(order, start, top->n);
        const counts g = group_counts(top, order, start, end);
        const double m = (double)(end - start);
        for (int64_t j = 1; j <= end - start; j++)
            sum += (errors_before + g.wrong * (double)j / m) / (double)(start + j);
        errors_before += g.wrong;
    }
    return sum / (double)top->n;
}

/* AURC of the oracle that ranks every correct prediction above every wrong one: risk 0 up to
 * coverage N - E, then (i - (N - E)) / i. */
static double oracle_risk_area(int64_t n, int64_t errors)
{
    double sum = 0.0;
    for (int64_t i = n - errors + 1; i <= n; i++)
        sum += (double)(i - (n - errors)) / (double)i;
    return sum / (double)n;
}

void ad_metric_failure(ad_failure_metrics *out, const ad_top_label *top, ad_ranked *work)
{
    const int64_t n = top->n;
    for (int64_t i = 0; i < n; i++)
        work[i] = (ad_ranked){top->confidence[i], i};
    ad_rank_descending(work, n);
    const counts all = group_counts(top, work, 0, n);
    /* Both rates need both kinds of prediction; without them the fields stay NaN. */
    const bool both = all.correct > 0 && all.wrong > 0;

    /* Mann-Whitney: each correct prediction scores 1 per wrong one below it, 1/2 per tie. */
    double wins = 0.0, correct_above = 0.0, wrong_above = 0.0;
    double fpr95 = NAN;
    for (int64_t start = 0, end; start < n; start = end) {
        end = ad_tie_group_end(work, start, n);
        const counts g = group_counts(top, work, start, end);
        wins += g.correct * (all.wrong - wrong_above - g.wrong) + 0.5 * g.correct * g.wrong;
        correct_above += g.correct;
        wrong_above += g.wrong;
        /* The first threshold reaching the TPR has the smallest FPR of all that reach it. */
        if (both && isnan(fpr95) && correct_above / all.correct >= 0.95)
            fpr95 = wrong_above / all.wrong;
    }
    out->auroc = both ? wins / (all.correct * all.wrong) : NAN;
    out->fpr_at_95_tpr = fpr95;
    out->aurc = risk_area(top, work);
    out->eaurc = out->aurc - oracle_risk_area(n, (int64_t)all.wrong);
}
