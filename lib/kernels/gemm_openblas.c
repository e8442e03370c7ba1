#include "lib/kernels/gemm.h"

#include <cblas.h>
#include <stdatomic.h>

#include "adapt_config.h"

/* OpenBLAS keeps one process-wide thread count. Setting it costs a call into
 * the library, so it is only touched when a context asks for another count. */
static void use_threads(int32_t n_threads)
{
#if AD_HAVE_OPENBLAS_THREADS
    static atomic_int current;
    if (atomic_exchange(&current, n_threads) != n_threads)
        openblas_set_num_threads(n_threads);
#else
    (void)n_threads;
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

void ad_gemm_openblas(int32_t n_threads, const ad_gemm_args *g)
{
    use_threads(n_threads);
    if (g->m == 1) {
        row_times_matrix(g);
        return;
    }
    cblas_sgemm(CblasRowMajor, g->trans_a ? CblasTrans : CblasNoTrans,
                g->trans_b ? CblasTrans : CblasNoTrans, (int)g->m, (int)g->n, (int)g->k,
                g->alpha, g->a, (int)g->lda, g->b, (int)g->ldb, g->beta, g->c, (int)g->ldc);
}
