#include "lib/nn/dropout.h"

#include "lib/core/context.h"
#include "lib/ops/ops.h"

/* Outside training dropout is the identity: no copy (its gradient is the identity too). */
adapt_status ad_dropout_forward(adapt_tensor **out, adapt_context *ctx, adapt_tensor *x, float p)
{
    if (p == 0.0f || !ctx->training) {
        *out = x;
        return ADAPT_OK;
    }
    return ad_op_dropout(out, ctx, x, p);
}
