/* Sums over one row of floats in double, in eight interleaved lanes combined
 * in a fixed order: the compiler vectorises them (a single running sum is a
 * dependency chain it may not reorder), and the result never depends on the
 * thread count. Inline, so that each vector clone of a caller gets its own. */
#ifndef AD_KERNELS_ROW_REDUCE_H
#define AD_KERNELS_ROW_REDUCE_H

#include <math.h>
#include <stdint.h>

#define AD_ROW_LANES 8

/* log(1 + e^f), exact to double rounding at every f: neither overflowing nor losing e^f when
 * it is tiny. */
static inline double ad_softplus(double f)
{
    return f > 0.0 ? f + log1p(exp(-f)) : log1p(exp(f));
}

/* 1 / (1 + e^-f), the derivative of softplus, without overflow at any f. */
static inline double ad_sigmoid(double f)
{
    return f >= 0.0 ? 1.0 / (1.0 + exp(-f)) : exp(f) / (1.0 + exp(f));
}

/* sum of softplus(x[i]), in order: the log-normaliser of SLOVA's single-label
 * probabilities, log q_k = x_k - it. */
static inline double ad_row_softplus_sum(const float *x, int64_t d)
{
    double sum = 0.0;
    for (int64_t i = 0; i < d; i++)
        sum += ad_softplus(x[i]);
    return sum;
}

/* log max_k q_k of SLOVA's single-label probabilities q_k = e^{x_k} / prod_j (1 + e^{x_j}),
 * and in *top the first k attaining it (the first largest x_k). Summed as
 * -softplus(-x_top) - sum_{j != top} softplus(x_j), it keeps its digits when max q is near 1,
 * where x_top minus ad_row_softplus_sum would cancel to 0. */
static inline double ad_row_one_vs_all_log_top(const float *x, int64_t d, int64_t *top)
{
    int64_t t = 0;
    for (int64_t i = 1; i < d; i++)
        t = x[i] > x[t] ? i : t;
    double sum = ad_softplus(-(double)x[t]);
    for (int64_t i = 0; i < d; i++)
        sum += i == t ? 0.0 : ad_softplus(x[i]);
    *top = t;
    return -sum;
}

static inline double ad_lanes_total(const double *acc)
{
    double sum = 0.0;
    for (int l = 0; l < AD_ROW_LANES; l++)
        sum += acc[l];
    return sum;
}

/* sum of x[i] */
static inline double ad_row_sum(const float *restrict x, int64_t d)
{
    double acc[AD_ROW_LANES] = {0};
    int64_t i = 0;
    for (; i + AD_ROW_LANES <= d; i += AD_ROW_LANES)
        for (int l = 0; l < AD_ROW_LANES; l++)
            acc[l] += x[i + l];
    for (; i < d; i++)
        acc[0] += x[i];
    return ad_lanes_total(acc);
}

/* sum of a[i] * b[i] */
static inline double ad_row_dot(const float *restrict a, const float *restrict b, int64_t d)
{
    double acc[AD_ROW_LANES] = {0};
    int64_t i = 0;
    for (; i + AD_ROW_LANES <= d; i += AD_ROW_LANES)
        for (int l = 0; l < AD_ROW_LANES; l++)
            acc[l] += (double)a[i + l] * b[i + l];
    for (; i < d; i++)
        acc[0] += (double)a[i] * b[i];
    return ad_lanes_total(acc);
}

/* sum of (x[i] - mean)^2 */
static inline double ad_row_sq_dev(const float *restrict x, double mean, int64_t d)
{
    double acc[AD_ROW_LANES] = {0};
    int64_t i = 0;
    for (; i + AD_ROW_LANES <= d; i += AD_ROW_LANES)
        for (int l = 0; l < AD_ROW_LANES; l++)
            acc[l] += (x[i + l] - mean) * (x[i + l] - mean);
    for (; i < d; i++)
        acc[0] += (x[i] - mean) * (x[i] - mean);
    return ad_lanes_total(acc);
}

/* The largest x[i] (d >= 1); NaNs are skipped unless x[0] is one. */
static inline float ad_row_max(const float *restrict x, int64_t d)
{
    float m[AD_ROW_LANES];
    for (int l = 0; l < AD_ROW_LANES; l++)
        m[l] = x[0];
    int64_t i = 0;
    for (; i + AD_ROW_LANES <= d; i += AD_ROW_LANES)
        for (int l = 0; l < AD_ROW_LANES; l++)
            m[l] = x[i + l] > m[l] ? x[i + l] : m[l];
    for (; i < d; i++)
        m[0] = x[i] > m[0] ? x[i] : m[0];
    float best = m[0];
    for (int l = 1; l < AD_ROW_LANES; l++)
        best = m[l] > best ? m[l] : best;
    return best;
}

#endif
