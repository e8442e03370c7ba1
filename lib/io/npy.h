/* NPY internals shared by the public file functions and the fuzz target. */
#ifndef AD_IO_NPY_H
#define AD_IO_NPY_H

#include <stddef.h>
#include <stdint.h>

#include "adapt.h"
#include "lib/io/source.h"

/* Headers longer than this are refused: a '<f4' header of ADAPT_MAX_DIMS dims needs < 200. */
#define AD_NPY_MAX_HEADER 65536u

/* What the header dict says about the array. */
typedef struct ad_npy_header {
    int32_t ndim;
    int64_t shape[ADAPT_MAX_DIMS];
    int64_t numel;
} ad_npy_header;

/* Parses the header text (`len` bytes after the length field, not NUL-terminated): exactly
 * the Python dict literal numpy writes, {'descr': '<f4', 'fortran_order': False,
 * 'shape': (d0, d1, ...), } followed by spaces and a newline. Keys in any order, single or
 * double quotes, an optional trailing comma. Anything else -> ADAPT_ERR_FORMAT; a well-formed
 * header with another dtype, fortran_order True or more than ADAPT_MAX_DIMS dims ->
 * ADAPT_ERR_UNSUPPORTED. `name` and `fn` go into messages. */
adapt_status ad_npy_parse_header(ad_npy_header *h, const char *text, size_t len,
                                 const char *name, const char *fn);

/* Room for the preamble and header of any float32 array: 10 preamble bytes, about 60 fixed,
 * ADAPT_MAX_DIMS dims of at most 21 characters and up to 64 bytes of padding. */
#define AD_NPY_FILE_HEAD_MAX 512

/* The bytes an NPY 1.0 file of a float32 array [shape] starts with, as numpy.save writes
 * them (the data then starts at a multiple of 64 bytes); returns their count. */
size_t ad_npy_file_head(unsigned char *buf, size_t cap, int32_t ndim, const int64_t *shape);

/* adapt_npy_read on any source (see source.h); outputs untouched on error. */
adapt_status ad_npy_read_source(float **data, int32_t *ndim, int64_t *shape,
                                const ad_source *src, const char *fn);

#endif
