/* Balanced k-means: the step of MoEfication (D2DMoE) that splits a dense FFN's hidden neurons
 * into experts of equal size by clustering the rows of its first weight matrix. */
#ifndef AD_ADAPTIVE_MOE_KMEANS_H
#define AD_ADAPTIVE_MOE_KMEANS_H

#include <stdint.h>

#include "adapt.h"

/* Assigns each of the n rows of x[n, d] (row-major) to one of k clusters of exactly n / k rows,
 * by balanced k-means on the rows scaled to unit L2 norm (a zero row stays zero). Deterministic:
 * the same (x, k, seed) gives the same assignment on every machine and thread count.
 * cluster[n] receives values in [0, k), clusters numbered in the order of their first row
 * (cluster[0] = 0). `iterations` bounds the k-means rounds; it stops earlier once the
 * assignment no longer changes. Errors: INVALID_ARGUMENT (NULL, n < 1, d < 1, k < 1, k not
 * dividing n, iterations < 1), OVERFLOW (n x d or n x k work arrays not addressable),
 * NONFINITE (NaN/inf in x), OUT_OF_MEMORY; on error cluster[] is untouched. Messages start
 * with "<fn>: ". */
adapt_status ad_balanced_kmeans(int32_t *cluster, const float *x, int64_t n, int64_t d,
                                int64_t k, uint64_t seed, int32_t iterations, const char *fn);

#endif
