/* Single-precision GEMM behind one call, dispatched to the context's backend:
 *   C[m x n] = alpha * op(A) * op(B) + beta * C,   row-major,
 * op(X) = X or X^T. Callers validate shapes; sizes must fit in int32 (BLAS). */
#ifndef AD_KERNELS_GEMM_H
#define AD_KERNELS_GEMM_H

#include <stdbool.h>
#include <stdint.h>

#include "adapt.h"
#include "lib/core/threads.h"

typedef struct ad_gemm_args {
    bool trans_a, trans_b;
    int64_t m, n, k;
    float alpha;
    const float *a;
    int64_t lda;
    const float *b;
    int64_t ldb;
    float beta;
    float *c;
    int64_t ldc;
} ad_gemm_args;

/* OK if `backend` is a known value built into this library. */
adapt_status ad_gemm_check_backend(adapt_backend backend, const char *fn);

/* OVERFLOW unless every size and leading dimension fits the BLAS int. */
adapt_status ad_gemm_check_sizes(const ad_gemm_args *g, const char *fn);

/* On the calling thread alone. Fails only where a backend can (oneDNN out of memory). */
adapt_status ad_gemm(adapt_backend backend, const ad_gemm_args *g);

/* Called on a part of a pooled product once it is computed: `part` is the
 * block of C starting at (row, col) of the whole, its operands offset to it. */
typedef void (*ad_gemm_finish_fn)(void *arg, int64_t row, int64_t col,
                                  const ad_gemm_args *part);

/* The product split over `pool` (gemm_split.c), each part finished by `finish`
 * (may be NULL) on the thread that computed it. A NULL pool runs it inline. */
adapt_status ad_gemm_pooled(ad_pool *pool, adapt_backend backend, const ad_gemm_args *g,
                            ad_gemm_finish_fn finish, void *finish_arg);

/* The backends, single-threaded; each computes exactly the contract above. */
void ad_gemm_reference(const ad_gemm_args *g);
void ad_gemm_openblas(const ad_gemm_args *g);

/* OpenBLAS on the calling thread alone, for every BLAS and LAPACK call the library makes:
 * it threads its own work, and OpenBLAS's threaded paths end the process when one of their
 * allocations fails. */
void ad_blas_one_thread(void);
adapt_status ad_gemm_onednn(const ad_gemm_args *g);

#endif
