/* Plain loops over restrict pointers: the compiler vectorises the ones
 * without libm calls. Selects whose operands are all loaded unconditionally
 * (the local `g`, the non-short-circuit `&`) keep branches out of them. */
#include "lib/kernels/elementwise.h"

#include <math.h>

#include "lib/kernels/vector_math.h"

/* <math.h> defines no M_* constants in strict C11. */
#define INV_SQRT_2PI 0.39894228040143267794f /* 1 / sqrt(2 pi) */

void ad_scale_forward(int64_t n, const float *restrict x, float factor, float *restrict y)
{
    for (int64_t i = 0; i < n; i++)
        y[i] = x[i] * factor;
}

void ad_scale_backward(int64_t n, const float *restrict dy, float factor, float *restrict dx)
{
    for (int64_t i = 0; i < n; i++)
        dx[i] += dy[i] * factor;
}

void ad_relu_forward(int64_t n, const float *restrict x, float *restrict y)
{
    /* Written as "negative -> 0" so that NaN propagates, as in PyTorch. */
    for (int64_t i = 0; i < n; i++)
        y[i] = x[i] < 0.0f ? 0.0f : x[i];
}

void ad_relu_backward(int64_t n, const float *restrict x, const float *restrict dy,
                      float *restrict dx)
{
    for (int64_t i = 0; i < n; i++) {
        const float g = dy[i];
        dx[i] += x[i] > 0.0f ? g : 0.0f;
    }
}

AD_VECTOR_CLONES
static void gelu_forward(int64_t n, const float *restrict x, float *restrict y)
{
    for (int64_t i = 0; i < n; i++)
        y[i] = ad_vgelu(x[i]);
}

void ad_gelu_forward(int64_t n, const float *restrict x, float *restrict y)
{
    gelu_forward(n, x, y);
}

AD_VECTOR_CLONES
static void gelu_backward(int64_t n, const float *restrict x, const float *restrict dy,
                          float *restrict dx)
{
    /* d/dx x Phi(x) = Phi(x) + x phi(x). */
    for (int64_t i = 0; i < n; i++) {
        float cdf = ad_vphi(x[i]);
        float pdf = INV_SQRT_2PI * ad_vexp(-0.5f * x[i] * x[i]);
        dx[i] += dy[i] * (cdf + x[i] * pdf);
    }
}

void ad_gelu_backward(int64_t n, const float *restrict x, const float *restrict dy,
                      float *restrict dx)
{
    gelu_backward(n, x, dy, dx);
}

void ad_sigmoid_forward(int64_t n, const float *restrict x, float *restrict y)
{
    /* expf(-x) overflows to inf for very negative x, giving exactly 0. */
    for (int64_t i = 0; i < n; i++)
        y[i] = 1.0f / (1.0f + expf(-x[i]));
}

void ad_sigmoid_backward(int64_t n, const float *restrict y, const float *restrict dy,
                         float *restrict dx)
{
    for (int64_t i = 0; i < n; i++)
        dx[i] += dy[i] * y[i] * (1.0f - y[i]);
}

void ad_tanh_forward(int64_t n, const float *restrict x, float *restrict y)
{
    for (int64_t i = 0; i < n; i++)
        y[i] = tanhf(x[i]);
}

void ad_tanh_backward(int64_t n, const float *restrict y, const float *restrict dy,
                      float *restrict dx)
{
    for (int64_t i = 0; i < n; i++)
        dx[i] += dy[i] * (1.0f - y[i] * y[i]);
}

void ad_abs_forward(int64_t n, const float *restrict x, float *restrict y)
{
    for (int64_t i = 0; i < n; i++)
        y[i] = fabsf(x[i]);
}

void ad_abs_backward(int64_t n, const float *restrict x, const float *restrict dy,
                     float *restrict dx)
{
    for (int64_t i = 0; i < n; i++) {
        const float g = dy[i];
        dx[i] += x[i] > 0.0f ? g : x[i] < 0.0f ? -g : 0.0f;
    }
}

void ad_clamp_forward(int64_t n, const float *restrict x, float lo, float hi,
                      float *restrict y)
{
    for (int64_t i = 0; i < n; i++)
        y[i] = x[i] < lo ? lo : x[i] > hi ? hi : x[i];
}

void ad_clamp_backward(int64_t n, const float *restrict x, float lo, float hi,
                       const float *restrict dy, float *restrict dx)
{
    for (int64_t i = 0; i < n; i++) {
        const float g = dy[i];
        dx[i] += ((x[i] >= lo) & (x[i] <= hi)) ? g : 0.0f;
    }
}
