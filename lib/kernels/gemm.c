#include "lib/kernels/gemm.h"

#include "adapt_config.h"
#include "lib/core/error.h"

int adapt_backend_available(adapt_backend backend)
{
    switch (backend) {
    case ADAPT_BACKEND_DEFAULT:
    case ADAPT_BACKEND_REFERENCE:
    case ADAPT_BACKEND_OPENBLAS:
        return 1;
    case ADAPT_BACKEND_ONEDNN:
        return AD_HAVE_ONEDNN;
    }
    return 0;
}

adapt_status ad_gemm_check_backend(adapt_backend backend, const char *fn)
{
    if (backend == ADAPT_BACKEND_ONEDNN && !AD_HAVE_ONEDNN)
        return ad_fail(ADAPT_ERR_UNSUPPORTED, "%s: this build has no oneDNN backend", fn);
    if (!adapt_backend_available(backend))
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: unknown backend %d", fn, (int)backend);
    return ADAPT_OK;
}

adapt_status ad_gemm_check_sizes(const ad_gemm_args *g, const char *fn)
{
    const int64_t limit = INT32_MAX;
    if (g->m > limit || g->n > limit || g->k > limit || g->lda > limit || g->ldb > limit ||
        g->ldc > limit)
        return ad_fail(ADAPT_ERR_OVERFLOW, "%s: matrix dimension above %lld", fn,
                       (long long)limit);
    return ADAPT_OK;
}

adapt_status ad_gemm(adapt_backend backend, const ad_gemm_args *g)
{
    if (g->m == 0 || g->n == 0)
        return ADAPT_OK;
    switch (backend) {
    case ADAPT_BACKEND_REFERENCE:
        ad_gemm_reference(g);
        return ADAPT_OK;
    case ADAPT_BACKEND_DEFAULT:
        /* oneDNN uses the widest vector units the CPU has, OpenBLAS only what
         * its (possibly pinned) core type allows: prefer oneDNN when built. */
        if (AD_HAVE_ONEDNN)
            return ad_gemm_onednn(g);
        break;
    case ADAPT_BACKEND_ONEDNN:
        return ad_gemm_onednn(g);
    case ADAPT_BACKEND_OPENBLAS:
        break;
    }
    ad_gemm_openblas(g);
    return ADAPT_OK;
}
