#include "lib/models/json_fields.h"

#include <errno.h>
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/core/error.h"
#include "lib/models/model.h"

adapt_status ad_json_bad_field(const char *key, const char *problem)
{
    return ad_fail(ADAPT_ERR_FORMAT, "model architecture: \"%s\" %s", key, problem);
}

adapt_status ad_json_int(int64_t *out, const json_t *obj, const char *key, int64_t lo,
                            int64_t hi)
{
    const json_t *v = json_object_get(obj, key);
    if (!json_is_integer(v))
        return ad_json_bad_field(key, "is missing or not an integer");
    json_int_t value = json_integer_value(v);
    if (value < lo || value > hi)
        return ad_json_bad_field(key, "is out of range");
    *out = (int64_t)value;
    return ADAPT_OK;
}

adapt_status ad_json_int32(int32_t *out, const json_t *obj, const char *key)
{
    int64_t value = 0;
    adapt_status st = ad_json_int(&value, obj, key, INT32_MIN, INT32_MAX);
    if (!st)
        *out = (int32_t)value;
    return st;
}

adapt_status ad_json_float(float *out, const json_t *obj, const char *key)
{
    const json_t *v = json_object_get(obj, key);
    if (!json_is_number(v))
        return ad_json_bad_field(key, "is missing or not a number");
    double value = json_number_value(v);
    if (!(fabs(value) <= FLT_MAX))
        return ad_json_bad_field(key, "is out of range");
    *out = (float)value;
    return ADAPT_OK;
}

adapt_status ad_json_string(const char **out, const json_t *obj, const char *key)
{
    const json_t *v = json_object_get(obj, key);
    if (!json_is_string(v))
        return ad_json_bad_field(key, "is missing or not a string");
    *out = json_string_value(v);
    return ADAPT_OK;
}

/* A decimal string of a uint64 (JSON integers cannot carry all of them portably). */
adapt_status ad_json_seed(uint64_t *out, const json_t *obj)
{
    const char *text = "";
    adapt_status st = ad_json_string(&text, obj, "seed");
    if (st)
        return st;
    size_t len = strlen(text);
    bool digits = len >= 1 && len <= 20 && strspn(text, "0123456789") == len;
    errno = 0;
    unsigned long long value = digits ? strtoull(text, NULL, 10) : 0;
    if (!digits || errno)
        return ad_json_bad_field("seed", "is not a decimal uint64");
    *out = (uint64_t)value;
    return ADAPT_OK;
}

/* An array of 0..AD_MODEL_MAX_ARCH_ENTRIES entries. */
adapt_status ad_json_array(const json_t **out, size_t *len, const json_t *obj,
                              const char *key)
{
    const json_t *v = json_object_get(obj, key);
    if (!json_is_array(v))
        return ad_json_bad_field(key, "is missing or not an array");
    if (json_array_size(v) > AD_MODEL_MAX_ARCH_ENTRIES)
        return ad_json_bad_field(key, "has too many entries");
    *out = v;
    *len = json_array_size(v);
    return ADAPT_OK;
}

/* Integer array `key` into a malloc'ed int64 buffer (at least one slot). */
adapt_status ad_json_int_array(int64_t **out, size_t *len, const json_t *obj,
                                  const char *key, int64_t lo, int64_t hi)
{
    const json_t *a = NULL;
    adapt_status st = ad_json_array(&a, len, obj, key);
    if (st)
        return st;
    int64_t *v = malloc((*len ? *len : 1) * sizeof *v);
    if (!v)
        return ad_fail(ADAPT_ERR_OUT_OF_MEMORY, "model architecture: \"%s\"", key);
    for (size_t i = 0; i < *len && !st; i++) {
        const json_t *e = json_array_get(a, i);
        st = json_is_integer(e) && json_integer_value(e) >= lo && json_integer_value(e) <= hi
                 ? ADAPT_OK : ad_json_bad_field(key, "holds an entry that is not an integer in range");
        v[i] = st ? 0 : (int64_t)json_integer_value(e);
    }
    if (st) {
        free(v);
        return st;
    }
    *out = v;
    return ADAPT_OK;
}

/* Like ad_json_int_array, narrowed to int32 entries. */
adapt_status ad_json_int32_array(int32_t **out, size_t *len, const json_t *obj,
                                    const char *key)
{
    int64_t *wide;
    adapt_status st = ad_json_int_array(&wide, len, obj, key, INT32_MIN, INT32_MAX);
    if (st)
        return st;
    int32_t *v = malloc((*len ? *len : 1) * sizeof *v);
    for (size_t i = 0; v && i < *len; i++)
        v[i] = (int32_t)wide[i];
    free(wide);
    if (!v)
        return ad_fail(ADAPT_ERR_OUT_OF_MEMORY, "model architecture: \"%s\"", key);
    *out = v;
    return ADAPT_OK;
}

/* A builder's verdict on values read from the text: anything but success or a failed
 * allocation means the text describes no valid model. */
adapt_status ad_json_as_format(adapt_status st)
{
    if (st == ADAPT_OK || st == ADAPT_ERR_OUT_OF_MEMORY || st == ADAPT_ERR_FORMAT)
        return st;
    char detail[256];
    snprintf(detail, sizeof detail, "%s", adapt_last_error());
    return ad_fail(ADAPT_ERR_FORMAT, "model architecture describes no valid model: %s", detail);
}

json_t *ad_json_seed_value(uint64_t seed)
{
    char text[24];
    snprintf(text, sizeof text, "%" PRIu64, seed);
    return json_string(text);
}
