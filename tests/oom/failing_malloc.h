/* An allocator that refuses chosen allocations, for proving that every
 * allocation failure becomes a status. Linked into a test program, its
 * malloc family replaces the C library's (or AddressSanitizer's) for the
 * whole process: the library, jansson, zlib, oneDNN, OpenBLAS, libgomp and
 * libstdc++'s operator new alike. */
#ifndef TESTS_OOM_FAILING_MALLOC_H
#define TESTS_OOM_FAILING_MALLOC_H

#include <stdbool.h>

/* From now on, counts allocations of every thread and refuses the k-th
 * (k >= 1), or, `persistent`, the k-th and every later one. k = 0 counts
 * without refusing. */
void fm_arm(long k, bool persistent);

/* Stops refusing and counting; returns the allocations counted since fm_arm. */
long fm_disarm(void);

/* Allocations refused since the last fm_arm. */
long fm_refused(void);

#endif
