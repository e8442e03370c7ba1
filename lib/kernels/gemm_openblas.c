#include "lib/kernels/gemm.h"

#include <cblas.h>
#include <pthread.h>

#include "adapt_config.h"

/* The library threads products itself (gemm_split.c), so OpenBLAS runs each
 * call on the calling thread. Its thread count is process-wide: set once. */
static void one_thread(void)
{
#if AD_HAVE_OPENBLAS_THREADS
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
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, one_thread);
    if (g->m == 1) {
        row_times_matrix(g);
        return;
    }
    cblas_sgemm(CblasRowMajor, g->trans_a ? CblasTrans : CblasNoTrans,
                g->trans_b ? CblasTrans : CblasNoTrans, (int)g->m, (int)g->n, (int)g->k,
                g->alpha, g->a, (int)g->lda, g->b, (int)g->ldb, g->beta, g->c, (int)g->ldc);
}
