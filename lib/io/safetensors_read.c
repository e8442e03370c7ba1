/* safetensors reader. The header comes from an untrusted file: it is parsed by jansson with a
 * known length, every entry is type- and range-checked, and the entries must tile the data
 * section exactly, as the reference implementation requires. */
#define _POSIX_C_SOURCE 200809L

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/core/error.h"
#include "lib/io/bytes.h"
#include "lib/io/json_guard.h"
#include "lib/io/safetensors.h"

typedef struct st_ctx {
    const ad_source *src;
    const char *fn;
} st_ctx;

static adapt_status st_bad(const st_ctx *c, const char *fmt, ...) AD_PRINTF(2, 3);

static adapt_status st_bad(const st_ctx *c, const char *fmt, ...)
{
    char why[384];
    va_list args;
    va_start(args, fmt);
    vsnprintf(why, sizeof why, fmt, args);
    va_end(args);
    return ad_fail(ADAPT_ERR_FORMAT, "%s: %s: %s", c->fn, c->src->name, why);
}

/* Bytes per element of the dtypes the format defines; 0 for anything else. */
static uint64_t st_dtype_size(const char *dtype)
{
    static const struct {
        const char *name;
        uint64_t size;
    } dtypes[] = {
        {"BOOL", 1}, {"U8", 1},  {"I8", 1},  {"F8_E5M2", 1}, {"F8_E4M3", 1},
        {"I16", 2},  {"U16", 2}, {"F16", 2}, {"BF16", 2},    {"I32", 4},
        {"U32", 4},  {"F32", 4}, {"F64", 8}, {"I64", 8},     {"U64", 8},
    };
    for (size_t i = 0; i < sizeof dtypes / sizeof dtypes[0]; i++)
        if (!strcmp(dtype, dtypes[i].name))
            return dtypes[i].size;
    return 0;
}

/* A JSON integer >= 0 (reals, strings and negatives are all malformed here). */
static int st_uint(const json_t *v, uint64_t *out)
{
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return 0;
    *out = (uint64_t)json_integer_value(v);
    return 1;
}

/* shape: an array of non-negative integers whose byte size (elements * `item`) fits int64. */
static adapt_status st_shape(ad_st_entry *e, const json_t *shape, uint64_t item,
                             const st_ctx *c)
{
    if (!json_is_array(shape))
        return st_bad(c, "tensor '%s': shape is not an array", e->name);
    e->ndim = (int64_t)json_array_size(shape);
    uint64_t numel = 1;
    for (size_t i = 0; i < json_array_size(shape); i++) {
        uint64_t d;
        if (!st_uint(json_array_get(shape, i), &d))
            return st_bad(c, "tensor '%s': shape entry %zu is not an integer >= 0", e->name, i);
        if (d > 0 && numel > (uint64_t)INT64_MAX / item / d)
            return st_bad(c, "tensor '%s': shape overflows", e->name);
        numel *= d;
        if (i < ADAPT_MAX_DIMS)
            e->shape[i] = (int64_t)d;
    }
    e->numel = (int64_t)numel;
    return ADAPT_OK;
}

/* {"dtype": ..., "shape": [...], "data_offsets": [begin, end]} and nothing else. */
static adapt_status st_entry(ad_st_entry *e, const json_t *v, uint64_t data_size,
                             const st_ctx *c)
{
    const json_t *dtype = json_object_get(v, "dtype");
    const json_t *shape = json_object_get(v, "shape");
    const json_t *offsets = json_object_get(v, "data_offsets");
    if (!json_is_object(v) || !dtype || !shape || !offsets || json_object_size(v) != 3)
        return st_bad(c, "tensor '%s' is not an object of exactly dtype, shape and "
                      "data_offsets", e->name);
    const char *dt = json_is_string(dtype) ? json_string_value(dtype) : "";
    uint64_t item = strlen(dt) < sizeof e->dtype ? st_dtype_size(dt) : 0;
    if (!item)
        return st_bad(c, "tensor '%s' has an unknown dtype", e->name);
    strcpy(e->dtype, dt);
    adapt_status st = st_shape(e, shape, item, c);
    if (st)
        return st;
    if (!json_is_array(offsets) || json_array_size(offsets) != 2 ||
        !st_uint(json_array_get(offsets, 0), &e->begin) ||
        !st_uint(json_array_get(offsets, 1), &e->end))
        return st_bad(c, "tensor '%s': data_offsets is not [begin, end]", e->name);
    if (e->begin > e->end || e->end > data_size)
        return st_bad(c, "tensor '%s': data_offsets [%llu, %llu] outside the %llu-byte data "
                      "section", e->name, (unsigned long long)e->begin,
                      (unsigned long long)e->end, (unsigned long long)data_size);
    if (e->end - e->begin != (uint64_t)e->numel * item)
        return st_bad(c, "tensor '%s': %llu data bytes for %lld %s values", e->name,
                      (unsigned long long)(e->end - e->begin), (long long)e->numel, e->dtype);
    return ADAPT_OK;
}

/* __metadata__: an object of strings, copied. */
static adapt_status st_metadata(ad_safetensors *st, const json_t *meta, const st_ctx *c)
{
    if (!json_is_object(meta))
        return st_bad(c, "__metadata__ is not an object");
    size_t n = json_object_size(meta);
    st->meta_keys = calloc(n ? n : 1, sizeof *st->meta_keys);
    st->meta_values = calloc(n ? n : 1, sizeof *st->meta_values);
    if (!st->meta_keys || !st->meta_values)
        return ad_fail(ADAPT_ERR_OUT_OF_MEMORY, "%s: no memory for the metadata of %s", c->fn,
                       c->src->name);
    const char *key;
    const json_t *value;
    json_object_foreach((json_t *)meta, key, value) {
        if (!json_is_string(value))
            return st_bad(c, "__metadata__ value of '%s' is not a string", key);
        int64_t i = st->meta_count;
        st->meta_keys[i] = strdup(key);
        st->meta_values[i] = strdup(json_string_value(value));
        st->meta_count++;
        if (!st->meta_keys[i] || !st->meta_values[i])
            return ad_fail(ADAPT_ERR_OUT_OF_MEMORY, "%s: no memory for the metadata of %s",
                           c->fn, c->src->name);
    }
    return ADAPT_OK;
}

static int st_by_offset(const void *a, const void *b)
{
    const ad_st_entry *x = *(const ad_st_entry *const *)a, *y = *(const ad_st_entry *const *)b;
    if (x->begin != y->begin)
        return x->begin < y->begin ? -1 : 1;
    return (x->end > y->end) - (x->end < y->end);
}

/* Sorted by offset, the entries must cover [0, data_size) exactly: no overlap (two tensors
 * sharing bytes), no gap and no trailing bytes (data nobody describes). */
static adapt_status st_tiling(const ad_safetensors *st, uint64_t data_size, const st_ctx *c)
{
    const ad_st_entry **order = malloc((size_t)(st->count ? st->count : 1) * sizeof *order);
    if (!order)
        return ad_fail(ADAPT_ERR_OUT_OF_MEMORY, "%s: no memory to check %s", c->fn,
                       c->src->name);
    for (int64_t i = 0; i < st->count; i++)
        order[i] = &st->entries[i];
    qsort(order, (size_t)st->count, sizeof *order, st_by_offset);
    uint64_t covered = 0;
    adapt_status status = ADAPT_OK;
    for (int64_t i = 0; i < st->count && !status; i++) {
        if (order[i]->begin != covered)
            status = st_bad(c, "tensor '%s' starts at byte %llu of the data section, expected "
                            "%llu (%s)", order[i]->name, (unsigned long long)order[i]->begin,
                            (unsigned long long)covered,
                            order[i]->begin < covered ? "overlap" : "gap");
        covered = order[i]->end;
    }
    if (!status && covered != data_size)
        status = st_bad(c, "%llu bytes after the last tensor", (unsigned long long)(data_size -
                        covered));
    free(order);
    return status;
}

/* The header object (st_load parsed it from text starting with '{', so it is one): entries
 * (in header order) and __metadata__. */
static adapt_status st_header(ad_safetensors *st, const json_t *root, uint64_t data_size,
                              const st_ctx *c)
{
    size_t n = json_object_size(root);
    st->entries = calloc(n ? n : 1, sizeof *st->entries);
    if (!st->entries)
        return ad_fail(ADAPT_ERR_OUT_OF_MEMORY, "%s: no memory for the entries of %s", c->fn,
                       c->src->name);
    const char *key;
    const json_t *value;
    json_object_foreach((json_t *)root, key, value) {
        adapt_status status;
        if (!strcmp(key, "__metadata__")) {
            status = st_metadata(st, value, c);
        } else {
            ad_st_entry *e = &st->entries[st->count];
            e->name = strdup(key);
            if (!e->name)
                return ad_fail(ADAPT_ERR_OUT_OF_MEMORY, "%s: no memory for the entries of %s",
                               c->fn, c->src->name);
            st->count++;
            status = st_entry(e, value, data_size, c);
        }
        if (status)
            return status;
    }
    return st_tiling(st, data_size, c);
}

/* Reads and checks the header; `st->src` is set. */
static adapt_status st_load(ad_safetensors *st, const st_ctx *c)
{
    unsigned char len_bytes[8];
    if (st->src.size < 8)
        return st_bad(c, "not a safetensors file (%llu bytes, fewer than the 8 of the header "
                      "length)", (unsigned long long)st->src.size);
    adapt_status status = ad_source_read(&st->src, 0, len_bytes, 8, c->fn);
    if (status)
        return status;
    uint64_t len = ad_le64(len_bytes);
    /* Any other file (text, an image, NPY) read as safetensors gives an absurd length. */
    if (len > st->src.size - 8)
        return st_bad(c, "not a safetensors file (its first 8 bytes, read as the header "
                      "length, give %llu bytes, more than the file holds)",
                      (unsigned long long)len);
    if (len > AD_ST_MAX_HEADER)
        return st_bad(c, "header length %llu exceeds the 100 MB limit", (unsigned long long)len);
    char *text = malloc(len ? len : 1);
    if (!text)
        return ad_fail(ADAPT_ERR_OUT_OF_MEMORY, "%s: no memory for the header of %s", c->fn,
                       st->src.name);
    status = ad_source_read(&st->src, 8, text, len, c->fn);
    if (!status && (len == 0 || text[0] != '{')) {
        free(text);
        return st_bad(c, "not a safetensors file (the header does not start with '{')");
    }
    json_error_t err;
    json_t *root = NULL;
    const adapt_status parsed =
        status ? status : ad_json_parse(&root, text, len, JSON_REJECT_DUPLICATES, &err);
    free(text);
    if (!status && parsed == ADAPT_ERR_OUT_OF_MEMORY)
        return ad_fail(parsed, "%s: no memory to parse the header of %s", c->fn, st->src.name);
    if (!status && parsed)
        return st_bad(c, "header is not valid JSON: %s (byte %d)", err.text, err.position);
    st->data_start = 8 + len;
    if (!status)
        status = st_header(st, root, st->src.size - st->data_start, c);
    json_decref(root);
    return status;
}

/* Takes over `src`: it is closed on failure or with the handle. */
static adapt_status st_open(ad_safetensors **out, ad_source *src, const char *fn)
{
    ad_safetensors *st = calloc(1, sizeof *st);
    if (!st) {
        ad_source_close(src);
        return ad_fail(ADAPT_ERR_OUT_OF_MEMORY, "%s: no memory to open %s", fn, src->name);
    }
    st->src = *src;
    st_ctx c = {.src = &st->src, .fn = fn};
    adapt_status status = st_load(st, &c);
    if (status) {
        ad_safetensors_close(st);
        return status;
    }
    *out = st;
    return ADAPT_OK;
}

adapt_status ad_safetensors_open(ad_safetensors **out, const char *path, const char *fn)
{
    ad_source src;
    adapt_status status = ad_source_open(&src, path, fn);
    return status ? status : st_open(out, &src, fn);
}

adapt_status ad_safetensors_open_memory(ad_safetensors **out, const void *bytes, size_t size,
                                        const char *fn)
{
    ad_source src;
    ad_source_memory(&src, bytes, size);
    return st_open(out, &src, fn);
}

void ad_safetensors_close(ad_safetensors *st)
{
    if (!st)
        return;
    for (int64_t i = 0; i < st->count; i++)
        free(st->entries[i].name);
    for (int64_t i = 0; i < st->meta_count; i++) {
        free(st->meta_keys[i]);
        free(st->meta_values[i]);
    }
    free(st->entries);
    free(st->meta_keys);
    free(st->meta_values);
    ad_source_close(&st->src);
    free(st);
}

const ad_st_entry *ad_safetensors_find(const ad_safetensors *st, const char *name)
{
    for (int64_t i = 0; i < st->count; i++)
        if (!strcmp(st->entries[i].name, name))
            return &st->entries[i];
    return NULL;
}

const char *ad_safetensors_metadata(const ad_safetensors *st, const char *key)
{
    for (int64_t i = 0; i < st->meta_count; i++)
        if (!strcmp(st->meta_keys[i], key))
            return st->meta_values[i];
    return NULL;
}

adapt_status ad_safetensors_read_f32(const ad_safetensors *st, const ad_st_entry *entry,
                                     float *dst, const char *fn)
{
    if (strcmp(entry->dtype, "F32") != 0)
        return ad_fail(ADAPT_ERR_UNSUPPORTED, "%s: %s: tensor '%s' is %s; only F32 is "
                       "supported", fn, st->src.name, entry->name, entry->dtype);
    return ad_source_read(&st->src, st->data_start + entry->begin, dst,
                          (size_t)(entry->end - entry->begin), fn);
}

adapt_status adapt_safetensors_read(float **data, int32_t *ndim, int64_t *shape,
                                    const char *path, const char *name)
{
    static const char *const fn = "adapt_safetensors_read";
    if (!data || !ndim || !shape || !path || !name)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: %s is NULL", fn,
                       !data ? "data" : !ndim ? "ndim" : !shape ? "shape" : !path ? "path"
                                                                              : "name");
    ad_safetensors *st = NULL;
    adapt_status status = ad_safetensors_open(&st, path, fn);
    if (status)
        return status;
    const ad_st_entry *e = ad_safetensors_find(st, name);
    float *values = NULL;
    if (!e)
        status = ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: %s holds no tensor '%s'", fn, path,
                         name);
    else if (e->ndim > ADAPT_MAX_DIMS)
        status = ad_fail(ADAPT_ERR_UNSUPPORTED, "%s: tensor '%s' has %lld dims, more than %d",
                         fn, name, (long long)e->ndim, ADAPT_MAX_DIMS);
    else if (strcmp(e->dtype, "F32") != 0)
        status = ad_fail(ADAPT_ERR_UNSUPPORTED, "%s: tensor '%s' is %s; only F32 is "
                         "supported", fn, name, e->dtype);
    else if (!(values = malloc((size_t)(e->numel ? e->numel : 1) * sizeof *values)))
        status = ad_fail(ADAPT_ERR_OUT_OF_MEMORY, "%s: %lld values", fn, (long long)e->numel);
    else
        status = ad_safetensors_read_f32(st, e, values, fn);
    if (!status) {
        *data = values;
        *ndim = (int32_t)e->ndim;
        memcpy(shape, e->shape, (size_t)e->ndim * sizeof *shape);
    } else {
        free(values);
    }
    ad_safetensors_close(st);
    return status;
}
