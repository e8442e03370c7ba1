/* Cutting boxes out of images and label maps and putting them back, for pipeline stages
 * that work on one fixed-size crop per component (lib/pipeline/components.h). A box is
 * int64_t[4] = {row0, col0, row1, col1}, ends exclusive, the order of ad_component's
 * fields. The caller checks sizes (a box non-empty and inside its image, dh, dw, sh,
 * sw >= 1); nothing here allocates or fails. */
#ifndef AD_PIPELINE_CROPS_H
#define AD_PIPELINE_CROPS_H

#include <stdint.h>

/* The box [row0, row1) x [col0, col1) grown by `margin` (a negative one counts as 0) on
 * every side and clipped to [0, h) x [0, w). */
void ad_box_grow(int64_t box[4], int64_t margin, int64_t h, int64_t w);

/* The box of image [c, h, w] resized bilinearly to dst [c, dh, dw]: PyTorch's
 * F.interpolate(mode="bilinear", align_corners=False) of the box's sub-image to size
 * (dh, dw), with its float arithmetic: source coordinate (d + 0.5) * (box height / dh) - 0.5,
 * clamped at 0, neighbour indices clamped to the box. A size equal to the box's copies. */
void ad_crop_resize(float *dst, int64_t dh, int64_t dw, const float *image, int64_t c,
                    int64_t h, int64_t w, const int64_t box[4]);

/* A label map src [sh, sw] pasted by nearest neighbour over the box of dst [h, w] (each dst
 * pixel (r, c) of the box takes src's pixel at floor((r - row0) * sh / box height), likewise
 * for columns), only where keep[] (same size as dst; NULL = everywhere) is non-zero. */
void ad_map_paste(int32_t *dst, int64_t h, int64_t w, const int64_t box[4],
                  const int32_t *src, int64_t sh, int64_t sw, const uint8_t *keep);

#endif
