/* Elementwise unary ops: scale, the activations, abs and clamp. Each maps
 * element i to element i, so large tensors are split into ranges across the
 * context's threads with results independent of the split. */
#include <math.h>

#include "lib/kernels/elementwise.h"
#include "lib/ops/op.h"

typedef enum { UN_SCALE, UN_RELU, UN_GELU, UN_SIGMOID, UN_TANH, UN_ABS, UN_CLAMP } unary_kind;

/* The op and its scalars: the saved record of the tape. */
typedef struct {
    unary_kind kind;
    float a, b; /* scale: factor in a; clamp: lo in a, hi in b */
} unary_op;

typedef struct {
    const unary_op *op;
    const float *x, *y, *dy;
    float *dst; /* y in the forward pass, dx in the backward pass */
} unary_job;

/* Below this many elements handing work to threads costs more than it saves. */
#define UNARY_PARALLEL_MIN 32768

static void forward_range(void *arg, int64_t begin, int64_t end)
{
    const unary_job *job = arg;
    const float *x = job->x + begin;
    float *y = job->dst + begin;
    const int64_t n = end - begin;
    const float a = job->op->a, b = job->op->b;
    switch (job->op->kind) {
    case UN_SCALE: ad_scale_forward(n, x, a, y); break;
    case UN_RELU: ad_relu_forward(n, x, y); break;
    case UN_GELU: ad_gelu_forward(n, x, y); break;
    case UN_SIGMOID: ad_sigmoid_forward(n, x, y); break;
    case UN_TANH: ad_tanh_forward(n, x, y); break;
    case UN_ABS: ad_abs_forward(n, x, y); break;
    case UN_CLAMP: ad_clamp_forward(n, x, a, b, y); break;
    }
}

static void backward_range(void *arg, int64_t begin, int64_t end)
{
    const unary_job *job = arg;
    const float *x = job->x + begin, *y = job->y + begin, *dy = job->dy + begin;
    float *dx = job->dst + begin;
    const int64_t n = end - begin;
    const float a = job->op->a, b = job->op->b;
    switch (job->op->kind) {
    case UN_SCALE: ad_scale_backward(n, dy, a, dx); break;
    case UN_RELU: ad_relu_backward(n, x, dy, dx); break;
    case UN_GELU: ad_gelu_backward(n, x, dy, dx); break;
    case UN_SIGMOID: ad_sigmoid_backward(n, y, dy, dx); break;
    case UN_TANH: ad_tanh_backward(n, y, dy, dx); break;
    case UN_ABS: ad_abs_backward(n, x, dy, dx); break;
    case UN_CLAMP: ad_clamp_backward(n, x, a, b, dy, dx); break;
    }
}

static void run_ranges(adapt_context *ctx, int64_t n, ad_range_fn body, unary_job *job)
{
    /* Every range gets at least half the threshold, so small tensors run inline. */
    const int64_t grain = n >= UNARY_PARALLEL_MIN ? UNARY_PARALLEL_MIN / 2 : n;
    ad_pool_for(ctx->pool, n, grain, body, job);
}

static adapt_status unary_backward(adapt_context *ctx, const ad_node *node)
{
    adapt_tensor *x = node->in[0];
    float *dx;
    adapt_status st = ad_grad(&dx, ctx, x);
    if (st || !dx)
        return st;
    unary_job job = {.op = node->saved, .x = x->data, .y = node->out->data,
                     .dy = node->out->pass_grad, .dst = dx};
    run_ranges(ctx, x->numel, backward_range, &job);
    return ADAPT_OK;
}

static adapt_status unary_run(adapt_tensor **out, adapt_context *ctx, adapt_tensor *x,
                              unary_op op, const char *fn)
{
    adapt_tensor *y = NULL;
    adapt_status st = ad_tensor_new(&y, ctx, x->ndim, x->shape);
    if (st)
        return st;
    unary_job job = {.op = &op, .x = x->data, .dst = y->data};
    run_ranges(ctx, x->numel, forward_range, &job);
    return ad_op_finish(out, ctx, fn, unary_backward, y, &x, 1, &op, sizeof op);
}

static adapt_status unary_plain(adapt_tensor **out, adapt_context *ctx, adapt_tensor *x,
                                unary_kind kind, const char *fn)
{
    adapt_status st = ad_op_check(ctx, out, fn, &x, (const char *[]){"x"}, 1);
    if (st)
        return st;
    return unary_run(out, ctx, x, (unary_op){.kind = kind}, fn);
}

adapt_status ad_op_scale(adapt_tensor **out, adapt_context *ctx, adapt_tensor *x,
                         float factor)
{
    const char *fn = "adapt_op_scale";
    adapt_status st = ad_op_check(ctx, out, fn, &x, (const char *[]){"x"}, 1);
    if (!st && !isfinite(factor))
        st = ad_fail(ADAPT_ERR_NONFINITE, "%s: factor is %g", fn, (double)factor);
    if (st)
        return st;
    return unary_run(out, ctx, x, (unary_op){.kind = UN_SCALE, .a = factor}, fn);
}

adapt_status ad_op_relu(adapt_tensor **out, adapt_context *ctx, adapt_tensor *x)
{
    return unary_plain(out, ctx, x, UN_RELU, "adapt_op_relu");
}

adapt_status ad_op_gelu(adapt_tensor **out, adapt_context *ctx, adapt_tensor *x)
{
    return unary_plain(out, ctx, x, UN_GELU, "adapt_op_gelu");
}

adapt_status ad_op_sigmoid(adapt_tensor **out, adapt_context *ctx, adapt_tensor *x)
{
    return unary_plain(out, ctx, x, UN_SIGMOID, "adapt_op_sigmoid");
}

adapt_status ad_op_tanh(adapt_tensor **out, adapt_context *ctx, adapt_tensor *x)
{
    return unary_plain(out, ctx, x, UN_TANH, "adapt_op_tanh");
}

adapt_status ad_op_abs(adapt_tensor **out, adapt_context *ctx, adapt_tensor *x)
{
    return unary_plain(out, ctx, x, UN_ABS, "adapt_op_abs");
}

adapt_status ad_op_clamp(adapt_tensor **out, adapt_context *ctx, adapt_tensor *x, float lo,
                         float hi)
{
    const char *fn = "adapt_op_clamp";
    adapt_status st = ad_op_check(ctx, out, fn, &x, (const char *[]){"x"}, 1);
    if (!st && (!isfinite(lo) || !isfinite(hi)))
        st = ad_fail(ADAPT_ERR_NONFINITE, "%s: bounds [%g, %g] are not finite", fn,
                     (double)lo, (double)hi);
    if (!st && lo > hi)
        st = ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: lo %g is above hi %g", fn, (double)lo,
                     (double)hi);
    if (st)
        return st;
    return unary_run(out, ctx, x, (unary_op){.kind = UN_CLAMP, .a = lo, .b = hi}, fn);
}
