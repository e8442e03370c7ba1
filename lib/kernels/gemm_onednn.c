#include "lib/kernels/gemm.h"

#include "adapt_config.h"
#include "lib/core/error.h"

#if AD_HAVE_ONEDNN
#include "lib/kernels/onednn_guard.h"
#include <omp.h>

adapt_status ad_gemm_onednn(const ad_gemm_args *g)
{
    /* Debian's oneDNN threads on OpenMP with the calling thread's OpenMP
     * thread count. The library threads products itself (gemm_split.c), so
     * the call runs on one thread, and the caller's own count is put back. */
    const int callers = omp_get_max_threads();
    if (callers != 1)
        omp_set_num_threads(1);
    dnnl_status_t st = ad_dnnl_sgemm(g->trans_a ? 'T' : 'N', g->trans_b ? 'T' : 'N', g->m, g->n,
                                     g->k, g->alpha, g->a, g->lda, g->b, g->ldb, g->beta, g->c,
                                     g->ldc);
    if (callers != 1)
        omp_set_num_threads(callers);
    if (st == dnnl_success)
        return ADAPT_OK;
    if (st == dnnl_out_of_memory)
        return ad_fail(ADAPT_ERR_OUT_OF_MEMORY, "oneDNN sgemm: out of memory");
    return ad_fail(ADAPT_ERR_INTERNAL, "oneDNN sgemm failed with status %d", (int)st);
}
#else
adapt_status ad_gemm_onednn(const ad_gemm_args *g)
{
    (void)g;
    return ad_fail(ADAPT_ERR_UNSUPPORTED, "this build has no oneDNN backend");
}
#endif
