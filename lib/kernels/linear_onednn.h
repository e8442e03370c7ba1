/* y = act(x W^T + b) as one oneDNN matmul primitive: bias and activation
 * fused into the kernel, weights read in their stored [n, k] layout.
 * Where the batch is a few hundred rows this primitive keeps both cores
 * busy far better than sgemm does (docs/benchmarks.md); elsewhere sgemm is
 * as fast or faster, so callers ask ad_onednn_linear_suits first. */
#ifndef AD_KERNELS_LINEAR_ONEDNN_H
#define AD_KERNELS_LINEAR_ONEDNN_H

#include <stdbool.h>
#include <stdint.h>

#include "adapt.h"
#include "lib/core/arena.h"
#include "lib/kernels/epilogue.h"

typedef struct {
    int64_t m, n, k;
    const float *x;    /* [m, k] */
    const float *w;    /* [n, k] */
    const float *bias; /* [n] or NULL */
    ad_act act;
    float *y;          /* [m, n] */
} ad_linear_args;

/* Whether `backend` runs this shape through the primitive. */
bool ad_onednn_linear_suits(adapt_backend backend, int64_t m, int64_t n, int64_t k);

/* Runs on n_threads OpenMP threads with its scratch memory taken from (and
 * handed back to) `scratch`. OUT_OF_MEMORY or INTERNAL with a message;
 * UNSUPPORTED, without one, when oneDNN has no kernel for the case and the
 * caller should compute it otherwise. Sizes must fit the caller's checks. */
adapt_status ad_onednn_linear(int32_t n_threads, const ad_linear_args *a, ad_arena *scratch);

#endif
