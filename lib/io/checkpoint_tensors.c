/* Checkpoints of named tensors (checkpoint_tensors.h): checksums, all-or-nothing loading. */
#include "lib/io/checkpoint_tensors.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "lib/core/error.h"
#include "lib/core/tensor.h"

/* __metadata__ key of a parameter's checksum: "crc32/<name>" -> 8 hex digits, the CRC-32
 * (zlib's) of its data bytes as stored. Other readers ignore it. */
#define CKPT_CRC_PREFIX "crc32/"

static uint32_t ckpt_crc(const float *values, int64_t n)
{
    return (uint32_t)crc32_z(0L, (const unsigned char *)values, (size_t)n * sizeof(float));
}

/* A damaged file: the data of parameter `name` does not match the checksum saved with it.
 * Files without checksums (from other writers) load unchecked. */
static adapt_status ckpt_verify(const ad_safetensors *st, const char *name, const float *values,
                                int64_t n, const char *fn)
{
    const size_t size = sizeof CKPT_CRC_PREFIX + strlen(name);
    char *key = malloc(size);
    if (!key)
        return ad_fail(ADAPT_ERR_OUT_OF_MEMORY, "%s: no memory for a checksum key", fn);
    snprintf(key, size, CKPT_CRC_PREFIX "%s", name);
    const char *saved = ad_safetensors_metadata(st, key);
    free(key);
    char actual[9];
    snprintf(actual, sizeof actual, "%08x", (unsigned)ckpt_crc(values, n));
    if (!saved || strcmp(saved, actual) == 0)
        return ADAPT_OK;
    return ad_fail(ADAPT_ERR_FORMAT, "%s: %s: the data of parameter '%s' does not match its "
                   "checksum (%s saved, %s read): the file is damaged", fn, st->src.name, name,
                   saved, actual);
}

/* "[2, 3]" like ad_shape_str(); a rank beyond ADAPT_MAX_DIMS shows as "[...]" with the rank. */
static const char *ckpt_entry_shape(const ad_st_entry *e, char *buf, size_t size)
{
    if (e->ndim > ADAPT_MAX_DIMS) {
        snprintf(buf, size, "[... %lld dims]", (long long)e->ndim);
        return buf;
    }
    size_t n = (size_t)snprintf(buf, size, "[");
    for (int64_t d = 0; d < e->ndim && n < size; d++)
        n += (size_t)snprintf(buf + n, size - n, d ? ", %lld" : "%lld", (long long)e->shape[d]);
    if (n < size)
        snprintf(buf + n, size - n, "]");
    return buf;
}

/* Checks an entry against a parameter and reads it into a new buffer. */
static adapt_status ckpt_read_param(float **out, const ad_safetensors *st,
                                    const adapt_tensor *p, const char *name, const char *what,
                                    const char *fn)
{
    const ad_st_entry *e = ad_safetensors_find(st, name);
    if (!e)
        return ad_fail(ADAPT_ERR_FORMAT, "%s: %s has no parameter '%s'", fn, st->src.name,
                       name);
    bool same = e->ndim == p->ndim;
    for (int32_t d = 0; same && d < p->ndim; d++)
        same = e->shape[d] == p->shape[d];
    if (!same) {
        char have[160], want[160];
        return ad_fail(ADAPT_ERR_FORMAT, "%s: %s: parameter '%s' has shape %s in the file, the "
                       "%s expects %s", fn, st->src.name, name,
                       ckpt_entry_shape(e, have, sizeof have), what,
                       ad_shape_str(p, want, sizeof want));
    }
    float *values = malloc((size_t)(p->numel ? p->numel : 1) * sizeof(float));
    if (!values)
        return ad_fail(ADAPT_ERR_OUT_OF_MEMORY, "%s: no memory for parameter '%s'", fn, name);
    adapt_status status = ad_safetensors_read_f32(st, e, values, fn);
    if (!status)
        status = ckpt_verify(st, name, values, p->numel, fn);
    if (!status && !ad_all_finite(values, p->numel))
        status = ad_fail(ADAPT_ERR_NONFINITE, "%s: %s: parameter '%s' holds NaN or infinity",
                         fn, st->src.name, name);
    if (status) {
        free(values);
        return status;
    }
    *out = values;
    return ADAPT_OK;
}

#define CKPT_NAMES_SHOWN 3

static bool ckpt_has(const ad_ckpt_tensors *t, const char *name)
{
    for (int32_t i = 0; i < t->count; i++)
        if (strcmp(t->name(t->holder, i), name) == 0)
            return true;
    return false;
}

/* Appends `name` to the list in `buf` (the first CKPT_NAMES_SHOWN of `count`, then how many
 * more); returns the new count. */
static int ckpt_list_name(char *buf, size_t size, int count, const char *name)
{
    const size_t used = strlen(buf);
    if (count < CKPT_NAMES_SHOWN)
        snprintf(buf + used, size - used, "%s'%s'", count ? ", " : "", name);
    return count + 1;
}

static void ckpt_list_end(char *buf, size_t size, int count)
{
    const size_t used = strlen(buf);
    if (count == 0)
        snprintf(buf, size, "none");
    else if (count > CKPT_NAMES_SHOWN)
        snprintf(buf + used, size - used, " and %d more", count - CKPT_NAMES_SHOWN);
}

/* Fails when a tensor of the holder is not in the file, naming the names on both sides
 * that have no partner: a layer one architecture has and the other lacks (dropout in an
 * MLP, say) renumbers every name after it, and the two lists show where. F32 entries only:
 * others (num_batches_tracked) never match a parameter and are ignored anyway. */
static adapt_status ckpt_check_names(const ad_ckpt_tensors *t, const ad_safetensors *st,
                                     const char *fn)
{
    char in_holder[192] = "", in_file[192] = "";
    int n_holder = 0, n_file = 0;
    const char *first = NULL;
    for (int32_t i = 0; i < t->count; i++) {
        const char *name = t->name(t->holder, i);
        if (!ad_safetensors_find(st, name)) {
            first = first ? first : name;
            n_holder = ckpt_list_name(in_holder, sizeof in_holder, n_holder, name);
        }
    }
    if (!first)
        return ADAPT_OK;
    for (int64_t i = 0; i < st->count; i++)
        if (strcmp(st->entries[i].dtype, "F32") == 0 && !ckpt_has(t, st->entries[i].name))
            n_file = ckpt_list_name(in_file, sizeof in_file, n_file, st->entries[i].name);
    ckpt_list_end(in_holder, sizeof in_holder, n_holder);
    ckpt_list_end(in_file, sizeof in_file, n_file);
    return ad_fail(ADAPT_ERR_FORMAT, "%s: %s has no parameter '%s'; in the %s, not the "
                   "file: %s; in the file, not the %s: %s%s", fn, st->src.name, first, t->what,
                   in_holder, t->what, in_file, n_file ? " (a layer in one architecture only, "
                   "such as dropout, renumbers the names after it)" : "");
}

adapt_status ad_ckpt_read(const ad_ckpt_tensors *t, const ad_safetensors *st, const char *fn)
{
    adapt_status status = ckpt_check_names(t, st, fn);
    if (status)
        return status;
    const int32_t n = t->count;
    float **values = calloc((size_t)(n > 0 ? n : 1), sizeof *values);
    if (!values)
        return ad_fail(ADAPT_ERR_OUT_OF_MEMORY, "%s: no memory for %d parameters", fn, (int)n);
    for (int32_t i = 0; i < n && !status; i++)
        status = ckpt_read_param(&values[i], st, t->tensor(t->holder, i),
                                 t->name(t->holder, i), t->what, fn);
    for (int32_t i = 0; i < n; i++) {
        adapt_tensor *p = t->tensor(t->holder, i);
        if (!status)
            memcpy(p->data, values[i], (size_t)p->numel * sizeof(float));
        free(values[i]);
    }
    free(values);
    return status;
}

adapt_status ad_ckpt_meta(const char **value, const ad_safetensors *st, const char *key,
                              const char *fn)
{
    *value = ad_safetensors_metadata(st, key);
    if (!*value)
        return ad_fail(ADAPT_ERR_FORMAT, "%s: %s is not a libadapt checkpoint (no \"%s\" in "
                       "__metadata__)", fn, st->src.name, key);
    return ADAPT_OK;
}

/* Room to spare: a file lacking a tensor is reported as such, not as too large. */
int64_t ad_ckpt_value_budget(const ad_safetensors *st)
{
    int64_t total = (int64_t)1 << 20;
    for (int64_t i = 0; i < st->count; i++)
        if (strcmp(st->entries[i].dtype, "F32") == 0)
            total = total > INT64_MAX / 4 - st->entries[i].numel ? INT64_MAX / 4
                                                                 : total + st->entries[i].numel;
    return 2 * total;
}

/* Bytes the checksum entries of tensors[0 .. n) take: "crc32/<name>" and 8 hex digits, each
 * with its terminator. */
static size_t ckpt_checksum_bytes(const ad_st_tensor *tensors, int32_t n)
{
    size_t total = 1;
    for (int32_t i = 0; i < n; i++)
        total += sizeof CKPT_CRC_PREFIX + strlen(tensors[i].name) + 9;
    return total;
}

/* The checksum entries into meta[0 .. n), their text in `text`. */
static void ckpt_checksums(ad_st_meta *meta, char *text, const ad_st_tensor *tensors, int32_t n,
                           const int64_t *numel)
{
    for (int32_t i = 0; i < n; i++) {
        const size_t key_size = sizeof CKPT_CRC_PREFIX + strlen(tensors[i].name);
        char *key = text, *value = key + key_size;
        snprintf(key, key_size, CKPT_CRC_PREFIX "%s", tensors[i].name);
        snprintf(value, 9, "%08x", (unsigned)ckpt_crc(tensors[i].data, numel[i]));
        meta[i] = (ad_st_meta){key, value};
        text = value + 9;
    }
}

adapt_status ad_ckpt_write(const char *path, const ad_ckpt_tensors *t, const ad_st_meta *meta,
                           int32_t n_meta, const char *fn)
{
    const int32_t n = t->count;
    const size_t slots = (size_t)(n > 0 ? n : 1);
    ad_st_tensor *tensors = malloc(slots * sizeof *tensors);
    ad_st_meta *all = malloc((slots + (size_t)n_meta + 1) * sizeof *all);
    int64_t *numel = malloc(slots * sizeof *numel);
    char *text = NULL;
    adapt_status status = ADAPT_OK;
    if (!tensors || !all || !numel)
        status = ad_fail(ADAPT_ERR_OUT_OF_MEMORY, "%s: no memory", fn);
    for (int32_t i = 0; i < n && !status; i++) {
        const adapt_tensor *p = t->tensor(t->holder, i);
        const char *name = t->name(t->holder, i);
        tensors[i] = (ad_st_tensor){name, p->data, p->ndim, p->shape};
        numel[i] = p->numel;
        /* A checkpoint that load would refuse is worse than none. */
        if (!ad_all_finite(p->data, p->numel))
            status = ad_fail(ADAPT_ERR_NONFINITE, "%s: parameter '%s' holds NaN or infinity",
                             fn, name);
    }
    if (!status && !(text = malloc(ckpt_checksum_bytes(tensors, n))))
        status = ad_fail(ADAPT_ERR_OUT_OF_MEMORY, "%s: no memory for the checksums", fn);
    if (!status) {
        all[0] = meta[0];
        all[1] = (ad_st_meta){"libadapt_version", adapt_version_string()};
        memcpy(all + 2, meta + 1, (size_t)(n_meta - 1) * sizeof *all);
        ckpt_checksums(all + n_meta + 1, text, tensors, n, numel);
        status = ad_safetensors_write(path, tensors, n, all, (int64_t)n + n_meta + 1, fn);
    }
    free(tensors), free(all), free(numel), free(text);
    return status;
}
