/* The Mixture-of-Experts layer's forward: route, then run each token's experts through the
 * grouped kernel. Untaped, tokens go in chunks, so the kernel's per-pair buffers stay bounded
 * whatever the batch (1024 tokens: at most experts x 4 KiB per output column); taped, one grouping covers the batch and stays on the tape
 * with the pairs' hidden activations for backward. The router is never taped: routing is a
 * discrete choice, and the router learns apart, from the experts' output norms. */
#include <string.h>

#include "lib/adaptive/moe.h"
#include "lib/core/error.h"
#include "lib/core/tensor.h"
#include "lib/core/meter.h"
#include "lib/ops/op.h"

#define CHUNK_TOKENS 1024

static const char *const fn = "Mixture-of-Experts forward";

typedef struct {
    ad_grouping grouping;
    ad_grouped_weights weights;
    const float *saved; /* [pairs, hidden] */
} moe_record;

ad_grouped_weights ad_moe_weights(const ad_moe *m)
{
    return (ad_grouped_weights){m->in, m->hidden, m->out, m->w1->data, m->b1->data,
                                m->w2->data, m->bias->data, m->act};
}

/* The experts each token runs, and whether the router ran to choose them. */
static adapt_status choose(uint8_t **selected, bool *routed, adapt_context *ctx,
                           const ad_layer *l, const adapt_tensor *x, int64_t tokens)
{
    const ad_moe *m = AD_LAYER_STATE(l, const ad_moe);
    adapt_status st = ad_scratch((void **)selected, ctx,
                                 (size_t)(tokens * m->experts), fn);
    *routed = !st && !ad_moe_runs_all(&l->params);
    if (st || !*routed) {
        if (!st)
            memset(*selected, 1, (size_t)(tokens * m->experts));
        return st;
    }
    float *g;
    st = ad_moe_route_scores(&g, ctx, m, x, tokens);
    return st ? st : ad_moe_select(*selected, ctx, g, tokens, m->experts, &l->params);
}

/* Each sample's router (when it ran) and the experts its tokens ran. */
static adapt_status charge(adapt_context *ctx, const ad_moe *m, const uint8_t *selected,
                           int64_t tokens, int64_t samples, bool routed)
{
    if (!ctx->meter || samples == 0)
        return ADAPT_OK;
    int64_t *flops;
    adapt_status st = ad_scratch((void **)&flops, ctx, (size_t)samples * sizeof *flops, fn);
    if (st)
        return st;
    const int64_t per_sample = tokens / samples * m->experts;
    for (int64_t i = 0; i < samples; i++) {
        int64_t pairs = 0;
        for (int64_t k = i * per_sample; k < (i + 1) * per_sample; k++)
            pairs += selected[k];
        flops[i] = ad_add_sat(ad_mul_sat(pairs, ad_moe_expert_flops(m)),
                              routed ? ad_mul_sat(tokens / samples, ad_moe_router_flops(m))
                                     : 0);
    }
    ad_meter_charge_each(ctx, samples, flops);
    return ADAPT_OK;
}

static adapt_status run_untaped(adapt_context *ctx, const ad_moe *m, const uint8_t *selected,
                                const adapt_tensor *x, adapt_tensor *y, int64_t tokens)
{
    const ad_grouped_weights w = ad_moe_weights(m);
    adapt_status st = ADAPT_OK;
    for (int64_t first = 0; first < tokens && !st; first += CHUNK_TOKENS) {
        const int64_t n = tokens - first < CHUNK_TOKENS ? tokens - first : CHUNK_TOKENS;
        const ad_arena_mark mark = ad_arena_mark_now(&ctx->arena);
        ad_grouping g;
        st = ad_grouping_build(&g, ctx, selected + first * m->experts, n, m->experts, fn);
        if (!st)
            st = ad_grouped_ffn_forward(ctx, &g, &w, x->data + first * m->in,
                                        &(ad_grouped_outputs){.y = y->data + first * m->out},
                                        fn);
        ad_arena_rewind(&ctx->arena, mark);
    }
    return st;
}

static adapt_status moe_backward(adapt_context *ctx, const ad_node *node)
{
    const moe_record *r = node->saved;
    float *grad[5] = {NULL};
    adapt_status st = ADAPT_OK;
    for (int i = 0; i < 5 && !st; i++)
        st = ad_grad(&grad[i], ctx, node->in[i]);
    if (st)
        return st;
    const ad_grouped_grads grads = {grad[0], grad[1], grad[2], grad[3], grad[4]};
    return ad_grouped_ffn_backward(ctx, &r->grouping, &r->weights, node->in[0]->data,
                                   r->saved, node->out->pass_grad, &grads, "adapt_backward");
}

static adapt_status run_taped(adapt_tensor **out, adapt_context *ctx, const ad_moe *m,
                              const uint8_t *selected, adapt_tensor *x, adapt_tensor *y,
                              int64_t tokens)
{
    moe_record r = {.weights = ad_moe_weights(m)};
    float *saved;
    adapt_status st = ad_grouping_build(&r.grouping, ctx, selected, tokens, m->experts, fn);
    if (!st)
        st = ad_scratch((void **)&saved, ctx,
                        (size_t)(r.grouping.pairs * m->hidden + 1) * sizeof(float), fn);
    if (!st)
        st = ad_grouped_ffn_forward(ctx, &r.grouping, &r.weights, x->data,
                                    &(ad_grouped_outputs){.y = y->data, .saved = saved}, fn);
    if (st)
        return st;
    r.saved = saved;
    adapt_tensor *in[] = {x, m->w1, m->b1, m->w2, m->bias};
    return ad_op_finish(out, ctx, "moe", moe_backward, y, in, 5, &r, sizeof r);
}

adapt_status ad_moe_forward(adapt_tensor **out, adapt_context *ctx, const ad_layer *l,
                            adapt_tensor *x)
{
    const ad_moe *m = AD_LAYER_STATE(l, const ad_moe);
    const int64_t tokens = x->numel / m->in;
    adapt_tensor *y;
    uint8_t *selected;
    bool routed;
    adapt_status st = ad_linear_output(&y, ctx, x, m->out);
    if (!st)
        st = choose(&selected, &routed, ctx, l, x, tokens);
    if (!st)
        st = charge(ctx, m, selected, tokens, x->shape[0], routed);
    if (st)
        return st;
    for (int64_t t = 0; ctx->expert_counts && t < tokens; t++) {
        int32_t ran = 0;
        for (int64_t e = 0; e < m->experts; e++)
            ran += selected[t * m->experts + e];
        ctx->expert_counts[t] = ran;
    }
    adapt_tensor *in[] = {x, m->w1, m->b1, m->w2, m->bias};
    if (ad_tape_wants(ctx, in, 5))
        return run_taped(out, ctx, m, selected, x, y, tokens);
    st = run_untaped(ctx, m, selected, x, y, tokens);
    if (!st)
        *out = y;
    return st;
}
