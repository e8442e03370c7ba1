/* File formats: the IDX reader (plain, gzip, hostile headers, Fashion-MNIST when installed),
 * NPY reading and writing against numpy-made files, and the safetensors reader's validation
 * of every field plus the atomic writer. */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "check_util.h"
#include "file_util.h"
#include "lib/core/error.h"
#include "lib/io/bytes.h"
#include "lib/io/idx.h"
#include "lib/io/json_guard.h"
#include "lib/io/npy.h"
#include "lib/io/safetensors.h"

#define FASHION_DIR "/usr/share/datasets/fashion-mnist"

/* The repository's tests/data, found from this file's path (relative to the build root,
 * where meson runs the tests, or absolute), or else from the repository root. */
static const char *test_data(const char *name)
{
    static char path[1024];
    const char *here = __FILE__;
    const char *cut = strstr(here, "unit/test_io.c");
    snprintf(path, sizeof path, "%.*sdata/%s", (int)(cut - here), here, name);
    if (access(path, R_OK) != 0)
        snprintf(path, sizeof path, "tests/data/%s", name);
    return path;
}

/* ---- IDX ----------------------------------------------------------------------------- */

/* An IDX file: big-endian magic and dims, then `len` data bytes; gzip-compressed if `gz`. */
static void write_idx(const char *path, uint32_t magic, const uint32_t *dims, int ndim,
                      const unsigned char *data, size_t len, int gz)
{
    unsigned char head[4 + 4 * 4];
    size_t head_len = 4 + 4 * (size_t)ndim;
    for (int i = 0; i <= ndim; i++) {
        uint32_t v = i ? dims[i - 1] : magic;
        for (int b = 0; b < 4; b++)
            head[4 * i + b] = (unsigned char)(v >> (24 - 8 * b));
    }
    if (!gz) {
        unsigned char *all = malloc(head_len + len + 1);
        memcpy(all, head, head_len);
        if (len)
            memcpy(all + head_len, data, len);
        tu_write_file(path, all, head_len + len);
        free(all);
        return;
    }
    gzFile f = gzopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(gzwrite(f, head, (unsigned)head_len), (int)head_len);
    if (len)
        ck_assert_int_eq(gzwrite(f, data, (unsigned)len), (int)len);
    ck_assert_int_eq(gzclose(f), Z_OK);
}

static unsigned char idx_pixels[3 * 2 * 4];

static void fill_idx_pixels(void)
{
    for (size_t i = 0; i < sizeof idx_pixels; i++)
        idx_pixels[i] = (unsigned char)(i * 37 % 256);
    idx_pixels[0] = 0;
    idx_pixels[1] = 255;
}

/* _i: 0 plain, 1 gzip. */
START_TEST(idx_images_read)
{
    fill_idx_pixels();
    const char *path = tu_in_scratch(_i ? "img.gz" : "img");
    write_idx(path, 0x803, (uint32_t[]){3, 2, 4}, 3, idx_pixels, sizeof idx_pixels, (int)_i);
    float *px = NULL;
    int64_t n = 0, h = 0, w = 0;
    TU_OK(ad_idx_read_images(&px, &n, &h, &w, path));
    ck_assert_int_eq(n, 3);
    ck_assert_int_eq(h, 2);
    ck_assert_int_eq(w, 4);
    for (size_t i = 0; i < sizeof idx_pixels; i++)
        ck_assert_float_eq(px[i], (float)((double)idx_pixels[i] / 255.0));
    ck_assert_float_eq(px[0], 0.0f);
    ck_assert_float_eq(px[1], 1.0f);
    free(px);
}
END_TEST

START_TEST(idx_labels_read)
{
    const unsigned char labels[] = {9, 0, 3, 255, 7};
    const char *path = tu_in_scratch(_i ? "lab.gz" : "lab");
    write_idx(path, 0x801, (uint32_t[]){5}, 1, labels, sizeof labels, (int)_i);
    int32_t *got = NULL;
    int64_t n = 0;
    TU_OK(ad_idx_read_labels(&got, &n, path));
    ck_assert_int_eq(n, 5);
    for (int i = 0; i < 5; i++)
        ck_assert_int_eq(got[i], labels[i]);
    free(got);
}
END_TEST

/* Fails with `status` and leaves every output as it was. */
static void idx_images_fail(const char *path, adapt_status status)
{
    float *px = (float *)&px;
    int64_t n = -7, h = -7, w = -7;
    TU_FAILS(ad_idx_read_images(&px, &n, &h, &w, path), status);
    ck_assert_ptr_eq(px, (float *)&px);
    ck_assert(n == -7 && h == -7 && w == -7);
}

static void idx_labels_fail(const char *path, adapt_status status)
{
    int32_t *labels = (int32_t *)&labels;
    int64_t n = -7;
    TU_FAILS(ad_idx_read_labels(&labels, &n, path), status);
    ck_assert_ptr_eq(labels, (int32_t *)&labels);
    ck_assert_int_eq(n, -7);
}

START_TEST(idx_truncated_and_trailing)
{
    fill_idx_pixels();
    const char *path = tu_in_scratch(_i ? "t.gz" : "t");
    /* Data one byte short, one byte long, header cut inside the dims, file empty. */
    write_idx(path, 0x803, (uint32_t[]){3, 2, 4}, 3, idx_pixels, sizeof idx_pixels - 1,
              (int)_i);
    idx_images_fail(path, ADAPT_ERR_FORMAT);
    unsigned char longer[sizeof idx_pixels + 1] = {0};
    write_idx(path, 0x803, (uint32_t[]){3, 2, 4}, 3, longer, sizeof longer, (int)_i);
    idx_images_fail(path, ADAPT_ERR_FORMAT);
    write_idx(path, 0x803, (uint32_t[]){3, 2, 4}, 1, NULL, 0, (int)_i);
    idx_images_fail(path, ADAPT_ERR_FORMAT);
    write_idx(path, 0x801, (uint32_t[]){5}, 1, idx_pixels, 4, (int)_i);
    idx_labels_fail(path, ADAPT_ERR_FORMAT);
    tu_write_file(path, "", 0);
    idx_images_fail(path, ADAPT_ERR_FORMAT);
    idx_labels_fail(path, ADAPT_ERR_FORMAT);
}
END_TEST

/* A gzip stream cut short or with damaged bytes inside must not pass for a shorter file. */
START_TEST(idx_gzip_damaged)
{
    fill_idx_pixels();
    const char *path = tu_in_scratch("d.gz");
    unsigned char big[4096];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (unsigned char)(i * 7919 % 251);
    write_idx(path, 0x801, (uint32_t[]){sizeof big}, 1, big, sizeof big, 1);
    size_t len;
    unsigned char *gz = tu_slurp(path, &len);
    for (size_t cut = 0; cut < len; cut += 1 + cut / 8) {
        tu_write_file(path, gz, cut);
        idx_labels_fail(path, ADAPT_ERR_FORMAT);
    }
    /* Damage in the deflate data or in the CRC/length trailer. */
    size_t spots[] = {len / 2, len - 6, len - 2};
    for (size_t s = 0; s < 3; s++) {
        unsigned char *bad = malloc(len);
        memcpy(bad, gz, len);
        bad[spots[s]] ^= 0x5a;
        tu_write_file(path, bad, len);
        idx_labels_fail(path, ADAPT_ERR_FORMAT);
        free(bad);
    }
    free(gz);
}
END_TEST

START_TEST(idx_bad_magic)
{
    fill_idx_pixels();
    const char *path = tu_in_scratch(_i ? "m.gz" : "m");
    /* A label file is not an image file and vice versa; other types and dim counts too. */
    write_idx(path, 0x801, (uint32_t[]){5}, 1, idx_pixels, 5, (int)_i);
    idx_images_fail(path, ADAPT_ERR_FORMAT);
    write_idx(path, 0x803, (uint32_t[]){3, 2, 4}, 3, idx_pixels, sizeof idx_pixels, (int)_i);
    idx_labels_fail(path, ADAPT_ERR_FORMAT);
    write_idx(path, 0x0d03, (uint32_t[]){3, 2, 4}, 3, idx_pixels, sizeof idx_pixels, (int)_i);
    idx_images_fail(path, ADAPT_ERR_FORMAT);
    write_idx(path, 0x01000803, (uint32_t[]){3, 2, 4}, 3, idx_pixels, sizeof idx_pixels,
              (int)_i);
    idx_images_fail(path, ADAPT_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(adapt_last_error(), "magic"));
    tu_write_file(path, "hello world, this is no idx file", 32);
    idx_images_fail(path, ADAPT_ERR_FORMAT);
}
END_TEST

START_TEST(idx_hostile_dims)
{
    const char *path = tu_in_scratch(_i ? "h.gz" : "h");
    unsigned char few[16] = {0};
    /* Products that overflow int64, products far beyond the file, and zero dims. */
    write_idx(path, 0x803, (uint32_t[]){0xffffffffu, 0xffffffffu, 0xffffffffu}, 3, few,
              sizeof few, (int)_i);
    idx_images_fail(path, ADAPT_ERR_FORMAT);
    write_idx(path, 0x803, (uint32_t[]){0x10000u, 0x10000u, 0x8000u}, 3, few, sizeof few,
              (int)_i);
    idx_images_fail(path, ADAPT_ERR_FORMAT);
    write_idx(path, 0x803, (uint32_t[]){60000, 28, 28}, 3, few, sizeof few, (int)_i);
    idx_images_fail(path, ADAPT_ERR_FORMAT);
    write_idx(path, 0x801, (uint32_t[]){0xffffffffu}, 1, few, sizeof few, (int)_i);
    idx_labels_fail(path, ADAPT_ERR_FORMAT);
    write_idx(path, 0x803, (uint32_t[]){0, 2, 4}, 3, few, 0, (int)_i);
    idx_images_fail(path, ADAPT_ERR_FORMAT);
    write_idx(path, 0x803, (uint32_t[]){2, 0, 4}, 3, few, 0, (int)_i);
    idx_images_fail(path, ADAPT_ERR_FORMAT);
}
END_TEST

START_TEST(idx_missing_and_null)
{
    const char *path = tu_in_scratch("absent");
    idx_images_fail(path, ADAPT_ERR_IO);
    ck_assert_ptr_nonnull(strstr(adapt_last_error(), strerror(ENOENT)));
    idx_labels_fail(path, ADAPT_ERR_IO);
    idx_images_fail(tu_scratch_dir(), ADAPT_ERR_IO); /* a directory */
    float *px;
    int32_t *lab;
    int64_t n, h, w;
    TU_FAILS(ad_idx_read_images(NULL, &n, &h, &w, path), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(ad_idx_read_images(&px, &n, &h, NULL, path), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(ad_idx_read_images(&px, &n, &h, &w, NULL), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(ad_idx_read_labels(&lab, NULL, path), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(ad_idx_read_labels(NULL, &n, path), ADAPT_ERR_INVALID_ARGUMENT);
}
END_TEST

/* The real dataset: sizes, labels 0..9 with Fashion-MNIST's exact class balance, and pixels
 * in [0, 1] that are not all alike. */
static void check_fashion(const char *images, const char *labels, int64_t count)
{
    char ip[256], lp[256];
    snprintf(ip, sizeof ip, FASHION_DIR "/%s", images);
    snprintf(lp, sizeof lp, FASHION_DIR "/%s", labels);
    float *px;
    int32_t *lab;
    int64_t n, h, w, nl;
    TU_OK(ad_idx_read_images(&px, &n, &h, &w, ip));
    TU_OK(ad_idx_read_labels(&lab, &nl, lp));
    ck_assert_int_eq(n, count);
    ck_assert_int_eq(h, 28);
    ck_assert_int_eq(w, 28);
    ck_assert_int_eq(nl, count);
    int64_t per_class[10] = {0};
    for (int64_t i = 0; i < nl; i++) {
        ck_assert(lab[i] >= 0 && lab[i] <= 9);
        per_class[lab[i]]++;
    }
    for (int c = 0; c < 10; c++)
        ck_assert_int_eq(per_class[c], count / 10);
    double sum = 0;
    float lo = 1, hi = 0;
    for (int64_t i = 0; i < n * h * w; i++) {
        sum += px[i];
        lo = px[i] < lo ? px[i] : lo;
        hi = px[i] > hi ? px[i] : hi;
    }
    ck_assert_float_eq(lo, 0.0f);
    ck_assert_float_eq(hi, 1.0f);
    double mean = sum / (double)(n * h * w);
    ck_assert_msg(mean > 0.2 && mean < 0.4, "mean pixel %g", mean);
    free(px);
    free(lab);
}

START_TEST(idx_fashion_mnist)
{
    if (access(FASHION_DIR "/train-images-idx3-ubyte.gz", R_OK) != 0) {
        printf("idx_fashion_mnist: skipped, %s is not installed (Debian package "
               "dataset-fashion-mnist)\n", FASHION_DIR);
        return;
    }
    check_fashion("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", 60000);
    check_fashion("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz", 10000);
}
END_TEST

/* ---- NPY ----------------------------------------------------------------------------- */

START_TEST(npy_round_trip)
{
    static const int64_t shapes[][3] = {{0}, {5}, {2, 3, 4}, {3, 0}};
    static const int32_t ranks[] = {0, 1, 3, 2};
    const char *path = tu_in_scratch("a.npy");
    for (int c = 0; c < 4; c++) {
        float src[24];
        tu_fill(src, 24, (uint64_t)c + 1, -3.0f, 3.0f);
        TU_OK(adapt_npy_write(path, src, ranks[c], shapes[c]));
        float *got = NULL;
        int32_t ndim = -1;
        int64_t shape[ADAPT_MAX_DIMS];
        TU_OK(adapt_npy_read(&got, &ndim, shape, path));
        ck_assert_int_eq(ndim, ranks[c]);
        int64_t numel = 1;
        for (int d = 0; d < ndim; d++) {
            ck_assert_int_eq(shape[d], shapes[c][d]);
            numel *= shape[d];
        }
        ck_assert_ptr_nonnull(got);
        ck_assert_mem_eq(got, src, (size_t)numel * sizeof(float));
        free(got);
        /* numpy aligns the data at 64 bytes; so do we. */
        size_t len;
        unsigned char *bytes = tu_slurp(path, &len);
        ck_assert_uint_eq((len - (size_t)numel * 4) % 64, 0);
        free(bytes);
    }
    ck_assert_int_eq(tu_count_files(tu_scratch_dir(), ".tmp."), 0);
}
END_TEST

/* Files numpy 1.24 wrote (tests/data/npy_*.npy): read them, and write byte-identical ones. */
START_TEST(npy_numpy_files)
{
    static const struct {
        const char *file;
        int32_t ndim;
        int64_t shape[2];
        float values[6];
        int64_t numel;
    } cases[] = {
        {"npy_f4_2x3.npy", 2, {2, 3}, {-1.0f, -0.5f, 0.0f, 0.5f, 1.0f, 1.5f}, 6},
        {"npy_f4_scalar.npy", 0, {0}, {3.5f}, 1},
        {"npy_f4_empty.npy", 2, {0, 4}, {0}, 0},
        {"npy_f4_v2.npy", 1, {5}, {1.0f, -2.0f, 0.25f, 1e-3f, 7.0f}, 5},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        float *got;
        int32_t ndim;
        int64_t shape[ADAPT_MAX_DIMS];
        TU_OK(adapt_npy_read(&got, &ndim, shape, test_data(cases[c].file)));
        ck_assert_int_eq(ndim, cases[c].ndim);
        for (int d = 0; d < ndim; d++)
            ck_assert_int_eq(shape[d], cases[c].shape[d]);
        for (int64_t i = 0; i < cases[c].numel; i++)
            ck_assert_float_eq(got[i], cases[c].values[i]);
        /* numpy writes version 1.0; ours must match it byte for byte. */
        if (c < 3) {
            const char *mine = tu_in_scratch("mine.npy");
            TU_OK(adapt_npy_write(mine, got, ndim, shape));
            size_t len;
            unsigned char *theirs = tu_slurp(test_data(cases[c].file), &len);
            tu_assert_file_holds(mine, theirs, len);
            free(theirs);
        }
        free(got);
    }
}
END_TEST

START_TEST(npy_unsupported_numpy_files)
{
    static const char *files[] = {"npy_f8.npy", "npy_f4_be.npy", "npy_f4_fortran.npy"};
    static const char *named[] = {"<f8", ">f4", "Fortran"};
    for (int c = 0; c < 3; c++) {
        float *got = (float *)&got;
        int32_t ndim = -1;
        int64_t shape[ADAPT_MAX_DIMS] = {-1};
        TU_FAILS(adapt_npy_read(&got, &ndim, shape, test_data(files[c])),
                 ADAPT_ERR_UNSUPPORTED);
        ck_assert_ptr_nonnull(strstr(adapt_last_error(), named[c]));
        ck_assert_ptr_eq(got, (float *)&got);
        ck_assert(ndim == -1 && shape[0] == -1);
    }
}
END_TEST

/* An NPY image: version `major`, header text padded as given, then `data_len` zero bytes. */
static unsigned char *npy_image(size_t *len, int major, const char *header, size_t data_len)
{
    size_t pre = major == 1 ? 10 : 12, hl = strlen(header);
    *len = pre + hl + data_len;
    unsigned char *b = calloc(1, *len + 1);
    memcpy(b, "\x93NUMPY", 6);
    b[6] = (unsigned char)major;
    b[7] = 0;
    if (major == 1) {
        b[8] = (unsigned char)(hl & 0xff);
        b[9] = (unsigned char)(hl >> 8);
    } else {
        ad_put_le32(b + 8, (uint32_t)hl);
    }
    memcpy(b + pre, header, hl);
    return b;
}

static adapt_status npy_parse_image(const unsigned char *bytes, size_t len)
{
    ad_source src;
    ad_source_memory(&src, bytes, len);
    float *data = NULL;
    int32_t ndim;
    int64_t shape[ADAPT_MAX_DIMS];
    adapt_status st = ad_npy_read_source(&data, &ndim, shape, &src, "test");
    free(data);
    return st;
}

static adapt_status npy_try(const char *header, size_t data_len)
{
    size_t len;
    unsigned char *b = npy_image(&len, 1, header, data_len);
    adapt_status st = npy_parse_image(b, len);
    free(b);
    return st;
}

START_TEST(npy_header_variants_accepted)
{
    /* Key order, quotes, spacing and the trailing comma are free; the newline optional. */
    TU_OK(npy_try("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }\n", 24));
    TU_OK(npy_try("{\"shape\":(2,3),\"fortran_order\":False,\"descr\":\"<f4\"}", 24));
    TU_OK(npy_try("{ 'descr' : '<f4' , 'fortran_order' : False , 'shape' : ( 4 , ) }  \n", 16));
    TU_OK(npy_try("{'descr': '<f4', 'fortran_order': False, 'shape': (1, 2, 1,), }", 8));
    TU_OK(npy_try("{'descr': '<f4', 'fortran_order': False, 'shape': (0,), }", 0));
    TU_OK(npy_try("{'descr': '<f4', 'fortran_order': False, 'shape': (1,1,1,1,1,1,1,2), }",
                  8));
    size_t len;
    unsigned char *b = npy_image(&len, 2, "{'descr': '<f4', 'fortran_order': False, "
                                          "'shape': (), }\n", 4);
    TU_OK(npy_parse_image(b, len));
    free(b);
}
END_TEST

START_TEST(npy_bad_headers)
{
    static const char *malformed[] = {
        "",
        "{",
        "[]",
        "{'descr': '<f4', 'fortran_order': False}",
        "{'descr': '<f4', 'shape': (2,)}",
        "{'fortran_order': False, 'shape': (2,)}",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'extra': 1}",
        "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2,)}",
        "{'descr': '<f4' 'fortran_order': False, 'shape': (2,)}",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (2)}",
        "{'descr': '<f4', 'fortran_order': False, 'shape': [2]}",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (2 3,)}",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (2,,)}",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (,)}",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (-2,)}",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (02,)}",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (2L,)}",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (2.0,)}",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,)}",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (4611686018427387904, 4)}",
        "{'descr': '<f4', 'fortran_order': false, 'shape': (2,)}",
        "{'descr': '<f4', 'fortran_order': 0, 'shape': (2,)}",
        "{'descr': <f4, 'fortran_order': False, 'shape': (2,)}",
        "{'descr': '<f4\", 'fortran_order': False, 'shape': (2,)}",
        "{'descr': '<f\\x34', 'fortran_order': False, 'shape': (2,)}",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (2,)} x",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (2,)}\n\n",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (2,)",
    };
    for (size_t i = 0; i < sizeof malformed / sizeof malformed[0]; i++) {
        adapt_status st = npy_try(malformed[i], 8);
        ck_assert_msg(st == ADAPT_ERR_FORMAT, "%s -> %s", malformed[i], adapt_status_string(st));
    }
    static const char *unsupported[] = {
        "{'descr': '<i4', 'fortran_order': False, 'shape': (2,)}",
        "{'descr': '|u1', 'fortran_order': False, 'shape': (2,)}",
        "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,)}",
        "{'descr': '<f4', 'fortran_order': True, 'shape': (2,)}",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (1,1,1,1,1,1,1,1,2)}",
    };
    for (size_t i = 0; i < sizeof unsupported / sizeof unsupported[0]; i++)
        TU_FAILS(npy_try(unsupported[i], 8), ADAPT_ERR_UNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(adapt_last_error(), "9 dims"));
    TU_FAILS(npy_try("{'descr': '<i4', 'fortran_order': False, 'shape': (2,)}", 8),
             ADAPT_ERR_UNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(adapt_last_error(), "'<i4'"));
}
END_TEST

START_TEST(npy_bad_preamble_and_data)
{
    const char *ok = "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }\n";
    TU_FAILS(npy_try(ok, 7), ADAPT_ERR_FORMAT);
    TU_FAILS(npy_try(ok, 9), ADAPT_ERR_FORMAT);
    size_t len;
    unsigned char *b = npy_image(&len, 1, ok, 8);
    for (size_t cut = 0; cut < len; cut++)
        TU_FAILS(npy_parse_image(b, cut), ADAPT_ERR_FORMAT);
    b[0] = 'x';
    TU_FAILS(npy_parse_image(b, len), ADAPT_ERR_FORMAT);
    b[0] = 0x93;
    b[6] = 3;
    TU_FAILS(npy_parse_image(b, len), ADAPT_ERR_UNSUPPORTED);
    b[6] = 1;
    b[7] = 1;
    TU_FAILS(npy_parse_image(b, len), ADAPT_ERR_UNSUPPORTED);
    b[7] = 0;
    b[8] = 0xff; /* header length past the end of the file */
    TU_FAILS(npy_parse_image(b, len), ADAPT_ERR_FORMAT);
    free(b);
    b = npy_image(&len, 2, ok, 8);
    ad_put_le32(b + 8, 0x7fffffffu); /* absurd version-2 header length */
    TU_FAILS(npy_parse_image(b, len), ADAPT_ERR_FORMAT);
    free(b);
    /* The file functions: a file cut short, a missing file, NULL arguments. */
    b = npy_image(&len, 1, ok, 8);
    const char *path = tu_in_scratch("cut.npy");
    tu_write_file(path, b, len - 1);
    float *data;
    int32_t ndim;
    int64_t shape[ADAPT_MAX_DIMS];
    TU_FAILS(adapt_npy_read(&data, &ndim, shape, path), ADAPT_ERR_FORMAT);
    TU_FAILS(adapt_npy_read(&data, &ndim, shape, tu_in_scratch("none.npy")), ADAPT_ERR_IO);
    ck_assert_ptr_nonnull(strstr(adapt_last_error(), strerror(ENOENT)));
    TU_FAILS(adapt_npy_read(NULL, &ndim, shape, path), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_npy_read(&data, NULL, shape, path), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_npy_read(&data, &ndim, NULL, path), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_npy_read(&data, &ndim, shape, NULL), ADAPT_ERR_INVALID_ARGUMENT);
    free(b);
}
END_TEST

START_TEST(npy_write_errors)
{
    float x[4] = {1, 2, 3, 4};
    const char *path = tu_in_scratch("w.npy");
    TU_FAILS(adapt_npy_write(NULL, x, 1, (int64_t[]){4}), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_npy_write(path, NULL, 1, (int64_t[]){4}), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_npy_write(path, x, 1, NULL), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_npy_write(path, x, 1, (int64_t[]){-4}), ADAPT_ERR_SHAPE);
    TU_FAILS(adapt_npy_write(path, x, ADAPT_MAX_DIMS + 1, (int64_t[9]){1}), ADAPT_ERR_SHAPE);
    TU_FAILS(adapt_npy_write(path, x, -1, (int64_t[]){4}), ADAPT_ERR_SHAPE);
    TU_FAILS(adapt_npy_write(path, x, 2, (int64_t[]){INT64_MAX, 4}), ADAPT_ERR_OVERFLOW);
    ck_assert_int_eq(access(path, F_OK), -1);
    TU_FAILS(adapt_npy_write(tu_in_scratch("no/such/dir.npy"), x, 1, (int64_t[]){4}),
             ADAPT_ERR_IO);
    TU_OK(adapt_npy_write(path, NULL, 1, (int64_t[]){0}));
    ck_assert_int_eq(tu_count_files(tu_scratch_dir(), ".tmp."), 0);
}
END_TEST

/* ---- safetensors --------------------------------------------------------------------- */

START_TEST(st_round_trip)
{
    float a[6], b[4], c[1];
    tu_fill(a, 6, 1, -1, 1);
    tu_fill(b, 4, 2, -1, 1);
    c[0] = 42.0f;
    ad_st_tensor t[] = {{"layer.weight", a, 2, (int64_t[]){2, 3}},
                        {"b", b, 1, (int64_t[]){4}},
                        {"scalar", c, 0, NULL},
                        {"empty", NULL, 2, (int64_t[]){0, 5}}};
    ad_st_meta meta[] = {{"format", "test"}, {"note", "{\"json\": [1, 2]} \xc3\xa9"}};
    const char *path = tu_in_scratch("rt.safetensors");
    TU_OK(ad_safetensors_write(path, t, 4, meta, 2, "test"));
    ck_assert_int_eq(tu_count_files(tu_scratch_dir(), ".tmp."), 0);

    size_t len;
    unsigned char *bytes = tu_slurp(path, &len);
    uint64_t hl = ad_le64(bytes);
    ck_assert_uint_eq(hl % 8, 0);
    ck_assert_uint_eq(len, 8 + hl + (6 + 4 + 1) * 4);
    ck_assert_int_eq(bytes[8], '{');
    ck_assert_int_eq(bytes[8 + hl - 1] == '}' || bytes[8 + hl - 1] == ' ', 1);
    /* Contiguous, in the order given. */
    ck_assert_mem_eq(bytes + 8 + hl, a, sizeof a);
    ck_assert_mem_eq(bytes + 8 + hl + sizeof a, b, sizeof b);
    ck_assert_mem_eq(bytes + 8 + hl + sizeof a + sizeof b, c, sizeof c);
    free(bytes);

    ad_safetensors *st;
    TU_OK(ad_safetensors_open(&st, path, "test"));
    ck_assert_int_eq(st->count, 4);
    ck_assert_str_eq(st->entries[0].name, "layer.weight");
    ck_assert_str_eq(st->entries[3].name, "empty");
    ck_assert_str_eq(ad_safetensors_metadata(st, "format"), "test");
    ck_assert_str_eq(ad_safetensors_metadata(st, "note"), meta[1].value);
    ck_assert_ptr_null(ad_safetensors_metadata(st, "missing"));
    ck_assert_ptr_null(ad_safetensors_find(st, "missing"));
    const ad_st_entry *e = ad_safetensors_find(st, "layer.weight");
    ck_assert_ptr_nonnull(e);
    ck_assert_str_eq(e->dtype, "F32");
    ck_assert(e->ndim == 2 && e->shape[0] == 2 && e->shape[1] == 3 && e->numel == 6);
    float got[6];
    TU_OK(ad_safetensors_read_f32(st, e, got, "test"));
    ck_assert_mem_eq(got, a, sizeof a);
    e = ad_safetensors_find(st, "scalar");
    ck_assert(e->ndim == 0 && e->numel == 1);
    TU_OK(ad_safetensors_read_f32(st, e, got, "test"));
    ck_assert_float_eq(got[0], 42.0f);
    e = ad_safetensors_find(st, "empty");
    ck_assert(e->ndim == 2 && e->numel == 0 && e->begin == e->end);
    ad_safetensors_close(st);
}
END_TEST

/* A safetensors image: the header text as given (no padding added), then `data_len` bytes. */
static unsigned char *st_image(size_t *len, const char *header, size_t data_len)
{
    size_t hl = strlen(header);
    *len = 8 + hl + data_len;
    unsigned char *b = calloc(1, *len + 1);
    ad_put_le64(b, hl);
    memcpy(b + 8, header, hl);
    for (size_t i = 0; i < data_len; i++)
        b[8 + hl + i] = (unsigned char)(i * 13);
    return b;
}

static adapt_status st_try(const char *header, size_t data_len)
{
    size_t len;
    unsigned char *b = st_image(&len, header, data_len);
    ad_safetensors *st = NULL;
    adapt_status status = ad_safetensors_open_memory(&st, b, len, "test");
    ad_safetensors_close(st);
    free(b);
    return status;
}

START_TEST(st_valid_variants)
{
    /* Every dtype the format defines, checked for size; an empty file; metadata alone. */
    TU_OK(st_try("{\"a\":{\"dtype\":\"I64\",\"shape\":[],\"data_offsets\":[0,8]},"
                 "\"b\":{\"dtype\":\"BF16\",\"shape\":[3],\"data_offsets\":[8,14]},"
                 "\"c\":{\"dtype\":\"BOOL\",\"shape\":[2],\"data_offsets\":[14,16]},"
                 "\"d\":{\"dtype\":\"F64\",\"shape\":[1,1],\"data_offsets\":[16,24]}}   ",
                 24));
    TU_OK(st_try("{}", 0));
    TU_OK(st_try("{\"__metadata__\":{\"k\":\"v\"}}", 0));
    /* Order in the header is free; zero-sized entries may sit anywhere on the tiling. */
    TU_OK(st_try("{\"z\":{\"dtype\":\"F32\",\"shape\":[0,3],\"data_offsets\":[4,4]},"
                 "\"y\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]},"
                 "\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}",
                 8));
    /* Reading a non-F32 entry is refused, but opening works. */
    size_t len;
    unsigned char *b = st_image(&len, "{\"n\":{\"dtype\":\"I64\",\"shape\":[1],"
                                      "\"data_offsets\":[0,8]}}", 8);
    ad_safetensors *st;
    TU_OK(ad_safetensors_open_memory(&st, b, len, "test"));
    float out[2];
    TU_FAILS(ad_safetensors_read_f32(st, &st->entries[0], out, "test"), ADAPT_ERR_UNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(adapt_last_error(), "I64"));
    ad_safetensors_close(st);
    free(b);
}
END_TEST

#define E32(name, shape, b, e) \
    "\"" name "\":{\"dtype\":\"F32\",\"shape\":" shape ",\"data_offsets\":[" #b "," #e "]}"

START_TEST(st_validation_errors)
{
    static const struct {
        const char *header;
        size_t data;
        const char *says;
    } cases[] = {
        {"", 0, "not a safetensors file"},
        {"[]", 0, "not a safetensors file"},
        {" {}", 0, "not a safetensors file"},
        {"{\"a\":1}", 0, "exactly"},
        {"{" E32("a", "[1]", 0, 4) "x", 4, "JSON"},
        {"{" E32("a", "[1]", 0, 4) "," E32("a", "[1]", 4, 8) "}", 8, "JSON"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4, "exactly"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"x\":1}}", 4,
         "exactly"},
        {"{\"a\":{\"dtype\":\"F99\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "dtype"},
        {"{\"a\":{\"dtype\":4,\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "dtype"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":1,\"data_offsets\":[0,4]}}", 4, "shape"},
        {"{" E32("a", "[-1]", 0, 4) "}", 4, "shape"},
        {"{" E32("a", "[1.0]", 0, 4) "}", 4, "shape"},
        {"{" E32("a", "[\"1\"]", 0, 4) "}", 4, "shape"},
        {"{" E32("a", "[4611686018427387904,4]", 0, 4) "}", 4, "overflow"},
        {"{" E32("a", "[99999999999999999999]", 0, 4) "}", 4, "JSON"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}", 4, "data_offsets"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4,8]}}", 4,
         "data_offsets"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":{}}}", 4, "data_offsets"},
        {"{" E32("a", "[1]", -4, 0) "}", 4, "data_offsets"},
        {"{" E32("a", "[1]", 4, 0) "}", 4, "outside"},
        {"{" E32("a", "[1]", 4, 8) "}", 4, "outside"},
        {"{" E32("a", "[2]", 0, 4) "}", 4, "data bytes"},
        {"{" E32("a", "[1]", 0, 8) "}", 8, "data bytes"},
        {"{" E32("a", "[2]", 0, 8) "," E32("b", "[1]", 4, 8) "}", 8, "overlap"},
        {"{" E32("a", "[1]", 0, 4) "," E32("b", "[1]", 8, 12) "}", 12, "gap"},
        {"{" E32("a", "[1]", 4, 8) "}", 8, "gap"},
        {"{" E32("a", "[1]", 0, 4) "}", 8, "after the last"},
        {"{" E32("a", "[1]", 0, 4) "," E32("b", "[1]", 0, 4) "}", 4, "overlap"},
        {"{\"__metadata__\":[]}", 0, "__metadata__"},
        {"{\"__metadata__\":{\"k\":1}}", 0, "__metadata__"},
        {"{\"a\\u0000b\":{}}", 0, "JSON"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        adapt_status st = st_try(cases[i].header, cases[i].data);
        ck_assert_msg(st == ADAPT_ERR_FORMAT, "case %zu: %s -> %s", i, cases[i].header,
                      adapt_status_string(st));
        ck_assert_msg(strstr(adapt_last_error(), cases[i].says), "case %zu: '%s' lacks '%s'",
                      i, adapt_last_error(), cases[i].says);
    }
}
END_TEST

START_TEST(st_bad_lengths)
{
    size_t len;
    unsigned char *b = st_image(&len, "{" E32("a", "[2]", 0, 8) "}", 8);
    ad_safetensors *st = (ad_safetensors *)&st;
    /* Every truncation fails cleanly and leaves *out alone. */
    for (size_t cut = 0; cut < len; cut++) {
        TU_FAILS(ad_safetensors_open_memory(&st, b, cut, "test"), ADAPT_ERR_FORMAT);
        ck_assert_ptr_eq(st, (ad_safetensors *)&st);
    }
    uint64_t hl = ad_le64(b);
    ad_put_le64(b, hl + 9); /* past the file */
    TU_FAILS(ad_safetensors_open_memory(&st, b, len, "test"), ADAPT_ERR_FORMAT);
    ad_put_le64(b, (uint64_t)1 << 62);
    TU_FAILS(ad_safetensors_open_memory(&st, b, len, "test"), ADAPT_ERR_FORMAT);
    ad_put_le64(b, UINT64_MAX);
    TU_FAILS(ad_safetensors_open_memory(&st, b, len, "test"), ADAPT_ERR_FORMAT);
    ad_put_le64(b, hl - 1); /* header cut: invalid JSON */
    TU_FAILS(ad_safetensors_open_memory(&st, b, len, "test"), ADAPT_ERR_FORMAT);
    free(b);
    TU_FAILS(ad_safetensors_open(&st, tu_in_scratch("none"), "test"), ADAPT_ERR_IO);
    TU_FAILS(ad_safetensors_open(&st, tu_scratch_dir(), "test"), ADAPT_ERR_IO);
}
END_TEST

START_TEST(st_write_errors)
{
    float a[2] = {1, 2};
    const char *path = tu_in_scratch("w.safetensors");
    ad_st_tensor ok = {"a", a, 1, (int64_t[]){2}};
    TU_OK(ad_safetensors_write(path, &ok, 1, NULL, 0, "test"));
    size_t before_len;
    unsigned char *before = tu_slurp(path, &before_len);
    ad_st_tensor dup[] = {ok, ok};
    ad_st_tensor reserved = {"__metadata__", a, 1, (int64_t[]){2}};
    ad_st_tensor not_utf8 = {"\xff\xfe", a, 1, (int64_t[]){2}};
    ad_st_tensor bad_shape = {"a", a, 1, (int64_t[]){-2}};
    ad_st_tensor null_data = {"a", NULL, 1, (int64_t[]){2}};
    ad_st_meta bad_meta = {"k", "\xc3"};
    TU_FAILS(ad_safetensors_write(path, dup, 2, NULL, 0, "test"), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(ad_safetensors_write(path, &reserved, 1, NULL, 0, "test"),
             ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(ad_safetensors_write(path, &not_utf8, 1, NULL, 0, "test"),
             ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(ad_safetensors_write(path, &bad_shape, 1, NULL, 0, "test"), ADAPT_ERR_SHAPE);
    TU_FAILS(ad_safetensors_write(path, &null_data, 1, NULL, 0, "test"),
             ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(ad_safetensors_write(path, &ok, 1, &bad_meta, 1, "test"),
             ADAPT_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(adapt_last_error(), "value of 'k'"));
    TU_FAILS(ad_safetensors_write(NULL, &ok, 1, NULL, 0, "test"), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(ad_safetensors_write(path, NULL, 1, NULL, 0, "test"), ADAPT_ERR_INVALID_ARGUMENT);
    /* Renaming onto a directory fails after the data was written: the temp file goes. */
    const char *dir = tu_in_scratch("a_dir");
    ck_assert_int_eq(mkdir(dir, 0700), 0);
    TU_FAILS(ad_safetensors_write(dir, &ok, 1, NULL, 0, "test"), ADAPT_ERR_IO);
    TU_FAILS(ad_safetensors_write(tu_in_scratch("missing/x"), &ok, 1, NULL, 0, "test"),
             ADAPT_ERR_IO);
    TU_FAILS(ad_safetensors_write("/proc/adapt_unwritable.safetensors", &ok, 1, NULL, 0,
                                  "test"), ADAPT_ERR_IO);
    tu_assert_file_holds(path, before, before_len);
    ck_assert_int_eq(tu_count_files(tu_scratch_dir(), ".tmp."), 0);
    free(before);
}
END_TEST

/* ---- special files ------------------------------------------------------------------- */

/* A FIFO nobody writes to and a character device are refused at once as IO by every reader:
 * opening the FIFO must not wait for a writer (the test would then time out). */
START_TEST(special_files_refused)
{
    const char *fifo = tu_in_scratch("fifo");
    ck_assert_int_eq(mkfifo(fifo, 0600), 0);
    const char *paths[] = {fifo, "/dev/null"};
    for (int i = 0; i < 2; i++) {
        idx_images_fail(paths[i], ADAPT_ERR_IO);
        ck_assert_ptr_nonnull(strstr(adapt_last_error(), "not a regular file"));
        idx_labels_fail(paths[i], ADAPT_ERR_IO);
        float *data = (float *)&data;
        int32_t ndim = -1;
        int64_t shape[ADAPT_MAX_DIMS];
        TU_FAILS(adapt_npy_read(&data, &ndim, shape, paths[i]), ADAPT_ERR_IO);
        ck_assert_ptr_nonnull(strstr(adapt_last_error(), paths[i]));
        ck_assert(data == (float *)&data && ndim == -1);
        ad_safetensors *st = (ad_safetensors *)&st;
        TU_FAILS(ad_safetensors_open(&st, paths[i], "test"), ADAPT_ERR_IO);
        ck_assert_ptr_eq(st, (ad_safetensors *)&st);
    }
}
END_TEST

/* The check that lets a failed json_string or json_object_set_new mean memory ran out:
 * it must agree with jansson's own validation on every class of sequence. */
START_TEST(json_utf8_agrees_with_jansson)
{
    static const char *const texts[] = {
        "", "plain", "caf\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80", "\xf4\x8f\xbf\xbf",
        "\xc3", "\xff", "\x80", "\xc0\xaf", "\xe0\x80\xaf", "\xf0\x80\x80\xaf",
        "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xf5\x80\x80\x80", "ok\xe2\x82", "\xe2\x28\xa1",
    };
    for (size_t i = 0; i < sizeof texts / sizeof *texts; i++) {
        json_t *s = json_string(texts[i]);
        ck_assert_msg(ad_json_utf8(texts[i]) == (s != NULL), "text %zu", i);
        json_decref(s);
    }
}
END_TEST

START_TEST(json_guarded_parse_and_print)
{
    json_error_t error;
    json_t *root = NULL;
    ck_assert_int_eq(ad_json_parse(&root, "{\"a\": [1, 2]}", 13, 0, &error), ADAPT_OK);
    char *text = NULL;
    ck_assert_int_eq(ad_json_print(&text, root, JSON_COMPACT), ADAPT_OK);
    ck_assert_str_eq(text, "{\"a\":[1,2]}");
    free(text);
    json_decref(root);
    root = (json_t *)&root;
    ck_assert_int_eq(ad_json_parse(&root, "{\"a\": ", 6, 0, &error), ADAPT_ERR_FORMAT);
    ck_assert_ptr_null(root);
    ck_assert_int_eq(ad_errno_status(ENOMEM), ADAPT_ERR_OUT_OF_MEMORY);
    ck_assert_int_eq(ad_errno_status(ENOENT), ADAPT_ERR_IO);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("io");
    TCase *idx = tcase_create("idx");
    tcase_add_checked_fixture(idx, tu_scratch_setup, tu_scratch_teardown);
    tcase_add_loop_test(idx, idx_images_read, 0, 2);
    tcase_add_loop_test(idx, idx_labels_read, 0, 2);
    tcase_add_loop_test(idx, idx_truncated_and_trailing, 0, 2);
    tcase_add_test(idx, idx_gzip_damaged);
    tcase_add_loop_test(idx, idx_bad_magic, 0, 2);
    tcase_add_loop_test(idx, idx_hostile_dims, 0, 2);
    tcase_add_test(idx, idx_missing_and_null);
    tcase_add_test(idx, idx_fashion_mnist);
    tcase_set_timeout(idx, 120);
    suite_add_tcase(s, idx);
    TCase *npy = tcase_create("npy");
    tcase_add_checked_fixture(npy, tu_scratch_setup, tu_scratch_teardown);
    tcase_add_test(npy, npy_round_trip);
    tcase_add_test(npy, npy_numpy_files);
    tcase_add_test(npy, npy_unsupported_numpy_files);
    tcase_add_test(npy, npy_header_variants_accepted);
    tcase_add_test(npy, npy_bad_headers);
    tcase_add_test(npy, npy_bad_preamble_and_data);
    tcase_add_test(npy, npy_write_errors);
    suite_add_tcase(s, npy);
    TCase *st = tcase_create("safetensors");
    tcase_add_checked_fixture(st, tu_scratch_setup, tu_scratch_teardown);
    tcase_add_test(st, st_round_trip);
    tcase_add_test(st, st_valid_variants);
    tcase_add_test(st, st_validation_errors);
    tcase_add_test(st, st_bad_lengths);
    tcase_add_test(st, st_write_errors);
    suite_add_tcase(s, st);
    TCase *json = tcase_create("json");
    tcase_add_test(json, json_utf8_agrees_with_jansson);
    tcase_add_test(json, json_guarded_parse_and_print);
    suite_add_tcase(s, json);
    TCase *special = tcase_create("special files");
    tcase_add_checked_fixture(special, tu_scratch_setup, tu_scratch_teardown);
    tcase_add_test(special, special_files_refused);
    tcase_set_timeout(special, 10);
    suite_add_tcase(s, special);
    return tu_run(s);
}
