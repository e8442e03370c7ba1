/* Row gather and row scatter-add along axis 0: the two halves of per-token
 * routing (gather a group's rows, run one dense GEMM, scatter-add results
 * back) and of early-exit batch compaction. A row is everything after axis 0,
 * so every move is one memcpy or one vectorised add. */
#include <string.h>

#include "lib/core/threads.h"
#include "lib/ops/op.h"

typedef struct {
    const int64_t *index; /* arena copy */
    int64_t count;        /* entries of index */
    int64_t row;          /* values per row */
} rows_plan;

static void add_row(float *restrict dst, const float *restrict src, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        dst[i] += src[i];
}

/* dst[index[i]] += src[i] */
static void scatter_add(const rows_plan *p, const float *src, float *dst)
{
    for (int64_t i = 0; i < p->count; i++)
        add_row(dst + p->index[i] * p->row, src + i * p->row, p->row);
}

/* dst[i] (+)= src[index[i]] */
static void gather(const rows_plan *p, const float *src, float *dst, bool accumulate)
{
    for (int64_t i = 0; i < p->count; i++) {
        const float *s = src + p->index[i] * p->row;
        if (accumulate)
            add_row(dst + i * p->row, s, p->row);
        else
            memcpy(dst + i * p->row, s, (size_t)p->row * sizeof *dst);
    }
}

typedef struct {
    const rows_plan *p;
    const float *src;
    float *dst;
} copy_job;

static void copy_range(void *arg, int64_t begin, int64_t end)
{
    const copy_job *j = arg;
    rows_plan part = *j->p;
    part.index += begin, part.count = end - begin;
    gather(&part, j->src, j->dst + begin * part.row, false);
}

/* Rows worth a thread: copies of more than this many floats run in parallel, since a batch's
 * compaction moves the largest activations of an early-exit network. */
#define COPY_GRAIN_FLOATS ((int64_t)1 << 15)

/* Checks the index against [0, limit) and copies it into the arena. */
static adapt_status plan_rows(rows_plan *p, adapt_context *ctx, const adapt_tensor *x,
                              const int64_t *index, int64_t count, int64_t limit,
                              const char *fn)
{
    if (x->ndim < 1)
        return ad_fail(ADAPT_ERR_SHAPE, "%s: x needs rank >= 1", fn);
    if (count < 0 || (count > 0 && !index))
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: %s", fn,
                       count < 0 ? "negative count" : "index is NULL");
    for (int64_t i = 0; i < count; i++)
        if (index[i] < 0 || index[i] >= limit)
            return ad_fail(ADAPT_ERR_INVALID_ARGUMENT,
                           "%s: index[%lld] = %lld is outside [0, %lld)", fn, (long long)i,
                           (long long)index[i], (long long)limit);
    int64_t *copy = NULL, row = 0;
    adapt_status st = ad_shape_numel(&row, x->ndim - 1, x->shape + 1);
    if (!st)
        st = ad_scratch((void **)&copy, ctx, (size_t)count * sizeof *copy, fn);
    if (st)
        return st;
    if (count)
        memcpy(copy, index, (size_t)count * sizeof *copy);
    *p = (rows_plan){.index = copy, .count = count, .row = row};
    return ADAPT_OK;
}

static adapt_status gather_backward(adapt_context *ctx, const ad_node *node)
{
    float *dx;
    adapt_status st = ad_grad(&dx, ctx, node->in[0]);
    if (!st && dx)
        scatter_add(node->saved, node->out->pass_grad, dx);
    return st;
}

static adapt_status scatter_backward(adapt_context *ctx, const ad_node *node)
{
    float *dx;
    adapt_status st = ad_grad(&dx, ctx, node->in[0]);
    if (!st && dx)
        gather(node->saved, node->out->pass_grad, dx, true);
    return st;
}

/* New activation [rows, x.shape[1:]]. */
static adapt_status new_rows(adapt_tensor **y, adapt_context *ctx, const adapt_tensor *x,
                             int64_t rows)
{
    int64_t shape[ADAPT_MAX_DIMS];
    memcpy(shape, x->shape, (size_t)x->ndim * sizeof *shape);
    shape[0] = rows;
    return ad_tensor_new(y, ctx, x->ndim, shape);
}

adapt_status ad_op_gather_rows(adapt_tensor **out, adapt_context *ctx, adapt_tensor *x,
                               const int64_t *index, int64_t count)
{
    const char *fn = "adapt_op_gather_rows";
    adapt_status st = ad_op_check(ctx, out, fn, &x, (const char *[]){"x"}, 1);
    rows_plan p;
    adapt_tensor *y = NULL;
    if (!st)
        st = plan_rows(&p, ctx, x, index, count, x->ndim ? x->shape[0] : 0, fn);
    if (!st)
        st = new_rows(&y, ctx, x, count);
    if (st)
        return st;
    const copy_job j = {&p, x->data, y->data};
    ad_pool_for(ctx->pool, count, 1 + COPY_GRAIN_FLOATS / (p.row > 0 ? p.row : 1), copy_range,
                (void *)&j);
    return ad_op_finish(out, ctx, fn, gather_backward, y, &x, 1, &p, sizeof p);
}

adapt_status ad_op_scatter_add_rows(adapt_tensor **out, adapt_context *ctx, adapt_tensor *x,
                                    const int64_t *index, int64_t n_rows)
{
    const char *fn = "adapt_op_scatter_add_rows";
    adapt_status st = ad_op_check(ctx, out, fn, &x, (const char *[]){"x"}, 1);
    if (!st && n_rows < 0)
        st = ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: n_rows %lld is negative", fn,
                     (long long)n_rows);
    rows_plan p;
    adapt_tensor *y = NULL;
    if (!st)
        st = plan_rows(&p, ctx, x, index, x->ndim ? x->shape[0] : 0, n_rows, fn);
    if (!st)
        st = new_rows(&y, ctx, x, n_rows);
    if (st)
        return st;
    memset(y->data, 0, (size_t)y->numel * sizeof *y->data);
    scatter_add(&p, x->data, y->data);
    return ad_op_finish(out, ctx, fn, scatter_backward, y, &x, 1, &p, sizeof p);
}
