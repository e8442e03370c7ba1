/* A head's forward pass, made of ops so that training records it; without a tape the SDN
 * pooling runs as one fused pass (sdn_pool.c), bit for bit the same. */
#include "lib/adaptive/head.h"

#include <string.h>

#include "lib/autograd/tape.h"
#include "lib/core/context.h"
#include "lib/core/tensor.h"
#include "lib/nn/layernorm.h"
#include "lib/ops/ops.h"

/* x [N, C, H, W] -> [N, C]: the mean over positions. */
static adapt_status mean_over_positions(adapt_tensor **out, adapt_context *ctx, adapt_tensor *x)
{
    adapt_tensor *flat;
    const int64_t shape[] = {x->shape[0], x->shape[1], x->shape[2] * x->shape[3]};
    adapt_status st = ad_op_reshape(&flat, ctx, x, 3, shape);
    return st ? st : ad_op_mean(out, ctx, flat, 2);
}

/* SDN's pooling: avg + alpha * (max - avg) over windows, flattened. The difference is
 * viewed as one column so that the one-element alpha broadcasts over it. */
static adapt_status mixed_pool(adapt_tensor **out, adapt_context *ctx, const adapt_head *h,
                               adapt_tensor *x)
{
    adapt_tensor *mx, *avg, *diff;
    adapt_status st = ad_op_maxpool2d(&mx, ctx, x, h->window, h->window, 0);
    if (!st)
        st = ad_op_avgpool2d(&avg, ctx, x, h->window, h->window, 0);
    if (!st)
        st = ad_op_scale(&diff, ctx, avg, -1.0f);
    if (!st)
        st = ad_op_add(&diff, ctx, mx, diff);
    const int64_t n = x->shape[0], width = st ? 0 : avg->numel / n;
    if (!st)
        st = ad_op_reshape(&diff, ctx, diff, 2, (int64_t[]){n * width, 1});
    if (!st)
        st = ad_op_mul(&diff, ctx, diff, h->alpha);
    if (!st)
        st = ad_op_reshape(&diff, ctx, diff, 2, (int64_t[]){n, width});
    if (!st)
        st = ad_op_reshape(&avg, ctx, avg, 2, (int64_t[]){n, width});
    return st ? st : ad_op_add(out, ctx, avg, diff);
}

/* The vector a head's kind makes of each sample. */
static adapt_status features(adapt_tensor **out, adapt_context *ctx, const adapt_head *h,
                             adapt_tensor *x)
{
    const int64_t n = x->shape[0];
    switch (h->params.kind) {
    case ADAPT_HEAD_POOLED_LINEAR:
        if (x->ndim == 4)
            return mean_over_positions(out, ctx, x);
        if (x->ndim == 3)
            return ad_op_mean(out, ctx, x, 1);
        *out = x;
        return ADAPT_OK;
    case ADAPT_HEAD_SDN:
        if (!ad_tape_wants(ctx, (adapt_tensor *[]){x, h->alpha}, 2))
            return ad_sdn_pool_untaped(out, ctx, h, x);
        return mixed_pool(out, ctx, h, x);
    default: {
        adapt_tensor *first;
        adapt_status st = ad_op_slice(&first, ctx, x, 1, 0, 1);
        return st ? st : ad_op_reshape(out, ctx, first, 2, (int64_t[]){n, x->shape[2]});
    }
    }
}

/* A copy of `t` that training does not reach: the cascade passes values, not gradients. */
static adapt_status detached(adapt_tensor **out, adapt_context *ctx, const adapt_tensor *t)
{
    adapt_status st = ad_tensor_new(out, ctx, t->ndim, t->shape);
    if (!st)
        memcpy((*out)->data, t->data, (size_t)t->numel * sizeof(float));
    return st;
}

/* The first head has no previous logits and joins those of zeros. */
static adapt_status join_previous(adapt_tensor **f, adapt_context *ctx, const adapt_head *h,
                                  adapt_tensor *previous)
{
    adapt_tensor *copy, *normed;
    const int64_t shape[] = {(*f)->shape[0], h->classes};
    adapt_status st = previous ? detached(&copy, ctx, previous) : ad_tensor_new(&copy, ctx, 2, shape);
    if (!st && !previous)
        memset(copy->data, 0, (size_t)copy->numel * sizeof(float));
    if (!st)
        st = ad_op_layernorm(&normed, ctx, copy, h->norm_weight, h->norm_bias,
                             AD_LAYERNORM_EPS);
    return st ? st : ad_op_concat(f, ctx, (adapt_tensor *[]){*f, normed}, 2, 1);
}

adapt_status ad_head_logits(adapt_tensor **logits, adapt_context *ctx, const adapt_head *head,
                            adapt_tensor *f, adapt_tensor *previous)
{
    adapt_status st = head->params.cascade ? join_previous(&f, ctx, head, previous) : ADAPT_OK;
    if (st || !head->fc2.weight)
        return st ? st : ad_linear_forward(logits, ctx, &head->fc1, f);
    adapt_tensor *hidden;
    st = ad_linear_forward_act(&hidden, ctx, &head->fc1, f, AD_ACT_GELU);
    return st ? st : ad_linear_forward(logits, ctx, &head->fc2, hidden);
}

adapt_status ad_head_forward(adapt_tensor **logits, adapt_context *ctx, const adapt_head *head,
                             adapt_tensor *x, adapt_tensor *previous)
{
    adapt_tensor *f;
    adapt_status st = features(&f, ctx, head, x);
    return st ? st : ad_head_logits(logits, ctx, head, f, previous);
}
