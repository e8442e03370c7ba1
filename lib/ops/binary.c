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

/* One op over [outer, inner] rows; ranges of rows (forward, gradient of a)
 * or of columns (gradient of b, a sum over rows) run in parallel and each
 * output element is computed by one thread in a fixed order. */
typedef struct {
    binary_kind kind;
    broadcast bc;
    const float *a, *b, *dy;
    float *y, *da, *db;
} binary_job;

static void forward_range(void *arg, int64_t begin, int64_t end)
{
    const binary_job *j = arg;
    const int64_t inner = j->bc.inner;
    const float *restrict b = j->b;
    for (int64_t o = begin; o < end; o++) {
        const float *restrict ar = j->a + o * inner;
        float *restrict yr = j->y + o * inner;
        switch (j->kind) {
        case BIN_ADD: for (int64_t i = 0; i < inner; i++) yr[i] = ar[i] + b[i]; break;
        case BIN_MUL: for (int64_t i = 0; i < inner; i++) yr[i] = ar[i] * b[i]; break;
        case BIN_MIN: for (int64_t i = 0; i < inner; i++) yr[i] = ar[i] <= b[i] ? ar[i] : b[i]; break;
        case BIN_MAX: for (int64_t i = 0; i < inner; i++) yr[i] = ar[i] >= b[i] ? ar[i] : b[i]; break;
        }
    }
}

/* The share of dy[o][i] that reaches a; the rest reaches b. Ties of min/max
 * send the whole gradient to a. */
static float grad_to_a(binary_kind kind, float a, float b, float g)
{
    switch (kind) {
    case BIN_ADD: return g;
    case BIN_MUL: return g * b;
    case BIN_MIN: return a <= b ? g : 0.0f;
    default: return a >= b ? g : 0.0f;
    }
}

static float grad_to_b(binary_kind kind, float a, float b, float g)
{
    switch (kind) {
    case BIN_ADD: return g;
    case BIN_MUL: return g * a;
    default: return g - grad_to_a(kind, a, b, g);
    }
}

static void grad_a_range(void *arg, int64_t begin, int64_t end)
{
    const binary_job *j = arg;
    const int64_t inner = j->bc.inner;
    for (int64_t o = begin; o < end; o++) {
        const float *ar = j->a + o * inner, *g = j->dy + o * inner;
        float *dar = j->da + o * inner;
        for (int64_t i = 0; i < inner; i++)
            dar[i] += grad_to_a(j->kind, ar[i], j->b[i], g[i]);
    }
}

static void grad_b_range(void *arg, int64_t begin, int64_t end)
{
    const binary_job *j = arg;
    const int64_t inner = j->bc.inner;
    for (int64_t o = 0; o < j->bc.outer; o++) {
        const float *ar = j->a + o * inner, *g = j->dy + o * inner;
        for (int64_t i = begin; i < end; i++)
            j->db[i] += grad_to_b(j->kind, ar[i], j->b[i], g[i]);
    }
}

/* Ranges of at least this many elements are worth a thread. */
#define ELEMENTS_PER_RANGE 32768

static int64_t grain(int64_t per_item)
{
    return per_item >= ELEMENTS_PER_RANGE ? 1 : ELEMENTS_PER_RANGE / (per_item ? per_item : 1);
}

static adapt_status binary_backward(adapt_context *ctx, const ad_node *node)
{
    adapt_tensor *a = node->in[0], *b = node->in[1];
    binary_job j = {.kind = *(const binary_kind *)node->saved, .a = a->data, .b = b->data,
                    .dy = node->out->pass_grad};
    j.bc = (broadcast){.inner = b->numel, .outer = b->numel ? a->numel / b->numel : 0};
    adapt_status st = ad_grad(&j.da, ctx, a);
    if (!st)
        st = ad_grad(&j.db, ctx, b);
    if (st)
        return st;
    if (j.da)
        ad_pool_for(ctx->pool, j.bc.outer, grain(j.bc.inner), grad_a_range, &j);
    if (j.db)
        ad_pool_for(ctx->pool, j.bc.inner, grain(j.bc.outer), grad_b_range, &j);
    return ADAPT_OK;
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
    binary_job j = {.kind = kind, .bc = bc, .a = a->data, .b = b->data, .y = y->data};
    ad_pool_for(ctx->pool, bc.outer, grain(bc.inner), forward_range, &j);
    return ad_op_finish(out, ctx, fn, binary_backward, y, in, 2, &kind, sizeof kind);
}

adapt_status ad_op_add(adapt_tensor **out, adapt_context *ctx, adapt_tensor *a,
                       adapt_tensor *b)
{
    return binary_op(out, ctx, a, b, BIN_ADD, "adapt_op_add");
}

adapt_status ad_op_mul(adapt_tensor **out, adapt_context *ctx, adapt_tensor *a,
                       adapt_tensor *b)
{
    return binary_op(out, ctx, a, b, BIN_MUL, "adapt_op_mul");
}

adapt_status ad_op_minimum(adapt_tensor **out, adapt_context *ctx, adapt_tensor *a,
                           adapt_tensor *b)
{
    return binary_op(out, ctx, a, b, BIN_MIN, "adapt_op_minimum");
}

adapt_status ad_op_maximum(adapt_tensor **out, adapt_context *ctx, adapt_tensor *a,
                           adapt_tensor *b)
{
    return binary_op(out, ctx, a, b, BIN_MAX, "adapt_op_maximum");
}

/* a + (-b): negation is exact, so the values are those of a - b. */
adapt_status ad_op_sub(adapt_tensor **out, adapt_context *ctx, adapt_tensor *a, adapt_tensor *b)
{
    adapt_tensor *minus_b;
    adapt_status st = ad_op_scale(&minus_b, ctx, b, -1.0f);
    return st ? st : ad_op_add(out, ctx, a, minus_b);
}
