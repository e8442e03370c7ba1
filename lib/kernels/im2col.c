#include "lib/kernels/im2col.h"

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
        for (int64_t ow = xlo; ow < xhi; ow++)
            dst[ow] = src[ow * s + shift];
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
    float *row = columns;
    for (int64_t c = 0; c < g->channels; c++)
        for (int64_t ky = 0; ky < g->kernel_h; ky++)
            for (int64_t kx = 0; kx < g->kernel_w; kx++, row += ld)
                unfold_row(g, image + c * plane, ky, kx, row);
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
