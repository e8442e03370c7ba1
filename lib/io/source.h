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

/* Opens `path` read-only as a file descriptor and reports its length. Missing, unreadable or
 * not a regular file (a directory, a FIFO, a device) -> ADAPT_ERR_IO with the reason, and no
 * descriptor stays open; a FIFO without a writer is refused at once instead of blocking.
 * `fn` names the public function in messages. */
adapt_status ad_open_regular(int *fd, uint64_t *size, const char *path, const char *fn);

/* Opens a regular file for reading, as ad_open_regular() does. */
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
