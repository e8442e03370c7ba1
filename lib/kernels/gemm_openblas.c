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

void ad_gemm_openblas(int32_t n_threads, const ad_gemm_args *g)
{
    use_threads(n_threads);
    cblas_sgemm(CblasRowMajor, g->trans_a ? CblasTrans : CblasNoTrans,
                g->trans_b ? CblasTrans : CblasNoTrans, (int)g->m, (int)g->n, (int)g->k,
                g->alpha, g->a, (int)g->lda, g->b, (int)g->ldb, g->beta, g->c, (int)g->ldc);
}
