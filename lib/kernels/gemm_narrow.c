#include "lib/kernels/gemm_narrow.h"

#include <string.h>

#include "lib/core/context.h"
#include "lib/kernels/vector_math.h"

#define LANES 16
#define ROWS 4         /* rows sharing each load of a weight vector */
#define MIN_WORK 65536 /* multiply-adds worth a thread */

typedef float float_x16 __attribute__((vector_size(LANES * sizeof(float))));

bool ad_gemm_narrow_suits(adapt_backend backend, const ad_gemm_args *g)
{
    return backend != ADAPT_BACKEND_REFERENCE && !g->trans_a && g->trans_b && g->alpha == 1.0f &&
           g->beta == 0.0f && g->n <= AD_NARROW_MAX_COLS && g->lda == g->k && g->ldb == g->k &&
           g->ldc == g->n;
}

/* The lanes' sum in a fixed order: halves added lane by lane, down to one. */
static inline __attribute__((always_inline)) float lanes_total(float_x16 v)
{
    float s[LANES];
    memcpy(s, &v, sizeof s);
    for (int half = LANES / 2; half >= 1; half /= 2)
        for (int l = 0; l < half; l++)
            s[l] += s[l + half];
    return s[0];
}

/* `count` rows (at most ROWS) from `row` on; with count a constant the accumulators stay in
 * registers. Lane l of an output's accumulator sums the products of k = l mod 16, in k order;
 * the lanes are then added in a fixed order. */
static inline __attribute__((always_inline)) void row_block(const ad_narrow_product *p,
                                                            int64_t row, int count)
{
    const int64_t k = p->k, whole = k / LANES * LANES;
    const float *x = p->x + row * k;
    for (int64_t c = 0; c < p->n; c++) {
        const float *w = p->w + c * k;
        float_x16 acc[ROWS] = {{0}};
        for (int64_t i = 0; i < whole; i += LANES) {
            float_x16 wv, xv;
            memcpy(&wv, w + i, sizeof wv);
#pragma GCC unroll 4
            for (int r = 0; r < count; r++) {
                memcpy(&xv, x + r * k + i, sizeof xv);
                acc[r] += xv * wv;
            }
        }
        for (int64_t i = whole; i < k; i++)
            for (int r = 0; r < count; r++)
                acc[r][i - whole] += x[r * k + i] * w[i];
        for (int r = 0; r < count; r++)
            p->y[(row + r) * p->ldy + c] = lanes_total(acc[r]);
    }
}

/* Rows [first, last), finished while warm. */
AD_VECTOR_CLONES
static void rows_range(const ad_narrow_product *p, int64_t first, int64_t last)
{
    int64_t row = first;
    for (; row + ROWS <= last; row += ROWS)
        row_block(p, row, ROWS);
    for (; row < last; row++)
        row_block(p, row, 1);
    if (p->bias || p->act != AD_ACT_NONE)
        ad_bias_act_rows(last - first, p->n, p->ldy, p->bias, p->act, p->y + first * p->ldy);
}

/* Blocks [begin, end) of ROWS rows. */
static void blocks(void *arg, int64_t begin, int64_t end)
{
    const ad_narrow_product *p = arg;
    rows_range(p, begin * ROWS, end * ROWS < p->m ? end * ROWS : p->m);
}

void ad_gemm_narrow_rows(const ad_narrow_product *p, int64_t first, int64_t last)
{
    rows_range(p, first, last);
}

void ad_gemm_narrow(adapt_context *ctx, const ad_narrow_product *p)
{
    const int64_t block_work = ROWS * (p->n * p->k > 0 ? p->n * p->k : 1);
    ad_pool_for(ctx->pool, (p->m + ROWS - 1) / ROWS, 1 + MIN_WORK / block_work, blocks,
                (void *)p);
}
