/* Routing: the router's predicted expert norms for a block of tokens, and the rule that picks
 * each token's experts from them. One block at a time on the calling thread, so that a pass
 * over token blocks routes and runs the experts without a second fork and join. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lib/adaptive/moe.h"
#include "lib/core/tensor.h"
#include "lib/kernels/gemm.h"

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

bool ad_moe_runs_all(const adapt_layer_params *p)
{
    return p->routing != ADAPT_ROUTING_TOP_K ? p->tau == 0.0f : p->top_k >= p->experts;
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

static void select_dynamic_k(const float *g, int64_t experts, float tau, uint8_t *row)
{
    float max = 0.0f;
    for (int64_t e = 0; e < experts; e++)
        max = g[e] > max ? g[e] : max;
    const float threshold = tau * max;
    for (int64_t e = 0; e < experts; e++)
        row[e] = g[e] >= threshold;
}

/* One token's row of selected from its predictions g; s: room for `experts` entries. */
static void select_row(uint8_t *row, const float *g, int64_t experts,
                       const adapt_layer_params *p, scored *s)
{
    if (p->routing == ADAPT_ROUTING_DYNAMIC_K) {
        select_dynamic_k(g, experts, p->tau, row);
        return;
    }
    for (int64_t e = 0; e < experts; e++)
        s[e] = (scored){g[e], (int32_t)e}, row[e] = 0;
    qsort(s, (size_t)experts, sizeof *s, by_score);
    const int64_t k = taken(s, experts, p);
    for (int64_t i = 0; i < k; i++)
        row[s[i].e] = 1;
}

void ad_moe_select(uint8_t *selected, const float *g, int64_t tokens, int64_t experts,
                   const adapt_layer_params *p, float *scratch)
{
    for (int64_t t = 0; t < tokens; t++)
        select_row(selected + t * experts, g + t * experts, experts, p, (scored *)scratch);
}

int64_t ad_moe_route_floats(const ad_moe *m, int64_t rows)
{
    const int64_t sort = (int64_t)(m->experts * sizeof(scored) / sizeof(float));
    return rows * (m->router_in.out_features + m->experts) + sort;
}

/* g[rows, experts] = |relu(x R1^T) R2^T|, on the calling thread. */
static adapt_status predict(float *g, float *hidden, adapt_backend backend, const ad_moe *m,
                            const float *x, int64_t rows)
{
    const int64_t width = m->router_in.out_features;
    adapt_status st = ad_gemm(backend, &(ad_gemm_args){.trans_b = true, .m = rows, .n = width,
                                                       .k = m->in, .alpha = 1.0f, .a = x,
                                                       .lda = m->in,
                                                       .b = m->router_in.weight->data,
                                                       .ldb = m->in, .c = hidden, .ldc = width});
    if (st)
        return st;
    ad_bias_act_rows(rows, width, width, NULL, AD_ACT_RELU, hidden);
    st = ad_gemm(backend, &(ad_gemm_args){.trans_b = true, .m = rows, .n = m->experts,
                                          .k = width, .alpha = 1.0f, .a = hidden, .lda = width,
                                          .b = m->router_out.weight->data, .ldb = width,
                                          .c = g, .ldc = m->experts});
    for (int64_t i = 0; !st && i < rows * m->experts; i++)
        g[i] = fabsf(g[i]);
    return st;
}

adapt_status ad_moe_route_rows(uint8_t *selected, int64_t *bad_row, adapt_backend backend,
                               const ad_moe *m, const adapt_layer_params *p, const float *x,
                               int64_t rows, float *scratch)
{
    if (ad_moe_runs_all(p)) {
        memset(selected, 1, (size_t)(rows * m->experts));
        return ADAPT_OK;
    }
    float *hidden = scratch, *g = hidden + rows * m->router_in.out_features;
    adapt_status st = predict(g, hidden, backend, m, x, rows);
    for (int64_t i = 0; !st && i < rows * m->experts; i++)
        if (!isfinite(g[i])) {
            *bad_row = i / m->experts;
            return ADAPT_ERR_NONFINITE;
        }
    if (!st)
        ad_moe_select(selected, g, rows, m->experts, p, g + rows * m->experts);
    return st;
}
