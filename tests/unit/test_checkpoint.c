/* Checkpoints: save/load round trips, loading weights into an existing model (PyTorch-style
 * files with extra entries), and every refusal leaving the model and the target file as they
 * were. */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check_util.h"
#include "file_util.h"
#include "lib/io/bytes.h"
#include "lib/io/checkpoint.h"
#include "lib/models/model.h"

/* ---- models ------------------------------------------------------------------------- */

static void append(adapt_model *m, int32_t kind, int64_t out)
{
    adapt_layer_params p;
    adapt_layer_params_init(&p, sizeof p);
    p.kind = kind, p.out_features = out, p.kernel = 3, p.stride = 1, p.padding = 1;
    TU_OK(adapt_model_append(m, &p));
}

/* [1, 6, 6] -> conv(3) -> batchnorm -> relu -> flatten -> linear(`classes`): parameters
 * 0.weight, 0.bias, 1.weight, 1.bias, 1.running_mean, 1.running_var, 4.weight, 4.bias. */
static adapt_model *small_model(uint64_t seed, int64_t classes)
{
    adapt_model *m;
    TU_OK(adapt_model_create_sequential(&m, 3, (int64_t[]){1, 6, 6}, seed));
    append(m, ADAPT_LAYER_CONV2D, 3);
    append(m, ADAPT_LAYER_BATCHNORM2D, 0);
    append(m, ADAPT_LAYER_RELU, 0);
    append(m, ADAPT_LAYER_FLATTEN, 0);
    append(m, ADAPT_LAYER_LINEAR, classes);
    return m;
}

/* Every parameter set to values no initialiser produces (variances stay positive). */
static void scramble(adapt_model *m, uint64_t seed)
{
    for (int32_t i = 0; i < adapt_model_param_count(m); i++) {
        adapt_tensor *p = adapt_model_param(m, i);
        tu_fill(adapt_tensor_data(p), adapt_tensor_numel(p), seed + (uint64_t)i, 0.5f, 2.0f);
    }
}

/* All parameter values of a model, concatenated, for before/after comparisons. */
static float *snapshot(const adapt_model *m, size_t *count)
{
    size_t n = 0;
    for (int32_t i = 0; i < adapt_model_param_count(m); i++)
        n += (size_t)adapt_tensor_numel(adapt_model_param(m, i));
    float *all = malloc(n * sizeof(float) + 1);
    size_t at = 0;
    for (int32_t i = 0; i < adapt_model_param_count(m); i++) {
        adapt_tensor *p = adapt_model_param(m, i);
        memcpy(all + at, adapt_tensor_data(p), (size_t)adapt_tensor_numel(p) * sizeof(float));
        at += (size_t)adapt_tensor_numel(p);
    }
    *count = n;
    return all;
}

static void assert_params_equal(const adapt_model *a, const adapt_model *b)
{
    ck_assert_int_eq(adapt_model_param_count(a), adapt_model_param_count(b));
    for (int32_t i = 0; i < adapt_model_param_count(a); i++) {
        adapt_tensor *pa = adapt_model_param(a, i), *pb = adapt_model_param(b, i);
        ck_assert_str_eq(adapt_model_param_name(a, i), adapt_model_param_name(b, i));
        ck_assert_int_eq(adapt_tensor_ndim(pa), adapt_tensor_ndim(pb));
        for (int32_t d = 0; d < adapt_tensor_ndim(pa); d++)
            ck_assert_int_eq(adapt_tensor_dim(pa, d), adapt_tensor_dim(pb, d));
        ck_assert_mem_eq(adapt_tensor_data(pa), adapt_tensor_data(pb),
                         (size_t)adapt_tensor_numel(pa) * sizeof(float));
    }
}

/* The model's parameters equal the snapshot taken before a failed call. */
static void assert_unchanged(const adapt_model *m, const float *before, size_t count)
{
    size_t n;
    float *now = snapshot(m, &n);
    ck_assert_uint_eq(n, count);
    ck_assert_mem_eq(now, before, n * sizeof(float));
    free(now);
}

/* The target file as it was before a failed save, and no temporary file left in `dir`. */
static void assert_target_kept(const char *path, const unsigned char *before, size_t len,
                               const char *dir)
{
    tu_assert_file_holds(path, before, len);
    ck_assert_int_eq(tu_count_files(dir, ".tmp."), 0);
}

/* ---- hand-made safetensors files (as PyTorch would write them) ------------------------- */

typedef struct {
    const char *name, *dtype;
    int32_t ndim;
    int64_t shape[4];
    const void *data;
    size_t bytes;
} raw_entry;

/* Writes a safetensors file with the entries in order and an optional metadata object text. */
static void write_raw(const char *path, const raw_entry *e, int n, const char *metadata)
{
    char header[8192];
    size_t at = (size_t)snprintf(header, sizeof header, "{");
    if (metadata)
        at += (size_t)snprintf(header + at, sizeof header - at, "\"__metadata__\":%s%s",
                               metadata, n ? "," : "");
    size_t offset = 0;
    for (int i = 0; i < n; i++) {
        at += (size_t)snprintf(header + at, sizeof header - at, "\"%s\":{\"dtype\":\"%s\","
                               "\"shape\":[", e[i].name, e[i].dtype);
        for (int32_t d = 0; d < e[i].ndim; d++)
            at += (size_t)snprintf(header + at, sizeof header - at, d ? ",%lld" : "%lld",
                                   (long long)e[i].shape[d]);
        at += (size_t)snprintf(header + at, sizeof header - at, "],\"data_offsets\":[%zu,%zu]}%s",
                               offset, offset + e[i].bytes, i + 1 < n ? "," : "}");
        offset += e[i].bytes;
    }
    if (!n)
        at += (size_t)snprintf(header + at, sizeof header - at, "}");
    ck_assert_uint_lt(at + 8, sizeof header);
    while (at % 8)
        header[at++] = ' ';
    unsigned char *file = malloc(8 + at + offset + 1);
    ad_put_le64(file, at);
    memcpy(file + 8, header, at);
    size_t pos = 8 + at;
    for (int i = 0; i < n; i++) {
        memcpy(file + pos, e[i].data, e[i].bytes);
        pos += e[i].bytes;
    }
    tu_write_file(path, file, pos);
    free(file);
}

/* The model's parameters as raw F32 entries, in the model's order, skipping `skip` (or none). */
static int model_entries(raw_entry *e, const adapt_model *m, const char *skip)
{
    int n = 0;
    for (int32_t i = 0; i < adapt_model_param_count(m); i++) {
        adapt_tensor *p = adapt_model_param(m, i);
        if (skip && !strcmp(adapt_model_param_name(m, i), skip))
            continue;
        e[n] = (raw_entry){adapt_model_param_name(m, i), "F32", adapt_tensor_ndim(p), {0},
                           adapt_tensor_data(p), (size_t)adapt_tensor_numel(p) * 4};
        for (int32_t d = 0; d < e[n].ndim; d++)
            e[n].shape[d] = adapt_tensor_dim(p, d);
        n++;
    }
    return n;
}

/* Model `target` refuses the file at `path` with `status`, keeping its values. */
static void load_weights_fails(adapt_model *target, const char *path, adapt_status status,
                               const char *says)
{
    size_t n;
    float *before = snapshot(target, &n);
    TU_FAILS(adapt_model_load_weights(target, path), status);
    if (says)
        ck_assert_msg(strstr(adapt_last_error(), says), "'%s' lacks '%s'", adapt_last_error(),
                      says);
    assert_unchanged(target, before, n);
    free(before);
}

/* ---- tests ------------------------------------------------------------------------------ */

/* _i: 0 sequential, 1 MLP, 2 CNN, 3 ViT. */
static adapt_model *model_of_kind(int kind, uint64_t seed)
{
    adapt_model *m = NULL;
    if (kind == 0)
        return small_model(seed, 4);
    if (kind == 1) {
        adapt_mlp_params p;
        adapt_mlp_params_init(&p, sizeof p);
        p.n_sizes = 3, p.sizes = (int64_t[]){36, 8, 4}, p.seed = seed;
        TU_OK(adapt_model_create_mlp(&m, &p));
    } else if (kind == 2) {
        adapt_cnn_params p;
        adapt_cnn_params_init(&p, sizeof p);
        p.in_channels = 1, p.image_size = 6, p.n_classes = 4, p.stem_channels = 4;
        p.n_stages = 1, p.stage_channels = (int32_t[]){4}, p.stage_blocks = (int32_t[]){1};
        p.stage_strides = (int32_t[]){1}, p.seed = seed;
        TU_OK(adapt_model_create_cnn(&m, &p));
    } else {
        adapt_vit_params p;
        adapt_vit_params_init(&p, sizeof p);
        p.image_size = 6, p.in_channels = 1, p.patch = 3, p.dim = 8, p.depth = 1, p.heads = 2;
        p.mlp_ratio = 2.0f, p.n_classes = 4, p.seed = seed;
        TU_OK(adapt_model_create_vit(&m, &p));
    }
    return m;
}

START_TEST(save_load_round_trip)
{
    adapt_model *m = model_of_kind((int)_i, 7);
    scramble(m, 100);
    const char *path = tu_in_scratch("m.safetensors");
    TU_OK(adapt_model_save(m, path));
    ck_assert_int_eq(tu_count_files(tu_scratch_dir(), ".tmp."), 0);
    adapt_model *back = NULL;
    TU_OK(adapt_model_load(&back, path));
    ck_assert_str_eq(ad_model_architecture(back), ad_model_architecture(m));
    assert_params_equal(m, back);
    /* Same weights, same function: identical logits. */
    adapt_context *ctx = tu_context(ADAPT_BACKEND_REFERENCE);
    float x[2 * 36];
    tu_fill(x, 2 * 36, 3, -1, 1);
    adapt_tensor *in, *ya, *yb;
    TU_OK(adapt_tensor_input(&in, ctx, 4, (int64_t[]){2, 1, 6, 6}, x));
    TU_OK(adapt_model_forward(&ya, ctx, m, in));
    TU_OK(adapt_model_forward(&yb, ctx, back, in));
    ck_assert_int_eq(adapt_tensor_numel(ya), 8);
    ck_assert_mem_eq(adapt_tensor_data(ya), adapt_tensor_data(yb), 8 * sizeof(float));
    adapt_context_free(ctx);
    adapt_model_free(back);
    adapt_model_free(m);
}
END_TEST

START_TEST(metadata_written)
{
    adapt_model *m = small_model(7, 4);
    const char *path = tu_in_scratch("m.safetensors");
    TU_OK(adapt_model_save(m, path));
    size_t len;
    unsigned char *bytes = tu_slurp(path, &len);
    uint64_t hl = ad_le64(bytes);
    ck_assert_uint_eq(hl % 8, 0);
    char *header = calloc(1, hl + 1);
    memcpy(header, bytes + 8, hl);
    ck_assert_ptr_nonnull(strstr(header, "\"format\":\"libadapt\""));
    char version[64];
    snprintf(version, sizeof version, "\"libadapt_version\":\"%s\"", adapt_version_string());
    ck_assert_ptr_nonnull(strstr(header, version));
    ck_assert_ptr_nonnull(strstr(header, "\"architecture\":\"{\\\"format\\\":1,"));
    ck_assert_ptr_nonnull(strstr(header, "\"1.running_var\":{\"dtype\":\"F32\",\"shape\":[3]"));
    /* Parameters in model order, contiguous after the header. */
    adapt_tensor *w0 = adapt_model_param(m, 0);
    ck_assert_mem_eq(bytes + 8 + hl, adapt_tensor_data(w0), 27 * sizeof(float));
    free(header);
    free(bytes);
    adapt_model_free(m);
}
END_TEST

START_TEST(load_weights_into_existing)
{
    adapt_model *src = small_model(7, 4), *dst = small_model(8, 4);
    scramble(src, 200);
    const char *path = tu_in_scratch("w.safetensors");
    TU_OK(adapt_model_save(src, path));
    TU_OK(adapt_model_load_weights(dst, path));
    assert_params_equal(src, dst);
    adapt_model_free(src);
    adapt_model_free(dst);
}
END_TEST

START_TEST(shape_mismatch)
{
    adapt_model *src = small_model(7, 4), *dst = small_model(8, 5);
    const char *path = tu_in_scratch("w.safetensors");
    TU_OK(adapt_model_save(src, path));
    load_weights_fails(dst, path, ADAPT_ERR_FORMAT, "4.weight");
    /* Same element count, other shape. */
    raw_entry e[16];
    int n = model_entries(e, src, NULL);
    e[6].ndim = 2, e[6].shape[0] = 12, e[6].shape[1] = 36;
    write_raw(path, e, n, NULL);
    load_weights_fails(src, path, ADAPT_ERR_FORMAT, "[12, 36]");
    e[6].ndim = 1, e[6].shape[0] = 432;
    write_raw(path, e, n, NULL);
    load_weights_fails(src, path, ADAPT_ERR_FORMAT, "4.weight");
    adapt_model_free(src);
    adapt_model_free(dst);
}
END_TEST

START_TEST(missing_param)
{
    adapt_model *m = small_model(7, 4);
    raw_entry e[16];
    const char *path = tu_in_scratch("w.safetensors");
    int n = model_entries(e, m, "1.running_var");
    write_raw(path, e, n, NULL);
    scramble(m, 300);
    load_weights_fails(m, path, ADAPT_ERR_FORMAT, "1.running_var");
    write_raw(path, e, 0, NULL);
    load_weights_fails(m, path, ADAPT_ERR_FORMAT, "0.weight");
    adapt_model_free(m);
}
END_TEST

/* A PyTorch state_dict export: num_batches_tracked as an I64 scalar, plus entries no
 * parameter asks for (F16, BF16, F32, 9 dims), all ignored. */
START_TEST(extra_entries_ignored)
{
    adapt_model *src = small_model(7, 4), *dst = small_model(8, 4);
    scramble(src, 400);
    raw_entry e[24];
    int n = model_entries(e, src, NULL);
    int64_t tracked = 1234;
    uint16_t halves[4] = {0x3c00, 0x4000, 0x7e00, 0x7c00}; /* 1, 2, NaN, inf */
    float junk[3] = {1, 2, 3};
    e[n++] = (raw_entry){"1.num_batches_tracked", "I64", 0, {0}, &tracked, 8};
    e[n++] = (raw_entry){"aux.half", "F16", 1, {4}, halves, 8};
    e[n++] = (raw_entry){"aux.bf16", "BF16", 2, {2, 1}, halves, 4};
    e[n++] = (raw_entry){"aux.unused", "F32", 1, {3}, junk, 12};
    write_raw(tu_in_scratch("pt.safetensors"), e, n, "{\"format\":\"pt\"}");
    TU_OK(adapt_model_load_weights(dst, tu_in_scratch("pt.safetensors")));
    assert_params_equal(src, dst);
    adapt_model_free(src);
    adapt_model_free(dst);
}
END_TEST

START_TEST(needed_param_wrong_dtype)
{
    adapt_model *m = small_model(7, 4);
    raw_entry e[16];
    int n = model_entries(e, m, NULL);
    uint16_t halves[4] = {0x3c00, 0x3c00, 0x3c00, 0x3c00};
    int64_t longs[4] = {1, 1, 1, 1};
    const char *path = tu_in_scratch("w.safetensors");
    e[7] = (raw_entry){"4.bias", "F16", 1, {4}, halves, 8};
    write_raw(path, e, n, NULL);
    load_weights_fails(m, path, ADAPT_ERR_UNSUPPORTED, "4.bias");
    e[7] = (raw_entry){"4.bias", "I64", 1, {4}, longs, 32};
    write_raw(path, e, n, NULL);
    load_weights_fails(m, path, ADAPT_ERR_UNSUPPORTED, "I64");
    adapt_model_free(m);
}
END_TEST

START_TEST(nonfinite_values)
{
    adapt_model *m = small_model(7, 4);
    raw_entry e[16];
    int n = model_entries(e, m, NULL);
    float bias[4] = {0, 1, 2, 3};
    const float bad[] = {NAN, INFINITY, -INFINITY};
    const char *path = tu_in_scratch("w.safetensors");
    for (int b = 0; b < 3; b++) {
        bias[2] = bad[b];
        e[7] = (raw_entry){"4.bias", "F32", 1, {4}, bias, 16};
        write_raw(path, e, n, NULL);
        load_weights_fails(m, path, ADAPT_ERR_NONFINITE, "4.bias");
    }
    /* Saving NaN weights is refused too: load would reject the file. */
    TU_OK(adapt_model_save(m, path));
    size_t before_len;
    unsigned char *before = tu_slurp(path, &before_len);
    adapt_tensor *p = adapt_model_param(m, 3);
    adapt_tensor_data(p)[1] = NAN;
    TU_FAILS(adapt_model_save(m, path), ADAPT_ERR_NONFINITE);
    assert_target_kept(path, before, before_len, tu_scratch_dir());
    free(before);
    adapt_model_free(m);
}
END_TEST

/* Every prefix of a checkpoint, and every header byte replaced by a control character, is
 * refused as FORMAT by both loaders, with the model untouched. */
START_TEST(truncated_and_corrupted)
{
    adapt_model *src = small_model(7, 4), *dst = small_model(8, 4);
    scramble(src, 500);
    const char *path = tu_in_scratch("w.safetensors");
    TU_OK(adapt_model_save(src, path));
    size_t len, n;
    unsigned char *bytes = tu_slurp(path, &len);
    float *before = snapshot(dst, &n);
    adapt_model *out = (adapt_model *)&out;
    for (size_t cut = 0; cut < len; cut += cut < 64 ? 1 : 7) {
        TU_FAILS(ad_checkpoint_load_weights_memory(dst, bytes, cut), ADAPT_ERR_FORMAT);
        TU_FAILS(ad_checkpoint_load_memory(&out, bytes, cut), ADAPT_ERR_FORMAT);
        ck_assert_ptr_eq(out, (adapt_model *)&out);
    }
    size_t header_end = 8 + (size_t)ad_le64(bytes);
    for (size_t at = 0; at < header_end; at++) {
        unsigned char keep = bytes[at];
        bytes[at] = keep == 1 ? 2 : 1;
        TU_FAILS(ad_checkpoint_load_weights_memory(dst, bytes, len), ADAPT_ERR_FORMAT);
        TU_FAILS(ad_checkpoint_load_memory(&out, bytes, len), ADAPT_ERR_FORMAT);
        ck_assert_ptr_eq(out, (adapt_model *)&out);
        bytes[at] = keep;
    }
    assert_unchanged(dst, before, n);
    /* The same through the file functions, for a few cuts. */
    size_t cuts[] = {0, 7, 8, 100, header_end, len - 1};
    for (size_t c = 0; c < sizeof cuts / sizeof cuts[0]; c++) {
        tu_write_file(path, bytes, cuts[c]);
        load_weights_fails(dst, path, ADAPT_ERR_FORMAT, NULL);
        TU_FAILS(adapt_model_load(&out, path), ADAPT_ERR_FORMAT);
        ck_assert_ptr_eq(out, (adapt_model *)&out);
    }
    free(before);
    free(bytes);
    adapt_model_free(src);
    adapt_model_free(dst);
}
END_TEST

/* adapt_model_load needs libadapt's metadata and a valid architecture. */
START_TEST(load_needs_metadata)
{
    adapt_model *m = small_model(7, 4);
    raw_entry e[16];
    int n = model_entries(e, m, NULL);
    const char *path = tu_in_scratch("w.safetensors");
    char arch[1024], meta[2048];
    /* The architecture JSON as a JSON string: escape its quotes. */
    size_t at = 0;
    for (const char *s = ad_model_architecture(m); *s; s++) {
        if (*s == '"')
            arch[at++] = '\\';
        arch[at++] = *s;
    }
    arch[at] = '\0';
    static const char *bad_meta[] = {
        NULL,
        "{}",
        "{\"format\":\"pt\",\"libadapt_version\":\"0.1.0\",\"architecture\":\"%s\"}",
        "{\"format\":\"libadapt\",\"architecture\":\"%s\"}",
        "{\"format\":\"libadapt\",\"libadapt_version\":\"0.1.0\"}",
        "{\"format\":\"libadapt\",\"libadapt_version\":\"0.1.0\",\"architecture\":\"{]\"}",
        "{\"format\":\"libadapt\",\"libadapt_version\":\"0.1.0\",\"architecture\":"
        "\"{\\\"format\\\":1,\\\"kind\\\":\\\"nonsense\\\"}\"}",
    };
    for (size_t i = 0; i < sizeof bad_meta / sizeof bad_meta[0]; i++) {
        if (bad_meta[i])
            snprintf(meta, sizeof meta, bad_meta[i], arch);
        write_raw(path, e, n, bad_meta[i] ? meta : NULL);
        adapt_model *out = (adapt_model *)&out;
        TU_FAILS(adapt_model_load(&out, path), ADAPT_ERR_FORMAT);
        ck_assert_msg(strstr(adapt_last_error(), path), "'%s' does not name the file",
                      adapt_last_error());
        ck_assert_ptr_eq(out, (adapt_model *)&out);
    }
    /* The good metadata loads; a model from another architecture cannot take the weights. */
    snprintf(meta, sizeof meta, "{\"format\":\"libadapt\",\"libadapt_version\":\"0.1.0\","
             "\"architecture\":\"%s\"}", arch);
    write_raw(path, e, n, meta);
    adapt_model *out = NULL;
    TU_OK(adapt_model_load(&out, path));
    assert_params_equal(m, out);
    adapt_model_free(out);
    write_raw(path, e, n - 1, meta);
    out = (adapt_model *)&out;
    TU_FAILS(adapt_model_load(&out, path), ADAPT_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(adapt_last_error(), "4.bias"));
    ck_assert_ptr_eq(out, (adapt_model *)&out);
    adapt_model_free(m);
}
END_TEST

START_TEST(architecture_larger_than_the_file_is_refused_first)
{
    /* A few hundred bytes describing a 16383 x 16383 MLP (a gigabyte of weights) and holding
     * none: refused before the model is built, so without allocating the gigabyte. */
    const char *path = tu_in_scratch("huge.safetensors");
    const char *meta = "{\"format\":\"libadapt\",\"libadapt_version\":\"0.1.0\","
                       "\"architecture\":\"{\\\"format\\\":1,\\\"kind\\\":\\\"mlp\\\","
                       "\\\"sizes\\\":[16383,16383,16383],\\\"activation\\\":\\\"relu\\\","
                       "\\\"dropout\\\":0,\\\"seed\\\":\\\"1\\\"}\"}";
    write_raw(path, NULL, 0, meta);
    adapt_model *out = (adapt_model *)&out;
    TU_FAILS(adapt_model_load(&out, path), ADAPT_ERR_FORMAT);
    ck_assert_msg(strstr(adapt_last_error(), "parameter"), "%s", adapt_last_error());
    ck_assert_ptr_eq(out, (adapt_model *)&out);
}
END_TEST

START_TEST(atomic_save)
{
    adapt_model *a = small_model(7, 4), *b = small_model(8, 4);
    const char *path = tu_in_scratch("m.safetensors");
    TU_OK(adapt_model_save(a, path));
    size_t len;
    unsigned char *before = tu_slurp(path, &len);
    /* An unwritable directory: permissions (meaningless to root), and /proc. */
    const char *locked = tu_in_scratch("locked");
    ck_assert_int_eq(mkdir(locked, 0700), 0);
    char locked_file[600];
    snprintf(locked_file, sizeof locked_file, "%s/m.safetensors", locked);
    TU_OK(adapt_model_save(a, locked_file));
    ck_assert_int_eq(chmod(locked, 0500), 0);
    if (geteuid() != 0) {
        TU_FAILS(adapt_model_save(b, locked_file), ADAPT_ERR_IO);
        assert_target_kept(locked_file, before, len, locked);
    } else {
        printf("atomic_save: running as root, directory permissions not tested\n");
    }
    TU_FAILS(adapt_model_save(b, "/proc/adapt_checkpoint.safetensors"), ADAPT_ERR_IO);
    TU_FAILS(adapt_model_save(b, tu_in_scratch("missing/m.safetensors")), ADAPT_ERR_IO);
    /* A directory at the target is refused before anything is written. */
    TU_FAILS(adapt_model_save(b, tu_scratch_dir()), ADAPT_ERR_IO);
    assert_target_kept(path, before, len, tu_scratch_dir());
    /* A successful save replaces the whole file. */
    scramble(b, 600);
    TU_OK(adapt_model_save(b, path));
    ck_assert_int_eq(tu_count_files(tu_scratch_dir(), ".tmp."), 0);
    adapt_model *back;
    TU_OK(adapt_model_load(&back, path));
    assert_params_equal(b, back);
    adapt_model_free(back);
    free(before);
    adapt_model_free(a);
    adapt_model_free(b);
}
END_TEST

/* A write that fails partway (a file-size limit stands in for a full disk) leaves the old
 * checkpoint in place and no temporary file. */
START_TEST(save_fails_while_writing)
{
    adapt_model *a = small_model(7, 4), *b = small_model(8, 4);
    scramble(b, 700);
    const char *path = tu_in_scratch("m.safetensors");
    TU_OK(adapt_model_save(a, path));
    size_t len;
    unsigned char *before = tu_slurp(path, &len);
    struct rlimit old, small;
    ck_assert_int_eq(getrlimit(RLIMIT_FSIZE, &old), 0);
    small = old;
    small.rlim_cur = len / 2;
    void (*old_handler)(int) = signal(SIGXFSZ, SIG_IGN);
    ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &small), 0);
    adapt_status status = adapt_model_save(b, path);
    ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &old), 0);
    signal(SIGXFSZ, old_handler);
    ck_assert_msg(status == ADAPT_ERR_IO, "save -> %s", adapt_status_string(status));
    ck_assert_msg(strstr(adapt_last_error(), strerror(EFBIG)), "%s", adapt_last_error());
    assert_target_kept(path, before, len, tu_scratch_dir());
    free(before);
    adapt_model_free(a);
    adapt_model_free(b);
}
END_TEST

/* One flipped bit in a parameter's data: both loaders refuse the file, naming the parameter,
 * where before it loaded silently; the same file with the bit back loads. */
START_TEST(damaged_data_is_named)
{
    adapt_model *src = small_model(7, 4), *dst = small_model(8, 4);
    const char *path = tu_in_scratch("m.safetensors");
    TU_OK(adapt_model_save(src, path));
    size_t len;
    unsigned char *bytes = tu_slurp(path, &len);
    const size_t data = 8 + (size_t)ad_le64(bytes);
    bytes[data + 5] ^= 0x10; /* a mantissa bit of parameter 0's second value */
    tu_write_file(path, bytes, len);
    load_weights_fails(dst, path, ADAPT_ERR_FORMAT, "parameter '0.weight' does not match its "
                       "checksum");
    adapt_model *out = (adapt_model *)&out;
    TU_FAILS(adapt_model_load(&out, path), ADAPT_ERR_FORMAT);
    ck_assert_ptr_eq(out, (adapt_model *)&out);
    bytes[data + 5] ^= 0x10;
    tu_write_file(path, bytes, len);
    TU_OK(adapt_model_load(&out, path));
    assert_params_equal(src, out);
    adapt_model_free(out);
    free(bytes);
    adapt_model_free(src);
    adapt_model_free(dst);
}
END_TEST

/* A path that is there and is no regular file (a fifo here; a device is refused alike, but a
 * test that could replace one if it regressed is not run) is never replaced. */
START_TEST(save_leaves_special_files_alone)
{
    adapt_model *m = small_model(7, 4);
    const char *fifo = tu_in_scratch("fifo");
    ck_assert_int_eq(mkfifo(fifo, 0600), 0);
    TU_FAILS(adapt_model_save(m, fifo), ADAPT_ERR_IO);
    ck_assert_ptr_nonnull(strstr(adapt_last_error(), "is not a regular file"));
    struct stat st;
    ck_assert_int_eq(stat(fifo, &st), 0);
    ck_assert(S_ISFIFO(st.st_mode));
    TU_FAILS(adapt_npy_write(fifo, (const float[]){1}, 1, (const int64_t[]){1}), ADAPT_ERR_IO);
    ck_assert_int_eq(tu_count_files(tu_scratch_dir(), ".tmp."), 0);
    adapt_model_free(m);
}
END_TEST

/* The temporary files that saves killed midway left beside a target are removed by the next
 * save to it; a live process's and another target's are not. */
START_TEST(stale_temporary_files_are_removed)
{
    adapt_model *m = small_model(7, 4);
    const pid_t child = fork();
    if (child == 0)
        _exit(0);
    ck_assert_int_eq(waitpid(child, NULL, 0), child);
    char dead[64], live[64], other[64];
    snprintf(dead, sizeof dead, "m.safetensors.tmp.%ld.3", (long)child);
    snprintf(live, sizeof live, "m.safetensors.tmp.%ld.99", (long)getpid());
    snprintf(other, sizeof other, "n.safetensors.tmp.%ld.3", (long)child);
    const char *names[] = {dead, live, other};
    for (int i = 0; i < 3; i++)
        tu_write_file(tu_in_scratch(names[i]), "partial", 7);
    TU_OK(adapt_model_save(m, tu_in_scratch("m.safetensors")));
    struct stat st;
    ck_assert_int_ne(stat(tu_in_scratch(dead), &st), 0);
    ck_assert_int_eq(stat(tu_in_scratch(live), &st), 0);
    ck_assert_int_eq(stat(tu_in_scratch(other), &st), 0);
    adapt_model_free(m);
}
END_TEST

/* Files of other kinds read as safetensors: their first 8 bytes make no sense as the header
 * length, or the header is not JSON, and the message says so rather than quoting a length. */
START_TEST(other_files_are_not_safetensors)
{
    static const char text[] = "weights: none\nthis is a text file, not a checkpoint\n";
    static const unsigned char png[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0, 0,
                                        13, 'I', 'H', 'D', 'R', 0, 0, 0, 1, 0, 0, 0, 1};
    static const char npy[] = "\x93NUMPY\x01\x00v\x00{'descr': '<f4', 'fortran_order': False, "
                              "'shape': (1,), }                                      \n";
    unsigned char small_length[16] = {4, 0, 0, 0, 0, 0, 0, 0, '[', '1', ']', ' '};
    const struct {
        const void *bytes;
        size_t len;
    } files[] = {{text, sizeof text - 1}, {png, sizeof png}, {npy, sizeof npy - 1},
                 {small_length, sizeof small_length}, {text, 3}, {text, 0}};
    adapt_model *m = small_model(7, 4);
    const char *path = tu_in_scratch("other.safetensors");
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        tu_write_file(path, files[i].bytes, files[i].len);
        adapt_model *loaded = NULL;
        TU_FAILS(adapt_model_load(&loaded, path), ADAPT_ERR_FORMAT);
        ck_assert_msg(strstr(adapt_last_error(), "not a safetensors file"), "file %zu: '%s'",
                      i, adapt_last_error());
        load_weights_fails(m, path, ADAPT_ERR_FORMAT, "not a safetensors file");
    }
    adapt_model_free(m);
}
END_TEST

static adapt_model *mlp_with_dropout(float dropout)
{
    adapt_mlp_params p;
    adapt_mlp_params_init(&p, sizeof p);
    p.n_sizes = 3, p.sizes = (int64_t[]){36, 8, 4}, p.dropout = dropout, p.seed = 3;
    adapt_model *m = NULL;
    TU_OK(adapt_model_create_mlp(&m, &p));
    return m;
}

/* Dropout is block 2 of one twin and absent from the other: the message lists the names
 * each side has alone, both ways, and hints at the renumbering. */
START_TEST(name_mismatch_lists_both_sides)
{
    adapt_model *with = mlp_with_dropout(0.1f), *without = mlp_with_dropout(0.0f);
    const char *path = tu_in_scratch("twin.safetensors");
    TU_OK(adapt_model_save(with, path));
    load_weights_fails(without, path, ADAPT_ERR_FORMAT,
                       "in the model, not the file: '2.weight', '2.bias'; "
                       "in the file, not the model: '3.weight', '3.bias' (a layer");
    TU_OK(adapt_model_save(without, path));
    load_weights_fails(with, path, ADAPT_ERR_FORMAT,
                       "in the model, not the file: '3.weight', '3.bias'; "
                       "in the file, not the model: '2.weight', '2.bias'");
    adapt_model_free(with);
    adapt_model_free(without);
}
END_TEST

START_TEST(null_arguments)
{
    adapt_model *m = small_model(7, 4), *out = (adapt_model *)&out;
    const char *path = tu_in_scratch("m.safetensors");
    TU_FAILS(adapt_model_save(NULL, path), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_model_save(m, NULL), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_model_load(NULL, path), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_model_load(&out, NULL), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_model_load_weights(NULL, path), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_model_load_weights(m, NULL), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_model_load(&out, path), ADAPT_ERR_IO);
    ck_assert_ptr_nonnull(strstr(adapt_last_error(), strerror(ENOENT)));
    TU_FAILS(adapt_model_load_weights(m, path), ADAPT_ERR_IO);
    ck_assert_ptr_eq(out, (adapt_model *)&out);
    adapt_model_free(m);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("checkpoint");
    TCase *tc = tcase_create("checkpoint");
    tcase_add_checked_fixture(tc, tu_scratch_setup, tu_scratch_teardown);
    tcase_add_loop_test(tc, save_load_round_trip, 0, 4);
    tcase_add_test(tc, metadata_written);
    tcase_add_test(tc, load_weights_into_existing);
    tcase_add_test(tc, shape_mismatch);
    tcase_add_test(tc, missing_param);
    tcase_add_test(tc, extra_entries_ignored);
    tcase_add_test(tc, needed_param_wrong_dtype);
    tcase_add_test(tc, nonfinite_values);
    tcase_add_test(tc, truncated_and_corrupted);
    tcase_add_test(tc, load_needs_metadata);
    tcase_add_test(tc, architecture_larger_than_the_file_is_refused_first);
    tcase_add_test(tc, atomic_save);
    tcase_add_test(tc, save_fails_while_writing);
    tcase_add_test(tc, damaged_data_is_named);
    tcase_add_test(tc, save_leaves_special_files_alone);
    tcase_add_test(tc, stale_temporary_files_are_removed);
    tcase_add_test(tc, other_files_are_not_safetensors);
    tcase_add_test(tc, name_mismatch_lists_both_sides);
    tcase_add_test(tc, null_arguments);
    tcase_set_timeout(tc, 120);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
