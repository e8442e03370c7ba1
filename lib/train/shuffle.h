/* Seeded permutations for dataset splits and per-epoch shuffling. */
#ifndef AD_TRAIN_SHUFFLE_H
#define AD_TRAIN_SHUFFLE_H

#include <stdint.h>

/* Fills perm[0..n) with a permutation of 0..n-1 that depends only on (seed, stream, n). */
void ad_permutation(int64_t *perm, int64_t n, uint64_t seed, uint64_t stream);

#endif
