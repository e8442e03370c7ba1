/* Single-precision GEMM behind one call, dispatched to the context's backend:
 *   C[m x n] = alpha * op(A) * op(B) + beta * C,   row-major,
 * op(X) = X or X^T. Callers validate shapes; sizes must fit in int32 (BLAS). */
#ifndef AD_KERNELS_GEMM_H
#define AD_KERNELS_GEMM_H

#include <stdbool.h>
#include <stdint.h>

#include "adapt.h"

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

/* Whether GEMMs of `backend` may run at the same time on several threads,
 * each with its own thread count (OpenBLAS keeps one process-wide count). */
bool ad_gemm_concurrent(adapt_backend backend);

/* The threads worth giving a product: one below 2^18 multiply-adds, where starting and
 * joining threads cost more than the work (a ViT's layers at batch 1, 17 tokens of 64), else
 * n_threads. ad_gemm applies it, so that a product's bits do not depend on who asks. */
int32_t ad_gemm_threads(const ad_gemm_args *g, int32_t n_threads);

/* Fails only where a backend can (oneDNN out of memory). */
adapt_status ad_gemm(adapt_backend backend, int32_t n_threads, const ad_gemm_args *g);

/* The backends; each computes exactly the contract above. */
void ad_gemm_reference(const ad_gemm_args *g);
void ad_gemm_openblas(int32_t n_threads, const ad_gemm_args *g);
adapt_status ad_gemm_onednn(int32_t n_threads, const ad_gemm_args *g);

#endif
