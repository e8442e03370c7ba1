/* The rounding allowance of interval products. A float sum of K products, in any order, with
 * or without fused multiply-adds, is within gamma_K = K u / (1 - K u) of the exact sum of
 * their magnitudes (Higham, Accuracy and Stability of Numerical Algorithms, 3.1), u = 2^-24.
 * The point value, the centre and the radius each carry such an error, and forming the centre
 * and radius and adding the bias round a few times more: 4 (K + 2) u times the magnitude bound
 * S_c m_n + B_c covers all of them with room to spare. The allowance is a constant to backward:
 * it is a bound on rounding, not a function to train. */
#include <math.h>

#include "lib/core/context.h"
#include "lib/core/error.h"
#include "lib/core/tensor.h"
#include "lib/ops/interval.h"

#define UNIT_ROUNDOFF 0x1p-24

static double larger_magnitude(const adapt_tensor *a, const adapt_tensor *b, int64_t i)
{
    const double x = fabs((double)a->data[i]), y = fabs((double)b->data[i]);
    return x > y ? x : y;
}

/* The largest magnitude of sample n over both bounds. */
static double sample_reach(const ad_interval *x, int64_t n, int64_t per_sample)
{
    double m = 0.0;
    for (int64_t i = n * per_sample; i < (n + 1) * per_sample; i++) {
        const double v = larger_magnitude(x->lo, x->hi, i);
        m = v > m ? v : m;
    }
    return m;
}

adapt_status ad_interval_slack(adapt_tensor **out, adapt_context *ctx, const adapt_tensor *like,
                               const ad_interval *x, const adapt_tensor *w_lo,
                               const adapt_tensor *w_hi, const adapt_tensor *b_lo,
                               const adapt_tensor *b_hi)
{
    const int64_t n = like->shape[0], channels = like->ndim > 1 ? like->shape[1] : 1;
    if (channels != w_lo->shape[0] || n != x->lo->shape[0])
        return ad_fail(ADAPT_ERR_INTERNAL, "interval slack: %lld channels, weights for %lld",
                       (long long)channels, (long long)w_lo->shape[0]);
    const int64_t terms = w_lo->numel / channels, per_sample = like->numel / n;
    const int64_t spatial = per_sample / channels, x_per_sample = x->lo->numel / n;
    double *weight, *bias;
    adapt_tensor *s;
    adapt_status st = ad_scratch((void **)&weight, ctx, 2 * (size_t)channels * sizeof(double),
                                 "interval slack");
    if (!st)
        st = ad_tensor_new(&s, ctx, like->ndim, like->shape);
    if (st)
        return st;
    bias = weight + channels;
    for (int64_t c = 0; c < channels; c++) {
        weight[c] = 0.0;
        for (int64_t j = c * terms; j < (c + 1) * terms; j++)
            weight[c] += larger_magnitude(w_lo, w_hi, j);
        bias[c] = b_lo ? larger_magnitude(b_lo, b_hi, c) : 0.0;
    }
    const double gamma = 4.0 * (double)(terms + 2) * UNIT_ROUNDOFF;
    for (int64_t i = 0; i < n; i++) {
        const double m = sample_reach(x, i, x_per_sample);
        float *row = s->data + i * per_sample;
        for (int64_t c = 0; c < channels; c++) {
            /* rounded up: the float is never below the double it stands for */
            const float v = nextafterf((float)(gamma * (weight[c] * m + bias[c])), INFINITY);
            for (int64_t k = 0; k < spatial; k++)
                row[c * spatial + k] = v;
        }
    }
    *out = s;
    return ADAPT_OK;
}
