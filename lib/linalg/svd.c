#include "lib/linalg/svd.h"

#include <limits.h>
#include <stdlib.h>

#include "lib/core/error.h"
#include "lib/kernels/gemm.h"

/* LAPACK's Fortran entry point, exported by OpenBLAS and by the reference LAPACK alike. */
extern void dgesdd_(const char *jobz, const int *m, const int *n, double *a, const int *lda,
                    double *s, double *u, const int *ldu, double *vt, const int *ldvt,
                    double *work, const int *lwork, int *iwork, int *info);

/* LAPACK reads column-major storage: the row-major a [m, n] is its transpose aᵀ [n, m]. The
 * thin SVD aᵀ = U' S V'ᵀ gives a = V' S U'ᵀ, and in row-major terms LAPACK's V'ᵀ [k, m]
 * column-major is our u [m, k], its U' [n, k] column-major our vt [k, n]. */
adapt_status ad_svd_thin(double *a, int64_t m, int64_t n, double *u, double *s, double *vt,
                         const char *fn)
{
    if (m > INT_MAX / 8 || n > INT_MAX / 8 || m * n > INT_MAX)
        return ad_fail(ADAPT_ERR_OVERFLOW, "%s: a %lld x %lld matrix is too large for LAPACK",
                       fn, (long long)m, (long long)n);
    const int rows = (int)n, cols = (int)m, k = rows < cols ? rows : cols;
    int *iwork = malloc(8 * (size_t)k * sizeof *iwork);
    double query;
    int lwork = -1, info = 0;
    ad_blas_one_thread();
    if (iwork)
        dgesdd_("S", &rows, &cols, a, &rows, s, vt, &rows, u, &k, &query, &lwork, iwork, &info);
    if (iwork && (info != 0 || !(query < (double)INT_MAX))) {
        free(iwork);
        return ad_fail(ADAPT_ERR_INTERNAL, "%s: LAPACK dgesdd's workspace query for a %lld x "
                       "%lld matrix failed (info %d)", fn, (long long)m, (long long)n, info);
    }
    double *work = NULL;
    if (iwork) {
        lwork = (int)query;
        work = malloc((size_t)lwork * sizeof *work);
    }
    if (!work) {
        free(iwork);
        return ad_fail(ADAPT_ERR_OUT_OF_MEMORY, "%s: no memory for the SVD of a %lld x %lld "
                       "matrix", fn, (long long)m, (long long)n);
    }
    dgesdd_("S", &rows, &cols, a, &rows, s, vt, &rows, u, &k, work, &lwork, iwork, &info);
    free(work);
    free(iwork);
    if (info != 0)
        return ad_fail(ADAPT_ERR_INTERNAL, "%s: the SVD of a %lld x %lld matrix failed "
                       "(LAPACK dgesdd info %d)", fn, (long long)m, (long long)n, info);
    return ADAPT_OK;
}
