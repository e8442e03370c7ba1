#include "lib/kernels/epilogue.h"

#include "lib/kernels/vector_math.h"

#define SQRT1_2 0.70710678118654752440f /* 1 / sqrt(2) */

/* One function per activation, so each loop vectorises without a branch. */

static void bias_only(int64_t n, const float *restrict b, float *restrict y)
{
    for (int64_t j = 0; j < n; j++)
        y[j] += b[j];
}

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
    for (int64_t j = 0; j < n; j++) {
        const float v = y[j] + b[j];
        y[j] = 0.5f * v * (1.0f + ad_verf(v * SQRT1_2));
    }
}

static void relu(int64_t n, float *restrict y)
{
    for (int64_t j = 0; j < n; j++)
        y[j] = y[j] < 0.0f ? 0.0f : y[j];
}

AD_VECTOR_CLONES
static void gelu(int64_t n, float *restrict y)
{
    for (int64_t j = 0; j < n; j++)
        y[j] = 0.5f * y[j] * (1.0f + ad_verf(y[j] * SQRT1_2));
}

void ad_bias_act_rows(int64_t rows, int64_t cols, const float *bias, ad_act act, float *y)
{
    if (!bias) { /* contiguous rows: one long loop */
        if (act == AD_ACT_RELU)
            relu(rows * cols, y);
        else if (act == AD_ACT_GELU)
            gelu(rows * cols, y);
        return;
    }
    for (int64_t r = 0; r < rows; r++, y += cols) {
        switch (act) {
        case AD_ACT_NONE: bias_only(cols, bias, y); break;
        case AD_ACT_RELU: bias_relu(cols, bias, y); break;
        case AD_ACT_GELU: bias_gelu(cols, bias, y); break;
        }
    }
}
