#include "lib/linalg/spd.h"

#include <limits.h>

#include "lib/core/error.h"
#include "lib/kernels/gemm.h"

/* The Fortran entry points, exported by OpenBLAS and by the reference BLAS and LAPACK. */
extern void dsyrk_(const char *uplo, const char *trans, const int *n, const int *k,
                   const double *alpha, const double *a, const int *lda, const double *beta,
                   double *c, const int *ldc);
extern void dposv_(const char *uplo, const int *n, const int *nrhs, double *a, const int *lda,
                   double *b, const int *ldb, int *info);

/* Row-major storage is the column-major transpose: a row-major upper triangle is LAPACK's
 * lower one ("L"), and x [rows, n] row-major is the column-major n x rows matrix xᵀ, so
 * xᵀ x is LAPACK's A Aᵀ ("N") with A = that matrix. */
void ad_gram_add(double *c, const double *x, int64_t rows, int64_t n)
{
    const int ni = (int)n, k = (int)rows;
    const double one = 1.0;
    ad_blas_one_thread();
    if (rows > 0)
        dsyrk_("L", "N", &ni, &k, &one, x, &ni, &one, c, &ni);
}

void ad_symmetrize_upper(double *c, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < i; j++)
            c[i * n + j] = c[j * n + i];
}

int ad_spd_fits(int64_t n, int64_t nrhs)
{
    return n >= 1 && nrhs >= 0 && n <= INT_MAX / (n > 0 ? n : 1) && nrhs <= INT_MAX / n;
}

adapt_status ad_spd_solve(double *a, double *b, int64_t n, int64_t nrhs, const char *fn)
{
    if (!ad_spd_fits(n, nrhs))
        return ad_fail(ADAPT_ERR_OVERFLOW, "%s: a %lld x %lld system is too large for LAPACK",
                       fn, (long long)n, (long long)n);
    const int ni = (int)n, ri = (int)nrhs;
    int info = 0;
    ad_blas_one_thread();
    dposv_("L", &ni, &ri, a, &ni, b, &ni, &info);
    if (info > 0)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: the %lld x %lld matrix is not "
                       "positive definite (LAPACK dposv info %d)", fn, (long long)n,
                       (long long)n, info);
    if (info < 0)
        return ad_fail(ADAPT_ERR_INTERNAL, "%s: LAPACK dposv rejected argument %d", fn, -info);
    return ADAPT_OK;
}
