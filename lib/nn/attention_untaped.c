/* Attention without a tape. The taped path materialises q, k and v per head, the
 * [N*H, T, T] scores and their softmax, and copies heads apart and back together, all
 * for the backward pass. Inference needs none of it: one qkv product, then for each
 * (sample, head) the scores, softmax and mix in a scratch of at most T x T that stays
 * in cache, reading the heads from the qkv rows and writing them into the merged rows
 * through leading dimensions. Every output row is computed whole by one work item. The
 * products are the taped core's (attention_head.h); the paths differ only in where the scale
 * 1/sqrt(head_dim) enters (here on the scores, there folded into q), exact when it is a power
 * of two. */
#include "lib/nn/attention.h"

#include <math.h>
#include <stdatomic.h>

#include "lib/core/context.h"
#include "lib/core/error.h"
#include "lib/core/tensor.h"
#include "lib/kernels/gemm_narrow.h"
#include "lib/kernels/softmax_rows.h"
#include "lib/nn/attention_head.h"

typedef struct {
    ad_head_products products; /* keys_t unset: each range has its own */
    int64_t t, dim, heads, head_dim;
    int64_t row_blocks, block_rows; /* query rows of a head split into blocks of this many */
    float scale;
    const float *qkv; /* [N, T, 3 * dim]: q, k, v, each heads x head_dim */
    float *mixed;     /* [N, T, dim] */
    float *scratch;   /* per range: block_rows x T scores, then the keys scratch */
    atomic_int next_block, status;
} attention_job;

/* Row-wise softmax(scale * s) over `rows` rows of t, in place, as adapt_op_softmax
 * computes it. */
static void softmax_rows(float *s, int64_t rows, int64_t t, float scale)
{
    for (int64_t i = 0; i < rows * t; i++)
        s[i] *= scale;
    ad_softmax_rows(s, s, rows, t);
}

/* Item = (sample, head, block of query rows): scores of those rows against every key, their
 * softmax, and their share of the mix. */
static adapt_status one_item(const attention_job *j, int64_t item, ad_head_products *h,
                             float *scores)
{
    const int64_t block = item % j->row_blocks, head_item = item / j->row_blocks;
    const int64_t n = head_item / j->heads, head_index = head_item % j->heads;
    const int64_t t = j->t, d = j->dim;
    const int64_t first = block * j->block_rows;
    const int64_t rows = first + j->block_rows <= t ? j->block_rows : t - first;
    const float *head = j->qkv + n * t * 3 * d + head_index * j->head_dim; /* q of token 0 */
    adapt_status st = ad_head_scores(h, rows, head + first * 3 * d, 3 * d, head + d, 3 * d,
                                     scores);
    if (st)
        return st;
    softmax_rows(scores, rows, t, j->scale);
    return ad_head_mix(h, rows, scores, head + 2 * d, 3 * d,
                       j->mixed + (n * t + first) * d + head_index * j->head_dim, d);
}

static int64_t range_floats(const attention_job *j)
{
    return j->block_rows * j->t + ad_head_keys_floats(&j->products);
}

static void items_range(void *arg, int64_t begin, int64_t end)
{
    attention_job *j = arg;
    float *scores = j->scratch + atomic_fetch_add(&j->next_block, 1) * range_floats(j);
    ad_head_products h = j->products;
    h.keys_t = scores + j->block_rows * j->t;
    for (int64_t item = begin; item < end; item++) {
        adapt_status st = one_item(j, item, &h, scores);
        if (st) {
            atomic_store(&j->status, st);
            return;
        }
    }
}

/* Enough items for every thread to get several, so that a small batch (one image: as many
 * items as heads) still balances; whole heads when the batch provides them. */
static int64_t row_blocks_for(int64_t heads_total, int64_t t, int32_t seats)
{
    const int64_t wanted = 4 * (int64_t)seats;
    if (seats == 1 || heads_total >= wanted)
        return 1;
    const int64_t blocks = (wanted + heads_total - 1) / heads_total;
    return blocks < t ? blocks : t;
}

/* The qkv rows of x. The taped path projects q, k and v as three products; where those are
 * narrow (gemm_narrow.h), three narrow products here give its bits. */
static adapt_status project_qkv(adapt_tensor **qkv, adapt_context *ctx, const ad_attention *a,
                                adapt_tensor *x)
{
    const int64_t d = a->dim, rows = x->numel / d;
    const ad_gemm_args part = {.trans_b = true, .m = rows, .n = d, .k = d, .alpha = 1.0f,
                               .lda = d, .ldb = d, .ldc = d};
    if (a->qkv_module.module || !ad_gemm_narrow_suits(ctx->backend, &part))
        return ad_attention_qkv(qkv, ctx, a, x);
    adapt_status st = ad_tensor_new(qkv, ctx, 3, (int64_t[]){x->shape[0], x->shape[1], 3 * d});
    for (int64_t i = 0; i < 3 && !st; i++) {
        const ad_narrow_product p = {rows, d, d, x->data, a->qkv.weight->data + i * d * d,
                                     a->qkv.bias->data + i * d, AD_ACT_NONE,
                                     (*qkv)->data + i * d, 3 * d};
        ad_gemm_narrow(ctx, &p);
    }
    return st;
}

adapt_status ad_attention_forward_untaped(adapt_tensor **out, adapt_context *ctx,
                                          const ad_attention *a, adapt_tensor *x)
{
    const int64_t n = x->shape[0], t = x->shape[1], head_dim = a->dim / a->heads;
    adapt_tensor *qkv, *mixed;
    adapt_status st = project_qkv(&qkv, ctx, a, x);
    if (!st)
        st = ad_tensor_new(&mixed, ctx, 3, (int64_t[]){n, t, a->dim});
    if (st)
        return st;
    const int32_t seats = ctx->n_threads;
    const int64_t asked = row_blocks_for(n * a->heads, t, seats);
    const int64_t block_rows = (t + asked - 1) / asked;
    /* Whole blocks can be fewer than asked: 5 rows in 4 blocks are 3 blocks of 2. */
    const int64_t row_blocks = (t + block_rows - 1) / block_rows;
    const int64_t items = n * a->heads * row_blocks;
    const int64_t ranges = ad_pool_ranges(items, 1, seats);
    attention_job job = {ad_head_products_for(ctx->backend, t, head_dim), t, a->dim, a->heads,
                         head_dim, row_blocks, block_rows,
                         (float)(1.0 / sqrt((double)head_dim)), qkv->data, mixed->data,
                         NULL, 0, ADAPT_OK};
    job.scratch = ad_arena_alloc(&ctx->arena,
                                 (size_t)(ranges * range_floats(&job)) * sizeof(float));
    if (!job.scratch)
        return ad_fail(ADAPT_ERR_OUT_OF_MEMORY, "attention: no memory for %lld score blocks",
                       (long long)ranges);
    ad_pool_for(seats > 1 ? ctx->pool : NULL, items, 1, items_range, &job);
    st = atomic_load(&job.status);
    if (st)
        return ad_fail(st, "attention: a GEMM of the heads failed (%s)",
                       adapt_status_string(st));
    return ad_attention_proj(out, ctx, a, mixed);
}
