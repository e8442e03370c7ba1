/* The ACM's taped pieces: every learner's output for every token (the grouped kernel with
 * every (token, learner) pair, its backward taking each pair's gradient), their masked sum,
 * and the gate's logits. Training runs every learner: the gate's gradient needs each
 * learner's contribution, also where the forward pass left it out. */
#include <string.h>

#include "lib/adaptive/acm.h"
#include "lib/core/error.h"
#include "lib/core/tensor.h"
#include "lib/ops/op.h"

typedef struct {
    ad_grouping grouping; /* every pair */
    ad_grouped_weights weights;
    const float *saved; /* [pairs, hidden] */
} learners_record;

static adapt_status learners_backward(adapt_context *ctx, const ad_node *node)
{
    const learners_record *r = node->saved;
    float *grad[4] = {NULL};
    adapt_status st = ADAPT_OK;
    for (int i = 0; i < 4 && !st; i++)
        st = ad_grad(&grad[i], ctx, node->in[i]);
    if (st)
        return st;
    const ad_grouped_grads grads = {grad[0], grad[1], grad[2], grad[3], NULL};
    return ad_grouped_ffn_backward(ctx, &r->grouping, &r->weights, node->in[0]->data,
                                   r->saved, node->out->pass_grad, true, &grads,
                                   "adapt_backward");
}

adapt_status ad_acm_learner_outputs(adapt_tensor **h, adapt_context *ctx, const ad_acm *a,
                                    adapt_tensor *x)
{
    static const char *const fn = "ACM learners";
    const int64_t tokens = x->numel / a->in;
    int64_t shape[ADAPT_MAX_DIMS];
    if (x->ndim + 1 > ADAPT_MAX_DIMS)
        return ad_fail(ADAPT_ERR_SHAPE, "%s: input of rank %d leaves no room for the learner "
                       "axis", fn, (int)x->ndim);
    memcpy(shape, x->shape, (size_t)(x->ndim - 1) * sizeof *shape);
    shape[x->ndim - 1] = a->learners, shape[x->ndim] = a->out;
    adapt_tensor *in[] = {x, a->w1, a->b1, a->w2};
    const bool taped = ad_tape_wants(ctx, in, 4);
    learners_record r = {.weights = ad_acm_weights(a)};
    uint8_t *every;
    float *saved = NULL;
    adapt_tensor *y;
    adapt_status st = ad_tensor_new(&y, ctx, x->ndim + 1, shape);
    if (!st)
        st = ad_scratch((void **)&every, ctx, (size_t)(tokens * a->learners + 1), fn);
    if (!st) {
        memset(every, 1, (size_t)(tokens * a->learners));
        st = ad_grouping_build(&r.grouping, ctx, every, tokens, a->learners, fn);
    }
    if (!st && taped)
        st = ad_scratch((void **)&saved, ctx,
                        (size_t)(r.grouping.pairs * a->hidden + 1) * sizeof(float), fn);
    if (!st)
        st = ad_grouped_ffn_forward(ctx, &r.grouping, &r.weights, x->data,
                                    &(ad_grouped_outputs){.saved = saved, .pairs = y->data},
                                    fn);
    if (st)
        return st;
    r.saved = saved;
    return ad_op_finish(h, ctx, fn, learners_backward, y, in, 4, &r, sizeof r);
}

typedef struct {
    const float *h, *mask, *dy;
    float *y, *dh, *dmask; /* forward: y; backward: dh and dmask (either may be NULL) */
    int64_t learners, out;
} combine_job;

static void combine_rows(void *arg, int64_t begin, int64_t end)
{
    const combine_job *j = arg;
    for (int64_t t = begin; t < end; t++) {
        float *restrict y = j->y + t * j->out;
        memset(y, 0, (size_t)j->out * sizeof *y);
        for (int64_t n = 0; n < j->learners; n++) {
            const float m = j->mask[t * j->learners + n];
            const float *restrict h = j->h + (t * j->learners + n) * j->out;
            for (int64_t c = 0; m != 0.0f && c < j->out; c++)
                y[c] += m * h[c];
        }
    }
}

static void combine_grad_rows(void *arg, int64_t begin, int64_t end)
{
    const combine_job *j = arg;
    for (int64_t t = begin; t < end; t++) {
        const float *restrict dy = j->dy + t * j->out;
        for (int64_t n = 0; n < j->learners; n++) {
            const int64_t k = t * j->learners + n;
            const float *restrict h = j->h + k * j->out;
            double dot = 0.0;
            for (int64_t c = 0; j->dmask && c < j->out; c++)
                dot += (double)dy[c] * h[c];
            if (j->dmask)
                j->dmask[k] += (float)dot;
            for (int64_t c = 0; j->dh && c < j->out; c++)
                j->dh[k * j->out + c] += j->mask[k] * dy[c];
        }
    }
}

static int64_t row_grain(int64_t width)
{
    return 1 + 16384 / (width ? width : 1);
}

static adapt_status combine_backward(adapt_context *ctx, const ad_node *node)
{
    adapt_tensor *h = node->in[0], *mask = node->in[1];
    combine_job j = {h->data, mask->data, node->out->pass_grad, NULL, NULL, NULL,
                     mask->shape[mask->ndim - 1], h->shape[h->ndim - 1]};
    adapt_status st = ad_grad(&j.dh, ctx, h);
    if (!st)
        st = ad_grad(&j.dmask, ctx, mask);
    if (!st && (j.dh || j.dmask))
        ad_pool_for(ctx->pool, mask->numel / j.learners, row_grain(j.learners * j.out),
                    combine_grad_rows, &j);
    return st;
}

adapt_status ad_acm_combine(adapt_tensor **y, adapt_context *ctx, adapt_tensor *h,
                            adapt_tensor *mask)
{
    static const char *const fn = "ACM output";
    const int64_t learners = mask->shape[mask->ndim - 1];
    if (h->ndim != mask->ndim + 1 || h->numel / h->shape[h->ndim - 1] != mask->numel)
        return ad_fail(ADAPT_ERR_SHAPE, "%s: learner outputs and mask disagree", fn);
    int64_t shape[ADAPT_MAX_DIMS];
    memcpy(shape, mask->shape, (size_t)mask->ndim * sizeof *shape);
    shape[mask->ndim - 1] = h->shape[h->ndim - 1];
    adapt_tensor *out;
    adapt_status st = ad_tensor_new(&out, ctx, mask->ndim, shape);
    if (st)
        return st;
    combine_job j = {h->data, mask->data, NULL, out->data, NULL, NULL, learners,
                     shape[mask->ndim - 1]};
    ad_pool_for(ctx->pool, mask->numel / learners, row_grain(learners * j.out), combine_rows,
                &j);
    adapt_tensor *in[] = {h, mask};
    return ad_op_finish(y, ctx, fn, combine_backward, out, in, 2, NULL, 0);
}

adapt_status ad_acm_gate_logits(adapt_tensor **logits, adapt_context *ctx, const ad_acm *a,
                                adapt_tensor *x)
{
    adapt_tensor *h;
    adapt_status st = ad_linear_forward_act(&h, ctx, &a->gate[0], x, AD_ACT_RELU);
    if (!st)
        st = ad_linear_forward_act(&h, ctx, &a->gate[1], h, AD_ACT_RELU);
    return st ? st : ad_linear_forward(logits, ctx, &a->gate[2], h);
}
