/* Softmax and log-softmax over the last axis, x viewed as [rows, D]. Each row
 * is shifted by its maximum before exponentiating, so large logits cannot
 * overflow; sums accumulate in double. A row of all -inf gives NaN, as in
 * PyTorch. Backward passes read only the output:
 *   softmax:     dx = y * (dy - sum(dy * y))
 *   log-softmax: dx = dy - exp(y) * sum(dy) */
#include <math.h>

#include "lib/kernels/row_reduce.h"
#include "lib/kernels/softmax_rows.h"
#include "lib/kernels/vector_math.h"
#include "lib/ops/op.h"

typedef struct {
    bool log;
    int64_t rows, d;
} softmax_plan;

/* Rows are independent, so ranges of them run in parallel deterministically. */
typedef struct {
    const softmax_plan *p;
    const float *x, *y, *dy;
    float *dst; /* y in the forward pass, dx in the backward pass */
} softmax_job;

AD_VECTOR_CLONES
static void log_softmax_row(const float *restrict x, float *restrict y, int64_t d)
{
    const float m = ad_row_max(x, d);
    for (int64_t i = 0; i < d; i++)
        y[i] = ad_vexp(x[i] - m);
    const float log_sum = (float)log(ad_row_sum(y, d));
    for (int64_t i = 0; i < d; i++)
        y[i] = (x[i] - m) - log_sum;
}

AD_VECTOR_CLONES
static void log_softmax_row_backward(const float *restrict y, const float *restrict dy,
                                     float *restrict dx, int64_t d)
{
    const float sum_dy = (float)ad_row_sum(dy, d);
    for (int64_t i = 0; i < d; i++)
        dx[i] += dy[i] - ad_vexp(y[i]) * sum_dy;
}

static void forward_range(void *arg, int64_t begin, int64_t end)
{
    const softmax_job *job = arg;
    const int64_t d = job->p->d;
    if (!job->p->log) {
        ad_softmax_rows(job->x + begin * d, job->dst + begin * d, end - begin, d);
        return;
    }
    for (int64_t r = begin; r < end; r++)
        log_softmax_row(job->x + r * d, job->dst + r * d, d);
}

static void backward_range(void *arg, int64_t begin, int64_t end)
{
    const softmax_job *job = arg;
    const int64_t d = job->p->d;
    if (!job->p->log) {
        ad_softmax_rows_backward(job->y + begin * d, job->dy + begin * d, job->dst + begin * d,
                                 end - begin, d);
        return;
    }
    for (int64_t r = begin; r < end; r++)
        log_softmax_row_backward(job->y + r * d, job->dy + r * d, job->dst + r * d, d);
}

static int64_t row_grain(int64_t d)
{
    return d >= 32768 ? 1 : 32768 / (d ? d : 1);
}

static adapt_status softmax_backward(adapt_context *ctx, const ad_node *node)
{
    const softmax_plan *p = node->saved;
    float *dx;
    adapt_status st = ad_grad(&dx, ctx, node->in[0]);
    if (st || !dx)
        return st;
    softmax_job job = {.p = p, .y = node->out->data, .dy = node->out->pass_grad, .dst = dx};
    ad_pool_for(ctx->pool, p->rows, row_grain(p->d), backward_range, &job);
    return ADAPT_OK;
}

static adapt_status softmax_op(adapt_tensor **out, adapt_context *ctx, adapt_tensor *x,
                               bool log, const char *fn)
{
    adapt_status st = ad_op_check(ctx, out, fn, &x, (const char *[]){"x"}, 1);
    if (!st && x->ndim < 1) {
        char sx[96];
        st = ad_fail(ADAPT_ERR_SHAPE, "%s: x %s has no last axis", fn,
                     ad_shape_str(x, sx, sizeof sx));
    }
    adapt_tensor *y = NULL;
    if (!st)
        st = ad_tensor_new(&y, ctx, x->ndim, x->shape);
    if (st)
        return st;
    softmax_plan p = {.log = log, .d = x->shape[x->ndim - 1]};
    p.rows = p.d ? x->numel / p.d : 0;
    softmax_job job = {.p = &p, .x = x->data, .dst = y->data};
    ad_pool_for(ctx->pool, p.rows, row_grain(p.d), forward_range, &job);
    return ad_op_finish(out, ctx, fn, softmax_backward, y, &x, 1, &p, sizeof p);
}

adapt_status ad_op_softmax(adapt_tensor **out, adapt_context *ctx, adapt_tensor *x)
{
    return softmax_op(out, ctx, x, false, "adapt_op_softmax");
}

adapt_status ad_op_log_softmax(adapt_tensor **out, adapt_context *ctx, adapt_tensor *x)
{
    return softmax_op(out, ctx, x, true, "adapt_op_log_softmax");
}
