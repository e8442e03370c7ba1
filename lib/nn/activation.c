#include "lib/nn/activation.h"

#include "lib/core/context.h"

adapt_status ad_activation_forward(adapt_tensor **out, adapt_context *ctx,
                                   adapt_activation activation, adapt_tensor *x)
{
    return activation == ADAPT_ACTIVATION_GELU ? adapt_op_gelu(out, ctx, x)
                                               : adapt_op_relu(out, ctx, x);
}

/* Outside training dropout is the identity: no copy (its gradient is the identity too). */
adapt_status ad_dropout_forward(adapt_tensor **out, adapt_context *ctx, adapt_tensor *x, float p)
{
    if (p == 0.0f || !ctx->training) {
        *out = x;
        return ADAPT_OK;
    }
    return adapt_op_dropout(out, ctx, x, p);
}
