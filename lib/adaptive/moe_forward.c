/* The Mixture-of-Experts layer's forward. Untaped, one pass over token blocks
 * (token_blocks.h): the router's predictions and the rule pick each block's experts, and the
 * grouped kernel runs each expert once on the block's tokens that chose it. Taped, the pass
 * only routes; one grouping of the whole batch then runs the experts and
 * stays on the tape with the pairs' hidden activations for backward. The router is never
 * taped: routing is a discrete choice, and the router learns apart, from the experts' output
 * norms. Blocks depend only on the batch's size, so the bits do not depend on the thread
 * count. */
#include <string.h>

#include "lib/adaptive/moe.h"
#include "lib/adaptive/token_blocks.h"
#include "lib/core/error.h"
#include "lib/core/tensor.h"
#include "lib/ops/op.h"

static const char *const fn = "Mixture-of-Experts forward";

static adapt_status route_block(uint8_t *selected, int64_t *bad_row, adapt_backend backend,
                                const void *layer, const float *x, int64_t rows, float *scratch)
{
    const ad_layer *l = layer;
    return ad_moe_route_rows(selected, bad_row, backend, AD_LAYER_STATE(l, const ad_moe),
                             &l->params, x, rows, scratch);
}

static int64_t route_floats(const void *layer, int64_t rows)
{
    return ad_moe_route_floats(AD_LAYER_STATE((const ad_layer *)layer, const ad_moe), rows);
}

/* selected[tokens, experts], and y (if not NULL) the experts' outputs: one pass over blocks. */
static adapt_status run(adapt_context *ctx, const ad_layer *l, const float *x, float *y,
                        uint8_t *selected, int64_t tokens)
{
    const ad_moe *m = AD_LAYER_STATE(l, const ad_moe);
    const ad_token_chooser router = {route_block, route_floats, l, ad_moe_weights(m),
                                     m->experts};
    int64_t bad;
    adapt_status st = ad_token_blocks_run(ctx, &router, x, y, selected, tokens, &bad);
    if (st == ADAPT_ERR_NONFINITE)
        return ad_fail(st, "the router of a Mixture-of-Experts layer predicted NaN or infinity "
                       "for token %lld", (long long)bad);
    return ad_prefix(st, fn);
}

typedef struct {
    ad_grouping grouping;
    ad_grouped_weights weights;
    const float *saved; /* [pairs, hidden] */
} moe_record;

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
                                   r->saved, node->out->pass_grad, false, &grads,
                                   "adapt_backward");
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
    adapt_tensor *in[] = {x, m->w1, m->b1, m->w2, m->bias};
    const bool taped = ad_tape_wants(ctx, in, 5);
    adapt_tensor *y;
    uint8_t *selected;
    adapt_status st = ad_linear_output(&y, ctx, x, m->out);
    const ad_arena_mark scratch = ad_arena_mark_now(&ctx->arena);
    if (!st)
        st = ad_scratch((void **)&selected, ctx, (size_t)(tokens * m->experts + 1), fn);
    if (!st)
        st = run(ctx, l, x->data, taped ? NULL : y->data, selected, tokens);
    if (!st)
        st = ad_token_blocks_charge(ctx, selected, tokens, m->experts, x->shape[0],
                                    ad_moe_expert_flops(m),
                                    ad_moe_runs_all(&l->params) ? 0 : ad_moe_router_flops(m));
    if (st)
        return st;
    if (taped)
        return run_taped(out, ctx, m, selected, x, y, tokens);
    ad_arena_rewind(&ctx->arena, scratch); /* only y stays (leaves_only_output) */
    *out = y;
    return ADAPT_OK;
}
