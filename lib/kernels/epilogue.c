#include "lib/kernels/epilogue.h"

#include "lib/kernels/vector_math.h"

/* One function per activation, so each loop vectorises without a branch. */

AD_VECTOR_CLONES
static void bias_only(int64_t n, const float *restrict b, float *restrict y)
{
    for (int64_t j = 0; j < n; j++)
        y[j] += b[j];
}

AD_VECTOR_CLONES
static void bias_relu(int64_t n, const float *restrict b, float *restrict y)
{
    for (int64_t j = 0; j < n; j++) {
        const float v = y[j] + b[j];
        y[j] = v < 0.0f ? 0.0f : v; /* NaN passes, as in ad_relu_forward */
    }
}

AD_VECTOR_CLONES
static void bias_gelu(int64_t n, const float *restrict b, float *restrict y)
{
    for (int64_t j = 0; j < n; j++)
        y[j] = ad_vgelu(y[j] + b[j]);
}

AD_VECTOR_CLONES
static void relu(int64_t n, float *restrict y)
{
    for (int64_t j = 0; j < n; j++)
        y[j] = y[j] < 0.0f ? 0.0f : y[j];
}

AD_VECTOR_CLONES
static void gelu(int64_t n, float *restrict y)
{
    for (int64_t j = 0; j < n; j++)
        y[j] = ad_vgelu(y[j]);
}

/* One row, or any contiguous run when there is no bias. */
static void finish(int64_t n, const float *bias, ad_act act, float *y)
{
    if (act == AD_ACT_NONE && bias)
        bias_only(n, bias, y);
    else if (act == AD_ACT_RELU)
        bias ? bias_relu(n, bias, y) : relu(n, y);
    else if (act == AD_ACT_GELU)
        bias ? bias_gelu(n, bias, y) : gelu(n, y);
}

void ad_bias_act_rows(int64_t rows, int64_t cols, int64_t ld, const float *bias, ad_act act,
                      float *y)
{
    if (!bias && ld == cols) /* contiguous rows: one long run */
        cols *= rows, rows = 1;
    for (int64_t r = 0; r < rows; r++, y += ld)
        finish(cols, bias, act, y);
}
