/* What the benchmark programs share: failing loudly, a monotonic clock, medians. Header-only,
 * each program stays one translation unit. */
#ifndef BENCH_UTIL_H
#define BENCH_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "adapt.h"

/* Exits with `program: what: the library's message` unless st is ADAPT_OK. */
static inline void bench_check(const char *program, adapt_status st, const char *what)
{
    if (st) {
        fprintf(stderr, "%s: %s: %s (%s)\n", program, what, adapt_last_error(),
                adapt_status_string(st));
        exit(1);
    }
}

static inline double bench_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static inline int bench_by_value(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The median of v[0 .. n), which it sorts. */
static inline double bench_median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, bench_by_value);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

#endif
