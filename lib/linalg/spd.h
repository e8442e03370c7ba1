/* Symmetric positive definite algebra in double through BLAS and LAPACK: Gram matrices of
 * row-major data and solves by Cholesky factorisation. */
#ifndef AD_LINALG_SPD_H
#define AD_LINALG_SPD_H

#include <stdint.h>

#include "adapt.h"

/* c [n, n] += xᵀ x for x [rows, n] row-major; only c's upper triangle (row-major) is
 * updated. Sizes must fit LAPACK's int (the caller checks with ad_spd_fits). */
void ad_gram_add(double *c, const double *x, int64_t rows, int64_t n);

/* Copies c's upper triangle (row-major) onto its lower one. */
void ad_symmetrize_upper(double *c, int64_t n);

/* Whether an n x n system with nrhs right-hand sides fits LAPACK's int indices. */
int ad_spd_fits(int64_t n, int64_t nrhs);

/* Solves a x = b in place for a [n, n] symmetric positive definite (upper triangle read,
 * destroyed) and b [nrhs, n] row-major (each row a right-hand side, overwritten by its
 * solution). ADAPT_ERR_INVALID_ARGUMENT when a is not positive definite, naming `fn`. */
adapt_status ad_spd_solve(double *a, double *b, int64_t n, int64_t nrhs, const char *fn);

#endif
