/* The squared Hoyer measure of activation density, D2DMoE's sparsity penalty:
 *   H(a) = ||a||_1^2 / ||a||_2^2
 * per row of the last axis (1 for a one-hot row, the row's width for a constant one, 0 for a
 * zero row), averaged over rows, as one record that keeps two sums per row. */
#include <math.h>

#include "lib/core/context.h"
#include "lib/kernels/row_reduce.h"
#include "lib/ops/op.h"

#define ROW_GRAIN 64
/* A zero row measures 0 (and passes no gradient) rather than 0 / 0. */
#define HOYER_EPS 1e-15

typedef struct {
    const float *x;
    double *l1, *l2; /* per row: sum |a|, sum a^2 */
    const float *dy;
    float *dx;
    int64_t width;
    double scale; /* d mean / d H(row) = 1 / rows, times the output gradient */
} hoyer_job;

static void sums_range(void *arg, int64_t begin, int64_t end)
{
    hoyer_job *j = arg;
    for (int64_t r = begin; r < end; r++) {
        const float *a = j->x + r * j->width;
        double l1 = 0.0;
        for (int64_t i = 0; i < j->width; i++)
            l1 += fabsf(a[i]);
        j->l1[r] = l1, j->l2[r] = ad_row_dot(a, a, j->width);
    }
}

/* dH/da = (2 l1 / l2) (sign(a) - (l1 / l2) a), with sign(0) = 0 as |.|'s gradient. */
static void grad_range(void *arg, int64_t begin, int64_t end)
{
    hoyer_job *j = arg;
    for (int64_t r = begin; r < end; r++) {
        const double l2 = j->l2[r] + HOYER_EPS, ratio = j->l1[r] / l2;
        const float outer = (float)(2.0 * ratio * j->scale), inner = (float)ratio;
        const float *a = j->x + r * j->width;
        float *dx = j->dx + r * j->width;
        for (int64_t i = 0; i < j->width; i++) {
            const float sign = (float)((a[i] > 0.0f) - (a[i] < 0.0f));
            dx[i] += outer * (sign - inner * a[i]);
        }
    }
}

typedef struct {
    double *l1, *l2;
    int64_t rows, width;
} hoyer_record;

static adapt_status hoyer_backward(adapt_context *ctx, const ad_node *node)
{
    const hoyer_record *r = node->saved;
    float *dx;
    adapt_status st = ad_grad(&dx, ctx, node->in[0]);
    if (st || !dx)
        return st;
    if (r->rows == 0)
        return ADAPT_OK;
    hoyer_job j = {node->in[0]->data, r->l1, r->l2, NULL, dx, r->width,
                   node->out->pass_grad[0] / (double)r->rows};
    ad_pool_for(ctx->pool, r->rows, ROW_GRAIN, grad_range, &j);
    return ADAPT_OK;
}

adapt_status ad_op_hoyer(adapt_tensor **out, adapt_context *ctx, adapt_tensor *x)
{
    const char *fn = "hoyer";
    if (x->ndim < 1 || x->shape[x->ndim - 1] < 1)
        return ad_fail(ADAPT_ERR_SHAPE, "%s: needs a last axis of at least one value", fn);
    hoyer_record r = {.width = x->shape[x->ndim - 1]};
    r.rows = x->numel / r.width;
    adapt_tensor *y;
    adapt_status st = ad_scratch((void **)&r.l1, ctx, (size_t)(r.rows + 1) * sizeof(double), fn);
    if (!st)
        st = ad_scratch((void **)&r.l2, ctx, (size_t)(r.rows + 1) * sizeof(double), fn);
    if (!st)
        st = ad_tensor_new(&y, ctx, 0, NULL);
    if (st)
        return st;
    hoyer_job j = {x->data, r.l1, r.l2, NULL, NULL, r.width, 0.0};
    ad_pool_for(ctx->pool, r.rows, ROW_GRAIN, sums_range, &j);
    double total = 0.0; /* rows in order: the same bits for any thread count */
    for (int64_t i = 0; i < r.rows; i++)
        total += r.l1[i] * r.l1[i] / (r.l2[i] + HOYER_EPS);
    y->data[0] = r.rows ? (float)(total / (double)r.rows) : 0.0f;
    return ad_op_finish(out, ctx, fn, hoyer_backward, y, &x, 1, &r, sizeof r);
}
