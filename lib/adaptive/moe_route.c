/* Routing: the router's predicted expert norms, and the rules that pick experts from them. */
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "lib/adaptive/moe.h"
#include "lib/core/error.h"
#include "lib/core/tensor.h"

#define SELECT_GRAIN 64 /* tokens per range */

adapt_status ad_moe_route_scores(float **g, adapt_context *ctx, const ad_moe *m,
                                 const adapt_tensor *x, int64_t tokens)
{
    adapt_tensor *hidden, *scores;
    adapt_status st = ad_linear_output(&hidden, ctx, x, m->router_in.out_features);
    if (!st)
        st = ad_linear_product(ctx, m->router_in.weight, NULL, x, AD_ACT_RELU, hidden->data);
    if (!st)
        st = ad_linear_output(&scores, ctx, x, m->experts);
    if (!st)
        st = ad_linear_product(ctx, m->router_out.weight, NULL, hidden, AD_ACT_NONE,
                               scores->data);
    if (st)
        return st;
    for (int64_t i = 0; i < tokens * m->experts; i++) {
        if (!isfinite(scores->data[i]))
            return ad_fail(ADAPT_ERR_NONFINITE, "the router of a Mixture-of-Experts layer "
                           "predicted NaN or infinity for token %lld",
                           (long long)(i / m->experts));
        scores->data[i] = fabsf(scores->data[i]);
    }
    *g = scores->data;
    return ADAPT_OK;
}

bool ad_moe_runs_all(const adapt_layer_params *p)
{
    return p->routing != ADAPT_ROUTING_TOP_K ? p->tau == 0.0f : p->top_k >= p->experts;
}

typedef struct {
    float g;
    int32_t e;
} scored;

/* Largest g first; equal ones by expert index, so the order is total. */
static int by_score(const void *a, const void *b)
{
    const scored *x = a, *y = b;
    if (x->g != y->g)
        return x->g < y->g ? 1 : -1;
    return (x->e > y->e) - (x->e < y->e);
}

/* How many of the sorted experts the rule takes. */
static int64_t taken(const scored *s, int64_t experts, const adapt_layer_params *p)
{
    if (p->routing == ADAPT_ROUTING_TOP_K)
        return p->top_k < experts ? p->top_k : experts;
    if (p->tau == 0.0f) /* every expert, even those predicted at 0 */
        return experts;
    double total = 0.0, sum = 0.0;
    for (int64_t e = 0; e < experts; e++)
        total += s[e].g;
    const double target = (1.0 - (double)p->tau) * total;
    int64_t k = 0;
    while (k < experts && (k == 0 || sum < target))
        sum += s[k++].g;
    return k;
}

typedef struct {
    uint8_t *selected;
    const float *g;
    int64_t experts;
    const adapt_layer_params *p;
    scored *scratch; /* `experts` per range */
    atomic_int next_slot;
} select_job;

static void select_dynamic_k(const float *g, int64_t experts, float tau, uint8_t *row)
{
    float max = 0.0f;
    for (int64_t e = 0; e < experts; e++)
        max = g[e] > max ? g[e] : max;
    const float threshold = tau * max;
    for (int64_t e = 0; e < experts; e++)
        row[e] = g[e] >= threshold;
}

static void select_range(void *arg, int64_t begin, int64_t end)
{
    select_job *j = arg;
    scored *s = j->p->routing == ADAPT_ROUTING_DYNAMIC_K
                    ? NULL : j->scratch + atomic_fetch_add(&j->next_slot, 1) * j->experts;
    for (int64_t t = begin; t < end; t++) {
        const float *g = j->g + t * j->experts;
        uint8_t *row = j->selected + t * j->experts;
        if (j->p->routing == ADAPT_ROUTING_DYNAMIC_K) {
            select_dynamic_k(g, j->experts, j->p->tau, row);
            continue;
        }
        for (int64_t e = 0; e < j->experts; e++)
            s[e] = (scored){g[e], (int32_t)e}, row[e] = 0;
        qsort(s, (size_t)j->experts, sizeof *s, by_score);
        const int64_t k = taken(s, j->experts, j->p);
        for (int64_t i = 0; i < k; i++)
            row[s[i].e] = 1;
    }
}

adapt_status ad_moe_select(uint8_t *selected, adapt_context *ctx, const float *g,
                           int64_t tokens, int64_t experts, const adapt_layer_params *p)
{
    select_job j = {selected, g, experts, p, NULL, 0};
    const int64_t slots = p->routing == ADAPT_ROUTING_DYNAMIC_K /* sorts nothing */
                              ? 0 : ad_pool_ranges(tokens, SELECT_GRAIN, ctx->n_threads);
    adapt_status st = ad_scratch((void **)&j.scratch, ctx,
                                 (size_t)(slots * experts + 1) * sizeof(scored), "routing");
    if (!st)
        ad_pool_for(ctx->pool, tokens, SELECT_GRAIN, select_range, &j);
    return st;
}
