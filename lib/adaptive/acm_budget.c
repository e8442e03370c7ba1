#include "lib/adaptive/acm_budget.h"

#include <math.h>

#include "lib/core/error.h"
#include "lib/core/tensor.h"
#include "lib/ops/op.h"

static const char *const fn = "ACM budget terms";

/* Below this a choice's share counts as this in the entropy's logarithm, whose slope would
 * otherwise be infinite at 0. */
#define SHARE_FLOOR 1e-6

adapt_status ad_acm_note_choices(adapt_context *ctx, const ad_acm *a, adapt_tensor *onehot)
{
    if (!ctx->acm_noting)
        return ADAPT_OK;
    if (ctx->recompute) /* a recomputed block's tape and memory do not outlive its pass */
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "the ACM budget terms cannot see the gates "
                       "of recomputed blocks");
    ad_acm_note *note;
    adapt_status st = ad_scratch((void **)&note, ctx, sizeof *note, fn);
    if (st)
        return st;
    *note = (ad_acm_note){ctx->acm_notes, onehot, a->min_learners, ad_acm_learner_flops(a)};
    ctx->acm_notes = note;
    return ADAPT_OK;
}

typedef struct {
    ad_acm_budget w;
    const ad_acm_note *const *notes; /* in the order of the op's inputs */
    int32_t n_notes;
    int64_t samples;
    double max_cost;    /* per sample: every learner of every ACM for every token */
    const double *cost; /* [samples]: each sample's cost fraction u_i */
} budget_saved;

static int64_t choices_of(const ad_acm_note *n)
{
    return n->onehot->shape[n->onehot->ndim - 1];
}

static int64_t tokens_of(const ad_acm_note *n, int64_t samples)
{
    return n->onehot->numel / choices_of(n) / samples;
}

/* Entropy of one sample's choices in note n, and (when d is not NULL) its derivative by each
 * share into d[choices]. */
static double entropy(const ad_acm_note *n, int64_t i, int64_t samples, double *d)
{
    const int64_t choices = choices_of(n), tokens = tokens_of(n, samples);
    const float *oh = n->onehot->data + i * tokens * choices;
    const double norm = choices > 1 ? log((double)choices) : 1.0;
    double h = 0.0;
    for (int64_t c = 0; c < choices; c++) {
        double q = 0.0;
        for (int64_t t = 0; t < tokens; t++)
            q += oh[t * choices + c];
        q /= (double)tokens;
        const double lq = log(q > SHARE_FLOOR ? q : SHARE_FLOOR);
        h -= q * lq / norm;
        if (d)
            d[c] = -(lq + (q > SHARE_FLOOR ? 1.0 : 0.0)) / norm;
    }
    return h;
}

static double sign(double v)
{
    return (v > 0.0) - (v < 0.0);
}

/* d terms / d u_i: the budget's and the diversity's share. */
static double cost_grad(const budget_saved *s, int64_t i, double mean)
{
    const double b = (double)s->samples;
    double d = s->w.budget * sign(mean - s->w.beta) / b;
    for (int64_t j = 0; j < s->samples; j++)
        d -= s->w.diversity * 4.0 / (b * b) * sign(s->cost[i] - s->cost[j]);
    return d;
}

/* Adds g d terms / d onehot of note k into d; dh: room for its choices. */
static void note_grad(float *d, const budget_saved *s, int32_t k, double g, double mean,
                      double *dh)
{
    const ad_acm_note *n = s->notes[k];
    const int64_t choices = choices_of(n), tokens = tokens_of(n, s->samples);
    const double share = 1.0 / ((double)tokens * s->n_notes * (double)s->samples);
    for (int64_t i = 0; i < s->samples; i++) {
        const double du = cost_grad(s, i, mean) * (double)n->learner_flops / s->max_cost;
        entropy(n, i, s->samples, dh);
        for (int64_t t = 0; t < tokens; t++)
            for (int64_t c = 0; c < choices; c++)
                d[(i * tokens + t) * choices + c] += (float)(
                    g * (du * (double)(n->min_learners + c) - s->w.entropy * dh[c] * share));
    }
}

static adapt_status budget_backward(adapt_context *ctx, const ad_node *node)
{
    const budget_saved *s = node->saved;
    double mean = 0.0;
    for (int64_t i = 0; i < s->samples; i++)
        mean += s->cost[i] / (double)s->samples;
    for (int32_t k = 0; k < s->n_notes; k++) {
        float *d;
        double *dh;
        adapt_status st = ad_grad(&d, ctx, node->in[k]);
        if (!st && d)
            st = ad_scratch((void **)&dh, ctx, (size_t)choices_of(s->notes[k]) * sizeof *dh,
                            "adapt_backward");
        if (st)
            return st;
        if (d)
            note_grad(d, s, k, node->out->pass_grad[0], mean, dh);
    }
    return ADAPT_OK;
}

/* u_i for every sample into cost, and the terms' value. */
static double terms(budget_saved *s, double *cost)
{
    const double b = (double)s->samples;
    double h = 0.0, mean = 0.0, spread = 0.0;
    for (int64_t i = 0; i < s->samples; i++) {
        cost[i] = 0.0;
        for (int32_t k = 0; k < s->n_notes; k++) {
            const ad_acm_note *n = s->notes[k];
            const int64_t choices = choices_of(n), tokens = tokens_of(n, s->samples);
            const float *oh = n->onehot->data + i * tokens * choices;
            for (int64_t t = 0; t < tokens * choices; t++)
                cost[i] += oh[t] * (double)(n->min_learners + t % choices) * n->learner_flops;
            h += entropy(n, i, s->samples, NULL) / (s->n_notes * b);
        }
        cost[i] /= s->max_cost;
        mean += cost[i] / b;
    }
    for (int64_t i = 0; i < s->samples; i++)
        for (int64_t j = 0; j < s->samples; j++)
            spread += 2.0 * fabs(cost[i] - cost[j]) / (b * b);
    return s->w.budget * fabs(mean - s->w.beta) - s->w.entropy * h - s->w.diversity * spread;
}

adapt_status ad_acm_budget_loss(adapt_tensor **loss, adapt_context *ctx,
                                const ad_acm_budget *weights)
{
    int32_t n = 0;
    for (const ad_acm_note *note = ctx->acm_notes; note; note = note->next)
        n++;
    if (!n)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "acm_budget: no ACM layer ran its gate (none "
                       "in the model, or all at a fixed learner count)");
    const ad_acm_note **notes;
    adapt_tensor **in, *y;
    double *cost;
    adapt_status st = ad_scratch((void **)&notes, ctx, (size_t)n * sizeof *notes, fn);
    if (!st)
        st = ad_scratch((void **)&in, ctx, (size_t)n * sizeof *in, fn);
    budget_saved s = {*weights, notes, n, ctx->acm_notes->onehot->shape[0], 0.0, NULL};
    if (!st)
        st = ad_scratch((void **)&cost, ctx, (size_t)s.samples * sizeof *cost, fn);
    if (!st)
        st = ad_tensor_new(&y, ctx, 0, NULL);
    if (st)
        return st;
    int32_t k = 0;
    for (const ad_acm_note *note = ctx->acm_notes; note; note = note->next) {
        notes[k] = note, in[k++] = note->onehot;
        const int64_t learners = note->min_learners + choices_of(note) - 1;
        s.max_cost += (double)(tokens_of(note, s.samples) * learners) * note->learner_flops;
    }
    y->data[0] = (float)terms(&s, cost);
    s.cost = cost;
    return ad_op_finish(loss, ctx, fn, budget_backward, y, in, n, &s, sizeof s);
}
