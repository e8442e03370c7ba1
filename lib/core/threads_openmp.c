/* The pool on OpenMP, used when the library is built with oneDNN: oneDNN runs
 * its GEMMs on the calling thread's OpenMP team, whose workers spin for a
 * while after each call. Running the library's loops on that same team puts
 * those spinning workers to use instead of competing with them for cores. */
#include "lib/core/threads.h"

#include <omp.h>
#include <stdlib.h>

struct ad_pool {
    int32_t n_threads;
};

ad_pool *ad_pool_create(int32_t n_threads)
{
    if (n_threads < 2)
        return NULL;
    ad_pool *pool = malloc(sizeof *pool);
    if (pool)
        pool->n_threads = n_threads;
    return pool;
}

void ad_pool_free(ad_pool *pool) { free(pool); }

void ad_pool_for(ad_pool *pool, int64_t n, int64_t grain, ad_range_fn body, void *arg)
{
    int64_t ranges = ad_pool_ranges(n, grain, pool ? pool->n_threads : 1);
    if (ranges <= 1) {
        if (n > 0)
            body(arg, 0, n);
        return;
    }
    const int64_t chunk = (n + ranges - 1) / ranges;
    /* The team can be smaller than asked (nested regions, thread limits):
     * each member takes every team-size-th range, so all ranges run. */
#pragma omp parallel num_threads((int)ranges)
    for (int64_t r = omp_get_thread_num(); r < ranges; r += omp_get_num_threads()) {
        int64_t begin = r * chunk;
        int64_t end = begin + chunk < n ? begin + chunk : n;
        if (begin < end)
            body(arg, begin, end);
    }
}
