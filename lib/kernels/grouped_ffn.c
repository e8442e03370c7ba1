#include "lib/kernels/grouped_ffn.h"

#include <math.h>
#include <stdatomic.h>
#include <string.h>

#include "lib/core/error.h"
#include "lib/kernels/elementwise.h"
#include "lib/kernels/gemm.h"
#include "lib/kernels/gemm_small.h"
#include "lib/kernels/vector_math.h"
#include "lib/kernels/row_reduce.h"

/* Pair rows per forward unit: about UNIT_TARGET units, so that the seats share them evenly,
 * but never fewer rows than a microkernel tile nor more than stay in cache. */
#define UNIT_TARGET 32
#define UNIT_MIN_ROWS 8
#define UNIT_MAX_ROWS 128
#define BACKWARD_ROWS 128 /* pair rows per block of a group's backward */
#define MERGE_WORK 65536   /* additions per range of a merge pass, at least */
#define BIAS_COLUMNS 64   /* columns of the output bias gradient per range */

adapt_status ad_grouping_build(ad_grouping *out, adapt_context *ctx, const uint8_t *selected,
                               int64_t tokens, int64_t groups, const char *fn)
{
    int64_t pairs = 0;
    for (int64_t i = 0; i < tokens * groups; i++)
        pairs += selected[i] != 0;
    if (pairs > INT32_MAX || tokens > INT32_MAX)
        return ad_fail(ADAPT_ERR_OVERFLOW, "%s: %lld tokens in %lld token-group pairs exceed "
                       "32-bit indexes", fn, (long long)tokens, (long long)pairs);
    ad_grouping g = {tokens, groups, pairs, NULL, NULL, NULL, NULL};
    int64_t *cursor = NULL;
    adapt_status st = ad_scratch((void **)&g.group_start, ctx,
                                 (size_t)(groups + 1) * sizeof(int64_t), fn);
    if (!st)
        st = ad_scratch((void **)&g.token_start, ctx, (size_t)(tokens + 1) * sizeof(int64_t), fn);
    if (!st)
        st = ad_scratch((void **)&g.pair_token, ctx, (size_t)(pairs + 1) * sizeof(int32_t), fn);
    if (!st)
        st = ad_scratch((void **)&g.token_pair, ctx, (size_t)(pairs + 1) * sizeof(int32_t), fn);
    if (!st)
        st = ad_scratch((void **)&cursor, ctx, (size_t)groups * sizeof(int64_t), fn);
    if (st)
        return st;
    /* Counting sort: count per group, then deal the tokens out in increasing order. */
    memset(cursor, 0, (size_t)groups * sizeof(int64_t));
    for (int64_t t = 0; t < tokens; t++)
        for (int64_t e = 0; e < groups; e++)
            cursor[e] += selected[t * groups + e] != 0;
    g.group_start[0] = 0;
    for (int64_t e = 0; e < groups; e++) {
        g.group_start[e + 1] = g.group_start[e] + cursor[e];
        cursor[e] = g.group_start[e];
    }
    int64_t k = 0;
    for (int64_t t = 0; t < tokens; t++) {
        g.token_start[t] = k;
        for (int64_t e = 0; e < groups; e++) {
            if (!selected[t * groups + e])
                continue;
            const int64_t pair = cursor[e]++;
            g.pair_token[pair] = (int32_t)t;
            g.token_pair[k++] = (int32_t)pair;
        }
    }
    g.token_start[tokens] = k;
    *out = g;
    return ADAPT_OK;
}

/* The group that pair `p` belongs to (the last g with group_start[g] <= p, skipping empty
 * groups). */
static int64_t group_of(const ad_grouping *g, int64_t p)
{
    int64_t lo = 0, hi = g->groups - 1;
    while (lo < hi) {
        const int64_t mid = (lo + hi + 1) / 2;
        if (g->group_start[mid] <= p)
            lo = mid;
        else
            hi = mid - 1;
    }
    return lo;
}

/* to[i] = from[rows[i] * stride + offset], i < n, rows of `width`. */
static void gather_rows(float *restrict to, const float *restrict from, int64_t width,
                        const int32_t *rows, int64_t n, int64_t stride, int64_t offset)
{
    for (int64_t i = 0; i < n; i++)
        memcpy(to + i * width, from + ((int64_t)rows[i] * stride + offset) * width,
               (size_t)width * sizeof(float));
}

/* What both passes share: the problem, and per-seat scratch taken slot by slot. */
typedef struct {
    adapt_context *ctx;
    const ad_grouping *g;
    const ad_grouped_weights *w;
    const float *x, *dy;
    const ad_grouped_outputs *out; /* forward */
    const float *saved;            /* backward: the pairs' hidden activations */
    bool dy_per_pair;              /* backward: dy holds each pair's row (grouped_ffn.h) */
    float *pairs_out;   /* per pair: [pairs, out] forward, [pairs, in] backward */
    const ad_grouped_grads *grads;
    float *scratch;     /* slot_floats per range */
    int64_t slot_floats, rows; /* rows: pair rows per unit or block */
    atomic_int next_slot;
    atomic_int status;
} grouped_job;

static float *take_slot(grouped_job *j)
{
    return j->scratch + atomic_fetch_add(&j->next_slot, 1) * j->slot_floats;
}

/* The first failure, so that the status does not depend on which seat failed last. */
static void note_failure(grouped_job *j, adapt_status st)
{
    int none = ADAPT_OK;
    if (st)
        atomic_compare_exchange_strong(&j->status, &none, st);
}

static const float *w1_of(const ad_grouped_weights *w, int64_t e)
{
    return w->w1 + e * w->in * w->hidden;
}

static const float *w2_of(const ad_grouped_weights *w, int64_t e)
{
    return w->w2 + e * w->hidden * w->out;
}

/* Runs the job's `body` over [0, n) with `slot_floats` of scratch per range. */
static adapt_status run_slots(grouped_job *j, int64_t n, ad_range_fn body, const char *fn)
{
    const int64_t slots = ad_pool_ranges(n, 1, j->ctx->n_threads);
    adapt_status st = ad_scratch((void **)&j->scratch, j->ctx,
                                 (size_t)(slots * j->slot_floats) * sizeof(float), fn);
    if (st)
        return st;
    ad_pool_for(j->ctx->pool, n, 1, body, j);
    st = atomic_load(&j->status);
    return st ? ad_fail(st, "%s: a grouped product failed (%s)", fn, adapt_status_string(st))
              : ADAPT_OK;
}

/* C[m x n] = A[m x k] B[k x n], row-major and packed: under the default backend on AVX-512
 * the small-product kernel, which has no per-call packing and keeps each row's bits
 * whatever else is in the product; else the context's backend. */
static adapt_status expert_product(adapt_backend backend, int64_t m, int64_t n, int64_t k,
                                   const float *a, const float *b, float *c)
{
    if (backend == ADAPT_BACKEND_DEFAULT && ad_has_avx512()) {
        ad_gemm_small(m, n, k, a, k, b, n, c, n, false);
        return ADAPT_OK;
    }
    return ad_gemm(backend, &(ad_gemm_args){.m = m, .n = n, .k = k, .alpha = 1.0f, .a = a,
                                            .lda = k, .b = b, .ldb = n, .c = c, .ldc = n});
}

/* Pairs [a, a + n) of group e: their hidden activations and outputs. */
static adapt_status forward_segment(grouped_job *j, float *slot, int64_t e, int64_t a,
                                    int64_t n)
{
    const ad_grouped_weights *w = j->w;
    float *xs = slot, *post = slot + j->rows * w->in;
    gather_rows(xs, j->x, w->in, j->g->pair_token + a, n, 1, 0);
    /* GELU's saved value is its input; the others' their output. */
    float *keep = j->out->saved;
    const bool keep_input = keep && w->act == AD_ACT_GELU;
    float *z = keep ? keep + a * w->hidden : post;
    adapt_status st = expert_product(j->ctx->backend, n, w->hidden, w->in, xs, w1_of(w, e), z);
    if (st)
        return st;
    ad_bias_act_rows(n, w->hidden, w->hidden, w->b1 ? w->b1 + e * w->hidden : NULL,
                     keep_input ? AD_ACT_NONE : w->act, z);
    if (keep_input)
        ad_gelu_forward(n * w->hidden, z, post);
    else
        post = z;
    float *y = j->pairs_out + a * w->out;
    st = expert_product(j->ctx->backend, n, w->out, w->hidden, post, w2_of(w, e), y);
    for (int64_t r = 0; !st && j->out->norms && r < n; r++)
        j->out->norms[a + r] = (float)sqrt(ad_row_dot(y + r * w->out, y + r * w->out, w->out));
    return st;
}

static int64_t min64(int64_t a, int64_t b)
{
    return a < b ? a : b;
}

/* Units [begin, end): each a run of `rows` pairs, cut where the group changes. A segment never
 * crosses a unit's end, whatever range the unit is in: the products, so the bits, are the
 * same for every thread count. */
static void forward_units(void *arg, int64_t begin, int64_t end)
{
    grouped_job *j = arg;
    float *slot = take_slot(j);
    adapt_status st = ADAPT_OK;
    for (int64_t a = begin * j->rows; a < min64(end * j->rows, j->g->pairs) && !st;) {
        const int64_t e = group_of(j->g, a);
        const int64_t unit_end = min64((a / j->rows + 1) * j->rows, j->g->pairs);
        const int64_t stop = min64(j->g->group_start[e + 1], unit_end);
        st = forward_segment(j, slot, e, a, stop - a);
        a = stop;
    }
    note_failure(j, st);
}

/* to[t] (+)= each of token t's pair rows, groups in increasing order, for tokens
 * [begin, end): the output of the forward, the input gradient of the backward. */
typedef struct {
    const ad_grouping *g;
    const float *pairs, *bias; /* bias: added last, or NULL */
    float *to;
    int64_t width;
    bool accumulate;
} merge_job;

static void merge_rows(void *arg, int64_t begin, int64_t end)
{
    const merge_job *m = arg;
    for (int64_t t = begin; t < end; t++) {
        float *restrict row = m->to + t * m->width;
        if (!m->accumulate)
            memset(row, 0, (size_t)m->width * sizeof(float));
        for (int64_t k = m->g->token_start[t]; k < m->g->token_start[t + 1]; k++) {
            const float *restrict part = m->pairs + (int64_t)m->g->token_pair[k] * m->width;
            for (int64_t c = 0; c < m->width; c++)
                row[c] += part[c];
        }
        for (int64_t c = 0; m->bias && c < m->width; c++)
            row[c] += m->bias[c];
    }
}

static void merge(adapt_context *ctx, const merge_job *m)
{
    const int64_t per_token = (m->g->pairs / (m->g->tokens ? m->g->tokens : 1) + 1) * m->width;
    ad_pool_for(ctx->pool, m->g->tokens, 1 + MERGE_WORK / per_token, merge_rows, (void *)m);
}

adapt_status ad_grouped_ffn_forward(adapt_context *ctx, const ad_grouping *g,
                                    const ad_grouped_weights *w, const float *x,
                                    const ad_grouped_outputs *out, const char *fn)
{
    int64_t rows = g->pairs / UNIT_TARGET;
    rows = rows < UNIT_MIN_ROWS ? UNIT_MIN_ROWS : rows > UNIT_MAX_ROWS ? UNIT_MAX_ROWS : rows;
    grouped_job j = {.ctx = ctx, .g = g, .w = w, .x = x, .out = out,
                     .slot_floats = rows * (w->in + w->hidden), .rows = rows};
    const ad_arena_mark mark = ad_arena_mark_now(&ctx->arena);
    adapt_status st = ad_scratch((void **)&j.pairs_out, ctx,
                                 (size_t)(g->pairs * w->out + 1) * sizeof(float), fn);
    if (!st)
        st = run_slots(&j, (g->pairs + rows - 1) / rows, forward_units, fn);
    if (!st && out->y)
        merge(ctx, &(merge_job){g, j.pairs_out, w->b2, out->y, w->out, false});
    for (int64_t e = 0; !st && out->pairs && e < g->groups; e++)
        for (int64_t p = g->group_start[e]; p < g->group_start[e + 1]; p++)
            memcpy(out->pairs + ((int64_t)g->pair_token[p] * g->groups + e) * w->out,
                   j.pairs_out + p * w->out, (size_t)w->out * sizeof(float));
    ad_arena_rewind(&ctx->arena, mark);
    return st;
}

/* Block [a, a + n) of group e's pairs: the group's weight gradients, and the pairs' input
 * gradients into pairs_out. */
static adapt_status backward_block(grouped_job *j, float *slot, int64_t e, int64_t a,
                                   int64_t n)
{
    const ad_grouped_weights *w = j->w;
    const ad_grouped_grads *d = j->grads;
    const int64_t h = w->hidden, rows = j->rows;
    float *xs = slot, *dys = xs + rows * w->in, *gelu = dys + rows * w->out;
    float *dh = gelu + rows * h, *dz = dh + rows * h;
    const float *saved = j->saved + a * h, *post = saved;
    gather_rows(xs, j->x, w->in, j->g->pair_token + a, n, 1, 0);
    if (j->dy_per_pair)
        gather_rows(dys, j->dy, w->out, j->g->pair_token + a, n, j->g->groups, e);
    else
        gather_rows(dys, j->dy, w->out, j->g->pair_token + a, n, 1, 0);
    if (w->act == AD_ACT_GELU) { /* saved its input: its output again, for dW2 */
        ad_gelu_forward(n * h, saved, gelu);
        post = gelu;
    }
    adapt_backend be = j->ctx->backend;
    adapt_status st = ADAPT_OK;
    if (d->dw2)
        st = ad_gemm(be, &(ad_gemm_args){.trans_a = true, .m = h, .n = w->out, .k = n,
                                         .alpha = 1.0f, .a = post, .lda = h, .b = dys,
                                         .ldb = w->out, .beta = 1.0f,
                                         .c = d->dw2 + e * h * w->out, .ldc = w->out});
    if (!st)
        st = ad_gemm(be, &(ad_gemm_args){.trans_b = true, .m = n, .n = h, .k = w->out,
                                         .alpha = 1.0f, .a = dys, .lda = w->out,
                                         .b = w2_of(w, e), .ldb = w->out, .c = dh, .ldc = h});
    if (st)
        return st;
    if (w->act == AD_ACT_NONE) {
        memcpy(dz, dh, (size_t)(n * h) * sizeof(float));
    } else {
        memset(dz, 0, (size_t)(n * h) * sizeof(float));
        if (w->act == AD_ACT_RELU) /* the output is > 0 exactly where the input is */
            ad_relu_backward(n * h, saved, dh, dz);
        else
            ad_gelu_backward(n * h, saved, dh, dz);
    }
    for (int64_t r = 0; d->db1 && r < n; r++)
        for (int64_t c = 0; c < h; c++)
            d->db1[e * h + c] += dz[r * h + c];
    if (d->dw1)
        st = ad_gemm(be, &(ad_gemm_args){.trans_a = true, .m = w->in, .n = h, .k = n,
                                         .alpha = 1.0f, .a = xs, .lda = w->in, .b = dz,
                                         .ldb = h, .beta = 1.0f,
                                         .c = d->dw1 + e * w->in * h, .ldc = h});
    if (!st && d->dx)
        st = ad_gemm(be, &(ad_gemm_args){.trans_b = true, .m = n, .n = w->in, .k = h,
                                         .alpha = 1.0f, .a = dz, .lda = h, .b = w1_of(w, e),
                                         .ldb = h, .c = j->pairs_out + a * w->in,
                                         .ldc = w->in});
    return st;
}

/* Groups [begin, end), each by one seat, its blocks in order: a group's weight gradients
 * sum its blocks in the same order whatever the thread count. */
static void backward_groups(void *arg, int64_t begin, int64_t end)
{
    grouped_job *j = arg;
    float *slot = take_slot(j);
    adapt_status st = ADAPT_OK;
    for (int64_t e = begin; e < end && !st; e++)
        for (int64_t a = j->g->group_start[e]; a < j->g->group_start[e + 1] && !st;
             a += j->rows) {
            st = backward_block(j, slot, e, a, min64(j->g->group_start[e + 1] - a, j->rows));
        }
    note_failure(j, st);
}

/* db2[c] += sum over tokens of dy[., c], column blocks [begin, end), tokens in order. */
static void output_bias_grad(void *arg, int64_t begin, int64_t end)
{
    const grouped_job *j = arg;
    const int64_t width = j->w->out, first = begin * BIAS_COLUMNS;
    const int64_t last = end * BIAS_COLUMNS < width ? end * BIAS_COLUMNS : width;
    for (int64_t t = 0; t < j->g->tokens; t++)
        for (int64_t c = first; c < last; c++)
            j->grads->db2[c] += j->dy[t * width + c];
}

adapt_status ad_grouped_ffn_backward(adapt_context *ctx, const ad_grouping *g,
                                     const ad_grouped_weights *w, const float *x,
                                     const float *saved, const float *dy, bool per_pair,
                                     const ad_grouped_grads *grads, const char *fn)
{
    const int64_t rows = BACKWARD_ROWS;
    grouped_job j = {.ctx = ctx, .g = g, .w = w, .x = x, .dy = dy, .saved = saved,
                     .dy_per_pair = per_pair, .grads = grads, .rows = rows,
                     .slot_floats = rows * (w->in + w->out + 3 * w->hidden)};
    if (grads->db2 && !per_pair)
        ad_pool_for(ctx->pool, (w->out + BIAS_COLUMNS - 1) / BIAS_COLUMNS, 1,
                    output_bias_grad, &j);
    const ad_arena_mark mark = ad_arena_mark_now(&ctx->arena);
    adapt_status st = ad_scratch((void **)&j.pairs_out, ctx,
                                 (size_t)(g->pairs * w->in + 1) * sizeof(float), fn);
    if (!st)
        st = run_slots(&j, g->groups, backward_groups, fn);
    if (!st && grads->dx)
        merge(ctx, &(merge_job){g, j.pairs_out, NULL, grads->dx, w->in, true});
    ad_arena_rewind(&ctx->arena, mark);
    return st;
}

int64_t ad_grouped_rows_floats(const ad_grouped_weights *w, int64_t rows)
{
    return rows * (w->in + w->hidden + w->out + 1);
}

/* Rows of group e among the block's: their indexes, n of them. */
static int64_t rows_of(int32_t *index, const uint8_t *selected, int64_t groups, int64_t e,
                       int64_t rows)
{
    int64_t n = 0;
    for (int64_t t = 0; t < rows; t++)
        if (selected[t * groups + e])
            index[n++] = (int32_t)t;
    return n;
}

adapt_status ad_grouped_ffn_rows(adapt_backend backend, const ad_grouped_weights *w,
                                 const uint8_t *selected, int64_t groups, int64_t rows,
                                 const float *x, float *y, float *scratch)
{
    float *xs = scratch, *hs = xs + rows * w->in, *ys = hs + rows * w->hidden;
    int32_t *index = (int32_t *)(ys + rows * w->out);
    memset(y, 0, (size_t)(rows * w->out) * sizeof *y);
    adapt_status st = ADAPT_OK;
    for (int64_t e = 0; e < groups && !st; e++) {
        const int64_t n = rows_of(index, selected, groups, e, rows);
        if (!n)
            continue;
        if (n < rows) /* every row: the block's own rows are the gathered ones */
            gather_rows(xs, x, w->in, index, n, 1, 0);
        st = expert_product(backend, n, w->hidden, w->in, n < rows ? xs : x, w1_of(w, e), hs);
        ad_bias_act_rows(n, w->hidden, w->hidden, w->b1 ? w->b1 + e * w->hidden : NULL, w->act,
                         hs);
        if (!st)
            st = expert_product(backend, n, w->out, w->hidden, hs, w2_of(w, e), ys);
        for (int64_t i = 0; !st && i < n; i++) {
            float *restrict to = y + (int64_t)index[i] * w->out;
            const float *restrict from = ys + i * w->out;
            for (int64_t c = 0; c < w->out; c++)
                to[c] += from[c];
        }
    }
    if (!st && w->b2)
        ad_bias_act_rows(rows, w->out, w->out, w->b2, AD_ACT_NONE, y);
    return st;
}
