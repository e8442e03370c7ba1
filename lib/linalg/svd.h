/* The thin singular value decomposition: LAPACK's dgesdd (divide
 * and conquer), in double, on row-major matrices. */
#ifndef AD_LINALG_SVD_H
#define AD_LINALG_SVD_H

#include <stdint.h>

#include "adapt.h"

/* a [m, n] (row-major, destroyed) = u diag(s) vt with k = min(m, n): u [m, k], s [k]
 * non-increasing, vt [k, n], all row-major. OUT_OF_MEMORY, OVERFLOW (a dimension beyond
 * LAPACK's int) or INTERNAL (no convergence) otherwise, naming `fn`. */
adapt_status ad_svd_thin(double *a, int64_t m, int64_t n, double *u, double *s, double *vt,
                         const char *fn);

#endif
