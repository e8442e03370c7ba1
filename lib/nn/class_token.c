#include "lib/nn/class_token.h"

#include "lib/core/tensor.h"

adapt_status ad_class_token_forward(adapt_tensor **out, adapt_context *ctx, adapt_tensor *x)
{
    adapt_tensor *first;
    adapt_status st = adapt_op_slice(&first, ctx, x, 1, 0, 1);
    return st ? st : adapt_op_reshape(out, ctx, first, 2, (int64_t[]){x->shape[0], x->shape[2]});
}
