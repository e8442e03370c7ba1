#include "lib/kernels/gemm.h"

/* Plain loops, written for clarity: this is the numerical reference the
 * tests hold the fast backends against. Accumulates in double. */
void ad_gemm_reference(const ad_gemm_args *g)
{
    for (int64_t i = 0; i < g->m; i++) {
        for (int64_t j = 0; j < g->n; j++) {
            double acc = 0.0;
            for (int64_t p = 0; p < g->k; p++) {
                float a = g->trans_a ? g->a[p * g->lda + i] : g->a[i * g->lda + p];
                float b = g->trans_b ? g->b[j * g->ldb + p] : g->b[p * g->ldb + j];
                acc += (double)a * b;
            }
            float *c = &g->c[i * g->ldc + j];
            /* beta == 0 overwrites, as BLAS does, so stale NaNs never leak. */
            *c = g->beta == 0.0f ? g->alpha * (float)acc : g->alpha * (float)acc + g->beta * *c;
        }
    }
}
