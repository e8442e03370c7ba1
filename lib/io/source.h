/* Random-access bytes from a file or from memory, so the NPY and safetensors parsers run the
 * same code on files and on the in-memory inputs of the fuzz targets. */
#ifndef AD_IO_SOURCE_H
#define AD_IO_SOURCE_H

#include <stdint.h>
#include <stdio.h>

#include "adapt.h"

typedef struct ad_source {
    FILE *file;                 /* NULL when reading from memory */
    const unsigned char *bytes; /* memory sources only */
    uint64_t size;              /* total length in bytes */
    const char *name;           /* for messages: the path, or "<memory>" */
} ad_source;

/* Opens a regular file for reading. Missing, unreadable or non-regular -> ADAPT_ERR_IO with
 * the reason; `fn` names the public function in messages. */
adapt_status ad_source_open(ad_source *src, const char *path, const char *fn);

/* Borrows `size` bytes; they must outlive the source. */
void ad_source_memory(ad_source *src, const void *bytes, size_t size);

/* Copies `len` bytes at `offset` into dst. A range past the end -> ADAPT_ERR_FORMAT
 * ("truncated"); an operating-system read failure -> ADAPT_ERR_IO. */
adapt_status ad_source_read(const ad_source *src, uint64_t offset, void *dst, size_t len,
                            const char *fn);

/* Closes the file if any; safe on a zeroed or memory source. */
void ad_source_close(ad_source *src);

#endif
