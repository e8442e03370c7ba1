/* adapt_exit_sweep: one global threshold swept over evenly spaced values, each point
 * replayed as adapt_exit_simulate would, and the cost-accuracy curve summarised. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lib/adaptive/exit_records.h"
#include "lib/core/error.h"
#include "lib/core/struct_io.h"
#include "lib/eval/ranking.h"

/* Budgets are ratios of sums of integers: a point meant to sit exactly on a summary budget
 * must not miss it by a rounding. */
#define BUDGET_SLACK 1e-12

static const double summary_budgets[4] = {0.25, 0.5, 0.75, 1.0};

/* Every point, in threshold order: index 0 the most permissive, the last the strictest. */
typedef struct {
    int32_t points;
    double *threshold, *budget, *accuracy; /* [points] each, one allocation */
} sweep_points;

/* Threshold i, as the float a policy holds (so simulating it reproduces the point). */
static float sweep_threshold(int32_t rule, int32_t classes, int32_t i, int32_t points)
{
    const double f = (double)i / (double)(points - 1);
    const double t = rule == ADAPT_EXIT_MAX_PROBABILITY ? f : log((double)classes) * (1.0 - f);
    return ad_exit_float_threshold(rule, t);
}

static adapt_status run_sweep(sweep_points *sp, const ad_exit_table *t, int32_t rule,
                              const char *fn)
{
    ad_exit_tally tally = {.counts = calloc((size_t)t->rec.exits, sizeof *tally.counts)};
    if (!tally.counts)
        return ad_fail(ADAPT_ERR_OUT_OF_MEMORY, "%s: no memory for %d exit counts", fn,
                       (int)t->rec.exits);
    adapt_exit_policy policy;
    adapt_exit_policy_init(&policy, sizeof policy);
    policy.rule = rule;
    for (int32_t i = 0; i < sp->points; i++) {
        policy.threshold = sweep_threshold(rule, t->rec.classes, i, sp->points);
        ad_exit_replay(&tally, t, &policy);
        const adapt_exit_outcome o = ad_exit_outcome_of(&tally, t);
        sp->threshold[i] = policy.threshold;
        sp->budget[i] = o.budget;
        sp->accuracy[i] = o.accuracy;
    }
    free(tally.counts);
    return ADAPT_OK;
}

/* Accuracy of the strictest point whose budget fits: no interpolation. */
static double accuracy_within(const sweep_points *sp, double budget)
{
    for (int32_t i = sp->points - 1; i >= 0; i--)
        if (sp->budget[i] <= budget + BUDGET_SLACK)
            return sp->accuracy[i];
    return NAN;
}

/* Trapezoids over the points ordered by budget (equal budgets by threshold order), divided
 * by the width; with no width, the mean accuracy of the points, which all share a budget. */
static double mean_accuracy_over_budget(const ad_ranked *by_budget, const sweep_points *sp)
{
    const double width = by_budget[sp->points - 1].key - by_budget[0].key;
    double sum = 0.0;
    if (width == 0.0) {
        for (int32_t i = 0; i < sp->points; i++)
            sum += sp->accuracy[i];
        return sum / sp->points;
    }
    for (int32_t j = 0; j + 1 < sp->points; j++)
        sum += (by_budget[j + 1].key - by_budget[j].key) *
               (sp->accuracy[by_budget[j].index] + sp->accuracy[by_budget[j + 1].index]) / 2;
    return sum / width;
}

static adapt_status summarise(adapt_exit_curve *curve, const sweep_points *sp, const char *fn)
{
    ad_ranked *by_budget = calloc((size_t)sp->points, sizeof *by_budget);
    if (!by_budget)
        return ad_fail(ADAPT_ERR_OUT_OF_MEMORY, "%s: no memory for %d points", fn,
                       (int)sp->points);
    for (int32_t i = 0; i < sp->points; i++)
        by_budget[i] = (ad_ranked){sp->budget[i], i};
    ad_rank_ascending(by_budget, sp->points);
    for (int j = 0; j < 4; j++)
        curve->accuracy_at_budget[j] = accuracy_within(sp, summary_budgets[j]);
    curve->area = mean_accuracy_over_budget(by_budget, sp);
    curve->min_budget = by_budget[0].key;
    curve->max_budget = by_budget[sp->points - 1].key;
    free(by_budget);
    return ADAPT_OK;
}

static adapt_status check_arguments(const adapt_exit_curve *curve, int32_t points,
                                    int32_t rule, const char *fn)
{
    if (curve) {
        adapt_status st = ad_struct_check_out(curve, "curve", "adapt_exit_curve", fn);
        if (st)
            return st;
    }
    if (points < 2)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: points = %d; must be >= 2", fn,
                       (int)points);
    if (rule == ADAPT_EXIT_PATIENCE)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT,
                       "%s: rule PATIENCE has no threshold to sweep; simulate each patience",
                       fn);
    if (rule != ADAPT_EXIT_MAX_PROBABILITY && rule != ADAPT_EXIT_ENTROPY)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: unknown exit rule %d", fn, (int)rule);
    return ADAPT_OK;
}

static void copy_out(double *dst, const double *src, int32_t points)
{
    if (dst)
        memcpy(dst, src, (size_t)points * sizeof *dst);
}

/* Everything is computed into our own arrays first, so an error writes nothing. */
static adapt_status sweep(adapt_exit_curve *curve, double *thresholds, double *budgets,
                          double *accuracies, sweep_points *sp, const ad_exit_table *table,
                          int32_t rule, const char *fn)
{
    adapt_exit_curve full = {.struct_size = sizeof full};
    adapt_status st = run_sweep(sp, table, rule, fn);
    if (!st && curve)
        st = summarise(&full, sp, fn);
    if (st)
        return st;
    if (curve)
        ad_struct_write(curve, &full, sizeof full);
    copy_out(thresholds, sp->threshold, sp->points);
    copy_out(budgets, sp->budget, sp->points);
    copy_out(accuracies, sp->accuracy, sp->points);
    return ADAPT_OK;
}

adapt_status adapt_exit_sweep(adapt_exit_curve *curve, double *thresholds, double *budgets,
                              double *accuracies, int32_t points,
                              const adapt_exit_records *records, adapt_exit_rule rule)
{
    const char *fn = "adapt_exit_sweep";
    adapt_status st = check_arguments(curve, points, rule, fn);
    ad_exit_table table;
    if (st || (st = ad_exit_table_open(&table, records, fn)))
        return st;
    double *values = calloc((size_t)points, 3 * sizeof *values);
    if (!values) {
        st = ad_fail(ADAPT_ERR_OUT_OF_MEMORY, "%s: no memory for %d points", fn, (int)points);
    } else {
        sweep_points sp = {points, values, values + points, values + 2 * (size_t)points};
        st = sweep(curve, thresholds, budgets, accuracies, &sp, &table, rule, fn);
    }
    free(values);
    ad_exit_table_close(&table);
    return st;
}
