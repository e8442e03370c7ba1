/* adapt_metrics_compute: every metric of one classifier's outputs in one report. */
#include "lib/eval/metrics.h"

#include <stdlib.h>
#include <string.h>

#include "lib/core/error.h"
#include "lib/core/struct_io.h"

/* The prediction is the first largest probability, as torch.argmax and the evaluator. */
static void top_label_of_rows(ad_top_label *top, const ad_score_rows *rows,
                              const int32_t *labels)
{
    for (int64_t i = 0; i < rows->n; i++) {
        const float *row = rows->scores + i * rows->classes;
        int32_t best = 0;
        for (int32_t k = 1; k < rows->classes; k++)
            best = row[k] > row[best] ? k : best;
        top->confidence[i] = ad_score_prob(rows, i, best);
        top->correct[i] = best == labels[i];
    }
}

static double accuracy(const ad_top_label *top)
{
    int64_t correct = 0;
    for (int64_t i = 0; i < top->n; i++)
        correct += top->correct[i];
    return (double)correct / (double)top->n;
}

static adapt_status measure(adapt_metrics_report *full, const ad_score_rows *rows,
                            const int32_t *labels, const char *fn)
{
    const size_t n = (size_t)rows->n;
    ad_top_label top = {.n = rows->n, .confidence = malloc(n * sizeof(double)),
                        .correct = malloc(n)};
    ad_ranked *work = malloc(n * sizeof *work);
    adapt_status st = ADAPT_OK;
    if (!top.confidence || !top.correct || !work) {
        st = ad_fail(ADAPT_ERR_OUT_OF_MEMORY, "%s: no memory for %zu samples", fn, n);
    } else {
        top_label_of_rows(&top, rows, labels);
        ad_failure_metrics failure;
        ad_metric_failure(&failure, &top, work);
        full->accuracy = accuracy(&top);
        full->ece = ad_metric_ece(&top);
        full->ks_error = ad_metric_ks(rows, labels, work);
        ad_metric_nll_brier(&full->nll, &full->brier, rows, labels);
        full->auroc = failure.auroc;
        full->aurc = failure.aurc;
        full->eaurc = failure.eaurc;
        full->fpr_at_95_tpr = failure.fpr_at_95_tpr;
    }
    free(top.confidence);
    free(top.correct);
    free(work);
    return st;
}

adapt_status adapt_metrics_compute(adapt_metrics_report *report, const float *scores,
                                   const int32_t *labels, int64_t n, int32_t classes,
                                   adapt_score_kind kind)
{
    const char *fn = "adapt_metrics_compute";
    adapt_status st = ad_struct_check_out(report, "report", "adapt_metrics_report", fn);
    if (!st)
        st = ad_score_rows_check(scores, n, classes, kind, 1, "scores", fn);
    if (!st)
        st = ad_labels_check(labels, n, classes, fn);
    if (st)
        return st;
    ad_score_rows rows;
    if ((st = ad_score_rows_open(&rows, scores, n, classes, kind, fn)))
        return st;
    adapt_metrics_report full = {.struct_size = report->struct_size};
    st = measure(&full, &rows, labels, fn);
    ad_score_rows_close(&rows);
    if (!st)
        ad_struct_write(report, &full, sizeof full);
    return st;
}
