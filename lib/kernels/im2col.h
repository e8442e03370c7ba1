/* Unfolding of one NCHW image into the column matrix of a convolution, and
 * the reverse scatter used by its backward pass.
 *
 * The column matrix is [channels * kernel_h * kernel_w, out_h * out_w],
 * row-major with row stride `ld` (>= out_h * out_w), rows ordered
 * (channel, ky, kx) like the flattened weights of PyTorch's Conv2d, so the
 * convolution of one image is a single GEMM weight[Cout, rows] x
 * columns[rows, out_h * out_w]. With ld = G * out_h * out_w, G images unfold
 * side by side into one wider matrix and share one GEMM. Padded cells read
 * as 0. */
#ifndef AD_KERNELS_IM2COL_H
#define AD_KERNELS_IM2COL_H

#include <stdint.h>

typedef struct ad_conv_geom {
    int64_t channels, height, width;
    int64_t kernel_h, kernel_w;
    int64_t stride, padding;
    int64_t out_h, out_w;
} ad_conv_geom;

/* columns = unfold(image); image is [channels, height, width]. */
void ad_im2col(const ad_conv_geom *g, const float *image, float *columns, int64_t ld);

/* image += fold(columns): every column entry is added back to the input cell
 * it was read from; entries that came from padding are dropped. */
void ad_col2im_add(const ad_conv_geom *g, const float *columns, int64_t ld, float *image);

#endif
