/* Products with few output columns, y[m][n] = x[m][k] w[n][k]^T for n <= 16: the classifier
 * at the end of a network and every early-exit head. A GEMM library's blocking is built for
 * wide outputs; at ten columns, in early-exit inference, oneDNN's sgemm spent most of its
 * time outside the arithmetic (docs/early_exits.md#speed). Each output is a dot product of 16
 * lanes, lane l summing the products of k = l mod 16 in k order, the lanes then added in a
 * fixed order: the same bits for any row position, batch size or thread count. Nothing is
 * packed, so a single row (batch-1 inference) costs only its products. The linear layer's op
 * and its untaped path both take it, so training and inference agree bit for bit. */
#ifndef AD_KERNELS_GEMM_NARROW_H
#define AD_KERNELS_GEMM_NARROW_H

#include <stdbool.h>
#include <stdint.h>

#include "adapt.h"
#include "lib/kernels/epilogue.h"
#include "lib/kernels/gemm.h"

#define AD_NARROW_MAX_COLS 16

typedef struct {
    int64_t m, n, k;
    const float *x;    /* [m][k] */
    const float *w;    /* [n][k] */
    const float *bias; /* [n] or NULL */
    ad_act act;
    float *y;    /* [m][n], rows ldy apart */
    int64_t ldy; /* >= n */
} ad_narrow_product;

/* Whether `g` is a product the kernel takes: y = x w^T with contiguous rows, alpha 1, beta 0,
 * at most AD_NARROW_MAX_COLS columns, under any backend but the reference one. */
bool ad_gemm_narrow_suits(adapt_backend backend, const ad_gemm_args *g);

/* y = act(x w^T + bias) over the context's threads. */
void ad_gemm_narrow(adapt_context *ctx, const ad_narrow_product *p);

/* Rows [first, last) of y on the calling thread: the same bits. */
void ad_gemm_narrow_rows(const ad_narrow_product *p, int64_t first, int64_t last);

#endif
