/* Typed, range-checked reads of a JSON object's members for the architecture readers: every
 * problem is FORMAT with a message naming the member. Shared by the model readers and by the
 * attachments a model's description lists (lib/models/attachment.h). */
#ifndef AD_MODELS_JSON_FIELDS_H
#define AD_MODELS_JSON_FIELDS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "adapt.h"

/* FORMAT: "model architecture: "<key>" <problem>". */
adapt_status ad_json_bad_field(const char *key, const char *problem);

adapt_status ad_json_int(int64_t *out, const json_t *obj, const char *key, int64_t lo,
                         int64_t hi);
adapt_status ad_json_int32(int32_t *out, const json_t *obj, const char *key);
/* A number that fits a float. */
adapt_status ad_json_float(float *out, const json_t *obj, const char *key);
/* Borrowed from obj. */
adapt_status ad_json_string(const char **out, const json_t *obj, const char *key);
/* "seed": a decimal string of a uint64 (JSON integers cannot carry all of them portably). */
adapt_status ad_json_seed(uint64_t *out, const json_t *obj);
/* An array of 0..AD_MODEL_MAX_ARCH_ENTRIES entries, borrowed from obj. */
adapt_status ad_json_array(const json_t **out, size_t *len, const json_t *obj, const char *key);
/* Integer arrays into malloc'ed buffers of at least one slot. */
adapt_status ad_json_int_array(int64_t **out, size_t *len, const json_t *obj, const char *key,
                               int64_t lo, int64_t hi);
adapt_status ad_json_int32_array(int32_t **out, size_t *len, const json_t *obj,
                                 const char *key);

/* The "seed" value of a description: the decimal string of `seed` (NULL: out of memory). */
json_t *ad_json_seed_value(uint64_t seed);

/* A builder's verdict on values read from a description: anything but success or a failed
 * allocation means the text describes no valid model, FORMAT with the builder's message. */
adapt_status ad_json_as_format(adapt_status st);

#endif
