/* Batched matrix product with optional transposes, on the GEMM dispatcher.
 * A shared 2-D right operand with an untransposed left one folds the batch
 * into the rows: one large GEMM instead of many small ones. */
#include "lib/kernels/gemm.h"
#include "lib/kernels/gemm_narrow.h"
#include "lib/ops/op.h"

#include <stdatomic.h>

typedef struct {
    bool trans_a, trans_b;
    bool shared_b;        /* b is 2-D and used by every batch */
    int64_t batch, m, n, k;
} matmul_plan;

/* Stored sizes of a and b per batch item. */
static int64_t a_size(const matmul_plan *p) { return p->m * p->k; }
static int64_t b_size(const matmul_plan *p) { return p->shared_b ? 0 : p->k * p->n; }

static adapt_status plan_matmul(matmul_plan *p, const adapt_tensor *a, const adapt_tensor *b,
                                uint32_t flags, const char *fn)
{
    char sa[96], sb[96];
    if (flags & ~(ADAPT_MATMUL_TRANS_A | ADAPT_MATMUL_TRANS_B))
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: unknown flags 0x%x", fn, flags);
    if (a->ndim < 2 || b->ndim < 2)
        return ad_fail(ADAPT_ERR_SHAPE, "%s: operands need rank >= 2, got %s and %s", fn,
                       ad_shape_str(a, sa, sizeof sa), ad_shape_str(b, sb, sizeof sb));
    p->trans_a = flags & ADAPT_MATMUL_TRANS_A;
    p->trans_b = flags & ADAPT_MATMUL_TRANS_B;
    int64_t ar = a->shape[a->ndim - 2], ac = a->shape[a->ndim - 1];
    int64_t br = b->shape[b->ndim - 2], bc = b->shape[b->ndim - 1];
    p->m = p->trans_a ? ac : ar;
    p->k = p->trans_a ? ar : ac;
    p->n = p->trans_b ? br : bc;
    int64_t kb = p->trans_b ? bc : br;
    p->shared_b = b->ndim == 2;
    bool batch_ok = p->shared_b || b->ndim == a->ndim;
    for (int32_t i = 0; batch_ok && !p->shared_b && i < a->ndim - 2; i++)
        batch_ok = a->shape[i] == b->shape[i];
    if (kb != p->k || !batch_ok)
        return ad_fail(ADAPT_ERR_SHAPE, "%s: cannot multiply %s by %s (flags 0x%x)", fn,
                       ad_shape_str(a, sa, sizeof sa), ad_shape_str(b, sb, sizeof sb), flags);
    p->batch = 1;
    for (int32_t i = 0; i < a->ndim - 2; i++)
        p->batch *= a->shape[i];
    return ADAPT_OK;
}

/* Batch items split over the pool, each a single-threaded GEMM: many small
 * products (attention heads) gain more from this than from threading each. */
typedef struct {
    adapt_backend backend;
    ad_gemm_args g;
    int64_t a_step, b_step, c_step;
    atomic_int status;
} batch_job;

static void batch_range(void *arg, int64_t begin, int64_t end)
{
    batch_job *j = arg;
    ad_gemm_args g = j->g;
    g.a += begin * j->a_step, g.b += begin * j->b_step, g.c += begin * j->c_step;
    for (int64_t i = begin; i < end; i++, g.a += j->a_step, g.b += j->b_step, g.c += j->c_step) {
        adapt_status st = ad_gemm(j->backend, &g);
        if (st) {
            atomic_store(&j->status, st);
            return;
        }
    }
}

/* Runs `g` for `rounds` batch items, advancing its operands by the steps.
 * A shared right operand with an untransposed left one is folded by the
 * callers into a single round. */
static adapt_status run_batch(adapt_context *ctx, ad_gemm_args g, int64_t rounds,
                              int64_t a_step, int64_t b_step, int64_t c_step)
{
    if (ctx->pool && rounds >= ctx->n_threads) {
        batch_job j = {ctx->backend, g, a_step, b_step, c_step, ADAPT_OK};
        ad_pool_for(ctx->pool, rounds, 1, batch_range, &j);
        adapt_status st = atomic_load(&j.status);
        return st ? ad_fail(st, "adapt_op_matmul: a GEMM of the batch failed (%s)",
                            adapt_status_string(st))
                  : ADAPT_OK;
    }
    adapt_status st = ADAPT_OK;
    for (int64_t i = 0; i < rounds && !st; i++, g.a += a_step, g.b += b_step, g.c += c_step)
        st = ad_gemm_pooled(ctx->pool, ctx->backend, &g, NULL, NULL);
    return st;
}

static bool folds(const matmul_plan *p) { return p->shared_b && !p->trans_a; }

/* c[i] = op(a[i]) op(b[i]) over the batch. A linear layer's product with few outputs takes
 * the narrow kernel, as the layer's untaped path does. */
static adapt_status forward(adapt_context *ctx, const matmul_plan *p, const float *a,
                            const float *b, float *c)
{
    ad_gemm_args g = {.trans_a = p->trans_a, .trans_b = p->trans_b, .m = p->m, .n = p->n,
                      .k = p->k, .alpha = 1.0f, .a = a, .lda = p->trans_a ? p->m : p->k,
                      .b = b, .ldb = p->trans_b ? p->k : p->n, .c = c, .ldc = p->n};
    if (folds(p)) {
        g.m *= p->batch;
        if (!ad_gemm_narrow_suits(ctx->backend, &g))
            return run_batch(ctx, g, 1, 0, 0, 0);
        ad_gemm_narrow(ctx, &(ad_narrow_product){g.m, g.n, g.k, a, b, NULL, AD_ACT_NONE, c,
                                                 g.n});
        return ADAPT_OK;
    }
    return run_batch(ctx, g, p->batch, a_size(p), b_size(p), p->m * p->n);
}

/* dA += dY op(B)^T, stored transposed when A was. */
static adapt_status backward_a(adapt_context *ctx, const matmul_plan *p, const float *dy,
                               const float *b, float *da)
{
    ad_gemm_args g = {.alpha = 1.0f, .beta = 1.0f, .k = p->n, .c = da};
    int64_t dy_step = p->m * p->n, b_step = b_size(p);
    if (!p->trans_a) {
        g.trans_a = false, g.trans_b = !p->trans_b, g.m = p->m, g.n = p->k;
        g.a = dy, g.lda = p->n, g.b = b, g.ldb = p->trans_b ? p->k : p->n, g.ldc = p->k;
    } else {
        g.trans_a = p->trans_b, g.trans_b = true, g.m = p->k, g.n = p->m;
        g.a = b, g.lda = p->trans_b ? p->k : p->n, g.b = dy, g.ldb = p->n, g.ldc = p->m;
    }
    if (folds(p)) {
        g.m *= p->batch;
        return run_batch(ctx, g, 1, 0, 0, 0);
    }
    return p->trans_a ? run_batch(ctx, g, p->batch, b_step, dy_step, a_size(p))
                      : run_batch(ctx, g, p->batch, dy_step, b_step, a_size(p));
}

/* dB += op(A)^T dY, stored transposed when B was; a shared B sums over the
 * batch, which folds into K when A is untransposed. */
static adapt_status backward_b(adapt_context *ctx, const matmul_plan *p, const float *dy,
                               const float *a, float *db)
{
    ad_gemm_args g = {.alpha = 1.0f, .beta = 1.0f, .k = p->m, .c = db};
    int64_t dy_step = p->m * p->n, a_step = a_size(p);
    if (!p->trans_b) {
        g.trans_a = !p->trans_a, g.trans_b = false, g.m = p->k, g.n = p->n;
        g.a = a, g.lda = p->trans_a ? p->m : p->k, g.b = dy, g.ldb = p->n, g.ldc = p->n;
    } else {
        g.trans_a = true, g.trans_b = p->trans_a, g.m = p->n, g.n = p->k;
        g.a = dy, g.lda = p->n, g.b = a, g.ldb = p->trans_a ? p->m : p->k, g.ldc = p->k;
    }
    if (folds(p)) {
        g.k *= p->batch;
        return run_batch(ctx, g, 1, 0, 0, 0);
    }
    return p->trans_b ? run_batch(ctx, g, p->batch, dy_step, a_step, b_size(p))
                      : run_batch(ctx, g, p->batch, a_step, dy_step, b_size(p));
}

static adapt_status matmul_backward(adapt_context *ctx, const ad_node *node)
{
    const matmul_plan *p = node->saved;
    adapt_tensor *a = node->in[0], *b = node->in[1];
    float *da, *db;
    adapt_status st = ad_grad(&da, ctx, a);
    if (!st)
        st = ad_grad(&db, ctx, b);
    if (!st && da)
        st = backward_a(ctx, p, node->out->pass_grad, b->data, da);
    if (!st && db)
        st = backward_b(ctx, p, node->out->pass_grad, a->data, db);
    return st;
}

adapt_status ad_op_matmul(adapt_tensor **out, adapt_context *ctx, adapt_tensor *a,
                          adapt_tensor *b, uint32_t flags)
{
    const char *fn = "adapt_op_matmul";
    adapt_tensor *in[] = {a, b};
    adapt_status st = ad_op_check(ctx, out, fn, in, (const char *[]){"a", "b"}, 2);
    matmul_plan p = {0};
    if (!st)
        st = plan_matmul(&p, a, b, flags, fn);
    if (st)
        return st;
    ad_gemm_args sizes = {.m = p.batch * p.m, .n = p.n, .k = p.k};
    st = ad_gemm_check_sizes(&sizes, fn);
    int64_t shape[ADAPT_MAX_DIMS];
    for (int32_t i = 0; i < a->ndim - 2; i++)
        shape[i] = a->shape[i];
    shape[a->ndim - 2] = p.m;
    shape[a->ndim - 1] = p.n;
    adapt_tensor *y = NULL;
    if (!st)
        st = ad_tensor_new(&y, ctx, a->ndim, shape);
    if (!st)
        st = forward(ctx, &p, a->data, b->data, y->data);
    if (st)
        return st;
    return ad_op_finish(out, ctx, fn, matmul_backward, y, in, 2, &p, sizeof p);
}
