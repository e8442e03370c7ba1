/* Elementwise float kernels behind the activation ops.
 *
 * Each forward writes y[i] = f(x[i]) for i < n; each backward ADDS
 * dy[i] * f'(x[i]) into dx[i], so gradients from several consumers of x
 * accumulate. Buffers never alias. Backward passes of sigmoid and tanh read
 * the forward output y (their derivatives are cheapest in terms of it), the
 * others read the input x. Derivatives at kinks follow PyTorch: relu and abs
 * pass 0 at x == 0, clamp passes the gradient wherever lo <= x <= hi. */
#ifndef AD_KERNELS_ELEMENTWISE_H
#define AD_KERNELS_ELEMENTWISE_H

#include <stdint.h>

void ad_scale_forward(int64_t n, const float *restrict x, float factor, float *restrict y);
void ad_scale_backward(int64_t n, const float *restrict dy, float factor, float *restrict dx);

void ad_relu_forward(int64_t n, const float *restrict x, float *restrict y);
void ad_relu_backward(int64_t n, const float *restrict x, const float *restrict dy,
                      float *restrict dx);

/* Exact GELU: x * Phi(x), Phi the standard normal CDF written with erf
 * (evaluated to 2e-7, see vector_math.h), not the tanh approximation. */
void ad_gelu_forward(int64_t n, const float *restrict x, float *restrict y);
void ad_gelu_backward(int64_t n, const float *restrict x, const float *restrict dy,
                      float *restrict dx);

void ad_sigmoid_forward(int64_t n, const float *restrict x, float *restrict y);
void ad_sigmoid_backward(int64_t n, const float *restrict y, const float *restrict dy,
                         float *restrict dx);

void ad_tanh_forward(int64_t n, const float *restrict x, float *restrict y);
void ad_tanh_backward(int64_t n, const float *restrict y, const float *restrict dy,
                      float *restrict dx);

void ad_abs_forward(int64_t n, const float *restrict x, float *restrict y);
void ad_abs_backward(int64_t n, const float *restrict x, const float *restrict dy,
                     float *restrict dx);

/* Requires lo <= hi; NaN inputs stay NaN forward and get no gradient. */
void ad_clamp_forward(int64_t n, const float *restrict x, float lo, float hi,
                      float *restrict y);
void ad_clamp_backward(int64_t n, const float *restrict x, float lo, float hi,
                       const float *restrict dy, float *restrict dx);

#endif
