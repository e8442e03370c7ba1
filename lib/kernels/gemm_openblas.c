#include "lib/kernels/gemm.h"

#include <cblas.h>

#include "adapt_config.h"

/* The library threads products itself (gemm_split.c), so OpenBLAS runs each
 * call on the calling thread. Its thread count is process-wide, and the
 * application may change it between calls: checked each time. */
void ad_blas_one_thread(void)
{
#if AD_HAVE_OPENBLAS_THREADS
    if (openblas_get_num_threads() != 1)
        openblas_set_num_threads(1);
#endif
}

/* A single output row is a matrix-vector product; OpenBLAS's sgemm does not
 * notice and runs several times slower than its sgemv on it. */
static void row_times_matrix(const ad_gemm_args *g)
{
    int x_step = g->trans_a ? (int)g->lda : 1;
    if (g->trans_b) /* B is [n, k]: y = B x */
        cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)g->n, (int)g->k, g->alpha, g->b,
                    (int)g->ldb, g->a, x_step, g->beta, g->c, 1);
    else /* B is [k, n]: y = B^T x */
        cblas_sgemv(CblasRowMajor, CblasTrans, (int)g->k, (int)g->n, g->alpha, g->b,
                    (int)g->ldb, g->a, x_step, g->beta, g->c, 1);
}

void ad_gemm_openblas(const ad_gemm_args *g)
{
    ad_blas_one_thread();
    if (g->m == 1) {
        row_times_matrix(g);
        return;
    }
    cblas_sgemm(CblasRowMajor, g->trans_a ? CblasTrans : CblasNoTrans,
                g->trans_b ? CblasTrans : CblasNoTrans, (int)g->m, (int)g->n, (int)g->k,
                g->alpha, g->a, (int)g->lda, g->b, (int)g->ldb, g->beta, g->c, (int)g->ldc);
}
