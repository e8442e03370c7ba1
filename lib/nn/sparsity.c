#include "lib/nn/sparsity.h"

#include "lib/autograd/tape.h"
#include "lib/ops/ops.h"

adapt_status ad_sparsity_note(adapt_context *ctx, adapt_tensor *y)
{
    /* A rerun of a recomputed block noted its outputs the first time. */
    if (ctx->sparsity_weight <= 0.0f || !ctx->grad_enabled || ctx->rerunning)
        return ADAPT_OK;
    adapt_tensor *h;
    adapt_status st = ad_op_hoyer(&h, ctx, y);
    if (!st && ctx->sparsity_sum)
        st = ad_op_add(&h, ctx, ctx->sparsity_sum, h);
    if (!st)
        ctx->sparsity_sum = h, ctx->sparsity_count++;
    return st;
}
