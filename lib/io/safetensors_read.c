/* safetensors reader. The header comes from an untrusted file: it is parsed by jansson with a
 * known length, every entry is type- and range-checked, and the entries must tile the data
 * section exactly, as the reference implementation requires. */
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/core/error.h"
#include "lib/io/bytes.h"
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
