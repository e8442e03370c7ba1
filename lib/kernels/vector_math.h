/* Branch-free exp and erf that the compiler vectorises: libm's expf and erff
 * are calls, which keep every loop around them scalar. Plus the attribute
 * that compiles a hot loop once per vector ISA and picks the clone at load
 * time, so that a baseline x86-64 build still runs AVX2 or AVX-512 code. */
#ifndef AD_KERNELS_VECTOR_MATH_H
#define AD_KERNELS_VECTOR_MATH_H

#include <math.h>
#include <stdint.h>
#include <string.h>

/* For static functions only: GCC exports the dispatcher of an external one
 * whatever its visibility. GCC only: clang before 16 emits no plain symbol
 * for a cloned function. Not under ThreadSanitizer, which instruments the
 * clones' resolvers: they run while the program is relocated, before it is
 * ready, and crash. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && \
    !defined(__SANITIZE_THREAD__)
#define AD_VECTOR_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#endif
#ifndef AD_VECTOR_CLONES
#define AD_VECTOR_CLONES
#endif

/* For a kernel written for AVX-512 alone (its 32 registers of 16 floats), run only where the
 * machine has it: the attribute and the check. */
#if defined(__x86_64__) && defined(__GNUC__)
#define AD_TARGET_AVX512 __attribute__((target("avx512f")))
#define ad_has_avx512() __builtin_cpu_supports("avx512f")
#else
#define AD_TARGET_AVX512
#define ad_has_avx512() 0
#endif

/* Below this, e^x (< 2.7e-38) is returned as 0; above it as inf. */
#define AD_VEXP_MIN (-86.5f)
#define AD_VEXP_MAX 88.72283f

/* e^x within about 2 ulp; NaN stays NaN. x = n ln2 + r with |r| <= ln2 / 2,
 * e^r by a minimax polynomial (Cephes' expf coefficients), 2^n built in the
 * exponent bits. */
static inline float ad_vexp(float x)
{
    const float magic = 12582912.0f; /* 1.5 * 2^23: adding it rounds to an integer */
    float c = x < AD_VEXP_MIN ? AD_VEXP_MIN : x;
    c = c > AD_VEXP_MAX ? AD_VEXP_MAX : c;
    const float t = c * 1.44269504088896341f + magic;
    uint32_t t_bits;
    memcpy(&t_bits, &t, sizeof t_bits);
    const float n = t - magic;
    float r = c - n * 0.693359375f;
    r = r + n * 2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    /* n = t_bits - bits(magic) lies in [-125, 128]; 2^n as 2 * 2^(n - 1)
     * keeps the exponent field in [1, 254]. Unsigned, because a NaN input
     * leaves arbitrary bits here (the NaN survives through p). */
    const uint32_t scale_bits = (t_bits - 0x4B400000u + 126u) << 23;
    float scale;
    memcpy(&scale, &scale_bits, sizeof scale);
    float y = p * scale * 2.0f;
    y = x < AD_VEXP_MIN ? 0.0f : y;
    return x > AD_VEXP_MAX ? INFINITY : y;
}

/* erf(x) within 2e-7 absolute; NaN stays NaN. For |x| < 1 its Maclaurin
 * series, beyond Abramowitz & Stegun 7.1.26, whose 1 - (...) loses digits
 * near 0. */
static inline float ad_verf(float x)
{
    const float a = fabsf(x), a2 = a * a;
    /* 2/sqrt(pi) (-1)^k / (k! (2k + 1)) for k = 10 .. 0 */
    static const float series[] = {
        1.48071928e-08f, -1.63658447e-07f, 1.64621144e-06f, -1.49256504e-05f,
        1.20553330e-04f, -8.54832702e-04f, 5.22397763e-03f, -2.68661706e-02f,
        1.12837917e-01f, -3.76126389e-01f};
    float s = series[0];
    for (int k = 1; k < 10; k++)
        s = s * a2 + series[k];
    s = (s * a2 + 1.12837917f) * a;
    const float t = 1.0f / (1.0f + 0.3275911f * a);
    float p = 1.061405429f;
    p = p * t - 1.453152027f;
    p = p * t + 1.421413741f;
    p = p * t - 0.284496736f;
    p = p * t + 0.254829592f;
    const float y = a < 1.0f ? s : 1.0f - p * t * ad_vexp(-a2);
    return copysignf(y, x);
}

/* Standard normal CDF Phi(x) = (1 + erf(x / sqrt 2)) / 2, and exact GELU x Phi(x): the one
 * definition the activation op and the fused linear epilogue share, so that both give the
 * same bits. */
static inline float ad_vphi(float x)
{
    return 0.5f * (1.0f + ad_verf(x * 0.70710678118654752440f));
}

static inline float ad_vgelu(float x)
{
    return x * ad_vphi(x);
}

#endif
