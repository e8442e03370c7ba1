/* One product split over the pool. Each part is a block of C, computed by one
 * single-threaded GEMM and finished (bias, activation) while it is warm in the
 * cache of the core that made it. The library threads its products this way
 * rather than through the backends' own threads: those spin between calls
 * against everything else on the machine (OpenMP for oneDNN, OpenBLAS's
 * workers) and exit the process when they cannot allocate.
 *
 * Which block a part covers depends only on the shape and the seat count, so a
 * product's bits do not depend on timing. */
#include "lib/kernels/gemm.h"

#include <stdatomic.h>

#include "lib/core/error.h"

/* Below this many multiply-adds a part costs more to hand out than it saves
 * (a ViT's layers at batch 1: 17 tokens of 64). */
#define PART_MIN_WORK (1 << 18)
#define COLUMN_BLOCK 16 /* columns per unit: whole vector registers */
#define ROW_BLOCK 8     /* rows per unit: whole microkernel tiles */
#define NARROW_PART 128 /* columns: below this a part of a wide product is slow */

typedef struct {
    adapt_backend backend;
    ad_gemm_args g; /* the whole product */
    bool by_columns;
    int64_t block; /* rows or columns per unit */
    ad_gemm_finish_fn finish;
    void *finish_arg;
    atomic_int status;
} split_job;

/* Blocks [begin, end) of rows or columns. */
static void part(void *arg, int64_t begin, int64_t end)
{
    split_job *j = arg;
    ad_gemm_args g = j->g;
    int64_t row = 0, col = 0;
    if (j->by_columns) {
        col = begin * j->block;
        g.n = (end * j->block < g.n ? end * j->block : g.n) - col;
        g.b += g.trans_b ? col * g.ldb : col;
        g.c += col;
    } else {
        row = begin * j->block;
        g.m = (end * j->block < g.m ? end * j->block : g.m) - row;
        g.a += g.trans_a ? row : row * g.lda;
        g.c += row * g.ldc;
    }
    adapt_status st = ad_gemm(j->backend, &g);
    if (st)
        atomic_store(&j->status, st);
    else if (j->finish)
        j->finish(j->finish_arg, row, col, &g);
}

adapt_status ad_gemm_pooled(ad_pool *pool, adapt_backend backend, const ad_gemm_args *g,
                            ad_gemm_finish_fn finish, void *finish_arg)
{
    split_job j = {backend, *g, false, 0, finish, finish_arg, ADAPT_OK};
    /* Split the larger side: each part then reads all of the smaller operand
     * and its own share of the larger one. But parts narrower than
     * NARROW_PART columns run well below the kernels' speed (a ViT's 192
     * outputs at batch 1, 65 tokens, in two parts of 96: 87 us against 73 us
     * for two parts of 33 rows, fc2 of a ViT-S block on one core), so a product
     * with rows enough for whole tiles splits its rows instead. */
    const int64_t seats = ad_pool_seats(pool);
    j.by_columns = g->n > g->m && (g->n >= NARROW_PART * seats || g->m < 2 * ROW_BLOCK * seats);
    /* Few rows split in whole tiles balance badly (65 tokens: 40 and 25 rows): then rows
     * one by one. */
    j.block = j.by_columns ? COLUMN_BLOCK : g->m < 8 * ROW_BLOCK * seats ? 1 : ROW_BLOCK;
    const int64_t size = j.by_columns ? g->n : g->m;
    const double block_work = (double)j.block * (double)(j.by_columns ? g->m : g->n) * g->k;
    const int64_t grain = 1 + (int64_t)(PART_MIN_WORK / (block_work > 1 ? block_work : 1));
    ad_pool_for(pool, (size + j.block - 1) / j.block, grain, part, &j);
    const adapt_status st = atomic_load(&j.status);
    return st ? ad_fail(st, "a part of a GEMM failed (%s)", adapt_status_string(st)) : ADAPT_OK;
}
