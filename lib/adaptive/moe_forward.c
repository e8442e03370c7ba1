/* The Mixture-of-Experts layer's forward. The tokens go in blocks, each routed and run on one
 * thread: the router's predictions and the rule pick the block's experts, and the grouped
 * kernel runs each expert once on the block's tokens that chose it, adding into their output
 * rows. One parallel pass per layer, and each expert's weights are read once per block.
 * Taped, the pass only routes; one grouping of the whole batch then runs the experts and
 * stays on the tape with the pairs' hidden activations for backward. The router is never
 * taped: routing is a discrete choice, and the router learns apart, from the experts' output
 * norms. Blocks depend only on the batch's size, so the bits do not depend on the thread
 * count. */
#include <stdatomic.h>
#include <string.h>

#include "lib/adaptive/moe.h"
#include "lib/core/error.h"
#include "lib/core/meter.h"
#include "lib/core/tensor.h"
#include "lib/ops/op.h"

/* Tokens per block: two blocks for an image's 65 tokens, so that two threads share it, and
 * at most 512, so that a block's experts see a few dozen rows each while their weights,
 * read once per block, cost little next to the products. */
#define BLOCK_MIN 16
#define BLOCK_MAX 512

static const char *const fn = "Mixture-of-Experts forward";

typedef struct {
    adapt_backend backend;
    const ad_moe *m;
    const adapt_layer_params *p;
    const float *x;
    float *y; /* NULL: route only */
    uint8_t *selected;
    int64_t tokens, block, slot_floats;
    float *scratch;
    atomic_int next_slot, status;
    atomic_llong bad_row; /* the first token the router predicted NaN or infinity for */
} block_job;

static void run_block(block_job *j, float *slot, int64_t first)
{
    const ad_moe *m = j->m;
    const int64_t rows = j->tokens - first < j->block ? j->tokens - first : j->block;
    uint8_t *selected = j->selected + first * m->experts;
    int64_t bad = -1;
    adapt_status st = ad_moe_route_rows(selected, &bad, j->backend, m, j->p,
                                        j->x + first * m->in, rows, slot);
    if (!st && j->y) {
        const ad_grouped_weights w = ad_moe_weights(m);
        st = ad_grouped_ffn_rows(j->backend, &w, selected, m->experts, rows,
                                 j->x + first * m->in, j->y + first * m->out,
                                 slot + ad_moe_route_floats(m, j->block));
    }
    long long none = -1;
    if (bad >= 0)
        atomic_compare_exchange_strong(&j->bad_row, &none, first + bad);
    int ok = ADAPT_OK;
    if (st)
        atomic_compare_exchange_strong(&j->status, &ok, st);
}

static void run_blocks(void *arg, int64_t begin, int64_t end)
{
    block_job *j = arg;
    float *slot = j->scratch + atomic_fetch_add(&j->next_slot, 1) * j->slot_floats;
    for (int64_t b = begin; b < end; b++)
        run_block(j, slot, b * j->block);
}

/* selected[tokens, experts], and y (if not NULL) the experts' outputs: one pass over blocks. */
static adapt_status run(adapt_context *ctx, const ad_layer *l, const float *x, float *y,
                        uint8_t *selected, int64_t tokens)
{
    const ad_moe *m = AD_LAYER_STATE(l, const ad_moe);
    int64_t block = (tokens + 1) / 2;
    block = block < BLOCK_MIN ? BLOCK_MIN : block > BLOCK_MAX ? BLOCK_MAX : block;
    const ad_grouped_weights w = ad_moe_weights(m);
    block_job j = {ctx->backend, m, &l->params, x, y, selected, tokens, block,
                   ad_moe_route_floats(m, block) + (y ? ad_grouped_rows_floats(&w, block) : 0),
                   NULL, 0, ADAPT_OK, -1};
    const int64_t blocks = (tokens + block - 1) / block;
    const int64_t slots = ad_pool_ranges(blocks, 1, ctx->n_threads);
    adapt_status st = ad_scratch((void **)&j.scratch, ctx,
                                 (size_t)(slots * j.slot_floats) * sizeof(float), fn);
    if (st)
        return st;
    ad_pool_for(ctx->pool, blocks, 1, run_blocks, &j);
    st = atomic_load(&j.status);
    if (st == ADAPT_ERR_NONFINITE)
        return ad_fail(st, "the router of a Mixture-of-Experts layer predicted NaN or infinity "
                       "for token %lld", (long long)atomic_load(&j.bad_row));
    return st ? ad_fail(st, "%s: a product failed (%s)", fn, adapt_status_string(st))
              : ADAPT_OK;
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

static void count_experts(adapt_context *ctx, const uint8_t *selected, int64_t tokens,
                          int64_t experts)
{
    for (int64_t t = 0; ctx->expert_counts && t < tokens; t++) {
        int32_t ran = 0;
        for (int64_t e = 0; e < experts; e++)
            ran += selected[t * experts + e];
        ctx->expert_counts[t] = ran;
    }
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
        st = charge(ctx, m, selected, tokens, x->shape[0], !ad_moe_runs_all(&l->params));
    if (st)
        return st;
    count_experts(ctx, selected, tokens, m->experts);
    if (taped)
        return run_taped(out, ctx, m, selected, x, y, tokens);
    ad_arena_rewind(&ctx->arena, scratch); /* only y stays (leaves_only_output) */
    *out = y;
    return ADAPT_OK;
}
