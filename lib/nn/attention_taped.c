/* The core of attention on the tape as one record: for each (sample, head),
 * softmax(q k^T) v, reading the heads out of the [N, T, dim] projections and
 * writing them into the [N, T, dim] mix through leading dimensions. Taped as
 * operations it copied q, k, v apart into heads and the mix back together, and
 * kept the scores beside their softmax; the record keeps the softmax alone
 * (N * H * T * T values), which backward needs, and copies nothing.
 *
 * Backward per (sample, head), with P the softmax and dO the mix's gradient:
 *   dV += P^T dO,  dP = dO V^T,  dS = P * (dP - rowsum(dP * P)),
 *   dQ += dS K,    dK += dS^T Q.
 * Each item writes only its own head's columns, so items run in parallel. The forward
 * products are the untaped path's (attention_head.h). */
#include <stdatomic.h>
#include <string.h>

#include "lib/core/arena.h"
#include "lib/kernels/gemm.h"
#include "lib/kernels/softmax_rows.h"
#include "lib/nn/attention.h"
#include "lib/nn/attention_head.h"
#include "lib/ops/op.h"

typedef struct {
    int64_t n, t, dim, heads;
    float *weights; /* [N, H, T, T]: the softmax of every head */
} core_record;

typedef struct {
    adapt_backend backend;
    const core_record *r;
    const float *q, *k, *v, *dmix;
    float *mix, *dq, *dk, *dv;
    ad_head_products products; /* forward; keys_t unset: each range has its own */
    float *scratch; /* per range: the forward's keys scratch, or backward's two T x T blocks */
    atomic_int next_scratch, status;
} core_job;

/* Offset of head h of sample n in a [N, T, dim] tensor. */
static int64_t head_at(const core_record *r, int64_t item)
{
    return item / r->heads * r->t * r->dim + item % r->heads * (r->dim / r->heads);
}

static adapt_status gemm(const core_job *j, ad_gemm_args g)
{
    g.alpha = 1.0f;
    return ad_gemm(j->backend, &g);
}

static adapt_status forward_item(const core_job *j, int64_t item, ad_head_products *h)
{
    const core_record *r = j->r;
    const int64_t t = r->t, d = r->dim, at = head_at(r, item);
    float *p = r->weights + item * t * t;
    adapt_status st = ad_head_scores(h, t, j->q + at, d, j->k + at, d, p);
    if (st)
        return st;
    ad_softmax_rows(p, p, t, t);
    return ad_head_mix(h, t, p, j->v + at, d, j->mix + at, d);
}

static adapt_status backward_item(const core_job *j, int64_t item, float *dp, float *ds)
{
    const core_record *r = j->r;
    const int64_t t = r->t, d = r->dim, hd = d / r->heads, at = head_at(r, item);
    const float *p = r->weights + item * t * t, *dmix = j->dmix + at;
    adapt_status st = ADAPT_OK;
    if (j->dv)
        st = gemm(j, (ad_gemm_args){.trans_a = true, .m = t, .n = hd, .k = t, .a = p,
                                    .lda = t, .b = dmix, .ldb = d, .beta = 1.0f,
                                    .c = j->dv + at, .ldc = d});
    if (st || (!j->dq && !j->dk))
        return st;
    st = gemm(j, (ad_gemm_args){.trans_b = true, .m = t, .n = t, .k = hd, .a = dmix, .lda = d,
                                .b = j->v + at, .ldb = d, .c = dp, .ldc = t});
    if (st)
        return st;
    memset(ds, 0, (size_t)(t * t) * sizeof *ds);
    ad_softmax_rows_backward(p, dp, ds, t, t);
    if (j->dq)
        st = gemm(j, (ad_gemm_args){.m = t, .n = hd, .k = t, .a = ds, .lda = t,
                                    .b = j->k + at, .ldb = d, .beta = 1.0f, .c = j->dq + at,
                                    .ldc = d});
    if (!st && j->dk)
        st = gemm(j, (ad_gemm_args){.trans_a = true, .m = t, .n = hd, .k = t, .a = ds,
                                    .lda = t, .b = j->q + at, .ldb = d, .beta = 1.0f,
                                    .c = j->dk + at, .ldc = d});
    return st;
}

static void forward_range(void *arg, int64_t begin, int64_t end)
{
    core_job *j = arg;
    ad_head_products h = j->products;
    h.keys_t = j->scratch + atomic_fetch_add(&j->next_scratch, 1) * ad_head_keys_floats(&h);
    for (int64_t item = begin; item < end; item++) {
        const adapt_status st = forward_item(j, item, &h);
        if (st) {
            atomic_store(&j->status, st);
            return;
        }
    }
}

static void backward_range(void *arg, int64_t begin, int64_t end)
{
    core_job *j = arg;
    const int64_t block = j->r->t * j->r->t;
    float *dp = j->scratch + atomic_fetch_add(&j->next_scratch, 1) * 2 * block;
    for (int64_t item = begin; item < end; item++) {
        const adapt_status st = backward_item(j, item, dp, dp + block);
        if (st) {
            atomic_store(&j->status, st);
            return;
        }
    }
}

static adapt_status run_items(adapt_context *ctx, core_job *j, ad_range_fn body)
{
    ad_pool_for(ctx->pool, j->r->n * j->r->heads, 1, body, j);
    const adapt_status st = atomic_load(&j->status);
    return st ? ad_fail(st, "attention: a GEMM of the heads failed (%s)",
                        adapt_status_string(st))
              : ADAPT_OK;
}

static adapt_status core_backward(adapt_context *ctx, const ad_node *node)
{
    const core_record *r = node->saved;
    adapt_tensor *q = node->in[0], *k = node->in[1], *v = node->in[2];
    core_job j = {.backend = ctx->backend, .r = r, .q = q->data, .k = k->data, .v = v->data,
                  .dmix = node->out->pass_grad};
    adapt_status st = ad_grad(&j.dq, ctx, q);
    if (!st)
        st = ad_grad(&j.dk, ctx, k);
    if (!st)
        st = ad_grad(&j.dv, ctx, v);
    if (st)
        return st;
    const ad_arena_mark mark = ad_arena_mark_now(&ctx->arena);
    const int64_t ranges = ad_pool_ranges(r->n * r->heads, 1, ctx->n_threads);
    st = ad_scratch((void **)&j.scratch, ctx, (size_t)(ranges * 2 * r->t * r->t) * sizeof(float),
                    "adapt_backward");
    if (!st)
        st = run_items(ctx, &j, backward_range);
    ad_arena_rewind(&ctx->arena, mark);
    return st;
}

adapt_status ad_attention_core_taped(adapt_tensor **mix, adapt_context *ctx, adapt_tensor *q,
                                     adapt_tensor *k, adapt_tensor *v, int64_t heads)
{
    core_record r = {q->shape[0], q->shape[1], q->shape[2], heads, NULL};
    adapt_tensor *y = NULL;
    adapt_status st = ad_scratch((void **)&r.weights, ctx,
                                 (size_t)(r.n * heads * r.t * r.t) * sizeof(float),
                                 "attention");
    if (!st)
        st = ad_tensor_new(&y, ctx, 3, q->shape);
    if (st)
        return st;
    core_job j = {.backend = ctx->backend, .r = &r, .q = q->data, .k = k->data, .v = v->data,
                  .mix = y->data,
                  .products = ad_head_products_for(ctx->backend, r.t, r.dim / heads)};
    const ad_arena_mark mark = ad_arena_mark_now(&ctx->arena);
    const int64_t ranges = ad_pool_ranges(r.n * heads, 1, ctx->n_threads);
    st = ad_scratch((void **)&j.scratch, ctx,
                    (size_t)(ranges * ad_head_keys_floats(&j.products)) * sizeof(float),
                    "attention");
    if (!st)
        st = run_items(ctx, &j, forward_range);
    ad_arena_rewind(&ctx->arena, mark);
    if (st)
        return st;
    adapt_tensor *in[] = {q, k, v};
    return ad_op_finish(mix, ctx, "attention", core_backward, y, in, 3, &r, sizeof r);
}
