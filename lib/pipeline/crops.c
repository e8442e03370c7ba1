/* Boxes cut out of images and label maps and put back: the crop a later pipeline stage sees
 * and the way its answer returns to the full map. */
#include "lib/pipeline/crops.h"

#include <string.h>

#include "lib/kernels/linear_tap.h"

void ad_box_grow(int64_t box[4], int64_t margin, int64_t h, int64_t w)
{
    margin = margin > 0 ? margin : 0;
    /* Compared before adding or subtracting, so a margin near INT64_MAX cannot overflow. */
    box[0] = box[0] > margin ? box[0] - margin : 0;
    box[1] = box[1] > margin ? box[1] - margin : 0;
    box[2] = h - box[2] > margin ? box[2] + margin : h;
    box[3] = w - box[3] > margin ? box[3] + margin : w;
}

/* A crop of `len` cells resized to `out`: PyTorch's ratio for a size given, len / out. */
static ad_tap linear_tap(int64_t o, int64_t out, int64_t len)
{
    return ad_linear_tap(o, len, (float)len / (float)out);
}

/* PyTorch copies when the sizes agree; so does this, which keeps infinities infinities
 * (inf * 0 would be NaN). */
static void copy_box(float *dst, const float *image, int64_t c, int64_t h, int64_t w,
                     const int64_t box[4])
{
    const int64_t bh = box[2] - box[0], bw = box[3] - box[1];
    for (int64_t k = 0; k < c; k++)
        for (int64_t r = 0; r < bh; r++)
            memcpy(dst + (k * bh + r) * bw, image + (k * h + box[0] + r) * w + box[1],
                   (size_t)bw * sizeof *dst);
}

void ad_crop_resize(float *dst, int64_t dh, int64_t dw, const float *image, int64_t c,
                    int64_t h, int64_t w, const int64_t box[4])
{
    const int64_t bh = box[2] - box[0], bw = box[3] - box[1];
    if (dh == bh && dw == bw) {
        copy_box(dst, image, c, h, w, box);
        return;
    }
    /* Each output is (r0[c0] l0 + r0[c1] l1) L0 + (r1[c0] l0 + r1[c1] l1) L1, the order
     * PyTorch's kernel sums in; a tap is found once per output pixel for all channels. */
    for (int64_t y = 0; y < dh; y++) {
        const ad_tap rt = linear_tap(y, dh, bh);
        const float *r0 = image + (box[0] + rt.i0) * w + box[1];
        const float *r1 = image + (box[0] + rt.i1) * w + box[1];
        for (int64_t x = 0; x < dw; x++) {
            const ad_tap ct = linear_tap(x, dw, bw);
            for (int64_t k = 0; k < c; k++) {
                const int64_t plane = k * h * w;
                const float top = r0[plane + ct.i0] * ct.l0 + r0[plane + ct.i1] * ct.l1;
                const float bottom = r1[plane + ct.i0] * ct.l0 + r1[plane + ct.i1] * ct.l1;
                dst[(k * dh + y) * dw + x] = top * rt.l0 + bottom * rt.l1;
            }
        }
    }
}

void ad_map_paste(int32_t *dst, int64_t h, int64_t w, const int64_t box[4],
                  const int32_t *src, int64_t sh, int64_t sw, const uint8_t *keep)
{
    (void)h; /* the caller has checked that the box lies inside dst */
    const int64_t bh = box[2] - box[0], bw = box[3] - box[1];
    for (int64_t r = box[0]; r < box[2]; r++) {
        const int32_t *from = src + (r - box[0]) * sh / bh * sw;
        for (int64_t c = box[1]; c < box[3]; c++)
            if (!keep || keep[r * w + c])
                dst[r * w + c] = from[(c - box[1]) * sw / bw];
    }
}
