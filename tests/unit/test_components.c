/* lib/pipeline: connected components of label maps against hand-worked maps and a
 * brute-force reference, maps too large for recursion, and the crop helpers (box growth,
 * bilinear resizing against a reference and PyTorch's documented values, nearest pasting). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check_util.h"
#include "lib/pipeline/components.h"
#include "lib/pipeline/crops.h"

/* ad_components_find on map [h, w]; fails the test on an error. */
static ad_component *find(int64_t *count, int64_t *ids, const int32_t *map, int64_t h,
                          int64_t w, int64_t min_pixels)
{
    ad_component *comps = (ad_component *)0x1;
    *count = -7;
    TU_OK(ad_components_find(&comps, count, ids, map, h, w, min_pixels, "test"));
    ck_assert(*count == 0 ? comps == NULL : comps != NULL);
    return comps;
}

/* Comparisons without Check's macros, which cost a system call each when they pass: the
 * large maps assert once on a count of mismatches. */
static int same_component(const ad_component *c, int32_t label, int64_t row0, int64_t col0,
                          int64_t row1, int64_t col1, int64_t pixels)
{
    return c->label == label && c->row0 == row0 && c->col0 == col0 && c->row1 == row1 &&
           c->col1 == col1 && c->pixels == pixels;
}

static void assert_component(const ad_component *c, int32_t label, int64_t row0, int64_t col0,
                             int64_t row1, int64_t col1, int64_t pixels)
{
    ck_assert_msg(same_component(c, label, row0, col0, row1, col1, pixels),
                  "component {label %d, box [%lld, %lld) x [%lld, %lld), %lld pixels}, "
                  "expected {%d, [%lld, %lld) x [%lld, %lld), %lld}",
                  c->label, (long long)c->row0, (long long)c->row1, (long long)c->col0,
                  (long long)c->col1, (long long)c->pixels, label, (long long)row0,
                  (long long)row1, (long long)col0, (long long)col1, (long long)pixels);
}

/* How many of ids[0 .. n) differ from expected[] (NULL: from `fill`). */
static int64_t ids_differing(const int64_t *ids, const int64_t *expected, int64_t fill,
                             int64_t n)
{
    int64_t bad = 0;
    for (int64_t p = 0; p < n; p++)
        bad += ids[p] != (expected ? expected[p] : fill);
    return bad;
}

static void assert_ids(const int64_t *ids, const int64_t *expected, int64_t n)
{
    ck_assert_int_eq(ids_differing(ids, expected, 0, n), 0);
}

START_TEST(touching_labels_stay_apart)
{
    const int32_t map[] = {1, 1, 2,
                           1, 2, 2,
                           0, 0, 0};
    int64_t ids[9], count;
    ad_component *c = find(&count, ids, map, 3, 3, 1);
    ck_assert_int_eq(count, 2);
    assert_component(&c[0], 1, 0, 0, 2, 2, 3);
    assert_component(&c[1], 2, 0, 1, 2, 3, 3);
    assert_ids(ids, (const int64_t[]){0, 0, 1, 0, 1, 1, -1, -1, -1}, 9);
    free(c);
}
END_TEST

START_TEST(diagonal_contact_does_not_connect)
{
    const int32_t map[] = {4, 0, 4,
                           0, 4, 0};
    int64_t ids[6], count;
    ad_component *c = find(&count, ids, map, 2, 3, 1);
    ck_assert_int_eq(count, 3);
    assert_component(&c[0], 4, 0, 0, 1, 1, 1);
    assert_component(&c[1], 4, 0, 2, 1, 3, 1);
    assert_component(&c[2], 4, 1, 1, 2, 2, 1);
    assert_ids(ids, (const int64_t[]){0, -1, 1, -1, 2, -1}, 6);
    free(c);
}
END_TEST

/* The 3s form a U whose arms start as separate trees and meet in row 2; the 5 starts left of
 * the U but a row later, so it comes second; the lone 7 is below every min_pixels > 1. */
static const int32_t u_map[] = {0, 0, 0, 3, 0, 0,
                                5, 0, 0, 3, 0, 3,
                                5, 0, 0, 3, 3, 3,
                                0, 4, 0, 0, 0, 0,
                                0, 4, 4, 0, 7, 0};

START_TEST(raster_order_boxes_and_min_pixels)
{
    int64_t ids[30], count;
    ad_component *c = find(&count, ids, u_map, 5, 6, 1);
    ck_assert_int_eq(count, 4);
    assert_component(&c[0], 3, 0, 3, 3, 6, 6);
    assert_component(&c[1], 5, 1, 0, 3, 1, 2);
    assert_component(&c[2], 4, 3, 1, 5, 3, 3);
    assert_component(&c[3], 7, 4, 4, 5, 5, 1);
    free(c);

    c = find(&count, ids, u_map, 5, 6, 2);
    ck_assert_int_eq(count, 3);
    assert_component(&c[2], 4, 3, 1, 5, 3, 3);
    assert_ids(ids, (const int64_t[]){-1, -1, -1, 0, -1, -1,
                                      1, -1, -1, 0, -1, 0,
                                      1, -1, -1, 0, 0, 0,
                                      -1, 2, -1, -1, -1, -1,
                                      -1, 2, 2, -1, -1, -1}, 30);
    free(c);

    c = find(&count, ids, u_map, 5, 6, 3); /* the 5 goes too: the 4 becomes index 1 */
    ck_assert_int_eq(count, 2);
    assert_component(&c[0], 3, 0, 3, 3, 6, 6);
    assert_component(&c[1], 4, 3, 1, 5, 3, 3);
    ck_assert_int_eq(ids[6], -1);
    ck_assert_int_eq(ids[19], 1);
    free(c);

    c = find(&count, ids, u_map, 5, 6, 7); /* none left */
    ck_assert_int_eq(count, 0);
    ck_assert_int_eq(ids_differing(ids, NULL, -1, 30), 0);

    const int32_t zeros[4] = {0};
    c = find(&count, ids, zeros, 2, 2, 1);
    ck_assert_int_eq(count, 0);
    assert_ids(ids, (const int64_t[]){-1, -1, -1, -1}, 4);
}
END_TEST

static uint64_t next_random(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* Each pixel's component as its smallest pixel index (-1 on the background), by
 * propagating minima between equal 4-neighbours until nothing changes: slow, but sharing
 * nothing with union-find. */
static void reference_roots(int64_t *root, const int32_t *map, int64_t h, int64_t w)
{
    for (int64_t p = 0; p < h * w; p++)
        root[p] = map[p] ? p : -1;
    for (int changed = 1; changed;) {
        changed = 0;
        for (int64_t r = 0; r < h; r++)
            for (int64_t c = 0; c < w; c++) {
                const int64_t p = r * w + c;
                const int64_t nb[4] = {c > 0 ? p - 1 : -1, c + 1 < w ? p + 1 : -1,
                                       r > 0 ? p - w : -1, r + 1 < h ? p + w : -1};
                for (int k = 0; k < 4; k++)
                    if (map[p] && nb[k] >= 0 && map[nb[k]] == map[p] && root[nb[k]] < root[p]) {
                        root[p] = root[nb[k]];
                        changed = 1;
                    }
            }
    }
}

/* Random maps of up to 4 labels at several densities, every result against the reference:
 * which pixels share a component, its order, label, box and size, and the ids. */
START_TEST(random_maps_match_reference)
{
    enum { MAX = 24 };
    int32_t map[MAX * MAX];
    int64_t ids[MAX * MAX], root[MAX * MAX], size[MAX * MAX], index[MAX * MAX];
    uint64_t s = 0x9e3779b97f4a7c15u;
    for (int trial = 0; trial < 400; trial++) {
        const int64_t h = 1 + (int64_t)(next_random(&s) % MAX);
        const int64_t w = 1 + (int64_t)(next_random(&s) % MAX);
        const int64_t min_pixels = 1 + (int64_t)(next_random(&s) % 4), n = h * w;
        const uint64_t labels = 1 + next_random(&s) % 4, zero_in = 2 + next_random(&s) % 4;
        for (int64_t p = 0; p < n; p++)
            map[p] = next_random(&s) % zero_in ? (int32_t)(1 + next_random(&s) % labels) : 0;
        reference_roots(root, map, h, w);
        memset(size, 0, sizeof size);
        for (int64_t p = 0; p < n; p++)
            if (root[p] >= 0)
                size[root[p]]++;
        int64_t expected = 0;
        for (int64_t p = 0; p < n; p++) /* roots in raster order are the first pixels */
            index[p] = root[p] == p && size[p] >= min_pixels ? expected++ : -1;

        int64_t count, bad = 0;
        ad_component *c = find(&count, ids, map, h, w, min_pixels);
        ck_assert_int_eq(count, expected);
        for (int64_t p = 0; p < n; p++) {
            const int64_t want = root[p] < 0 ? -1 : index[root[p]];
            bad += ids[p] != want;
            if (root[p] == p && want >= 0) {
                int64_t row0 = h, col0 = w, row1 = 0, col1 = 0;
                for (int64_t q = 0; q < n; q++)
                    if (root[q] == p) {
                        const int64_t r = q / w, col = q % w;
                        row0 = r < row0 ? r : row0, row1 = r + 1 > row1 ? r + 1 : row1;
                        col0 = col < col0 ? col : col0, col1 = col + 1 > col1 ? col + 1 : col1;
                    }
                bad += !same_component(&c[want], map[p], row0, col0, row1, col1, size[p]);
            }
        }
        ck_assert_msg(bad == 0, "trial %d (%lld x %lld, min_pixels %lld): %lld mismatches",
                      trial, (long long)h, (long long)w, (long long)min_pixels, (long long)bad);
        free(c);
    }
}
END_TEST

/* Recursion over 4 M pixels would need far more stack than a thread has. */
START_TEST(large_single_label_is_one_component)
{
    const int64_t h = 2048, w = 2048, n = h * w;
    int32_t *map = malloc((size_t)n * sizeof *map);
    int64_t *ids = malloc((size_t)n * sizeof *ids), count;
    ck_assert(map && ids);
    for (int64_t p = 0; p < n; p++)
        map[p] = 7;
    ad_component *c = find(&count, ids, map, h, w, 1);
    ck_assert_int_eq(count, 1);
    assert_component(&c[0], 7, 0, 0, h, w, n);
    ck_assert_int_eq(ids_differing(ids, NULL, 0, n), 0);
    free(c);

    /* A comb: 1024 teeth, each its own tree until the last row joins them all. */
    for (int64_t p = 0; p < n; p++)
        map[p] = p % w % 2 == 0 || p / w == h - 1;
    c = find(&count, ids, map, h, w, 1);
    ck_assert_int_eq(count, 1);
    assert_component(&c[0], 1, 0, 0, h, w, w / 2 * h + w / 2);
    int64_t bad = 0;
    for (int64_t p = 0; p < n; p++)
        bad += ids[p] != (map[p] ? 0 : -1);
    ck_assert_int_eq(bad, 0);
    free(c);
    free(map);
    free(ids);
}
END_TEST

/* Neighbours always differ: every pixel is a component of its own, in raster order. */
START_TEST(checkerboard_is_all_singletons)
{
    const int64_t h = 300, w = 301, n = h * w;
    int32_t *map = malloc((size_t)n * sizeof *map);
    int64_t *ids = malloc((size_t)n * sizeof *ids), count;
    ck_assert(map && ids);
    for (int64_t p = 0; p < n; p++)
        map[p] = (p / w + p % w) % 2 ? 1 : 2;
    ad_component *c = find(&count, ids, map, h, w, 1);
    ck_assert_int_eq(count, n);
    int64_t bad = 0;
    for (int64_t p = 0; p < n; p++)
        bad += ids[p] != p || !same_component(&c[p], map[p], p / w, p % w, p / w + 1,
                                              p % w + 1, 1);
    ck_assert_int_eq(bad, 0);
    free(c);
    c = find(&count, ids, map, h, w, 2);
    ck_assert_int_eq(count, 0);
    ck_assert_int_eq(ids_differing(ids, NULL, -1, n), 0);
    free(map);
    free(ids);
}
END_TEST

START_TEST(component_errors_leave_outputs_untouched)
{
    const int32_t map[4] = {1, 1, 0, 1};
    int64_t ids[4] = {5, 5, 5, 5}, count = 9;
    ad_component *c = (ad_component *)0x1;
    const struct {
        ad_component **out;
        int64_t *count, *ids;
        const int32_t *map;
        int64_t h, w, min_pixels;
    } bad[] = {
        {NULL, &count, ids, map, 2, 2, 1},
        {&c, NULL, ids, map, 2, 2, 1},
        {&c, &count, NULL, map, 2, 2, 1},
        {&c, &count, ids, NULL, 2, 2, 1},
        {&c, &count, ids, map, 0, 2, 1},
        {&c, &count, ids, map, 2, -1, 1},
        {&c, &count, ids, map, 2, 2, 0},
        {&c, &count, ids, map, INT64_MAX, 2, 1},
        {&c, &count, ids, map, (int64_t)1 << 31, (int64_t)1 << 31, 1},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        TU_FAILS(ad_components_find(bad[i].out, bad[i].count, bad[i].ids, bad[i].map,
                                    bad[i].h, bad[i].w, bad[i].min_pixels, "caller_fn"),
                 ADAPT_ERR_INVALID_ARGUMENT);
        ck_assert_msg(strncmp(adapt_last_error(), "caller_fn: ", 11) == 0, "case %zu: %s", i,
                      adapt_last_error());
        ck_assert_ptr_eq(c, (ad_component *)0x1);
        ck_assert_int_eq(count, 9);
        assert_ids(ids, (const int64_t[]){5, 5, 5, 5}, 4);
    }
}
END_TEST

START_TEST(box_grow_clips_at_the_borders)
{
    const struct {
        int64_t box[4], margin, h, w, want[4];
    } cases[] = {
        {{2, 3, 4, 5}, 1, 10, 10, {1, 2, 5, 6}},            /* inside */
        {{2, 3, 4, 5}, 0, 10, 10, {2, 3, 4, 5}},            /* no margin */
        {{2, 3, 4, 5}, -4, 10, 10, {2, 3, 4, 5}},           /* negative counts as 0 */
        {{0, 1, 10, 9}, 2, 10, 10, {0, 0, 10, 10}},         /* every side clipped */
        {{3, 8, 4, 10}, 3, 5, 10, {0, 5, 5, 10}},           /* top, bottom, right */
        {{1, 1, 2, 2}, INT64_MAX, 7, 9, {0, 0, 7, 9}},      /* no overflow */
        {{0, 0, 1, 1}, 1, 1, 1, {0, 0, 1, 1}},              /* a one-pixel image */
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        int64_t box[4];
        memcpy(box, cases[i].box, sizeof box);
        ad_box_grow(box, cases[i].margin, cases[i].h, cases[i].w);
        for (int k = 0; k < 4; k++)
            ck_assert_msg(box[k] == cases[i].want[k], "case %zu: box[%d] = %lld, expected %lld",
                          i, k, (long long)box[k], (long long)cases[i].want[k]);
    }
}
END_TEST

/* One axis of PyTorch's bilinear resize without align_corners, in double: output o of `out`
 * reads cells i0, i1 of `len` with weights 1 - l, l. */
static void reference_axis(int64_t *i0, int64_t *i1, double *l, int64_t o, int64_t out,
                           int64_t len)
{
    double src = ((double)o + 0.5) * (double)len / (double)out - 0.5;
    src = src < 0 ? 0 : src;
    *i0 = (int64_t)floor(src);
    *i0 = *i0 < len - 1 ? *i0 : len - 1;
    *i1 = *i0 + 1 < len ? *i0 + 1 : *i0;
    *l = src - (double)*i0;
    *l = *l > 1 ? 1 : *l;
}

/* ad_crop_resize of `box` of image [c, h, w] to [c, dh, dw] against the double reference.
 * The image is NaN outside the box, so reading there would show. */
static void check_resize(const float *image, int64_t c, int64_t h, int64_t w,
                         const int64_t box[4], int64_t dh, int64_t dw)
{
    float *dst = malloc((size_t)(c * dh * dw) * sizeof *dst);
    ck_assert_ptr_nonnull(dst);
    ad_crop_resize(dst, dh, dw, image, c, h, w, box);
    const int64_t bh = box[2] - box[0], bw = box[3] - box[1];
    for (int64_t k = 0; k < c; k++)
        for (int64_t y = 0; y < dh; y++)
            for (int64_t x = 0; x < dw; x++) {
                int64_t r0, r1, c0, c1;
                double ly, lx;
                reference_axis(&r0, &r1, &ly, y, dh, bh);
                reference_axis(&c0, &c1, &lx, x, dw, bw);
                const float *plane = image + k * h * w + box[0] * w + box[1];
                const double want =
                    (1 - ly) * ((1 - lx) * plane[r0 * w + c0] + lx * plane[r0 * w + c1]) +
                    ly * ((1 - lx) * plane[r1 * w + c0] + lx * plane[r1 * w + c1]);
                const float got = dst[(k * dh + y) * dw + x];
                ck_assert_msg(fabs(got - want) <= 1e-5 * fmax(1.0, fabs(want)),
                              "%lldx%lld: [%lld, %lld, %lld] = %.9g, expected %.9g",
                              (long long)dh, (long long)dw, (long long)k, (long long)y,
                              (long long)x, got, want);
            }
    free(dst);
}

START_TEST(crop_resize_matches_reference)
{
    enum { C = 2, H = 9, W = 11 };
    const int64_t box[4] = {2, 3, 7, 9}; /* 5 x 6 */
    float image[C * H * W];
    uint64_t s = 42;
    for (int64_t k = 0; k < C; k++)
        for (int64_t r = 0; r < H; r++)
            for (int64_t col = 0; col < W; col++) {
                const int inside = r >= box[0] && r < box[2] && col >= box[1] && col < box[3];
                image[(k * H + r) * W + col] =
                    inside ? (float)(next_random(&s) % 2001) / 100.0f - 10.0f : NAN;
            }
    check_resize(image, C, H, W, box, 11, 13); /* up */
    check_resize(image, C, H, W, box, 3, 4);   /* down */
    check_resize(image, C, H, W, box, 10, 12); /* twice */
    check_resize(image, C, H, W, box, 5, 17);  /* rows as they are, columns up */
    check_resize(image, C, H, W, box, 2, 6);   /* rows down, columns as they are */
    check_resize(image, C, H, W, box, 1, 1);

    /* The box's own size copies it bit for bit, infinities included. */
    image[(1 * H + 4) * W + 5] = INFINITY;
    float copy[C * 5 * 6];
    ad_crop_resize(copy, 5, 6, image, C, H, W, box);
    for (int64_t k = 0; k < C; k++)
        for (int64_t r = 0; r < 5; r++)
            ck_assert_mem_eq(copy + (k * 5 + r) * 6, image + (k * H + box[0] + r) * W + box[1],
                             6 * sizeof(float));
}
END_TEST

/* Values from PyTorch's documentation of nn.Upsample (align_corners=False) and from
 * F.interpolate(torch.arange(16.).view(1, 1, 4, 4), size=(2, 2), mode="bilinear"). */
START_TEST(crop_resize_matches_pytorch_values)
{
    const float small[4] = {1, 2, 3, 4};
    const float want_up[16] = {1.00f, 1.25f, 1.75f, 2.00f, 1.50f, 1.75f, 2.25f, 2.50f,
                               2.50f, 2.75f, 3.25f, 3.50f, 3.00f, 3.25f, 3.75f, 4.00f};
    float up[16], down[4], ramp[16];
    ad_crop_resize(up, 4, 4, small, 1, 2, 2, (const int64_t[]){0, 0, 2, 2});
    for (int i = 0; i < 16; i++)
        ck_assert_float_eq(up[i], want_up[i]);
    for (int i = 0; i < 16; i++)
        ramp[i] = (float)i;
    ad_crop_resize(down, 2, 2, ramp, 1, 4, 4, (const int64_t[]){0, 0, 4, 4});
    const float want_down[4] = {2.5f, 4.5f, 10.5f, 12.5f};
    for (int i = 0; i < 4; i++)
        ck_assert_float_eq(down[i], want_down[i]);
}
END_TEST

START_TEST(map_paste_by_nearest_neighbour)
{
    /* src 3 x 2 over a 4 x 3 box at (1, 2) of a 6 x 7 map: rows read floor(r * 3 / 4) =
     * 0, 0, 1, 2, columns floor(c * 2 / 3) = 0, 0, 1. */
    const int32_t src[6] = {1, 2, 3, 4, 5, 6};
    const int64_t box[4] = {1, 2, 5, 5};
    const int32_t block[12] = {1, 1, 2, 1, 1, 2, 3, 3, 4, 5, 5, 6};
    int32_t dst[42];
    for (int i = 0; i < 42; i++)
        dst[i] = 9;
    ad_map_paste(dst, 6, 7, box, src, 3, 2, NULL);
    for (int r = 0; r < 6; r++)
        for (int c = 0; c < 7; c++) {
            const int inside = r >= 1 && r < 5 && c >= 2 && c < 5;
            ck_assert_int_eq(dst[r * 7 + c], inside ? block[(r - 1) * 3 + c - 2] : 9);
        }

    /* Only where keep is set: a diagonal band, which also covers pixels outside the box. */
    uint8_t keep[42];
    for (int i = 0; i < 42; i++) {
        keep[i] = (uint8_t)(i / 7 == i % 7 || i / 7 + 1 == i % 7);
        dst[i] = 9;
    }
    ad_map_paste(dst, 6, 7, box, src, 3, 2, keep);
    for (int r = 0; r < 6; r++)
        for (int c = 0; c < 7; c++) {
            const int inside = r >= 1 && r < 5 && c >= 2 && c < 5;
            ck_assert_int_eq(dst[r * 7 + c],
                             inside && keep[r * 7 + c] ? block[(r - 1) * 3 + c - 2] : 9);
        }

    /* Shrinking: a 4 x 4 source into a 2 x 2 box reads its rows and columns 0 and 2. */
    const int32_t big[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
    int32_t small[4] = {0};
    ad_map_paste(small, 2, 2, (const int64_t[]){0, 0, 2, 2}, big, 4, 4, NULL);
    ck_assert_mem_eq(small, ((const int32_t[]){1, 3, 9, 11}), sizeof small);
}
END_TEST

static Suite *components_suite(void)
{
    Suite *s = suite_create("components");
    TCase *tc = tcase_create("components");
    tcase_set_timeout(tc, 120); /* the 4 M-pixel maps under sanitizers */
    tcase_add_test(tc, touching_labels_stay_apart);
    tcase_add_test(tc, diagonal_contact_does_not_connect);
    tcase_add_test(tc, raster_order_boxes_and_min_pixels);
    tcase_add_test(tc, random_maps_match_reference);
    tcase_add_test(tc, large_single_label_is_one_component);
    tcase_add_test(tc, checkerboard_is_all_singletons);
    tcase_add_test(tc, component_errors_leave_outputs_untouched);
    suite_add_tcase(s, tc);
    TCase *crops = tcase_create("crops");
    tcase_add_test(crops, box_grow_clips_at_the_borders);
    tcase_add_test(crops, crop_resize_matches_reference);
    tcase_add_test(crops, crop_resize_matches_pytorch_values);
    tcase_add_test(crops, map_paste_by_nearest_neighbour);
    suite_add_tcase(s, crops);
    return s;
}

int main(void)
{
    return tu_run(components_suite());
}
