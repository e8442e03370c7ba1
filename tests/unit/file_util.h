/* Scratch directories and whole-file helpers for the suites that read and write files. Every
 * helper fails the running test (Check's ck_assert) when the file system does not cooperate. */
#ifndef TESTS_FILE_UTIL_H
#define TESTS_FILE_UTIL_H

#include <stddef.h>

/* Checked fixture: a fresh empty directory under /tmp, and its removal with everything below
 * it (directories a test made read-only included). */
void tu_scratch_setup(void);
void tu_scratch_teardown(void);

/* The scratch directory's path. */
const char *tu_scratch_dir(void);

/* `name` inside the scratch directory. The result lives in one of eight rotating buffers, so a
 * test can hold a few such paths at once. */
const char *tu_in_scratch(const char *name);

/* Makes `path` hold exactly `len` bytes. */
void tu_write_file(const char *path, const void *bytes, size_t len);

/* The whole file in a malloc'd buffer with one spare byte; *len receives its length. */
unsigned char *tu_slurp(const char *path, size_t *len);

/* Fails the test unless `path` holds exactly the `len` bytes at `bytes`. */
void tu_assert_file_holds(const char *path, const void *bytes, size_t len);

/* Number of entries of directory `dir` whose name contains `part`. */
int tu_count_files(const char *dir, const char *part);

#endif
