#include "lib/nn/flatten.h"

#include "lib/core/tensor.h"

adapt_status ad_flatten_forward(adapt_tensor **out, adapt_context *ctx, adapt_tensor *x)
{
    int64_t features = 1;
    for (int32_t i = 1; i < x->ndim; i++)
        features *= x->shape[i];
    return adapt_op_reshape(out, ctx, x, 2, (int64_t[]){x->shape[0], features});
}
