/* Counter-based random numbers: value i of stream s is a pure function of
 * (seed, s, i), so results do not depend on thread count or loop order. */
#ifndef AD_CORE_RNG_H
#define AD_CORE_RNG_H

#include <math.h>
#include <stdint.h>

static inline uint64_t ad_mix64(uint64_t x)
{
    /* splitmix64 finaliser: a bijection with full avalanche. */
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

/* 24 random bits. */
static inline uint32_t ad_bits24(uint64_t seed, uint64_t stream, uint64_t index)
{
    return (uint32_t)(ad_mix64(ad_mix64(seed ^ ad_mix64(stream)) + index) >> 40);
}

/* Uniform in [0, 1) with 24 random bits. */
static inline float ad_uniform(uint64_t seed, uint64_t stream, uint64_t index)
{
    return (float)ad_bits24(seed, stream, index) * (1.0f / 16777216.0f);
}

/* Gumbel noise -log(-log u) of 24 random bits, with u = (bits + 1/2) / 2^24 strictly inside
 * (0, 1) in double precision: finite for every draw (-2.85 to 17.3). In float, the top draw's
 * u would round to 1 and its noise be infinite. */
static inline float ad_gumbel_of_bits(uint32_t bits)
{
    const double u = ((double)bits + 0.5) / 16777216.0;
    return (float)-log(-log(u));
}

static inline float ad_gumbel(uint64_t seed, uint64_t stream, uint64_t index)
{
    return ad_gumbel_of_bits(ad_bits24(seed, stream, index));
}

#endif
