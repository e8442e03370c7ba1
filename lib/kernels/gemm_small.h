/* Small products, C[m x n] (+)= A[m x k] B[k x n], all row-major: the per-expert GEMMs of a
 * Mixture-of-Experts layer (lib/kernels/grouped_ffn.c), a few dozen gathered token rows
 * against one expert's weights. A GEMM library's fixed cost per call and its packing of both
 * operands weigh on products this small, so this kernel packs nothing: register tiles of
 * rows x 32 columns read B straight from its rows (products of at most four rows sweep along
 * whole rows of B instead), so a product whose B block stays in L1/L2 (an expert's weights)
 * runs near the FMA peak from the first call.
 *
 * Determinism: every output element is one chain of multiply-adds over p = 0 .. k-1 in order,
 * started from 0 (or from C when accumulating), whatever the tiling. So a row of C has the same
 * bits whatever m is and wherever the row falls among the others, and a column the same bits
 * whatever n is. The AVX-512 path fuses each multiply-add (one rounding); the portable path
 * may not, so the two paths agree to rounding, not bit for bit. */
#ifndef AD_KERNELS_GEMM_SMALL_H
#define AD_KERNELS_GEMM_SMALL_H

#include <stdbool.h>
#include <stdint.h>

/* C[m x n] (+)= A[m x k] B[k x n], all row-major, on the calling thread, without packing:
 * register tiles of rows x 32 columns read B straight from its rows, so a product whose B
 * block stays in L1/L2 (an expert's weights) runs near the FMA peak from the first call.
 * accumulate: add to C instead of overwriting it (without it C is not read: NaN there is fine).
 * Any m, n, k >= 0 (n need not be a multiple of 16: masked tails); k = 0 zeroes C or leaves it.
 * lda >= k, ldb >= n, ldc >= n; C overlaps neither A nor B. The AVX-512 kernel where the
 * machine has it, else the portable one. */
void ad_gemm_small(int64_t m, int64_t n, int64_t k, const float *a, int64_t lda, const float *b,
                   int64_t ldb, float *c, int64_t ldc, bool accumulate);

/* The same contract in plain C (loops the compiler vectorises): what ad_gemm_small runs on
 * machines without AVX-512 and in builds for other architectures. Exposed for the tests. */
void ad_gemm_small_portable(int64_t m, int64_t n, int64_t k, const float *a, int64_t lda,
                            const float *b, int64_t ldb, float *c, int64_t ldc, bool accumulate);

#endif
