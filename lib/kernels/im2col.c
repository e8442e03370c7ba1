#include "lib/kernels/im2col.h"

#include <stdbool.h>
#include <string.h>

/* Outputs o in [*lo, *hi) whose tap at kernel offset k lands inside the
 * input (0 <= o * stride - padding + k < len); the others read padding. */
static void valid_range(int64_t *lo, int64_t *hi, const ad_conv_geom *g, int64_t k,
                        int64_t len, int64_t out)
{
    int64_t first = g->padding - k;
    int64_t last = len - 1 + g->padding - k;
    *lo = first > 0 ? (first + g->stride - 1) / g->stride : 0;
    *hi = last >= 0 ? last / g->stride + 1 : 0;
    if (*lo > out)
        *lo = out;
    if (*hi > out)
        *hi = out;
    if (*hi < *lo)
        *hi = *lo;
}

/* dst[i] = src[i * stride] for i < n; strides 1 and 2, by far the most common, get loops
 * with a constant stride that the compiler turns into vector copies. */
static void copy_strided(float *restrict dst, const float *restrict src, int64_t n,
                         int64_t stride)
{
    if (stride == 1) {
        memcpy(dst, src, (size_t)n * sizeof *dst);
    } else if (stride == 2) {
        for (int64_t i = 0; i < n; i++)
            dst[i] = src[2 * i];
    } else {
        for (int64_t i = 0; i < n; i++)
            dst[i] = src[i * stride];
    }
}

/* unfold_row when the stride is 1 and the output as wide as the input: the row is then the
 * channel shifted by whole rows and columns, so the cells in range are one copy, after which
 * the columns that wrapped around a row's edge are zeroed. */
static void unfold_shifted(const ad_conv_geom *g, const float *restrict channel, int64_t ky,
                           int64_t kx, float *restrict row)
{
    int64_t ylo, yhi, xlo, xhi;
    valid_range(&ylo, &yhi, g, ky, g->height, g->out_h);
    valid_range(&xlo, &xhi, g, kx, g->width, g->out_w);
    const int64_t w = g->width, shift = (ky - g->padding) * w + (kx - g->padding);
    if (yhi == ylo || xhi == xlo) {
        memset(row, 0, (size_t)(g->out_h * w) * sizeof *row);
        return;
    }
    const int64_t begin = ylo * w + xlo, end = (yhi - 1) * w + xhi;
    memset(row, 0, (size_t)begin * sizeof *row);
    memcpy(row + begin, channel + begin + shift, (size_t)(end - begin) * sizeof *row);
    memset(row + end, 0, (size_t)(g->out_h * w - end) * sizeof *row);
    for (int64_t oh = ylo; oh < yhi; oh++) {
        for (int64_t ow = 0; ow < xlo; ow++)
            row[oh * w + ow] = 0.0f;
        for (int64_t ow = xhi; ow < w; ow++)
            row[oh * w + ow] = 0.0f;
    }
}

/* One row (channel c, kernel offset ky, kx) of the column matrix. */
static void unfold_row(const ad_conv_geom *g, const float *restrict channel, int64_t ky,
                       int64_t kx, float *restrict row)
{
    int64_t ylo, yhi, xlo, xhi;
    valid_range(&ylo, &yhi, g, ky, g->height, g->out_h);
    valid_range(&xlo, &xhi, g, kx, g->width, g->out_w);
    const int64_t s = g->stride, shift = kx - g->padding;
    for (int64_t oh = 0; oh < g->out_h; oh++) {
        float *restrict dst = row + oh * g->out_w;
        if (oh < ylo || oh >= yhi) {
            memset(dst, 0, (size_t)g->out_w * sizeof *dst);
            continue;
        }
        const float *restrict src = channel + (oh * s - g->padding + ky) * g->width;
        for (int64_t ow = 0; ow < xlo; ow++)
            dst[ow] = 0.0f;
        copy_strided(dst + xlo, src + xlo * s + shift, xhi - xlo, s);
        for (int64_t ow = xhi; ow < g->out_w; ow++)
            dst[ow] = 0.0f;
    }
}

/* The reverse of unfold_row: adds the row's in-bounds entries into the channel. */
static void fold_row(const ad_conv_geom *g, const float *restrict row, int64_t ky, int64_t kx,
                     float *restrict channel)
{
    int64_t ylo, yhi, xlo, xhi;
    valid_range(&ylo, &yhi, g, ky, g->height, g->out_h);
    valid_range(&xlo, &xhi, g, kx, g->width, g->out_w);
    const int64_t s = g->stride, shift = kx - g->padding;
    for (int64_t oh = ylo; oh < yhi; oh++) {
        const float *restrict src = row + oh * g->out_w;
        float *restrict dst = channel + (oh * s - g->padding + ky) * g->width;
        for (int64_t ow = xlo; ow < xhi; ow++)
            dst[ow * s + shift] += src[ow];
    }
}

void ad_im2col(const ad_conv_geom *g, const float *image, float *columns, int64_t ld)
{
    const int64_t plane = g->height * g->width;
    const bool shifted = g->stride == 1 && g->out_w == g->width;
    float *row = columns;
    for (int64_t c = 0; c < g->channels; c++)
        for (int64_t ky = 0; ky < g->kernel_h; ky++)
            for (int64_t kx = 0; kx < g->kernel_w; kx++, row += ld) {
                if (shifted)
                    unfold_shifted(g, image + c * plane, ky, kx, row);
                else
                    unfold_row(g, image + c * plane, ky, kx, row);
            }
}

void ad_col2im_add(const ad_conv_geom *g, const float *columns, int64_t ld, float *image)
{
    const int64_t plane = g->height * g->width;
    const float *row = columns;
    for (int64_t c = 0; c < g->channels; c++)
        for (int64_t ky = 0; ky < g->kernel_h; ky++)
            for (int64_t kx = 0; kx < g->kernel_w; kx++, row += ld)
                fold_row(g, row, ky, kx, image + c * plane);
}
