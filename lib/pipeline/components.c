/* Connected components by union-find over one raster scan, then one pass that numbers
 * them (the two-pass labelling of Wu, Otoo and Suzuki, 2009). No recursion and no queue:
 * a map of one label as large as memory allows needs no stack and no memory beyond the
 * caller's ids[]. */
#include "lib/pipeline/components.h"

#include <stddef.h>
#include <stdlib.h>

#include "lib/core/error.h"

/* During the scan ids[] holds the forest: a pixel's parent, or at a root minus the size of
 * its tree. Two trees join under the smaller root and paths only ever shorten, so every
 * parent index is smaller than its child's: a tree's root is its component's first pixel
 * in raster order, and sizes are known when the scan ends without a second array.
 * Background pixels are told by map[] alone; their ids are written only by numbering. */

static int64_t find_root(int64_t *ids, int64_t p)
{
    int64_t root = p;
    while (ids[root] >= 0)
        root = ids[root];
    while (p != root) { /* path compression: a later find from here takes one step */
        const int64_t parent = ids[p];
        ids[p] = root;
        p = parent;
    }
    return root;
}

/* The root of the union of the trees of roots a and b: the smaller index, whose size grows
 * by the other's. */
static int64_t join_roots(int64_t *ids, int64_t a, int64_t b)
{
    if (a == b)
        return a;
    if (b < a) {
        const int64_t t = a;
        a = b;
        b = t;
    }
    ids[a] += ids[b];
    ids[b] = a;
    return a;
}

/* Builds the forest: each pixel joins the trees of its left and upper neighbours of the
 * same label, the only 4-neighbours the scan has passed. The left one was attached to a
 * root one step ago, so its find takes at most a step; the upper one's path was compressed
 * by the previous row's finds. */
static void scan(int64_t *ids, const int32_t *map, int64_t h, int64_t w)
{
    for (int64_t r = 0; r < h; r++)
        for (int64_t c = 0; c < w; c++) {
            const int64_t p = r * w + c;
            const int32_t v = map[p];
            if (!v)
                continue;
            int64_t root = -1;
            if (c > 0 && map[p - 1] == v)
                root = find_root(ids, p - 1);
            if (r > 0 && map[p - w] == v) {
                const int64_t up = find_root(ids, p - w);
                root = root < 0 ? up : join_roots(ids, root, up);
            }
            if (root < 0) {
                ids[p] = -1; /* a new tree of one pixel */
            } else {
                ids[p] = root;
                ids[root]--;
            }
        }
}

/* The roots (first pixels) of trees of at least min_pixels pixels. */
static int64_t count_kept(const int64_t *ids, const int32_t *map, int64_t n, int64_t min_pixels)
{
    int64_t kept = 0;
    for (int64_t p = 0; p < n; p++)
        kept += map[p] && ids[p] < 0 && -ids[p] >= min_pixels;
    return kept;
}

/* Replaces the forest by each pixel's index among the kept components (or -1) and fills
 * comps[]. In raster order a root comes before the rest of its tree and a parent before its
 * child, so a root takes the next index and every other pixel its parent's final one. */
static void number(ad_component *comps, int64_t *ids, const int32_t *map, int64_t h,
                   int64_t w, int64_t min_pixels)
{
    int64_t next = 0;
    for (int64_t r = 0; r < h; r++)
        for (int64_t c = 0; c < w; c++) {
            const int64_t p = r * w + c;
            if (!map[p]) {
                ids[p] = -1;
            } else if (ids[p] >= 0) {
                const int64_t k = ids[p] = ids[ids[p]];
                if (k >= 0) { /* rows only grow in raster order; columns go both ways */
                    ad_component *comp = &comps[k];
                    comp->row1 = r + 1;
                    comp->col0 = c < comp->col0 ? c : comp->col0;
                    comp->col1 = c + 1 > comp->col1 ? c + 1 : comp->col1;
                }
            } else if (-ids[p] < min_pixels) {
                ids[p] = -1;
            } else {
                comps[next] = (ad_component){.label = map[p], .row0 = r, .col0 = c,
                                             .row1 = r + 1, .col1 = c + 1, .pixels = -ids[p]};
                ids[p] = next++;
            }
        }
}

adapt_status ad_components_find(ad_component **out, int64_t *count, int64_t *ids,
                                const int32_t *map, int64_t h, int64_t w, int64_t min_pixels,
                                const char *fn)
{
    if (!fn)
        fn = "ad_components_find";
    if (!out || !count || !ids || !map)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: NULL out, count, ids or map", fn);
    if (h < 1 || w < 1 || min_pixels < 1)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT,
                       "%s: a %lld x %lld map with min_pixels %lld (each must be >= 1)", fn,
                       (long long)h, (long long)w, (long long)min_pixels);
    /* ids[h * w] must be addressable, which also keeps every index and size in int64_t. */
    if (h > (int64_t)(PTRDIFF_MAX / sizeof *ids) / w)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT,
                       "%s: a %lld x %lld map has more pixels than memory can index", fn,
                       (long long)h, (long long)w);
    scan(ids, map, h, w);
    const int64_t kept = count_kept(ids, map, h * w, min_pixels);
    ad_component *comps = NULL;
    if (kept > 0) {
        if ((uint64_t)kept > SIZE_MAX / sizeof *comps ||
            !(comps = malloc((size_t)kept * sizeof *comps)))
            return ad_fail(ADAPT_ERR_OUT_OF_MEMORY, "%s: no memory for %lld components", fn,
                           (long long)kept);
    }
    number(comps, ids, map, h, w, min_pixels);
    *out = comps;
    *count = kept;
    return ADAPT_OK;
}
