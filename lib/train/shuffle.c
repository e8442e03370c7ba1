/* Fisher-Yates driven by the counter-based generator of lib/core/rng.h: draw i is a pure
 * function of (seed, stream, i), so a permutation is reproducible on any platform. */
#include "lib/train/shuffle.h"

#include "lib/core/rng.h"

void ad_permutation(int64_t *perm, int64_t n, uint64_t seed, uint64_t stream)
{
    for (int64_t i = 0; i < n; i++)
        perm[i] = i;
    const uint64_t key = ad_mix64(seed ^ ad_mix64(stream));
    for (int64_t i = n - 1; i > 0; i--) {
        /* The modulo bias is below 2^-30 for any n that fits in memory. */
        const int64_t j = (int64_t)(ad_mix64(key + (uint64_t)i) % (uint64_t)(i + 1));
        const int64_t t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
}
