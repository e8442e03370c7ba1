/* Inverted dropout: in training, element i is kept when draw i of the call's
 * random stream is >= p and then scaled by 1 / (1 - p), so the expected value
 * is unchanged and evaluation is the identity. The draws are a pure function
 * of (context seed, stream, i): the backward pass regenerates the mask from
 * the saved stream id instead of storing it, and neither pass depends on how
 * the elements are split across threads. */
#include <math.h>

#include "lib/core/rng.h"
#include "lib/ops/op.h"

typedef struct {
    bool active; /* false: identity (evaluation, or p == 0) */
    float p, scale;
    uint64_t seed, stream;
} dropout_plan;

typedef struct {
    const dropout_plan *p;
    const float *src; /* x in the forward pass, dy in the backward pass */
    float *dst;       /* y in the forward pass, dx in the backward pass */
    bool accumulate;
} dropout_job;

/* Below this many elements handing work to threads costs more than it saves. */
#define DROPOUT_PARALLEL_MIN 32768

/* The factor element i is multiplied by: 0 or 1 / (1 - p) in training, 1 otherwise. */
static inline float mask_factor(const dropout_plan *p, int64_t i)
{
    if (!p->active)
        return 1.0f;
    return ad_uniform(p->seed, p->stream, (uint64_t)i) >= p->p ? p->scale : 0.0f;
}

static void dropout_range(void *arg, int64_t begin, int64_t end)
{
    const dropout_job *job = arg;
    const float *restrict src = job->src;
    float *restrict dst = job->dst;
    if (job->accumulate)
        for (int64_t i = begin; i < end; i++)
            dst[i] += src[i] * mask_factor(job->p, i);
    else
        for (int64_t i = begin; i < end; i++)
            dst[i] = src[i] * mask_factor(job->p, i);
}

static void run_ranges(adapt_context *ctx, int64_t n, dropout_job *job)
{
    const int64_t grain = n >= DROPOUT_PARALLEL_MIN ? DROPOUT_PARALLEL_MIN / 2 : n;
    ad_pool_for(ctx->pool, n, grain, dropout_range, job);
}

static adapt_status dropout_backward(adapt_context *ctx, const ad_node *node)
{
    adapt_tensor *x = node->in[0];
    float *dx;
    adapt_status st = ad_grad(&dx, ctx, x);
    if (st || !dx)
        return st;
    dropout_job job = {.p = node->saved, .src = node->out->pass_grad, .dst = dx,
                       .accumulate = true};
    run_ranges(ctx, x->numel, &job);
    return ADAPT_OK;
}

static adapt_status check_p(float p, const char *fn)
{
    if (!isfinite(p))
        return ad_fail(ADAPT_ERR_NONFINITE, "%s: p is %g", fn, (double)p);
    if (p < 0.0f || p >= 1.0f)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: p %g is outside [0, 1)", fn, (double)p);
    return ADAPT_OK;
}

adapt_status ad_op_dropout(adapt_tensor **out, adapt_context *ctx, adapt_tensor *x, float p)
{
    const char *fn = "adapt_op_dropout";
    adapt_status st = ad_op_check(ctx, out, fn, &x, (const char *[]){"x"}, 1);
    if (!st)
        st = check_p(p, fn);
    adapt_tensor *y = NULL;
    if (!st)
        st = ad_tensor_new(&y, ctx, x->ndim, x->shape);
    if (st)
        return st;
    dropout_plan plan = {.active = ctx->training && p > 0.0f, .p = p};
    if (plan.active) {
        plan.scale = 1.0f / (1.0f - p);
        plan.seed = ctx->seed;
        plan.stream = ctx->rng_stream++;
    }
    dropout_job job = {.p = &plan, .src = x->data, .dst = y->data};
    run_ranges(ctx, x->numel, &job);
    return ad_op_finish(out, ctx, fn, dropout_backward, y, &x, 1, &plan, sizeof plan);
}
