/* Exit policies on recorded outputs (lib/adaptive/exit_{records,simulate,sweep,fit}.c):
 * a hand-computed 3-exit case for every rule, the sweep's points and summary, the fit's
 * targets and its agreement with simulate, and argument errors that must write nothing. */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_util.h"
#include "lib/adaptive/exit_records.h"
#include "lib/eval/score_rows.h"

#define TOL 1e-12 /* hand-computed values are ratios of small integers */
#define EXITS 3
#define N 6
#define CLASSES 3

static void assert_near(double got, double want, double tol, const char *what)
{
    ck_assert_msg(fabs(got - want) <= tol, "%s: %.15g, expected %.15g", what, got, want);
}

/* ------------------------------------------------------------------ the hand case */

/* Each row puts `top` on its predicted class and splits the rest evenly (all dyadic, so
 * every row sums to exactly 1). Per sample: label, then (prediction, top) at exits 0, 1, 2.
 *   s0  0   (0 .9375) (0 .9375) (0 .9375)
 *   s1  1   (0 .75)   (1 .875)  (1 .9375)
 *   s2  2   (2 .5)    (1 .625)  (2 .875)
 *   s3  0   (1 .625)  (1 .75)   (0 .5)
 *   s4  2   (1 .875)  (1 .5)    (2 .75)
 *   s5  2   (0 .5)    (0 .5)    (2 .625)
 * Exit 0 is right for s0, s2 (2 of 6); exit 1 for s0, s1; the final exit for all six.
 * Entropies (nats) of a row with top a: .9375 -> 0.277, .875 -> 0.463, .75 -> 0.736,
 * .625 -> 0.921, .5 -> 1.040, all below log 3 = 1.0986. Costs 10, 20, 40 against a
 * reference of 40: budgets 0.25, 0.5, 1 per exit. */
static const int32_t hand_labels[N] = {0, 1, 2, 0, 2, 2};
static const int32_t hand_pred[EXITS][N] = {{0, 0, 2, 1, 1, 0}, {0, 1, 1, 1, 1, 0},
                                            {0, 1, 2, 0, 2, 2}};
static const float hand_top[EXITS][N] = {{0.9375f, 0.75f, 0.5f, 0.625f, 0.875f, 0.5f},
                                         {0.9375f, 0.875f, 0.625f, 0.75f, 0.5f, 0.5f},
                                         {0.9375f, 0.9375f, 0.875f, 0.5f, 0.75f, 0.625f}};
static const int64_t hand_flops[EXITS] = {10, 20, 40};

typedef struct {
    float scores[EXITS][N][CLASSES];
    int32_t labels[N];
    int64_t flops[EXITS];
    adapt_exit_records rec;
} hand_case;

/* The hand case as probabilities, or as logits log(p) (float) when `logits`. */
static void hand_case_init(hand_case *c, int logits)
{
    for (int k = 0; k < EXITS; k++)
        for (int i = 0; i < N; i++)
            for (int j = 0; j < CLASSES; j++) {
                const float a = hand_top[k][i];
                const float p = j == hand_pred[k][i] ? a : (1.0f - a) / 2;
                c->scores[k][i][j] = logits ? (float)log(p) : p;
            }
    memcpy(c->labels, hand_labels, sizeof c->labels);
    memcpy(c->flops, hand_flops, sizeof c->flops);
    c->rec = (adapt_exit_records){
        .struct_size = sizeof c->rec,
        .scores = &c->scores[0][0][0],
        .kind = logits ? ADAPT_SCORES_LOGITS : ADAPT_SCORES_PROBABILITIES,
        .labels = c->labels,
        .n = N,
        .exits = EXITS,
        .classes = CLASSES,
        .exit_flops = c->flops,
        .reference_flops = 40,
    };
}

static adapt_exit_policy policy_of(int32_t rule, float threshold)
{
    adapt_exit_policy p;
    adapt_exit_policy_init(&p, sizeof p);
    p.rule = rule;
    p.threshold = threshold;
    return p;
}

static adapt_exit_outcome simulate(int64_t *counts, const adapt_exit_records *rec,
                                   const adapt_exit_policy *p)
{
    adapt_exit_outcome o = {.struct_size = sizeof o};
    TU_OK(adapt_exit_simulate(&o, counts, rec, p));
    return o;
}

static void assert_outcome(const adapt_exit_records *rec, const adapt_exit_policy *p,
                           const int64_t want_counts[EXITS], int correct, int64_t flops)
{
    int64_t counts[EXITS];
    const adapt_exit_outcome o = simulate(counts, rec, p);
    for (int k = 0; k < EXITS; k++)
        ck_assert_msg(counts[k] == want_counts[k], "exit %d answered %lld, expected %lld", k,
                      (long long)counts[k], (long long)want_counts[k]);
    assert_near(o.accuracy, correct / 6.0, TOL, "accuracy");
    assert_near(o.mean_flops, (double)flops / N, TOL, "mean_flops");
    assert_near(o.budget, (double)flops / (N * 40.0), TOL, "budget");
}

START_TEST(max_probability_hand_computed)
{
    hand_case c;
    hand_case_init(&c, 0);
    /* t = 0.8: s0 and s4 leave at head 0 (s4 wrongly), s1 at head 1, s2 s3 s5 at the final
     * exit. 5 right; 2 * 10 + 20 + 3 * 40 = 160 FLOPs. */
    adapt_exit_policy p = policy_of(ADAPT_EXIT_MAX_PROBABILITY, 0.8f);
    assert_outcome(&c.rec, &p, (const int64_t[]){2, 1, 3}, 5, 160);
    /* Per head 0.9, 0.6: s0 at head 0; s1, s2, s3 at head 1 (s2, s3 wrongly); s4, s5 at the
     * final exit. 4 right; 10 + 60 + 80 = 150. */
    const float per_head[2] = {0.9f, 0.6f};
    p.head_thresholds = per_head;
    assert_outcome(&c.rec, &p, (const int64_t[]){1, 3, 2}, 4, 150);
    /* A top equal to the threshold leaves: t = 0.9375 lets s0 out at head 0 only. */
    p = policy_of(ADAPT_EXIT_MAX_PROBABILITY, 0.9375f);
    assert_outcome(&c.rec, &p, (const int64_t[]){1, 0, 5}, 6, 210);
}
END_TEST

START_TEST(entropy_hand_computed)
{
    hand_case c;
    hand_case_init(&c, 0);
    /* t = 0.8 lets out tops >= .75: s0, s1, s4 at head 0 (s1, s4 wrongly), s3 at head 1
     * (wrongly), s2 and s5 at the final exit. 3 right; 30 + 20 + 80 = 130. */
    adapt_exit_policy p = policy_of(ADAPT_EXIT_ENTROPY, 0.8f);
    assert_outcome(&c.rec, &p, (const int64_t[]){3, 1, 2}, 3, 130);
    /* t = 0.5 lets out tops >= .875 only: the max-probability 0.8 decisions. */
    p.threshold = 0.5f;
    assert_outcome(&c.rec, &p, (const int64_t[]){2, 1, 3}, 5, 160);
}
END_TEST

START_TEST(patience_hand_computed)
{
    hand_case c;
    hand_case_init(&c, 0);
    /* Patience 2: exits 0 and 1 agree for s0, s3, s4, s5, which leave at head 1 (s3, s4,
     * s5 wrongly); s1 and s2 reach the final exit. 3 right; 4 * 20 + 2 * 40 = 160. */
    adapt_exit_policy p = policy_of(ADAPT_EXIT_PATIENCE, 0.0f);
    p.patience = 2;
    assert_outcome(&c.rec, &p, (const int64_t[]){0, 4, 2}, 3, 160);
    /* Patience 1: everyone leaves at head 0. */
    p.patience = 1;
    assert_outcome(&c.rec, &p, (const int64_t[]){6, 0, 0}, 2, 60);
    /* Patience 3 needs three agreeing exits, more than the two heads: nobody leaves. */
    p.patience = 3;
    assert_outcome(&c.rec, &p, (const int64_t[]){0, 0, 6}, 6, 240);
}
END_TEST

START_TEST(logits_decide_as_the_same_rows_given_as_probabilities)
{
    hand_case probs, logits;
    hand_case_init(&probs, 0);
    hand_case_init(&logits, 1);
    const float per_head[2] = {0.9f, 0.6f};
    adapt_exit_policy policies[5] = {policy_of(ADAPT_EXIT_MAX_PROBABILITY, 0.8f),
                                     policy_of(ADAPT_EXIT_MAX_PROBABILITY, 0.0f),
                                     policy_of(ADAPT_EXIT_ENTROPY, 0.8f),
                                     policy_of(ADAPT_EXIT_PATIENCE, 0.0f),
                                     policy_of(ADAPT_EXIT_ENTROPY, 0.0f)};
    policies[1].head_thresholds = per_head;
    for (int j = 0; j < 5; j++) {
        int64_t a[EXITS], b[EXITS];
        const adapt_exit_outcome oa = simulate(a, &probs.rec, &policies[j]);
        const adapt_exit_outcome ob = simulate(b, &logits.rec, &policies[j]);
        ck_assert_mem_eq(a, b, sizeof a);
        ck_assert(oa.accuracy == ob.accuracy && oa.budget == ob.budget);
    }
}
END_TEST

/* ------------------------------------------------------------------ a larger random case */

#define R_EXITS 4
#define R_N 400
#define R_CLASSES 5

typedef struct {
    float logits[R_EXITS][R_N][R_CLASSES];
    int32_t labels[R_N];
    int64_t flops[R_EXITS];
    adapt_exit_records rec;
} random_case;

/* Noisy logits whose label class gains 0.6 per exit, so later exits are mostly better;
 * 1200 distinct head statistics, more than the fit's 1024 quantiles. */
static random_case *random_case_new(void)
{
    random_case *c = malloc(sizeof *c);
    ck_assert_ptr_nonnull(c);
    tu_fill(&c->logits[0][0][0], (int64_t)R_EXITS * R_N * R_CLASSES, 7, -1.5f, 1.5f);
    for (int i = 0; i < R_N; i++) {
        c->labels[i] = (i * 7) % R_CLASSES;
        for (int k = 0; k < R_EXITS; k++)
            c->logits[k][i][c->labels[i]] += 0.6f * (float)(k + 1);
    }
    const int64_t flops[R_EXITS] = {25, 50, 75, 110};
    memcpy(c->flops, flops, sizeof flops);
    c->rec = (adapt_exit_records){
        .struct_size = sizeof c->rec,
        .scores = &c->logits[0][0][0],
        .kind = ADAPT_SCORES_LOGITS,
        .labels = c->labels,
        .n = R_N,
        .exits = R_EXITS,
        .classes = R_CLASSES,
        .exit_flops = c->flops,
        .reference_flops = 100,
    };
    return c;
}

START_TEST(views_are_the_doubles_inference_computes)
{
    random_case *c = random_case_new();
    ad_exit_table t;
    TU_OK(ad_exit_table_open(&t, &c->rec, "test"));
    for (int k = 0; k < R_EXITS; k++)
        for (int i = 0; i < R_N; i++) {
            double p[R_CLASSES];
            for (int j = 0; j < R_CLASSES; j++)
                p[j] = c->logits[k][i][j];
            ad_softmax_in_place(p, R_CLASSES);
            const ad_exit_view want = ad_exit_view_of(p, R_CLASSES, true);
            const ad_exit_view lean = ad_exit_view_of(p, R_CLASSES, false);
            const ad_exit_view *got = ad_exit_view_at(&t, k, i);
            ck_assert(got->prediction == want.prediction && got->top == want.top &&
                      got->entropy == want.entropy);
            ck_assert(lean.prediction == want.prediction && lean.top == want.top);
        }
    ad_exit_table_close(&t);
    free(c);
}
END_TEST

/* ------------------------------------------------------------------ sweep */

START_TEST(sweep_max_probability_hand_computed)
{
    hand_case c;
    hand_case_init(&c, 0);
    double thr[5], budget[5], acc[5];
    adapt_exit_curve curve = {.struct_size = sizeof curve};
    TU_OK(adapt_exit_sweep(&curve, thr, budget, acc, 5, &c.rec, ADAPT_EXIT_MAX_PROBABILITY));
    /* Thresholds 0, .25, .5 let all out at head 0 (every top >= .5); .75 is the entropy-0.8
     * case (3 right, 130 FLOPs); 1 keeps all for the final exit (every top < 1). */
    const double want_thr[5] = {0, 0.25, 0.5, 0.75, 1};
    const double want_budget[5] = {0.25, 0.25, 0.25, 130.0 / 240, 1};
    const double want_acc[5] = {2.0 / 6, 2.0 / 6, 2.0 / 6, 0.5, 1};
    for (int i = 0; i < 5; i++) {
        ck_assert(thr[i] == want_thr[i]);
        assert_near(budget[i], want_budget[i], TOL, "budget");
        assert_near(acc[i], want_acc[i], TOL, "accuracy");
    }
    /* The strictest point within each budget: point 2 for 25 % and 50 %, 3 for 75 %, 4. */
    assert_near(curve.accuracy_at_budget[0], 2.0 / 6, TOL, "at 25 %");
    assert_near(curve.accuracy_at_budget[1], 2.0 / 6, TOL, "at 50 %");
    assert_near(curve.accuracy_at_budget[2], 0.5, TOL, "at 75 %");
    assert_near(curve.accuracy_at_budget[3], 1.0, TOL, "at 100 %");
    /* Trapezoids (130/240 - 1/4)(1/3 + 1/2)/2 + (1 - 130/240)(1/2 + 1)/2 = 1340/2880, over a
     * width of 3/4. */
    assert_near(curve.area, 1340.0 / 2160, TOL, "area");
    assert_near(curve.min_budget, 0.25, TOL, "min_budget");
    assert_near(curve.max_budget, 1.0, TOL, "max_budget");
}
END_TEST

START_TEST(sweep_entropy_hand_computed)
{
    hand_case c;
    hand_case_init(&c, 0);
    double thr[3], budget[3], acc[3];
    adapt_exit_curve curve = {.struct_size = sizeof curve};
    TU_OK(adapt_exit_sweep(&curve, thr, budget, acc, 3, &c.rec, ADAPT_EXIT_ENTROPY));
    /* log 3 lets all out at head 0; log(3)/2 = 0.549 lets out tops >= .875 (the max-
     * probability 0.8 case); 0 keeps all (no row is one-hot). Thresholds are floats rounded
     * up, the permissive side. */
    ck_assert(thr[0] >= log(3.0) && thr[0] - log(3.0) < 1e-6);
    ck_assert(thr[1] >= log(3.0) / 2 && thr[1] - log(3.0) / 2 < 1e-6);
    ck_assert(thr[2] == 0.0);
    const double want_budget[3] = {0.25, 160.0 / 240, 1};
    const double want_acc[3] = {2.0 / 6, 5.0 / 6, 1};
    for (int i = 0; i < 3; i++) {
        assert_near(budget[i], want_budget[i], TOL, "budget");
        assert_near(acc[i], want_acc[i], TOL, "accuracy");
    }
    assert_near(curve.accuracy_at_budget[1], 2.0 / 6, TOL, "at 50 %");
    assert_near(curve.accuracy_at_budget[2], 5.0 / 6, TOL, "at 75 %");
    /* (2/3 - 1/4)(1/3 + 5/6)/2 + (1/3)(5/6 + 1)/2 = 79/144, over 3/4. */
    assert_near(curve.area, 79.0 / 108, TOL, "area");
}
END_TEST

START_TEST(sweep_summary_without_fitting_points_or_width)
{
    hand_case c;
    hand_case_init(&c, 0);
    adapt_exit_curve curve = {.struct_size = sizeof curve};
    /* A reference of 20: the cheapest point costs budget 0.5, so nothing fits 25 %. */
    c.rec.reference_flops = 20;
    TU_OK(adapt_exit_sweep(&curve, NULL, NULL, NULL, 5, &c.rec, ADAPT_EXIT_MAX_PROBABILITY));
    ck_assert(isnan(curve.accuracy_at_budget[0]));
    assert_near(curve.accuracy_at_budget[1], 2.0 / 6, TOL, "at 50 %");
    assert_near(curve.min_budget, 0.5, TOL, "min_budget");
    assert_near(curve.max_budget, 2.0, TOL, "max_budget");
    /* Every exit at one cost: no width, so the area is the mean accuracy of the points,
     * (1/3 + 1/3 + 1/3 + 1/2 + 1) / 5. */
    c.rec.reference_flops = 40;
    c.flops[0] = c.flops[1] = 40;
    TU_OK(adapt_exit_sweep(&curve, NULL, NULL, NULL, 5, &c.rec, ADAPT_EXIT_MAX_PROBABILITY));
    assert_near(curve.area, 0.5, TOL, "area");
    ck_assert(isnan(curve.accuracy_at_budget[0]));
    assert_near(curve.accuracy_at_budget[3], 1.0, TOL, "at 100 %");
}
END_TEST

START_TEST(sweep_ends_are_the_first_and_the_final_exit)
{
    random_case *c = random_case_new();
    double budget[11], acc[11];
    TU_OK(adapt_exit_sweep(NULL, NULL, budget, acc, 11, &c->rec, ADAPT_EXIT_MAX_PROBABILITY));
    adapt_metrics_report first = {.struct_size = sizeof first}, last = first;
    TU_OK(adapt_metrics_compute(&first, &c->logits[0][0][0], c->labels, R_N, R_CLASSES,
                                ADAPT_SCORES_LOGITS));
    TU_OK(adapt_metrics_compute(&last, &c->logits[R_EXITS - 1][0][0], c->labels, R_N,
                                R_CLASSES, ADAPT_SCORES_LOGITS));
    ck_assert(budget[0] == 25.0 / 100 && acc[0] == first.accuracy);
    ck_assert(budget[10] == 110.0 / 100 && acc[10] == last.accuracy);
    /* A stricter global threshold never moves a sample to an earlier exit. */
    for (int i = 1; i < 11; i++)
        ck_assert_msg(budget[i] >= budget[i - 1], "budget falls at point %d", i);
    free(c);
}
END_TEST

/* ------------------------------------------------------------------ fit */

static adapt_exit_outcome fit(float *thr, const adapt_exit_records *rec, int32_t rule,
                              int32_t per_head, adapt_exit_target target, double value)
{
    adapt_exit_outcome o = {.struct_size = sizeof o};
    TU_OK(adapt_exit_fit(thr, &o, rec, rule, per_head, target, value));
    return o;
}

/* What simulate reports for the fitted thresholds, bit for bit. */
static void assert_reproduced(const adapt_exit_outcome *o, const float *thr, int32_t per_head,
                              const adapt_exit_records *rec, int32_t rule)
{
    adapt_exit_policy p = policy_of(rule, thr[0]);
    p.head_thresholds = per_head ? thr : NULL;
    const adapt_exit_outcome s = simulate(NULL, rec, &p);
    ck_assert_msg(s.accuracy == o->accuracy && s.budget == o->budget &&
                      s.mean_flops == o->mean_flops,
                  "fit reported %.17g at %.17g, simulate %.17g at %.17g", o->accuracy,
                  o->budget, s.accuracy, s.budget);
}

START_TEST(fit_hand_computed_global_thresholds)
{
    hand_case c;
    hand_case_init(&c, 0);
    const int32_t M = ADAPT_EXIT_MAX_PROBABILITY;
    float thr[2] = {-5.0f, -5.0f};
    /* Global thresholds reach (accuracy, budget): >1 (1, 1); .9375 (1, .875); .875 (5/6,
     * 2/3); .75 (1/2, .54); .625 (1/3, .42); .5 and 0 (1/3, .25). Within budget 0.5 the best
     * accuracy is 1/3, cheapest at .5 or 0, which tie: the stricter .5. */
    adapt_exit_outcome o = fit(thr, &c.rec, M, 0, ADAPT_TARGET_BUDGET, 0.5);
    ck_assert(thr[0] == 0.5f && thr[1] == -5.0f);
    assert_near(o.accuracy, 2.0 / 6, TOL, "accuracy");
    assert_near(o.budget, 0.25, TOL, "budget");
    o = fit(thr, &c.rec, M, 0, ADAPT_TARGET_BUDGET, 0.7);
    ck_assert(thr[0] == 0.875f);
    assert_near(o.accuracy, 5.0 / 6, TOL, "accuracy");
    /* A budget met exactly is met. */
    o = fit(thr, &c.rec, M, 0, ADAPT_TARGET_BUDGET, 2.0 / 3);
    ck_assert(thr[0] == 0.875f);
    o = fit(thr, &c.rec, M, 0, ADAPT_TARGET_ACCURACY, 0.8);
    ck_assert(thr[0] == 0.875f);
    assert_near(o.budget, 2.0 / 3, TOL, "budget");
    o = fit(thr, &c.rec, M, 0, ADAPT_TARGET_ACCURACY, 1.0);
    ck_assert(thr[0] == 0.9375f);
    assert_near(o.budget, 0.875, TOL, "budget");
    assert_reproduced(&o, thr, 0, &c.rec, M);
    /* Entropy: the same (5/6, 2/3) within 0.7, at the entropy of a .875 top. */
    o = fit(thr, &c.rec, ADAPT_EXIT_ENTROPY, 0, ADAPT_TARGET_BUDGET, 0.7);
    assert_near(o.accuracy, 5.0 / 6, TOL, "accuracy");
    assert_near(o.budget, 2.0 / 3, TOL, "budget");
    ck_assert(thr[0] > 0.46 && thr[0] < 0.47);
    assert_reproduced(&o, thr, 0, &c.rec, ADAPT_EXIT_ENTROPY);
}
END_TEST

START_TEST(fit_meets_budgets_and_per_head_is_never_worse)
{
    random_case *c = random_case_new();
    const double budgets[4] = {0.3, 0.5, 0.7, 0.9};
    for (int32_t rule = ADAPT_EXIT_MAX_PROBABILITY; rule <= ADAPT_EXIT_ENTROPY; rule++)
        for (int j = 0; j < 4; j++) {
            float global[R_EXITS], heads[R_EXITS];
            global[1] = heads[R_EXITS - 1] = 42.0f;
            const adapt_exit_outcome g = fit(global, &c->rec, rule, 0, ADAPT_TARGET_BUDGET,
                                             budgets[j]);
            const adapt_exit_outcome h = fit(heads, &c->rec, rule, 1, ADAPT_TARGET_BUDGET,
                                             budgets[j]);
            /* One threshold, or one per head, and nothing beyond. */
            ck_assert(global[1] == 42.0f && heads[R_EXITS - 1] == 42.0f);
            ck_assert(g.budget <= budgets[j] + 1e-12 && h.budget <= budgets[j] + 1e-12);
            ck_assert_msg(h.accuracy >= g.accuracy, "rule %d budget %g: per head %g < %g",
                          (int)rule, budgets[j], h.accuracy, g.accuracy);
            assert_reproduced(&g, global, 0, &c->rec, rule);
            assert_reproduced(&h, heads, 1, &c->rec, rule);
        }
    free(c);
}
END_TEST

START_TEST(fit_accuracy_target_is_no_dearer_than_the_budget_fit_reaching_it)
{
    random_case *c = random_case_new();
    for (int32_t per_head = 0; per_head <= 1; per_head++) {
        float thr[R_EXITS];
        const adapt_exit_outcome b = fit(thr, &c->rec, ADAPT_EXIT_MAX_PROBABILITY, per_head,
                                         ADAPT_TARGET_BUDGET, 0.6);
        const adapt_exit_outcome a = fit(thr, &c->rec, ADAPT_EXIT_MAX_PROBABILITY, per_head,
                                         ADAPT_TARGET_ACCURACY, b.accuracy);
        ck_assert(a.accuracy >= b.accuracy - 1e-12);
        if (!per_head) /* the same candidates: the budget fit's pick is feasible here */
            ck_assert_msg(a.budget <= b.budget, "%g > %g", a.budget, b.budget);
        assert_reproduced(&a, thr, per_head, &c->rec, ADAPT_EXIT_MAX_PROBABILITY);
    }
    free(c);
}
END_TEST

START_TEST(fit_refuses_unreachable_targets_and_writes_nothing)
{
    hand_case c;
    hand_case_init(&c, 0);
    float thr[2] = {7.0f, 7.0f};
    adapt_exit_outcome o, untouched;
    memset(&o, 0x5a, sizeof o);
    o.struct_size = sizeof o;
    untouched = o;
    for (int32_t per_head = 0; per_head <= 1; per_head++) {
        /* Below the first exit's cost: the message names the cheapest budget, 0.25. */
        TU_FAILS(adapt_exit_fit(thr, &o, &c.rec, ADAPT_EXIT_MAX_PROBABILITY, per_head,
                                ADAPT_TARGET_BUDGET, 0.2),
                 ADAPT_ERR_INVALID_ARGUMENT);
        ck_assert_ptr_nonnull(strstr(adapt_last_error(), "0.25"));
        TU_FAILS(adapt_exit_fit(thr, &o, &c.rec, ADAPT_EXIT_ENTROPY, per_head,
                                ADAPT_TARGET_ACCURACY, 1.5),
                 ADAPT_ERR_INVALID_ARGUMENT);
        ck_assert_ptr_nonnull(strstr(adapt_last_error(), "best found is 1"));
    }
    ck_assert(thr[0] == 7.0f && thr[1] == 7.0f);
    ck_assert_mem_eq(&o, &untouched, sizeof o);
}
END_TEST

/* ------------------------------------------------------------------ argument errors */

START_TEST(simulate_refuses_bad_input_and_writes_nothing)
{
    hand_case c;
    hand_case_init(&c, 0);
    adapt_exit_outcome o, untouched;
    memset(&o, 0x5a, sizeof o);
    o.struct_size = sizeof o;
    untouched = o;
    int64_t counts[EXITS] = {-9, -9, -9};
    adapt_exit_policy p = policy_of(ADAPT_EXIT_MAX_PROBABILITY, 0.8f);
    const adapt_status INVALID = ADAPT_ERR_INVALID_ARGUMENT;
#define FAILS(status) TU_FAILS(adapt_exit_simulate(&o, counts, &c.rec, &p), status)
    TU_FAILS(adapt_exit_simulate(NULL, counts, &c.rec, &p), INVALID);
    TU_FAILS(adapt_exit_simulate(&o, counts, NULL, &p), INVALID);
    p.threshold = NAN;
    FAILS(ADAPT_ERR_NONFINITE);
    p.threshold = 0.8f;
    const float bad_heads[2] = {0.5f, INFINITY};
    p.head_thresholds = bad_heads;
    FAILS(ADAPT_ERR_NONFINITE);
    p.head_thresholds = NULL;
    p.rule = 7;
    FAILS(INVALID);
    p.rule = ADAPT_EXIT_PATIENCE, p.patience = 0;
    FAILS(INVALID);
    p = policy_of(ADAPT_EXIT_MAX_PROBABILITY, 0.8f);
    p.struct_size = 0;
    FAILS(INVALID);
    p.struct_size = sizeof p;
    c.labels[4] = 3;
    FAILS(INVALID);
    ck_assert_ptr_nonnull(strstr(adapt_last_error(), "labels[4] = 3"));
    c.labels[4] = -1;
    FAILS(INVALID);
    c.labels[4] = 2;
    c.flops[2] = 15; /* below exit 1's 20 */
    FAILS(INVALID);
    ck_assert_ptr_nonnull(strstr(adapt_last_error(), "exit_flops[2]"));
    c.flops[2] = 40, c.flops[0] = -1;
    FAILS(INVALID);
    c.flops[0] = 10, c.rec.exit_flops = NULL;
    FAILS(INVALID);
    c.rec.exit_flops = c.flops, c.rec.reference_flops = 0;
    FAILS(INVALID);
    c.rec.reference_flops = 40, c.rec.exits = 0;
    FAILS(INVALID);
    c.rec.exits = EXITS, c.rec.n = 0;
    FAILS(INVALID);
    c.rec.n = N, c.rec.classes = 1;
    FAILS(INVALID);
    c.rec.classes = CLASSES, c.rec.kind = 5;
    FAILS(INVALID);
    c.rec.kind = ADAPT_SCORES_PROBABILITIES, c.rec.scores = NULL;
    FAILS(INVALID);
    c.rec.scores = &c.scores[0][0][0];
    c.scores[2][5][1] = NAN;
    FAILS(ADAPT_ERR_NONFINITE);
    c.scores[2][5][1] = 0.5f; /* the row now sums to 1.3125 */
    FAILS(INVALID);
    c.scores[2][5][1] = 0.1875f;
    /* n * exits rows overflow, and n rows of scores that could not be addressed, are
     * refused before a label or a score is read. */
    c.rec.n = INT64_MAX / 2;
    FAILS(ADAPT_ERR_OVERFLOW);
    c.rec.n = INT64_MAX / 4;
    FAILS(ADAPT_ERR_OVERFLOW);
    c.rec.n = N;
    c.rec.struct_size = 0;
    FAILS(INVALID);
    /* Records have no defaults: a struct ending at `n` lacks required fields. */
    c.rec.struct_size = offsetof(adapt_exit_records, n) + sizeof c.rec.n;
    FAILS(INVALID);
    ck_assert_ptr_nonnull(strstr(adapt_last_error(), "records.struct_size"));
    c.rec.struct_size = sizeof c.rec;
    ck_assert_mem_eq(&o, &untouched, sizeof o);
    ck_assert(counts[0] == -9 && counts[1] == -9 && counts[2] == -9);
    o.struct_size = 0;
    FAILS(INVALID);
#undef FAILS
    /* With everything repaired the same call succeeds. */
    o.struct_size = sizeof o;
    TU_OK(adapt_exit_simulate(&o, counts, &c.rec, &p));
    assert_near(o.accuracy, 5.0 / 6, TOL, "accuracy");
}
END_TEST

START_TEST(structs_of_other_sizes)
{
    hand_case c;
    hand_case_init(&c, 0);
    /* Records from a newer caller: fields we do not know are read as unset when zero, and
     * refused when set, with the outcome untouched. */
    struct {
        adapt_exit_records rec;
        unsigned char newer[32];
    } big;
    memset(&big, 0, sizeof big);
    big.rec = c.rec;
    big.rec.struct_size = sizeof big;
    const adapt_exit_policy p = policy_of(ADAPT_EXIT_MAX_PROBABILITY, 0.8f);
    const adapt_exit_outcome o = simulate(NULL, &big.rec, &p);
    assert_near(o.accuracy, 5.0 / 6, TOL, "accuracy");
    big.newer[31] = 1;
    adapt_exit_outcome refused = {.struct_size = sizeof refused, .accuracy = -1.0};
    TU_FAILS(adapt_exit_simulate(&refused, NULL, &big.rec, &p), ADAPT_ERR_UNSUPPORTED);
    ck_assert(refused.accuracy == -1.0);
    char where[64];
    snprintf(where, sizeof where, "byte %zu of %zu is not zero", sizeof big - 1, sizeof big);
    ck_assert_ptr_nonnull(strstr(adapt_last_error(), where));
    /* An outcome from an older caller is written only as far as its size; a NULL policy is
     * the defaults (max probability 0.9: s0 at head 0, the rest at the final exit). */
    adapt_exit_outcome small;
    memset(&small, 0x5a, sizeof small);
    small.struct_size = offsetof(adapt_exit_outcome, budget);
    const double sentinel = small.budget;
    TU_OK(adapt_exit_simulate(&small, NULL, &c.rec, NULL));
    assert_near(small.accuracy, 1.0, TOL, "accuracy");
    assert_near(small.mean_flops, 210.0 / 6, TOL, "mean_flops");
    ck_assert(memcmp(&small.budget, &sentinel, sizeof sentinel) == 0);
}
END_TEST

START_TEST(sweep_refuses_bad_input_and_writes_nothing)
{
    hand_case c;
    hand_case_init(&c, 0);
    double thr[4] = {-1, -1, -1, -1}, budget[4] = {-1, -1, -1, -1}, acc[4] = {-1, -1, -1, -1};
    adapt_exit_curve curve, untouched;
    memset(&curve, 0x5a, sizeof curve);
    curve.struct_size = sizeof curve;
    untouched = curve;
    const int32_t M = ADAPT_EXIT_MAX_PROBABILITY;
    const adapt_status INVALID = ADAPT_ERR_INVALID_ARGUMENT;
    TU_FAILS(adapt_exit_sweep(&curve, thr, budget, acc, 4, &c.rec, ADAPT_EXIT_PATIENCE),
             INVALID);
    TU_FAILS(adapt_exit_sweep(&curve, thr, budget, acc, 4, &c.rec, 9), INVALID);
    TU_FAILS(adapt_exit_sweep(&curve, thr, budget, acc, 1, &c.rec, M), INVALID);
    TU_FAILS(adapt_exit_sweep(&curve, thr, budget, acc, 4, NULL, M), INVALID);
    c.flops[1] = 5;
    TU_FAILS(adapt_exit_sweep(&curve, thr, budget, acc, 4, &c.rec, M), INVALID);
    c.flops[1] = 20;
    ck_assert_mem_eq(&curve, &untouched, sizeof curve);
    for (int i = 0; i < 4; i++)
        ck_assert(thr[i] == -1 && budget[i] == -1 && acc[i] == -1);
    curve.struct_size = 0;
    TU_FAILS(adapt_exit_sweep(&curve, thr, budget, acc, 4, &c.rec, M), INVALID);
}
END_TEST

START_TEST(fit_refuses_bad_arguments_and_writes_nothing)
{
    hand_case c;
    hand_case_init(&c, 0);
    float thr[2] = {7.0f, 7.0f};
    adapt_exit_outcome o, untouched;
    memset(&o, 0x5a, sizeof o);
    o.struct_size = sizeof o;
    untouched = o;
    const int32_t M = ADAPT_EXIT_MAX_PROBABILITY;
    const adapt_status INVALID = ADAPT_ERR_INVALID_ARGUMENT;
    const adapt_exit_target B = ADAPT_TARGET_BUDGET;
    TU_FAILS(adapt_exit_fit(NULL, &o, &c.rec, M, 0, B, 0.5), INVALID);
    TU_FAILS(adapt_exit_fit(thr, &o, NULL, M, 0, B, 0.5), INVALID);
    TU_FAILS(adapt_exit_fit(thr, &o, &c.rec, ADAPT_EXIT_PATIENCE, 0, B, 0.5), INVALID);
    TU_FAILS(adapt_exit_fit(thr, &o, &c.rec, -1, 0, B, 0.5), INVALID);
    TU_FAILS(adapt_exit_fit(thr, &o, &c.rec, M, 0, (adapt_exit_target)2, 0.5), INVALID);
    TU_FAILS(adapt_exit_fit(thr, &o, &c.rec, M, 0, B, NAN), ADAPT_ERR_NONFINITE);
    TU_FAILS(adapt_exit_fit(thr, &o, &c.rec, M, 1, ADAPT_TARGET_ACCURACY, INFINITY),
             ADAPT_ERR_NONFINITE);
    c.labels[0] = 9;
    TU_FAILS(adapt_exit_fit(thr, &o, &c.rec, M, 0, B, 0.5), INVALID);
    c.labels[0] = 0;
    /* One exit: no heads, nothing to threshold. */
    c.rec.exits = 1;
    TU_FAILS(adapt_exit_fit(thr, &o, &c.rec, M, 0, B, 2.0), INVALID);
    ck_assert_ptr_nonnull(strstr(adapt_last_error(), "no heads"));
    c.rec.exits = EXITS;
    ck_assert(thr[0] == 7.0f && thr[1] == 7.0f);
    ck_assert_mem_eq(&o, &untouched, sizeof o);
    o.struct_size = 0;
    TU_FAILS(adapt_exit_fit(thr, &o, &c.rec, M, 0, B, 0.5), INVALID);
    /* The outcome is optional. */
    TU_OK(adapt_exit_fit(thr, NULL, &c.rec, M, 0, B, 0.5));
    ck_assert(thr[0] == 0.5f);
}
END_TEST

static Suite *exit_policy_suite(void)
{
    Suite *s = suite_create("exit_policy");
    TCase *simulate_case = tcase_create("simulate");
    tcase_add_test(simulate_case, max_probability_hand_computed);
    tcase_add_test(simulate_case, entropy_hand_computed);
    tcase_add_test(simulate_case, patience_hand_computed);
    tcase_add_test(simulate_case, logits_decide_as_the_same_rows_given_as_probabilities);
    tcase_add_test(simulate_case, views_are_the_doubles_inference_computes);
    tcase_add_test(simulate_case, structs_of_other_sizes);
    tcase_add_test(simulate_case, simulate_refuses_bad_input_and_writes_nothing);
    suite_add_tcase(s, simulate_case);
    TCase *sweep_case = tcase_create("sweep");
    tcase_add_test(sweep_case, sweep_max_probability_hand_computed);
    tcase_add_test(sweep_case, sweep_entropy_hand_computed);
    tcase_add_test(sweep_case, sweep_summary_without_fitting_points_or_width);
    tcase_add_test(sweep_case, sweep_ends_are_the_first_and_the_final_exit);
    tcase_add_test(sweep_case, sweep_refuses_bad_input_and_writes_nothing);
    suite_add_tcase(s, sweep_case);
    TCase *fit_case = tcase_create("fit");
    tcase_add_test(fit_case, fit_hand_computed_global_thresholds);
    tcase_add_test(fit_case, fit_meets_budgets_and_per_head_is_never_worse);
    tcase_add_test(fit_case, fit_accuracy_target_is_no_dearer_than_the_budget_fit_reaching_it);
    tcase_add_test(fit_case, fit_refuses_unreachable_targets_and_writes_nothing);
    tcase_add_test(fit_case, fit_refuses_bad_arguments_and_writes_nothing);
    suite_add_tcase(s, fit_case);
    return s;
}

int main(void)
{
    return tu_run(exit_policy_suite());
}
