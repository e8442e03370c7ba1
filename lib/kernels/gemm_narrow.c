#include "lib/kernels/gemm_narrow.h"

#include <string.h>

#include "lib/core/context.h"
#include "lib/kernels/vector_math.h"

#define LANES AD_NARROW_MAX_COLS
#define ROWS 8            /* rows in flight: independent chains hide the additions' latency */
#define MIN_WORK 65536    /* multiply-adds worth a thread */

typedef float float_x16 __attribute__((vector_size(LANES * sizeof(float))));

typedef struct {
    const ad_narrow_product *p;
    const float *packed; /* [k][LANES] */
} narrow_job;

bool ad_gemm_narrow_suits(adapt_backend backend, const ad_gemm_args *g)
{
    return backend != ADAPT_BACKEND_REFERENCE && !g->trans_a && g->trans_b && g->alpha == 1.0f &&
           g->beta == 0.0f && g->n <= AD_NARROW_MAX_COLS && g->lda == g->k && g->ldb == g->k &&
           g->ldc == g->n;
}

/* w [n][k] into packed [k][LANES], lanes n .. LANES zero. */
static void pack(float *packed, const float *w, int64_t n, int64_t k)
{
    memset(packed, 0, (size_t)(k * LANES) * sizeof *packed);
    for (int64_t c = 0; c < n; c++)
        for (int64_t i = 0; i < k; i++)
            packed[i * LANES + c] = w[c * k + i];
}

/* `count` rows (at most ROWS) from `row` on; with count a constant the accumulators stay in
 * registers. */
static inline __attribute__((always_inline)) void row_block(const narrow_job *j, int64_t row,
                                                            int count)
{
    const ad_narrow_product *p = j->p;
    float_x16 acc[ROWS] = {{0}};
    const float *x = p->x + row * p->k;
    for (int64_t i = 0; i < p->k; i++) {
        float_x16 w;
        memcpy(&w, j->packed + i * LANES, sizeof w);
#pragma GCC unroll 8
        for (int r = 0; r < count; r++)
            acc[r] += x[r * p->k + i] * w;
    }
    for (int r = 0; r < count; r++)
        memcpy(p->y + (row + r) * p->ldy, &acc[r], (size_t)p->n * sizeof(float));
}

/* Blocks [begin, end) of ROWS rows, each finished while warm. */
AD_VECTOR_CLONES
static void blocks(void *arg, int64_t begin, int64_t end)
{
    const narrow_job *j = arg;
    const ad_narrow_product *p = j->p;
    const int64_t first = begin * ROWS, last = end * ROWS < p->m ? end * ROWS : p->m;
    int64_t row = first;
    for (; row + ROWS <= last; row += ROWS)
        row_block(j, row, ROWS);
    if (row < last)
        row_block(j, row, (int)(last - row));
    if (p->bias || p->act != AD_ACT_NONE)
        ad_bias_act_rows(last - first, p->n, p->ldy, p->bias, p->act, p->y + first * p->ldy);
}

adapt_status ad_gemm_narrow(adapt_context *ctx, const ad_narrow_product *p, const char *fn)
{
    const ad_arena_mark mark = ad_arena_mark_now(&ctx->arena);
    float *packed;
    adapt_status st =
        ad_scratch((void **)&packed, ctx, (size_t)(p->k * LANES) * sizeof *packed, fn);
    if (!st) {
        pack(packed, p->w, p->n, p->k);
        narrow_job j = {p, packed};
        const int64_t grain = 1 + MIN_WORK / (ROWS * LANES * (p->k > 0 ? p->k : 1));
        ad_pool_for(ctx->pool, (p->m + ROWS - 1) / ROWS, grain, blocks, &j);
    }
    ad_arena_rewind(&ctx->arena, mark);
    return st;
}
