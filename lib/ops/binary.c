/* Elementwise binary ops. add and mul broadcast b over a when b's shape is a
 * suffix of a's: a is viewed as [outer, inner] rows and b as one [inner] row. */
#include "lib/ops/op.h"

typedef struct {
    int64_t outer, inner;
} broadcast;

static adapt_status plan_broadcast(broadcast *bc, const adapt_tensor *a, const adapt_tensor *b,
                                   bool allow_suffix, const char *fn)
{
    bool ok = b->ndim <= a->ndim && (allow_suffix || b->ndim == a->ndim);
    for (int32_t i = 0; ok && i < b->ndim; i++)
        ok = b->shape[b->ndim - 1 - i] == a->shape[a->ndim - 1 - i];
    if (!ok) {
        char sa[96], sb[96];
        return ad_fail(ADAPT_ERR_SHAPE, "%s: shapes %s and %s do not %s", fn,
                       ad_shape_str(a, sa, sizeof sa), ad_shape_str(b, sb, sizeof sb),
                       allow_suffix ? "broadcast" : "match");
    }
    bc->inner = b->numel;
    bc->outer = b->numel ? a->numel / b->numel : 0;
    return ADAPT_OK;
}

typedef enum { BIN_ADD, BIN_MUL, BIN_MIN, BIN_MAX } binary_kind;

static void binary_forward(binary_kind kind, const broadcast *bc, const float *restrict a,
                           const float *restrict b, float *restrict y)
{
    for (int64_t o = 0; o < bc->outer; o++) {
        const float *ar = a + o * bc->inner;
        float *yr = y + o * bc->inner;
        switch (kind) {
        case BIN_ADD: for (int64_t i = 0; i < bc->inner; i++) yr[i] = ar[i] + b[i]; break;
        case BIN_MUL: for (int64_t i = 0; i < bc->inner; i++) yr[i] = ar[i] * b[i]; break;
        case BIN_MIN: for (int64_t i = 0; i < bc->inner; i++) yr[i] = ar[i] <= b[i] ? ar[i] : b[i]; break;
        case BIN_MAX: for (int64_t i = 0; i < bc->inner; i++) yr[i] = ar[i] >= b[i] ? ar[i] : b[i]; break;
        }
    }
}

/* Gradient reaching a (into da) or b (into db, summed over the rows). Ties
 * of min/max send the whole gradient to a. */
static void binary_backward_rows(binary_kind kind, const broadcast *bc, const float *a,
                                 const float *b, const float *dy, float *da, float *db)
{
    for (int64_t o = 0; o < bc->outer; o++) {
        const float *ar = a + o * bc->inner, *g = dy + o * bc->inner;
        float *dar = da ? da + o * bc->inner : NULL;
        for (int64_t i = 0; i < bc->inner; i++) {
            float ga, gb;
            switch (kind) {
            case BIN_ADD: ga = g[i], gb = g[i]; break;
            case BIN_MUL: ga = g[i] * b[i], gb = g[i] * ar[i]; break;
            case BIN_MIN: ga = ar[i] <= b[i] ? g[i] : 0.0f, gb = g[i] - ga; break;
            default: ga = ar[i] >= b[i] ? g[i] : 0.0f, gb = g[i] - ga; break;
            }
            if (dar)
                dar[i] += ga;
            if (db)
                db[i] += gb;
        }
    }
}

static adapt_status binary_backward(adapt_context *ctx, const ad_node *node)
{
    const binary_kind *kind = node->saved;
    adapt_tensor *a = node->in[0], *b = node->in[1];
    broadcast bc = {.inner = b->numel, .outer = b->numel ? a->numel / b->numel : 0};
    float *da, *db;
    adapt_status st = ad_grad(&da, ctx, a);
    if (!st)
        st = ad_grad(&db, ctx, b);
    if (!st)
        binary_backward_rows(*kind, &bc, a->data, b->data, node->out->pass_grad, da, db);
    return st;
}

static adapt_status binary_op(adapt_tensor **out, adapt_context *ctx, adapt_tensor *a,
                              adapt_tensor *b, binary_kind kind, const char *fn)
{
    adapt_tensor *in[] = {a, b};
    adapt_status st = ad_op_check(ctx, out, fn, in, (const char *[]){"a", "b"}, 2);
    broadcast bc = {0, 0};
    adapt_tensor *y = NULL;
    if (!st)
        st = plan_broadcast(&bc, a, b, kind == BIN_ADD || kind == BIN_MUL, fn);
    if (!st)
        st = ad_tensor_new(&y, ctx, a->ndim, a->shape);
    if (st)
        return st;
    binary_forward(kind, &bc, a->data, b->data, y->data);
    return ad_op_finish(out, ctx, fn, binary_backward, y, in, 2, &kind, sizeof kind);
}

adapt_status adapt_op_add(adapt_tensor **out, adapt_context *ctx, adapt_tensor *a,
                          adapt_tensor *b)
{
    return binary_op(out, ctx, a, b, BIN_ADD, "adapt_op_add");
}

adapt_status adapt_op_mul(adapt_tensor **out, adapt_context *ctx, adapt_tensor *a,
                          adapt_tensor *b)
{
    return binary_op(out, ctx, a, b, BIN_MUL, "adapt_op_mul");
}

adapt_status adapt_op_minimum(adapt_tensor **out, adapt_context *ctx, adapt_tensor *a,
                              adapt_tensor *b)
{
    return binary_op(out, ctx, a, b, BIN_MIN, "adapt_op_minimum");
}

adapt_status adapt_op_maximum(adapt_tensor **out, adapt_context *ctx, adapt_tensor *a,
                              adapt_tensor *b)
{
    return binary_op(out, ctx, a, b, BIN_MAX, "adapt_op_maximum");
}
