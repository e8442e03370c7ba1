/* safetensors files of named float32 tensors: an 8-byte little-endian header length, a JSON
 * header {"name": {"dtype", "shape", "data_offsets"}, ..., "__metadata__": {str: str}}, then
 * the raw little-endian data. The reader trusts nothing in the file (see docs/formats.md). */
#ifndef AD_IO_SAFETENSORS_H
#define AD_IO_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "adapt.h"
#include "lib/io/source.h"

/* Headers longer than this are refused (the limit of the reference implementation). */
#define AD_ST_MAX_HEADER 100000000u

/* One tensor entry of an opened file. Every entry of the file is checked, whatever its dtype:
 * known dtype, shape * element size == end - begin, range inside the data section, no overlap
 * with another entry. Only F32 entries can be read. */
typedef struct ad_st_entry {
    char *name;
    char dtype[8];                 /* "F32", "I64", "BF16", ... */
    int64_t ndim;                  /* may exceed ADAPT_MAX_DIMS */
    int64_t shape[ADAPT_MAX_DIMS]; /* the first min(ndim, ADAPT_MAX_DIMS) dims */
    int64_t numel;
    uint64_t begin, end; /* byte offsets within the data section */
} ad_st_entry;

typedef struct ad_safetensors {
    ad_source src;
    uint64_t data_start; /* file offset of the data section */
    int64_t count;
    ad_st_entry *entries; /* in header order */
    int64_t meta_count;
    char **meta_keys, **meta_values;
} ad_safetensors;

/* Opens and validates a file; on success the caller closes it with ad_safetensors_close().
 * Missing/unreadable file -> IO; anything malformed or inconsistent -> FORMAT; `fn` names the
 * public function in messages. */
adapt_status ad_safetensors_open(ad_safetensors **out, const char *path, const char *fn);

/* The same on `size` bytes in memory, which must outlive the handle. */
adapt_status ad_safetensors_open_memory(ad_safetensors **out, const void *bytes, size_t size,
                                        const char *fn);

void ad_safetensors_close(ad_safetensors *st);

/* The entry called `name`, or NULL. */
const ad_st_entry *ad_safetensors_find(const ad_safetensors *st, const char *name);

/* The __metadata__ value of `key`, or NULL. */
const char *ad_safetensors_metadata(const ad_safetensors *st, const char *key);

/* Copies an F32 entry's numel values into dst. Another dtype -> UNSUPPORTED. */
adapt_status ad_safetensors_read_f32(const ad_safetensors *st, const ad_st_entry *entry,
                                     float *dst, const char *fn);

/* A tensor to write: name, row-major float32 data, shape. */
typedef struct ad_st_tensor {
    const char *name;
    const float *data;
    int32_t ndim;
    const int64_t *shape;
} ad_st_tensor;

typedef struct ad_st_meta {
    const char *key, *value;
} ad_st_meta;

/* Writes the tensors contiguously in the given order after a space-padded header whose length
 * is a multiple of 8, atomically (see atomic_file.h): on any error `path` is untouched and no
 * temporary file remains. Duplicate or reserved ("__metadata__") names, names or metadata that
 * are not UTF-8 -> INVALID_ARGUMENT; bad shapes -> SHAPE/OVERFLOW; file errors -> IO. */
adapt_status ad_safetensors_write(const char *path, const ad_st_tensor *tensors, int64_t count,
                                  const ad_st_meta *meta, int64_t meta_count, const char *fn);

#endif
