#include "lib/nn/sparsity.h"

#include "lib/autograd/tape.h"
#include "lib/core/error.h"
#include "lib/ops/ops.h"

adapt_status ad_sparsity_note(adapt_context *ctx, adapt_tensor *y)
{
    if (ctx->sparsity_weight <= 0.0f || !ctx->grad_enabled)
        return ADAPT_OK;
    /* A recomputed block hands its tape and memory back after its first pass: the measure
     * would not outlive it (the trainer refuses the pair; this guards other callers). */
    if (ctx->recompute)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT,
                       "the sparsity penalty cannot measure recomputed blocks");
    adapt_tensor *h;
    adapt_status st = ad_op_hoyer(&h, ctx, y);
    if (!st && ctx->sparsity_sum)
        st = ad_op_add(&h, ctx, ctx->sparsity_sum, h);
    if (!st)
        ctx->sparsity_sum = h, ctx->sparsity_count++;
    return st;
}
