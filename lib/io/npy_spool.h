/* An NPY file written block of rows by block of rows, then mapped for reading: a recording of
 * activations too large to hold in memory is spooled to disk this way and read back in place. */
#ifndef AD_IO_NPY_SPOOL_H
#define AD_IO_NPY_SPOOL_H

#include <stddef.h>
#include <stdint.h>

#include "adapt.h"
#include "lib/io/atomic_file.h"

typedef struct {
    ad_atomic_file file; /* while writing */
    size_t head;         /* bytes before the data */
    size_t row_bytes;
    int64_t rows, written;
    void *map; /* the finished file, mapped read-only */
    size_t map_bytes;
} ad_npy_spool;

/* Starts `path` as a float32 array [shape], shape[0] rows, written atomically. */
adapt_status ad_npy_spool_open(ad_npy_spool *s, const char *path, int32_t ndim,
                               const int64_t *shape, const char *fn);

/* Appends n rows. */
adapt_status ad_npy_spool_append(ad_npy_spool *s, const float *rows, int64_t n);

/* Commits the file once every row is written and maps it: its data into *data. */
adapt_status ad_npy_spool_finish(ad_npy_spool *s, const float **data);

/* Unmaps a finished spool (the file stays) or abandons an unfinished one (no file). */
void ad_npy_spool_close(ad_npy_spool *s);

#endif
