/* A small fork-join pool: every parallel loop of the library, GEMMs included
 * (gemm_split.c). Its workers spin for a few tens of microseconds after a job,
 * then sleep, and the seats claim ranges rather than being handed them, so a
 * seat that another process keeps off its core delays no one
 * (threads_pthread.c); a worker never stays on the caller's core
 * (threads_placement.h). */
#ifndef AD_CORE_THREADS_H
#define AD_CORE_THREADS_H

#include <stdint.h>

typedef struct ad_pool ad_pool;

/* Runs body(arg, begin, end) over disjoint ranges covering [0, n). */
typedef void (*ad_range_fn)(void *arg, int64_t begin, int64_t end);

/* A pool of n_threads seats: n_threads - 1 workers and the caller. NULL if
 * n_threads < 2 or memory ran out; workers the system refuses to start are
 * done without (their ranges run on the other seats). */
ad_pool *ad_pool_create(int32_t n_threads);
void ad_pool_free(ad_pool *pool);

/* Splits [0, n) into at most one range per thread, each at least `grain`
 * long. Ranges depend only on n, grain and the thread count, never on timing,
 * so results are deterministic. A NULL pool runs the loop inline. */
void ad_pool_for(ad_pool *pool, int64_t n, int64_t grain, ad_range_fn body, void *arg);

/* The thread count the pool was made for (1 for NULL). */
int32_t ad_pool_seats(const ad_pool *pool);

/* How many ranges ad_pool_for cuts [0, n) into for `seats` threads. */
int64_t ad_pool_ranges(int64_t n, int64_t grain, int32_t seats);

/* Number of online cores (at least 1). */
int32_t ad_cpu_count(void);

#endif
