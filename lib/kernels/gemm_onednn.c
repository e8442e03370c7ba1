#include "lib/kernels/gemm.h"

#include "adapt_config.h"
#include "lib/core/error.h"

#if AD_HAVE_ONEDNN
#include "lib/kernels/onednn_guard.h"
#include <omp.h>

adapt_status ad_gemm_onednn(int32_t n_threads, const ad_gemm_args *g)
{
    /* Debian's oneDNN runs on OpenMP, whose thread count belongs to the
     * calling thread: exactly a per-context knob. */
    omp_set_num_threads(n_threads);
    dnnl_status_t st = ad_dnnl_sgemm(g->trans_a ? 'T' : 'N', g->trans_b ? 'T' : 'N', g->m, g->n,
                                  g->k, g->alpha, g->a, g->lda, g->b, g->ldb, g->beta, g->c,
                                  g->ldc);
    if (st == dnnl_success)
        return ADAPT_OK;
    if (st == dnnl_out_of_memory)
        return ad_fail(ADAPT_ERR_OUT_OF_MEMORY, "oneDNN sgemm: out of memory");
    return ad_fail(ADAPT_ERR_INTERNAL, "oneDNN sgemm failed with status %d", (int)st);
}
#else
adapt_status ad_gemm_onednn(int32_t n_threads, const ad_gemm_args *g)
{
    (void)n_threads;
    (void)g;
    return ad_fail(ADAPT_ERR_UNSUPPORTED, "this build has no oneDNN backend");
}
#endif
