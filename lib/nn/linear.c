#include "lib/nn/linear.h"

#include "lib/autograd/tape.h"
#include "lib/core/tensor.h"
#include "lib/nn/dims.h"
#include "lib/ops/ops.h"

adapt_status ad_linear_init(ad_linear *l, ad_param_list *params, const char *prefix,
                            int64_t in_features, int64_t out_features, bool bias)
{
    *l = (ad_linear){.in_features = in_features, .out_features = out_features};
    ad_init init = ad_init_fan_in(in_features);
    adapt_status st = ad_params_add(&l->weight, params, prefix, "weight", 2,
                                    (int64_t[]){out_features, in_features}, init);
    if (!st && bias)
        st = ad_params_add(&l->bias, params, prefix, "bias", 1, &out_features, init);
    return st;
}

/* Three ops, for the messages of a shape that does not fit. */
static adapt_status forward_ops(adapt_tensor **out, adapt_context *ctx, const ad_linear *l,
                                adapt_tensor *x, ad_act act)
{
    adapt_tensor *y;
    adapt_status st = ad_op_matmul(&y, ctx, x, l->weight, ADAPT_MATMUL_TRANS_B);
    if (!st && l->bias)
        st = ad_op_add(&y, ctx, y, l->bias);
    if (!st && act == AD_ACT_RELU)
        st = ad_op_relu(&y, ctx, y);
    if (!st && act == AD_ACT_GELU)
        st = ad_op_gelu(&y, ctx, y);
    if (!st)
        *out = y;
    return st;
}

adapt_status ad_linear_forward_act(adapt_tensor **out, adapt_context *ctx, const ad_linear *l,
                                   adapt_tensor *x, ad_act act)
{
    adapt_tensor *in[] = {x, l->weight, l->bias};
    adapt_status st = ad_check_tensor(ctx, x, "adapt_op_matmul", "a");
    if (st)
        return st;
    if (x->ndim < 1 || x->shape[x->ndim - 1] != l->in_features)
        return forward_ops(out, ctx, l, x, act); /* the op reports the shape */
    return ad_tape_wants(ctx, in, 3) ? ad_linear_forward_taped(out, ctx, l, x, act)
                                     : ad_linear_forward_untaped(out, ctx, l, x, act);
}

adapt_status ad_linear_forward(adapt_tensor **out, adapt_context *ctx, const ad_linear *l,
                               adapt_tensor *x)
{
    return ad_linear_forward_act(out, ctx, l, x, AD_ACT_NONE);
}

adapt_status ad_flatten_rows(adapt_tensor **out, adapt_context *ctx, adapt_tensor *x)
{
    int64_t features = 1;
    for (int32_t i = 1; i < x->ndim; i++)
        features *= x->shape[i];
    return ad_op_reshape(out, ctx, x, 2, (int64_t[]){x->shape[0], features});
}

adapt_status ad_linear_forward_rows(adapt_tensor **out, adapt_context *ctx, const ad_linear *l,
                                    adapt_tensor *x, ad_act act)
{
    adapt_status st = x->ndim == 2 ? ADAPT_OK : ad_flatten_rows(&x, ctx, x);
    return st ? st : ad_linear_forward_act(out, ctx, l, x, act);
}

int64_t ad_linear_flops(const ad_linear *l, int64_t rows)
{
    return ad_mul_sat(ad_mul_sat(ad_mul_sat(2, rows), l->in_features), l->out_features);
}
