#include "lib/adaptive/token_blocks.h"

#include <stdatomic.h>

#include "lib/core/error.h"
#include "lib/core/meter.h"
#include "lib/nn/dims.h"

/* Tokens per block: two blocks for an image's 65 tokens, so that two threads share it, and
 * at most 512, so that a block's groups see a few dozen rows each while their weights,
 * read once per block, cost little next to the products. */
#define BLOCK_MIN 16
#define BLOCK_MAX 512

typedef struct {
    adapt_backend backend;
    const ad_token_chooser *c;
    const float *x;
    float *y; /* NULL: choose only */
    uint8_t *selected;
    int64_t tokens, block, slot_floats;
    float *scratch;
    atomic_int next_slot, status;
    atomic_llong bad_token; /* the first token whose choice was NaN or infinite */
} block_job;

static void run_block(block_job *j, float *slot, int64_t first)
{
    const ad_token_chooser *c = j->c;
    const int64_t in = c->weights.in;
    const int64_t rows = j->tokens - first < j->block ? j->tokens - first : j->block;
    uint8_t *selected = j->selected + first * c->groups;
    int64_t bad = -1;
    adapt_status st = c->choose(selected, &bad, j->backend, c->module, j->x + first * in, rows,
                                slot);
    if (!st && j->y)
        st = ad_grouped_ffn_rows(j->backend, &c->weights, selected, c->groups, rows,
                                 j->x + first * in, j->y + first * c->weights.out,
                                 slot + c->floats(c->module, j->block));
    long long none = -1;
    if (bad >= 0)
        atomic_compare_exchange_strong(&j->bad_token, &none, first + bad);
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

adapt_status ad_token_blocks_run(adapt_context *ctx, const ad_token_chooser *c,
                                 const float *x, float *y, uint8_t *selected, int64_t tokens,
                                 int64_t *bad_token)
{
    int64_t block = (tokens + 1) / 2;
    block = block < BLOCK_MIN ? BLOCK_MIN : block > BLOCK_MAX ? BLOCK_MAX : block;
    block_job j = {ctx->backend, c, x, y, selected, tokens, block,
                   c->floats(c->module, block) +
                       (y ? ad_grouped_rows_floats(&c->weights, block) : 0),
                   NULL, 0, ADAPT_OK, -1};
    const int64_t blocks = (tokens + block - 1) / block;
    const int64_t slots = ad_pool_ranges(blocks, 1, ctx->n_threads);
    const ad_arena_mark mark = ad_arena_mark_now(&ctx->arena);
    adapt_status st = ad_scratch((void **)&j.scratch, ctx,
                                 (size_t)(slots * j.slot_floats) * sizeof(float),
                                 "a token-wise module's pass");
    if (st)
        return st;
    ad_pool_for(ctx->pool, blocks, 1, run_blocks, &j);
    ad_arena_rewind(&ctx->arena, mark);
    *bad_token = atomic_load(&j.bad_token);
    st = atomic_load(&j.status);
    if (st && st != ADAPT_ERR_NONFINITE) /* the threads' messages stay theirs */
        return ad_fail(st, "a product failed (%s)", adapt_status_string(st));
    return st;
}

adapt_status ad_token_blocks_charge(adapt_context *ctx, const uint8_t *selected, int64_t tokens,
                                    int64_t groups, int64_t samples, int64_t group_flops,
                                    int64_t choose_flops)
{
    for (int64_t t = 0; ctx->expert_counts && t < tokens; t++) {
        int32_t ran = 0;
        for (int64_t g = 0; g < groups; g++)
            ran += selected[t * groups + g];
        ctx->expert_counts[t] = ran;
    }
    if (!ctx->meter || samples == 0)
        return ADAPT_OK;
    int64_t *flops;
    adapt_status st = ad_scratch((void **)&flops, ctx, (size_t)samples * sizeof *flops,
                                 "a token-wise module's cost");
    if (st)
        return st;
    const int64_t per_sample = tokens / samples;
    for (int64_t i = 0; i < samples; i++) {
        int64_t pairs = 0;
        for (int64_t k = i * per_sample * groups; k < (i + 1) * per_sample * groups; k++)
            pairs += selected[k];
        flops[i] = ad_add_sat(ad_mul_sat(pairs, group_flops), ad_mul_sat(per_sample, choose_flops));
    }
    ad_meter_charge_each(ctx, samples, flops);
    return ADAPT_OK;
}
