#include "lib/kernels/softmax_rows.h"

#include "lib/kernels/row_reduce.h"
#include "lib/kernels/vector_math.h"

AD_VECTOR_CLONES
static void softmax_row(const float *x, float *y, int64_t d)
{
    const float m = ad_row_max(x, d);
    for (int64_t i = 0; i < d; i++)
        y[i] = ad_vexp(x[i] - m);
    const float inv_sum = (float)(1.0 / ad_row_sum(y, d));
    for (int64_t i = 0; i < d; i++)
        y[i] *= inv_sum;
}

AD_VECTOR_CLONES
static void softmax_row_backward(const float *restrict y, const float *restrict dy,
                                 float *restrict dx, int64_t d)
{
    const float dot = (float)ad_row_dot(dy, y, d);
    for (int64_t i = 0; i < d; i++)
        dx[i] += y[i] * (dy[i] - dot);
}

void ad_softmax_rows(const float *x, float *y, int64_t rows, int64_t d)
{
    for (int64_t r = 0; r < rows; r++)
        softmax_row(x + r * d, y + r * d, d);
}

void ad_softmax_rows_backward(const float *y, const float *dy, float *dx, int64_t rows,
                              int64_t d)
{
    for (int64_t r = 0; r < rows; r++)
        softmax_row_backward(y + r * d, dy + r * d, dx + r * d, d);
}
