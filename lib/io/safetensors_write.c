/* safetensors writer: jansson builds the header, the tensors follow contiguously in the order
 * given, and the whole file goes through an atomic replacement. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/core/error.h"
#include "lib/core/tensor.h"
#include "lib/io/atomic_file.h"
#include "lib/io/bytes.h"
#include "lib/io/json_guard.h"
#include "lib/io/safetensors.h"

/* Adds `value` (NULL when making it ran out of memory; stolen) under `key` unless the key is
 * taken or not valid UTF-8. */
static adapt_status st_put(json_t *obj, const char *key, json_t *value, const char *what,
                           const char *fn)
{
    adapt_status st = ADAPT_OK;
    if (!ad_json_utf8(key))
        st = ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: %s '%s' is not valid UTF-8", fn, what, key);
    else if (json_object_get(obj, key))
        st = ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: %s '%s' appears twice", fn, what, key);
    if (st) {
        json_decref(value);
        return st;
    }
    if (!value || json_object_set_new(obj, key, value) != 0)
        return ad_fail(ADAPT_ERR_OUT_OF_MEMORY, "%s: no memory for the header", fn);
    return ADAPT_OK;
}

static adapt_status st_put_metadata(json_t *root, const ad_st_meta *meta, int64_t count,
                                    const char *fn)
{
    json_t *obj = json_object();
    if (!obj)
        return ad_fail(ADAPT_ERR_OUT_OF_MEMORY, "%s: no memory for the metadata", fn);
    adapt_status st = st_put(root, "__metadata__", obj, "entry", fn);
    for (int64_t i = 0; i < count && !st; i++) {
        if (!meta[i].key || !meta[i].value)
            return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: metadata %lld is NULL", fn,
                           (long long)i);
        if (!ad_json_utf8(meta[i].value))
            return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: the metadata value of '%s' is not "
                           "valid UTF-8", fn, meta[i].key);
        st = st_put(obj, meta[i].key, json_string(meta[i].value), "metadata key", fn);
    }
    return st;
}

/* The data size of a tensor to write, after checking its name, shape and data pointer. */
static adapt_status st_tensor_bytes(uint64_t *bytes, const ad_st_tensor *t, const char *fn)
{
    if (!t->name)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: a tensor name is NULL", fn);
    if (!strcmp(t->name, "__metadata__"))
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: '__metadata__' is reserved", fn);
    int64_t numel = 0;
    adapt_status st = ad_shape_numel(&numel, t->ndim, t->shape);
    if (st) {
        char why[256];
        snprintf(why, sizeof why, "%s", adapt_last_error());
        return ad_fail(st, "%s: tensor '%s': %s", fn, t->name, why);
    }
    if (!t->data && numel > 0)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: tensor '%s' has NULL data", fn, t->name);
    *bytes = (uint64_t)numel * sizeof(float);
    return ADAPT_OK;
}

/* The header entry of one tensor whose data starts at *offset; advances *offset. */
static adapt_status st_put_tensor(json_t *root, const ad_st_tensor *t, uint64_t *offset,
                                  const char *fn)
{
    uint64_t bytes = 0;
    adapt_status st = st_tensor_bytes(&bytes, t, fn);
    if (st)
        return st;
    if (*offset > (uint64_t)INT64_MAX - bytes)
        return ad_fail(ADAPT_ERR_OVERFLOW, "%s: the tensors hold more than %lld bytes", fn,
                       (long long)INT64_MAX);
    uint64_t end = *offset + bytes;
    json_t *shape = json_array();
    for (int32_t i = 0; shape && i < t->ndim; i++)
        if (json_array_append_new(shape, json_integer(t->shape[i])) != 0) {
            json_decref(shape);
            shape = NULL;
        }
    json_t *entry = !shape ? NULL
                           : json_pack("{s:s, s:o, s:[I, I]}", "dtype", "F32", "shape", shape,
                                       "data_offsets", (json_int_t)*offset, (json_int_t)end);
    if (!entry)
        return ad_fail(ADAPT_ERR_OUT_OF_MEMORY, "%s: no memory for the header entry of '%s'",
                       fn, t->name);
    *offset = end;
    return st_put(root, t->name, entry, "tensor", fn);
}

/* The header text, padded with spaces to a multiple of 8 bytes so the data stays aligned. */
static adapt_status st_header_text(char **text, size_t *padded, const ad_st_tensor *tensors,
                                   int64_t count, const ad_st_meta *meta, int64_t meta_count,
                                   const char *fn)
{
    json_t *root = json_object();
    if (!root)
        return ad_fail(ADAPT_ERR_OUT_OF_MEMORY, "%s: no memory for the header", fn);
    adapt_status st = meta_count ? st_put_metadata(root, meta, meta_count, fn) : ADAPT_OK;
    uint64_t offset = 0;
    for (int64_t i = 0; i < count && !st; i++)
        st = st_put_tensor(root, &tensors[i], &offset, fn);
    char *dumped = NULL;
    if (!st && ad_json_print(&dumped, root, JSON_COMPACT))
        st = ad_fail(ADAPT_ERR_OUT_OF_MEMORY, "%s: no memory for the header", fn);
    json_decref(root);
    if (st)
        return st;
    size_t len = dumped ? strlen(dumped) : 0;
    /* Readers refuse longer headers, so such a file would be useless. */
    if (len > AD_ST_MAX_HEADER) {
        free(dumped);
        return ad_fail(ADAPT_ERR_OVERFLOW, "%s: the header would take %zu bytes, more than the "
                       "%u that readers accept", fn, len, AD_ST_MAX_HEADER);
    }
    char *out = dumped ? realloc(dumped, len + 8) : NULL;
    if (!out) {
        free(dumped);
        return ad_fail(ADAPT_ERR_OUT_OF_MEMORY, "%s: no memory for the header", fn);
    }
    *padded = (len + 7) & ~(size_t)7;
    memset(out + len, ' ', *padded - len);
    *text = out;
    return ADAPT_OK;
}

static adapt_status st_write_all(ad_atomic_file *af, const char *text, size_t len,
                                 const ad_st_tensor *tensors, int64_t count, const char *fn)
{
    unsigned char len_bytes[8];
    ad_put_le64(len_bytes, len);
    adapt_status st = ad_atomic_write(af, len_bytes, sizeof len_bytes);
    if (!st)
        st = ad_atomic_write(af, text, len);
    for (int64_t i = 0; i < count && !st; i++) {
        uint64_t bytes = 0;
        st = st_tensor_bytes(&bytes, &tensors[i], fn);
        if (!st)
            st = ad_atomic_write(af, tensors[i].data, (size_t)bytes);
    }
    return st;
}

adapt_status ad_safetensors_write(const char *path, const ad_st_tensor *tensors, int64_t count,
                                  const ad_st_meta *meta, int64_t meta_count, const char *fn)
{
    if (!path || count < 0 || (count && !tensors) || meta_count < 0 || (meta_count && !meta))
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: NULL path, tensors or metadata", fn);
    char *text = NULL;
    size_t len = 0;
    adapt_status st = st_header_text(&text, &len, tensors, count, meta, meta_count, fn);
    if (st)
        return st;
    ad_atomic_file af;
    st = ad_atomic_open(&af, path, fn);
    if (!st) {
        st = st_write_all(&af, text, len, tensors, count, fn);
        if (st)
            ad_atomic_abort(&af);
        else
            st = ad_atomic_commit(&af);
    }
    free(text);
    return st;
}
