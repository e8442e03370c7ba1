/* adapt_exit_fit: thresholds of a rule chosen on recorded outputs for a budget or an accuracy
 * target. One global threshold by trying every candidate; per head by coordinate search from
 * it. Each candidate is judged as the float it would be returned as, so what is reported is
 * what adapt_exit_simulate reports for the returned thresholds.
 *
 * Both rules are compared in one "key" space where a sample leaves a head when its key is >=
 * the threshold's: the top probability against t (MAX_PROBABILITY), minus the entropy against
 * -t (ENTROPY); negation is exact, so this is the very comparison of ad_exit_leaves. */
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "lib/adaptive/exit_records.h"
#include "lib/core/error.h"
#include "lib/core/struct_io.h"
#include "lib/eval/ranking.h"

#define MAX_QUANTILES 1024
#define MAX_PASSES 20
/* Budgets and accuracies are ratios of integer sums: a target met exactly must not be
 * missed by a rounding. */
#define TARGET_SLACK 1e-12

typedef struct {
    const ad_exit_table *t;
    int32_t rule, heads;
    adapt_exit_target target;
    double value;
    float *candidates; /* thresholds, strictest first */
    int32_t n_candidates;
    ad_exit_tally tally;
    /* Coordinate search only. */
    ad_ranked *order;     /* [heads][n]: each head's samples by key, descending */
    unsigned char *reach; /* [n] the head under search is reached: no earlier head let it out */
    int32_t *alt;         /* [n] the exit taken if the head under search keeps the sample */
} fit_search;

static double key_of(int32_t rule, const ad_exit_view *v)
{
    return rule == ADAPT_EXIT_MAX_PROBABILITY ? v->top : -v->entropy;
}

static double threshold_key(int32_t rule, float threshold)
{
    return rule == ADAPT_EXIT_MAX_PROBABILITY ? threshold : -(double)threshold;
}

/* ------------------------------------------------------------------ candidates */

static int by_float_descending(const void *pa, const void *pb)
{
    const float a = *(const float *)pa, b = *(const float *)pb;
    return (a < b) - (a > b);
}

/* Every head's statistic as a float threshold that lets its own sample out, in key space,
 * sorted strictest first and without repeats; returns how many remain. */
static int64_t distinct_keys(float *keys, const fit_search *s)
{
    const int64_t n = s->t->rec.n, m = (int64_t)s->heads * n;
    for (int64_t j = 0; j < m; j++) {
        const ad_exit_view *v = &s->t->views[j];
        const double statistic = s->rule == ADAPT_EXIT_MAX_PROBABILITY ? v->top : v->entropy;
        const float t = ad_exit_float_threshold(s->rule, statistic);
        keys[j] = s->rule == ADAPT_EXIT_MAX_PROBABILITY ? t : -t;
    }
    qsort(keys, (size_t)m, sizeof *keys, by_float_descending);
    int64_t distinct = 1;
    for (int64_t j = 1; j < m; j++)
        if (keys[j] != keys[distinct - 1])
            keys[distinct++] = keys[j];
    return distinct;
}

/* Keys that let no sample out early (above 1 for MAX_PROBABILITY, threshold -1 for ENTROPY)
 * and that let every sample out at head 0 (threshold 0, or log(classes) for ENTROPY), each
 * also past the most extreme key observed. */
static float strict_key(int32_t rule, float strictest_seen)
{
    const float least = rule == ADAPT_EXIT_MAX_PROBABILITY ? nextafterf(1.0f, 2.0f) : 1.0f;
    return fmaxf(least, nextafterf(strictest_seen, INFINITY));
}

static float permissive_key(int32_t rule, int32_t classes, float most_permissive_seen)
{
    const float ceiling = rule == ADAPT_EXIT_MAX_PROBABILITY
                              ? 0.0f
                              : -ad_exit_float_threshold(rule, log((double)classes));
    return fminf(ceiling, most_permissive_seen);
}

/* At most MAX_QUANTILES evenly spaced quantiles of the distinct keys (their extremes
 * included) between the two extreme keys, as thresholds, strictest first. */
static void pick_candidates(fit_search *s, const float *keys, int64_t distinct)
{
    const int64_t q = distinct < MAX_QUANTILES ? distinct : MAX_QUANTILES;
    float *c = s->candidates;
    int32_t m = 0;
    c[m++] = strict_key(s->rule, keys[0]);
    for (int64_t j = 0; j < q; j++)
        c[m++] = keys[q == distinct ? j
                                    : llround((double)j * (double)(distinct - 1) /
                                              (double)(MAX_QUANTILES - 1))];
    const float last = permissive_key(s->rule, s->t->rec.classes, keys[distinct - 1]);
    if (last != c[m - 1])
        c[m++] = last;
    for (int32_t j = 0; j < m; j++)
        c[j] = s->rule == ADAPT_EXIT_MAX_PROBABILITY ? c[j] : -c[j];
    s->n_candidates = m;
}

static adapt_status make_candidates(fit_search *s, const char *fn)
{
    const int64_t m = (int64_t)s->heads * s->t->rec.n;
    float *keys = malloc((size_t)m * sizeof *keys);
    s->candidates = malloc((MAX_QUANTILES + 2) * sizeof *s->candidates);
    if (!keys || !s->candidates) {
        free(keys);
        return ad_fail(ADAPT_ERR_OUT_OF_MEMORY, "%s: no memory for %lld candidate thresholds",
                       fn, (long long)m);
    }
    pick_candidates(s, keys, distinct_keys(keys, s));
    free(keys);
    return ADAPT_OK;
}

/* ------------------------------------------------------------------ judging */

static bool feasible(const fit_search *s, const adapt_exit_outcome *o)
{
    return s->target == ADAPT_TARGET_BUDGET ? o->budget <= s->value + TARGET_SLACK
                                            : o->accuracy >= s->value - TARGET_SLACK;
}

/* Whether `a` serves the target strictly better than `b`. Feasible beats infeasible; among
 * feasible ones the target's objective decides (accuracy for a budget, cost for an
 * accuracy), the other breaks ties; among infeasible ones the nearer to the target wins, so
 * a search from an infeasible start heads for feasibility. */
static bool serves_better(const fit_search *s, const adapt_exit_outcome *a,
                          const adapt_exit_outcome *b)
{
    const bool fa = feasible(s, a);
    if (fa != feasible(s, b))
        return fa;
    const bool cost_first = (s->target == ADAPT_TARGET_BUDGET) != fa;
    if (cost_first)
        return a->budget < b->budget || (a->budget == b->budget && a->accuracy > b->accuracy);
    return a->accuracy > b->accuracy || (a->accuracy == b->accuracy && a->budget < b->budget);
}

static adapt_exit_outcome replay(fit_search *s, float threshold, const float *head_thresholds)
{
    adapt_exit_policy policy;
    adapt_exit_policy_init(&policy, sizeof policy);
    policy.rule = s->rule;
    policy.threshold = threshold;
    policy.head_thresholds = head_thresholds;
    ad_exit_replay(&s->tally, s->t, &policy);
    return ad_exit_outcome_of(&s->tally, s->t);
}

/* The best candidate as one global threshold; equals go to the stricter, tried first. */
static float best_global(fit_search *s, adapt_exit_outcome *best)
{
    int32_t pick = 0;
    *best = replay(s, s->candidates[0], NULL);
    for (int32_t c = 1; c < s->n_candidates; c++) {
        const adapt_exit_outcome o = replay(s, s->candidates[c], NULL);
        if (serves_better(s, &o, best))
            *best = o, pick = c;
    }
    return s->candidates[pick];
}

/* ------------------------------------------------------------------ coordinate search */

static adapt_status prepare_search(fit_search *s, const char *fn)
{
    const int64_t n = s->t->rec.n;
    s->order = malloc((size_t)(s->heads * n) * sizeof *s->order);
    s->reach = malloc((size_t)n);
    s->alt = malloc((size_t)n * sizeof *s->alt);
    if (!s->order || !s->reach || !s->alt)
        return ad_fail(ADAPT_ERR_OUT_OF_MEMORY, "%s: no memory to search %d heads", fn,
                       (int)s->heads);
    for (int32_t h = 0; h < s->heads; h++) {
        ad_ranked *order = s->order + h * n;
        for (int64_t i = 0; i < n; i++)
            order[i] = (ad_ranked){key_of(s->rule, ad_exit_view_at(s->t, h, i)), i};
        ad_rank_descending(order, n);
    }
    return ADAPT_OK;
}

/* The first head in [from, to) that lets sample i out, else `to`. */
static int32_t first_leave(const fit_search *s, const float *thr, int64_t i, int32_t from,
                           int32_t to)
{
    for (int32_t h = from; h < to; h++)
        if (key_of(s->rule, ad_exit_view_at(s->t, h, i)) >= threshold_key(s->rule, thr[h]))
            return h;
    return to;
}

/* With every head but h fixed: which samples reach h and where each goes if h keeps it,
 * tallied as if h kept every sample. */
static void settle_others(fit_search *s, const float *thr, int32_t h)
{
    memset(s->tally.counts, 0, (size_t)s->t->rec.exits * sizeof *s->tally.counts);
    s->tally.correct = 0;
    for (int64_t i = 0; i < s->t->rec.n; i++) {
        const int32_t before = first_leave(s, thr, i, 0, h);
        s->reach[i] = before == h;
        s->alt[i] = s->reach[i] ? first_leave(s, thr, i, h + 1, s->heads) : before;
        s->tally.counts[s->alt[i]]++;
        s->tally.correct += ad_exit_right(s->t, s->alt[i], i);
    }
}

/* Tries every candidate at head h, strictest first: each lets out the samples reaching h
 * whose key has come within it, moved from their other exit to h in the tally. Takes the
 * best strict improvement on `current`; returns whether thr[h] changed. */
static bool improve_head(fit_search *s, float *thr, int32_t h, adapt_exit_outcome *current)
{
    settle_others(s, thr, h);
    const ad_ranked *order = s->order + h * s->t->rec.n;
    int64_t next = 0;
    int32_t pick = -1;
    for (int32_t c = 0; c < s->n_candidates; c++) {
        const double key = threshold_key(s->rule, s->candidates[c]);
        for (; next < s->t->rec.n && order[next].key >= key; next++) {
            const int64_t i = order[next].index;
            if (!s->reach[i])
                continue;
            s->tally.counts[s->alt[i]]--;
            s->tally.counts[h]++;
            s->tally.correct += ad_exit_right(s->t, h, i) - ad_exit_right(s->t, s->alt[i], i);
        }
        const adapt_exit_outcome o = ad_exit_outcome_of(&s->tally, s->t);
        if (serves_better(s, &o, current))
            *current = o, pick = c;
    }
    if (pick < 0)
        return false;
    thr[h] = s->candidates[pick];
    return true;
}

static void coordinate_search(fit_search *s, float *thr, adapt_exit_outcome *current)
{
    bool changed = true;
    for (int pass = 0; pass < MAX_PASSES && changed; pass++) {
        changed = false;
        for (int32_t h = 0; h < s->heads; h++)
            changed |= improve_head(s, thr, h, current);
    }
}

/* ------------------------------------------------------------------ the fit */

static adapt_status unreachable(const fit_search *s, const adapt_exit_outcome *nearest,
                                const char *fn)
{
    if (s->target == ADAPT_TARGET_BUDGET)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT,
                       "%s: no thresholds keep the budget <= %.9g; the cheapest reachable is "
                       "%.9g",
                       fn, s->value, nearest->budget);
    return ad_fail(ADAPT_ERR_INVALID_ARGUMENT,
                   "%s: no thresholds reach accuracy >= %.9g; the best found is %.9g", fn,
                   s->value, nearest->accuracy);
}

/* Fills thr (one threshold per head, all equal when not per head) and what it achieves. */
static adapt_status search(fit_search *s, float *thr, adapt_exit_outcome *achieved,
                           bool per_head, const char *fn)
{
    adapt_status st = make_candidates(s, fn);
    if (st)
        return st;
    const float global = best_global(s, achieved);
    for (int32_t h = 0; h < s->heads; h++)
        thr[h] = global;
    if (per_head) {
        if ((st = prepare_search(s, fn)))
            return st;
        coordinate_search(s, thr, achieved);
        /* Reported as simulated, not as tallied along the way. */
        *achieved = replay(s, global, thr);
    }
    return feasible(s, achieved) ? ADAPT_OK : unreachable(s, achieved, fn);
}

static adapt_status fit(float *thresholds, adapt_exit_outcome *outcome, fit_search *s,
                        bool per_head, const char *fn)
{
    s->tally.counts = calloc((size_t)s->t->rec.exits, sizeof *s->tally.counts);
    float *thr = malloc((size_t)s->heads * sizeof *thr);
    adapt_exit_outcome achieved;
    adapt_status st = ADAPT_OK;
    if (!s->tally.counts || !thr)
        st = ad_fail(ADAPT_ERR_OUT_OF_MEMORY, "%s: no memory for %d exits", fn,
                     (int)s->t->rec.exits);
    else
        st = search(s, thr, &achieved, per_head, fn);
    if (!st) {
        memcpy(thresholds, thr, (per_head ? (size_t)s->heads : 1) * sizeof *thresholds);
        if (outcome)
            ad_struct_write(outcome, &achieved, sizeof achieved);
    }
    free(thr);
    free(s->tally.counts);
    free(s->candidates);
    free(s->order);
    free(s->reach);
    free(s->alt);
    return st;
}

static adapt_status check_arguments(const float *thresholds, const adapt_exit_outcome *outcome,
                                    int32_t rule, adapt_exit_target target, double value,
                                    const char *fn)
{
    if (!thresholds)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: thresholds is NULL", fn);
    if (outcome) {
        adapt_status st = ad_struct_check_out(outcome, "outcome", "adapt_exit_outcome", fn);
        if (st)
            return st;
    }
    if (rule != ADAPT_EXIT_MAX_PROBABILITY && rule != ADAPT_EXIT_ENTROPY)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT,
                       "%s: rule %d has no threshold to fit; use MAX_PROBABILITY or ENTROPY",
                       fn, (int)rule);
    if (target != ADAPT_TARGET_BUDGET && target != ADAPT_TARGET_ACCURACY)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: unknown target %d", fn, (int)target);
    if (!isfinite(value))
        return ad_fail(ADAPT_ERR_NONFINITE, "%s: target value is %g", fn, value);
    return ADAPT_OK;
}

adapt_status adapt_exit_fit(float *thresholds, adapt_exit_outcome *outcome,
                            const adapt_exit_records *records, adapt_exit_rule rule, int32_t per_head,
                            adapt_exit_target target, double value)
{
    const char *fn = "adapt_exit_fit";
    adapt_status st = check_arguments(thresholds, outcome, rule, target, value, fn);
    ad_exit_table table;
    if (st || (st = ad_exit_table_open(&table, records, fn)))
        return st;
    if (table.rec.exits == 1) {
        st = ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: records of one exit have no heads to "
                                                 "threshold", fn);
    } else {
        fit_search s = {.t = &table, .rule = rule, .heads = table.rec.exits - 1,
                        .target = target, .value = value};
        st = fit(thresholds, outcome, &s, per_head != 0, fn);
    }
    ad_exit_table_close(&table);
    return st;
}
