/* Connected components of a label map (int32 [H, W], 0 = background, other values =
 * classes), for pipeline stages that work on one crop per component of an earlier stage's
 * segmentation. */
#ifndef AD_PIPELINE_COMPONENTS_H
#define AD_PIPELINE_COMPONENTS_H

#include <stdint.h>

#include "adapt.h"

typedef struct {
    int32_t label;                   /* the map's value on the component */
    int64_t row0, col0, row1, col1; /* bounding box, end exclusive */
    int64_t pixels;                  /* its size */
} ad_component;

/* Components (4-connected pixels of one non-zero label) of map [h, w] with at least
 * min_pixels pixels, in raster order of their first pixel, into a malloc'd array (*out,
 * owned: free with free(); *count; NULL and 0 when none); ids[h * w] (caller's array)
 * receives each pixel's component index among those returned, or -1 (background, or a
 * component too small). Linear time, no recursion, no memory besides *out.
 * OUT_OF_MEMORY, INVALID_ARGUMENT (h or w < 1, NULL pointers, min_pixels < 1, h * w
 * overflowing) with messages naming `fn`. On failure *out and *count are untouched; ids is
 * untouched on INVALID_ARGUMENT but holds scratch values after OUT_OF_MEMORY. */
adapt_status ad_components_find(ad_component **out, int64_t *count, int64_t *ids,
                                const int32_t *map, int64_t h, int64_t w, int64_t min_pixels,
                                const char *fn);

#endif
