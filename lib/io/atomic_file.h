/* Whole-file replacement that never leaves a partial file at the target path: the bytes go to
 * a temporary file in the same directory, which is synced and renamed over the target. */
#ifndef AD_IO_ATOMIC_FILE_H
#define AD_IO_ATOMIC_FILE_H

#include <stddef.h>
#include <stdio.h>

#include "adapt.h"

typedef struct ad_atomic_file {
    FILE *file;
    char *tmp_path; /* "<path>.tmp.<pid>.<n>", malloc'd */
    const char *path;
    const char *fn; /* public function named in messages */
} ad_atomic_file;

/* Creates the temporary file. Failure (e.g. unwritable directory) -> ADAPT_ERR_IO, and
 * nothing exists to clean up (`af` is then empty; ad_atomic_abort on it does nothing). */
adapt_status ad_atomic_open(ad_atomic_file *af, const char *path, const char *fn);

/* Appends bytes; ADAPT_ERR_IO on failure (the caller then calls ad_atomic_abort). */
adapt_status ad_atomic_write(ad_atomic_file *af, const void *bytes, size_t len);

/* Flushes, fsyncs, renames over the target and fsyncs the directory. On failure the temporary
 * file is removed and the target is as it was; either way `af` is finished. */
adapt_status ad_atomic_commit(ad_atomic_file *af);

/* Closes and removes the temporary file, leaving the target untouched. */
void ad_atomic_abort(ad_atomic_file *af);

#endif
