/* Counter-based random numbers: value i of stream s is a pure function of
 * (seed, s, i), so results do not depend on thread count or loop order. */
#ifndef AD_CORE_RNG_H
#define AD_CORE_RNG_H

#include <stdint.h>

static inline uint64_t ad_mix64(uint64_t x)
{
    /* splitmix64 finaliser: a bijection with full avalanche. */
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

/* Uniform in [0, 1) with 24 random bits. */
static inline float ad_uniform(uint64_t seed, uint64_t stream, uint64_t index)
{
    uint64_t bits = ad_mix64(ad_mix64(seed ^ ad_mix64(stream)) + index);
    return (float)(bits >> 40) * (1.0f / 16777216.0f);
}

#endif
