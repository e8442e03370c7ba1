/* What every libadapt checkpoint shares, whatever holds the tensors (a model, a flow): the
 * tensors as F32 safetensors entries under their names, a CRC-32 of each in __metadata__,
 * writes that refuse non-finite values, and loading that is all-or-nothing — every tensor
 * found, checked and read into a side buffer before any is written. */
#ifndef AD_IO_CHECKPOINT_TENSORS_H
#define AD_IO_CHECKPOINT_TENSORS_H

#include "adapt.h"
#include "lib/io/safetensors.h"

/* The named tensors of one holder, by index. `what` names the holder in messages. */
typedef struct {
    const void *holder;
    const char *what; /* "model", "flow" */
    int32_t count;
    adapt_tensor *(*tensor)(const void *holder, int32_t i);
    const char *(*name)(const void *holder, int32_t i);
} ad_ckpt_tensors;

/* Writes the tensors atomically with their checksums and the metadata meta[0 .. n_meta),
 * n_meta >= 1 (meta[0] is the format), "libadapt_version" after it. A NaN or infinity -> NONFINITE. */
adapt_status ad_ckpt_write(const char *path, const ad_ckpt_tensors *t, const ad_st_meta *meta,
                           int32_t n_meta, const char *fn);

/* Reads every tensor of t from the file: names, shapes, checksums and finiteness checked
 * first; on any error nothing is written. */
adapt_status ad_ckpt_read(const ad_ckpt_tensors *t, const ad_safetensors *st, const char *fn);

/* The metadata value `key`, which a libadapt checkpoint must have (FORMAT if missing). */
adapt_status ad_ckpt_meta(const char **value, const ad_safetensors *st, const char *key,
                          const char *fn);

/* A bound on the values of what the file can describe: its F32 values with room to spare, so
 * that a tiny hostile file cannot make a loader build something huge before failing. */
int64_t ad_ckpt_value_budget(const ad_safetensors *st);

#endif
