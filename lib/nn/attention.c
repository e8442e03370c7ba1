#include "lib/nn/attention.h"

#include <math.h>

#include "lib/autograd/tape.h"
#include "lib/core/tensor.h"
#include "lib/nn/dims.h"
#include "lib/ops/ops.h"

adapt_status ad_attention_init(ad_attention *a, ad_param_list *params, const char *prefix,
                               int64_t dim, int64_t heads)
{
    char name[AD_PREFIX_MAX];
    a->dim = dim;
    a->heads = heads;
    adapt_status st = ad_linear_init(&a->qkv, params, ad_prefix_join(name, prefix, "qkv."), dim,
                                     3 * dim, true);
    if (!st)
        st = ad_linear_init(&a->proj, params, ad_prefix_join(name, prefix, "proj."), dim, dim,
                            true);
    return st;
}

/* Projection `part` (0 = q, 1 = k, 2 = v) of x. Slicing the weight (dim^2
 * values) instead of the projected activations avoids copying three N*T*dim tensors, and the
 * 1/sqrt(hd) of the scores is folded into the q slice for the same reason. */
static adapt_status project(adapt_tensor **out, adapt_context *ctx, const ad_attention *a,
                            adapt_tensor *x, int part, float scale)
{
    const int64_t d = a->dim, begin = part * d, end = begin + d;
    ad_linear slice = {.in_features = d, .out_features = d};
    adapt_status st = ad_op_slice(&slice.weight, ctx, a->qkv.weight, 0, begin, end);
    if (!st)
        st = ad_op_slice(&slice.bias, ctx, a->qkv.bias, 0, begin, end);
    if (!st && scale != 1.0f)
        st = ad_op_scale(&slice.weight, ctx, slice.weight, scale);
    if (!st && scale != 1.0f)
        st = ad_op_scale(&slice.bias, ctx, slice.bias, scale);
    return st ? st : ad_linear_forward(out, ctx, &slice, x);
}

adapt_status ad_attention_qkv(adapt_tensor **out, adapt_context *ctx, const ad_attention *a,
                              adapt_tensor *x)
{
    const ad_override *r = &a->qkv_module;
    return r->module ? r->forward(out, ctx, r->module, x) : ad_linear_forward(out, ctx, &a->qkv, x);
}

adapt_status ad_attention_proj(adapt_tensor **out, adapt_context *ctx, const ad_attention *a,
                               adapt_tensor *x)
{
    const ad_override *r = &a->proj_module;
    return r->module ? r->forward(out, ctx, r->module, x)
                     : ad_linear_forward(out, ctx, &a->proj, x);
}

/* q (scaled), k and v from the rows a replacing qkv module makes. */
static adapt_status split_qkv(adapt_tensor **q, adapt_tensor **k, adapt_tensor **v,
                              adapt_context *ctx, const ad_attention *a, adapt_tensor *x,
                              float scale)
{
    adapt_tensor *qkv, *part[3];
    adapt_status st = ad_attention_qkv(&qkv, ctx, a, x);
    for (int i = 0; i < 3 && !st; i++)
        st = ad_op_slice(&part[i], ctx, qkv, 2, i * a->dim, (i + 1) * a->dim);
    if (!st)
        st = ad_op_scale(q, ctx, part[0], scale);
    *k = part[1], *v = part[2];
    return st;
}

adapt_status ad_attention_forward(adapt_tensor **out, adapt_context *ctx, const ad_attention *a,
                                  adapt_tensor *x)
{
    adapt_tensor *in[] = {x, a->qkv.weight, a->qkv.bias, a->proj.weight, a->proj.bias};
    if (!ad_tape_wants(ctx, in, 5))
        return ad_attention_forward_untaped(out, ctx, a, x);
    const float scale = (float)(1.0 / sqrt((double)(a->dim / a->heads)));
    adapt_tensor *q, *k, *v, *mixed;
    adapt_status st = ADAPT_OK;
    if (a->qkv_module.module) {
        st = split_qkv(&q, &k, &v, ctx, a, x, scale);
    } else {
        st = project(&q, ctx, a, x, 0, scale);
        if (!st)
            st = project(&k, ctx, a, x, 1, 1.0f);
        if (!st)
            st = project(&v, ctx, a, x, 2, 1.0f);
    }
    if (!st)
        st = ad_attention_core_taped(&mixed, ctx, q, k, v, a->heads);
    return st ? st : ad_attention_proj(out, ctx, a, mixed);
}

int64_t ad_attention_flops(const ad_attention *a, int64_t tokens)
{
    /* QK^T and AV: 2 * 2 * T * T * dim */
    int64_t products = ad_mul_sat(ad_mul_sat(ad_mul_sat(4, tokens), tokens), a->dim);
    return ad_add_sat(ad_add_sat(ad_linear_flops(&a->qkv, tokens), products),
                      ad_linear_flops(&a->proj, tokens));
}
