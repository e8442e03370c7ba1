/* Datasets: wrapping without copies, samples, seeded splits, batch assembly, and IDX files
 * (written here, plain and gzip-compressed; Fashion-MNIST too when installed). */
#define _POSIX_C_SOURCE 200809L

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "check_util.h"
#include "lib/train/batch.h"

#define FMNIST_DIR "/usr/share/datasets/fashion-mnist"

/* x[i] = i, labels[i] = i % 3, for N samples of shape [2, 3]. */
#define N 100
static float xs[N * 6];
static int32_t ys[N];

static adapt_dataset *wrap_fixture(void)
{
    for (int i = 0; i < N * 6; i++)
        xs[i] = (float)i;
    for (int i = 0; i < N; i++)
        ys[i] = i % 3;
    adapt_dataset *ds = NULL;
    TU_OK(adapt_dataset_wrap(&ds, xs, 3, (int64_t[]){N, 2, 3}, ys));
    return ds;
}

/* Position of a sample in xs, from its borrowed pointer. */
static int64_t base_of(const adapt_dataset *ds, int64_t i)
{
    const float *x = NULL;
    int32_t label = -1;
    TU_OK(adapt_dataset_sample(&x, &label, ds, i));
    const int64_t base = (x - xs) / 6;
    ck_assert_int_eq(label, base % 3);
    return base;
}

START_TEST(wrap_borrows_caller_arrays)
{
    adapt_dataset *ds = wrap_fixture();
    ck_assert_int_eq(adapt_dataset_count(ds), N);
    int64_t shape[ADAPT_MAX_DIMS] = {0};
    ck_assert_int_eq(adapt_dataset_sample_shape(ds, shape), 2);
    ck_assert_int_eq(shape[0], 2);
    ck_assert_int_eq(shape[1], 3);
    ck_assert_int_eq(adapt_dataset_sample_shape(ds, NULL), 2);
    for (int64_t i = 0; i < N; i += 7) {
        const float *x = NULL;
        int32_t label = -1;
        TU_OK(adapt_dataset_sample(&x, &label, ds, i));
        ck_assert_ptr_eq(x, xs + 6 * i); /* no copy */
        ck_assert_int_eq(label, (int)(i % 3));
    }
    const float *x = (const float *)0x1;
    int32_t label = 77;
    TU_FAILS(adapt_dataset_sample(&x, &label, ds, N), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_dataset_sample(&x, &label, ds, -1), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_dataset_sample(NULL, &label, ds, 0), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_dataset_sample(&x, NULL, ds, 0), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_dataset_sample(&x, &label, NULL, 0), ADAPT_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_eq(x, (const float *)0x1);
    ck_assert_int_eq(label, 77);
    ck_assert_int_eq(adapt_dataset_count(NULL), 0);
    ck_assert_int_eq(adapt_dataset_sample_shape(NULL, shape), 0);
    adapt_dataset_free(ds);
    adapt_dataset_free(NULL);
}
END_TEST

START_TEST(wrap_rejects_bad_arguments)
{
    float x[4] = {0};
    int32_t y[2] = {0, 1};
    adapt_dataset *ds = (adapt_dataset *)0x1;
    const int64_t shape[] = {2, 2};
    TU_FAILS(adapt_dataset_wrap(NULL, x, 2, shape, y), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_dataset_wrap(&ds, NULL, 2, shape, y), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_dataset_wrap(&ds, x, 2, NULL, y), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_dataset_wrap(&ds, x, 2, shape, NULL), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_dataset_wrap(&ds, x, 0, shape, y), ADAPT_ERR_SHAPE);
    TU_FAILS(adapt_dataset_wrap(&ds, x, ADAPT_MAX_DIMS + 1, shape, y), ADAPT_ERR_SHAPE);
    TU_FAILS(adapt_dataset_wrap(&ds, x, 2, (int64_t[]){-1, 2}, y), ADAPT_ERR_SHAPE);
    TU_FAILS(adapt_dataset_wrap(&ds, x, 2, (int64_t[]){2, 0}, y), ADAPT_ERR_SHAPE);
    TU_FAILS(adapt_dataset_wrap(&ds, x, 3, (int64_t[]){2, INT64_MAX / 2, 4}, y),
             ADAPT_ERR_OVERFLOW);
    TU_FAILS(adapt_dataset_wrap(&ds, x, 2, (int64_t[]){INT64_MAX / 2, 2}, y),
             ADAPT_ERR_OVERFLOW);
    TU_FAILS(adapt_dataset_wrap(&ds, x, 2, shape, (int32_t[]){0, -1}), ADAPT_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_eq(ds, (adapt_dataset *)0x1);
    /* Sample values are not scanned when wrapping. */
    x[3] = NAN;
    TU_OK(adapt_dataset_wrap(&ds, x, 2, shape, y));
    adapt_dataset_free(ds);
    /* One-dimensional x: scalar samples. */
    TU_OK(adapt_dataset_wrap(&ds, x, 1, (int64_t[]){4}, (int32_t[]){0, 1, 2, 3}));
    ck_assert_int_eq(adapt_dataset_sample_shape(ds, NULL), 0);
    adapt_dataset_free(ds);
}
END_TEST

/* Marks the base positions a part covers; each must appear once across both parts. */
static void mark(int *seen, const adapt_dataset *part)
{
    for (int64_t i = 0; i < adapt_dataset_count(part); i++)
        seen[base_of(part, i)]++;
}

START_TEST(split_is_disjoint_complete_and_seeded)
{
    adapt_dataset *ds = wrap_fixture(), *train = NULL, *val = NULL;
    TU_OK(adapt_dataset_split(&train, &val, ds, 0.2f, 7));
    ck_assert_int_eq(adapt_dataset_count(train), 80);
    ck_assert_int_eq(adapt_dataset_count(val), 20);
    int64_t shape[ADAPT_MAX_DIMS];
    ck_assert_int_eq(adapt_dataset_sample_shape(val, shape), 2);
    ck_assert_int_eq(shape[1], 3);
    int seen[N] = {0};
    mark(seen, train);
    mark(seen, val);
    for (int i = 0; i < N; i++)
        ck_assert_int_eq(seen[i], 1);
    /* Shuffled: the training part is not the identity prefix. */
    int in_order = 0;
    for (int64_t i = 0; i < 80; i++)
        in_order += base_of(train, i) == i;
    ck_assert_int_lt(in_order, 20);

    adapt_dataset *train2 = NULL, *val2 = NULL, *train3 = NULL, *val3 = NULL;
    TU_OK(adapt_dataset_split(&train2, &val2, ds, 0.2f, 7));
    TU_OK(adapt_dataset_split(&train3, &val3, ds, 0.2f, 8));
    int same = 1, differs = 0;
    for (int64_t i = 0; i < 20; i++) {
        same &= base_of(val, i) == base_of(val2, i);
        differs |= base_of(val, i) != base_of(val3, i);
    }
    ck_assert(same);
    ck_assert(differs);
    adapt_dataset *parts[] = {train, val, train2, val2, train3, val3, ds};
    for (int i = 0; i < 7; i++)
        adapt_dataset_free(parts[i]);
}
END_TEST

START_TEST(split_of_split_and_edge_fractions)
{
    adapt_dataset *ds = wrap_fixture(), *train = NULL, *val = NULL, *a = NULL, *b = NULL;
    TU_OK(adapt_dataset_split(&train, &val, ds, 0.25f, 1));
    TU_OK(adapt_dataset_split(&a, &b, train, 0.5f, 2));
    ck_assert_int_eq(adapt_dataset_count(a) + adapt_dataset_count(b), 75);
    int seen[N] = {0};
    mark(seen, a);
    mark(seen, b);
    mark(seen, val);
    for (int i = 0; i < N; i++)
        ck_assert_int_eq(seen[i], 1);
    adapt_dataset_free(a);
    adapt_dataset_free(b);
    /* Fraction 0: an empty validation part; a fraction written as k / n gives k samples. */
    TU_OK(adapt_dataset_split(&a, &b, ds, 0.0f, 3));
    ck_assert_int_eq(adapt_dataset_count(a), N);
    ck_assert_int_eq(adapt_dataset_count(b), 0);
    adapt_dataset_free(a);
    adapt_dataset_free(b);
    TU_OK(adapt_dataset_split(&a, &b, ds, 33.0f / N, 3));
    ck_assert_int_eq(adapt_dataset_count(b), 33);
    adapt_dataset_free(a);
    adapt_dataset_free(b);
    adapt_dataset_free(train);
    adapt_dataset_free(val);
    adapt_dataset_free(ds);
}
END_TEST

START_TEST(split_rejects_bad_arguments)
{
    adapt_dataset *ds = wrap_fixture();
    adapt_dataset *a = (adapt_dataset *)0x1, *b = (adapt_dataset *)0x2;
    TU_FAILS(adapt_dataset_split(&a, &b, ds, NAN, 1), ADAPT_ERR_NONFINITE);
    TU_FAILS(adapt_dataset_split(&a, &b, ds, INFINITY, 1), ADAPT_ERR_NONFINITE);
    TU_FAILS(adapt_dataset_split(&a, &b, ds, 1.0f, 1), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_dataset_split(&a, &b, ds, -0.1f, 1), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_dataset_split(NULL, &b, ds, 0.1f, 1), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_dataset_split(&a, NULL, ds, 0.1f, 1), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_dataset_split(&a, &b, NULL, 0.1f, 1), ADAPT_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_eq(a, (adapt_dataset *)0x1);
    ck_assert_ptr_eq(b, (adapt_dataset *)0x2);
    adapt_dataset_free(ds);
}
END_TEST

START_TEST(batch_gathers_samples_and_refuses_nonfinite)
{
    adapt_dataset *ds = wrap_fixture(), *train = NULL, *val = NULL;
    TU_OK(adapt_dataset_split(&train, &val, ds, 0.5f, 4));
    adapt_context *ctx = tu_context(ADAPT_BACKEND_DEFAULT);
    const int64_t order[] = {3, 0, 49, 3};
    adapt_tensor *x = NULL;
    int32_t *labels = NULL;
    TU_OK(ad_batch_assemble(&x, &labels, ctx, train, order, 4, "test"));
    x = tu_handle(x);
    ck_assert_int_eq(adapt_tensor_ndim(x), 3);
    ck_assert_int_eq(adapt_tensor_dim(x, 0), 4);
    ck_assert_int_eq(adapt_tensor_dim(x, 2), 3);
    for (int i = 0; i < 4; i++) {
        const int64_t base = base_of(train, order[i]);
        ck_assert_mem_eq(adapt_tensor_data(x) + 6 * i, xs + 6 * base, 6 * sizeof(float));
        ck_assert_int_eq(labels[i], base % 3);
    }
    /* A NaN in a sample is refused only when that sample is used. */
    const int64_t bad = base_of(train, 49);
    xs[6 * bad + 4] = NAN;
    adapt_tensor *before = x;
    TU_FAILS(ad_batch_assemble(&x, &labels, ctx, train, order, 4, "test"), ADAPT_ERR_NONFINITE);
    ck_assert_ptr_eq(x, before);
    char want[64];
    snprintf(want, sizeof want, "sample 49 ");
    ck_assert_ptr_nonnull(strstr(adapt_last_error(), want));
    TU_OK(ad_batch_assemble(&x, &labels, ctx, train, order, 2, "test"));
    adapt_context_free(ctx);
    adapt_dataset_free(train);
    adapt_dataset_free(val);
    adapt_dataset_free(ds);
}
END_TEST

/* Writes an IDX file of unsigned bytes with big-endian dims, gzip-compressed when `gz`. */
static void write_idx(const char *path, int gz, int32_t ndim, const int32_t *dims,
                      const uint8_t *data, size_t bytes)
{
    uint8_t header[4 + 4 * 3] = {0, 0, 0x08, (uint8_t)ndim};
    for (int32_t d = 0; d < ndim; d++)
        for (int k = 0; k < 4; k++)
            header[4 + 4 * d + k] = (uint8_t)((uint32_t)dims[d] >> (24 - 8 * k));
    const size_t header_bytes = 4 + 4 * (size_t)ndim;
    if (gz) {
        gzFile f = gzopen(path, "wb");
        ck_assert_ptr_nonnull(f);
        ck_assert_int_eq(gzwrite(f, header, (unsigned)header_bytes), (int)header_bytes);
        ck_assert_int_eq(gzwrite(f, data, (unsigned)bytes), (int)bytes);
        ck_assert_int_eq(gzclose(f), Z_OK);
    } else {
        FILE *f = fopen(path, "wb");
        ck_assert_ptr_nonnull(f);
        ck_assert_uint_eq(fwrite(header, 1, header_bytes, f), header_bytes);
        ck_assert_uint_eq(fwrite(data, 1, bytes, f), bytes);
        ck_assert_int_eq(fclose(f), 0);
    }
}

/* Five 3x4 images (pixel j of image i = 12 i + j, times 4) and their labels 9 - i. */
typedef struct {
    char dir[64], images[96], labels[96], short_labels[96];
} idx_files;

static void write_fixture(idx_files *f, int gz)
{
    strcpy(f->dir, "/tmp/adapt_test_idx_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(f->dir));
    snprintf(f->images, sizeof f->images, "%s/images%s", f->dir, gz ? ".gz" : "");
    snprintf(f->labels, sizeof f->labels, "%s/labels%s", f->dir, gz ? ".gz" : "");
    snprintf(f->short_labels, sizeof f->short_labels, "%s/short", f->dir);
    uint8_t pixels[5 * 12], labels[5];
    for (int i = 0; i < 5 * 12; i++)
        pixels[i] = (uint8_t)(4 * i);
    for (int i = 0; i < 5; i++)
        labels[i] = (uint8_t)(9 - i);
    write_idx(f->images, gz, 3, (int32_t[]){5, 3, 4}, pixels, sizeof pixels);
    write_idx(f->labels, gz, 1, (int32_t[]){5}, labels, sizeof labels);
    write_idx(f->short_labels, 0, 1, (int32_t[]){4}, labels, 4);
}

static void remove_fixture(const idx_files *f)
{
    unlink(f->images);
    unlink(f->labels);
    unlink(f->short_labels);
    rmdir(f->dir);
}

START_TEST(load_idx_plain_and_gzip)
{
    idx_files f;
    write_fixture(&f, _i);
    adapt_dataset *ds = NULL;
    TU_OK(adapt_dataset_load_idx(&ds, f.images, f.labels));
    ck_assert_int_eq(adapt_dataset_count(ds), 5);
    int64_t shape[ADAPT_MAX_DIMS];
    ck_assert_int_eq(adapt_dataset_sample_shape(ds, shape), 3);
    ck_assert_int_eq(shape[0], 1);
    ck_assert_int_eq(shape[1], 3);
    ck_assert_int_eq(shape[2], 4);
    for (int64_t i = 0; i < 5; i++) {
        const float *x = NULL;
        int32_t label = -1;
        TU_OK(adapt_dataset_sample(&x, &label, ds, i));
        ck_assert_int_eq(label, 9 - i);
        for (int j = 0; j < 12; j++)
            ck_assert_float_eq_tol(x[j], (float)(4 * (12 * i + j)) / 255.0f, 1e-6f);
    }
    /* The loaded dataset owns its arrays: splits of it work after the files are gone, and
     * after the dataset itself is freed (the sanitizer run would catch a use after free). */
    remove_fixture(&f);
    adapt_dataset *train = NULL, *val = NULL, *part = NULL, *rest = NULL;
    TU_OK(adapt_dataset_split(&train, &val, ds, 0.4f, 1));
    ck_assert_int_eq(adapt_dataset_count(val), 2);
    adapt_dataset_free(ds);
    TU_OK(adapt_dataset_split(&part, &rest, train, 0.5f, 2));
    adapt_dataset_free(train);
    adapt_dataset *views[] = {val, part, rest};
    for (int v = 0; v < 3; v++)
        for (int64_t i = 0; i < adapt_dataset_count(views[v]); i++) {
            const float *x = NULL;
            int32_t label = -1;
            TU_OK(adapt_dataset_sample(&x, &label, views[v], i));
            ck_assert(label >= 5 && label <= 9);
            ck_assert_float_eq_tol(x[0], (float)(4 * 12 * (9 - label)) / 255.0f, 1e-6f);
        }
    adapt_dataset_free(part);
    adapt_dataset_free(rest);
    adapt_dataset_free(val);
}
END_TEST

START_TEST(load_idx_rejects_bad_input)
{
    idx_files f;
    write_fixture(&f, 1);
    adapt_dataset *ds = (adapt_dataset *)0x1;
    TU_FAILS(adapt_dataset_load_idx(NULL, f.images, f.labels), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_dataset_load_idx(&ds, NULL, f.labels), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_dataset_load_idx(&ds, f.images, NULL), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_dataset_load_idx(&ds, f.images, f.short_labels), ADAPT_ERR_FORMAT);
    /* Labels where images belong, and the reverse. */
    TU_FAILS(adapt_dataset_load_idx(&ds, f.labels, f.labels), ADAPT_ERR_FORMAT);
    TU_FAILS(adapt_dataset_load_idx(&ds, f.images, f.images), ADAPT_ERR_FORMAT);
    char missing[128];
    snprintf(missing, sizeof missing, "%s/missing", f.dir);
    TU_FAILS(adapt_dataset_load_idx(&ds, missing, f.labels), ADAPT_ERR_IO);
    ck_assert_ptr_eq(ds, (adapt_dataset *)0x1);
    remove_fixture(&f);
}
END_TEST

static void check_fmnist(const char *prefix, int64_t count)
{
    char images[128], labels[128];
    snprintf(images, sizeof images, "%s/%s-images-idx3-ubyte.gz", FMNIST_DIR, prefix);
    snprintf(labels, sizeof labels, "%s/%s-labels-idx1-ubyte.gz", FMNIST_DIR, prefix);
    adapt_dataset *ds = NULL;
    TU_OK(adapt_dataset_load_idx(&ds, images, labels));
    ck_assert_int_eq(adapt_dataset_count(ds), count);
    int64_t shape[ADAPT_MAX_DIMS];
    ck_assert_int_eq(adapt_dataset_sample_shape(ds, shape), 3);
    ck_assert(shape[0] == 1 && shape[1] == 28 && shape[2] == 28);
    int64_t per_class[10] = {0};
    float lo = 1.0f, hi = 0.0f;
    for (int64_t i = 0; i < count; i++) {
        const float *x = NULL;
        int32_t label = -1;
        TU_OK(adapt_dataset_sample(&x, &label, ds, i));
        ck_assert(label >= 0 && label < 10);
        per_class[label]++;
        for (int j = 0; j < 28 * 28; j += 7)
            lo = x[j] < lo ? x[j] : lo, hi = x[j] > hi ? x[j] : hi;
    }
    ck_assert_float_eq(lo, 0.0f);
    ck_assert_float_eq(hi, 1.0f);
    for (int c = 0; c < 10; c++) /* Fashion-MNIST is balanced */
        ck_assert_int_eq(per_class[c], count / 10);
    adapt_dataset_free(ds);
}

START_TEST(load_fashion_mnist)
{
    if (access(FMNIST_DIR, R_OK) != 0)
        return; /* dataset-fashion-mnist not installed */
    check_fmnist("train", 60000);
    check_fmnist("t10k", 10000);
}
END_TEST

static Suite *dataset_suite(void)
{
    Suite *s = suite_create("dataset");
    TCase *tc = tcase_create("dataset");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, wrap_borrows_caller_arrays);
    tcase_add_test(tc, wrap_rejects_bad_arguments);
    tcase_add_test(tc, split_is_disjoint_complete_and_seeded);
    tcase_add_test(tc, split_of_split_and_edge_fractions);
    tcase_add_test(tc, split_rejects_bad_arguments);
    tcase_add_test(tc, batch_gathers_samples_and_refuses_nonfinite);
    tcase_add_loop_test(tc, load_idx_plain_and_gzip, 0, 2);
    tcase_add_test(tc, load_idx_rejects_bad_input);
    tcase_add_test(tc, load_fashion_mnist);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run(dataset_suite());
}
