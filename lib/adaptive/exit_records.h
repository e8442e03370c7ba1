/* Recorded outputs of every exit (adapt_exit_records), checked once and reduced to what the
 * exit rules read of each (exit, sample) row, and the replay of a policy over them that
 * adapt_exit_simulate, adapt_exit_sweep and adapt_exit_fit share: whatever those report is
 * what simulating the same policy reports, to the bit. */
#ifndef AD_ADAPTIVE_EXIT_RECORDS_H
#define AD_ADAPTIVE_EXIT_RECORDS_H

#include <stdint.h>

#include "adapt.h"
#include "lib/adaptive/exit_policy.h"

typedef struct {
    adapt_exit_records rec; /* the caller's records, checked */
    ad_exit_view *views;    /* [exits][n]: views[k * n + i] for exit k, sample i */
} ad_exit_table;

/* Checks `records` (NULL, a struct_size short of the fields up to reference_flops, bad
 * sizes, scores, labels or costs are errors) and computes every view, each from the row's
 * probabilities in double as inference computes them. Close with ad_exit_table_close(). */
adapt_status ad_exit_table_open(ad_exit_table *table, const adapt_exit_records *records,
                                const char *fn);
void ad_exit_table_close(ad_exit_table *table);

static inline const ad_exit_view *ad_exit_view_at(const ad_exit_table *t, int32_t exit,
                                                  int64_t sample)
{
    return &t->views[(int64_t)exit * t->rec.n + sample];
}

/* Whether exit `exit` answers sample `sample` with its label. */
static inline int ad_exit_right(const ad_exit_table *t, int32_t exit, int64_t sample)
{
    return ad_exit_view_at(t, exit, sample)->prediction == t->rec.labels[sample];
}

/* `threshold` of a threshold rule as the float a policy holds, rounded towards the side
 * that lets more samples out, so a sample whose statistic equals `threshold` still leaves. */
float ad_exit_float_threshold(int32_t rule, double threshold);

/* Samples answered by each exit, and how many of them rightly. */
typedef struct {
    int64_t *counts; /* [exits] */
    int64_t correct;
} ad_exit_tally;

/* The exit each sample takes under a checked `policy`, counted into `tally` (whose counts
 * hold `exits` entries). Defined, with ad_exit_outcome_of, in exit_simulate.c. */
void ad_exit_replay(ad_exit_tally *tally, const ad_exit_table *table,
                    const adapt_exit_policy *policy);

/* What a tally achieves; the one place accuracy and cost are derived from counts, so equal
 * counts always give bit-equal outcomes. */
adapt_exit_outcome ad_exit_outcome_of(const ad_exit_tally *tally, const ad_exit_table *table);

#endif
