/* Softmax over rows and its backward, shared by adapt_op_softmax and both attention paths,
 * so that all three compute the same bits. Each row is shifted by its maximum before
 * exponentiating; sums accumulate in double (row_reduce.h). */
#ifndef AD_KERNELS_SOFTMAX_ROWS_H
#define AD_KERNELS_SOFTMAX_ROWS_H

#include <stdint.h>

/* y = softmax(x) over each of `rows` rows of d values; y may be x. */
void ad_softmax_rows(const float *x, float *y, int64_t rows, int64_t d);

/* dx += y * (dy - sum(dy * y)) over each row, y the softmax's output. */
void ad_softmax_rows_backward(const float *y, const float *dy, float *dx, int64_t rows,
                              int64_t d);

#endif
