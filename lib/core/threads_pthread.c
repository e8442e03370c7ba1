/* The pool: pthread workers that spin briefly for the next job, then sleep.
 *
 * Ranges are claimed, not assigned: every seat (the caller included) takes the
 * next unclaimed range until none is left. A worker that the OS has not
 * scheduled, because another process holds its core, then costs nothing: the
 * seats that run take its ranges. Which seat runs a range never changes what
 * the range computes, so results stay independent of timing.
 *
 * One atomic word carries the job's generation, its number of ranges and the
 * next unclaimed one. A seat reads the job's parameters only after claiming a
 * range of it, and the caller writes the next job's only once every range is
 * done, so parameters are never read while they change. */
#include "lib/core/threads.h"
#include "lib/core/threads_placement.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define cpu_relax() _mm_pause()
#else
#define cpu_relax() ((void)0)
#endif

/* How long an idle seat polls before it sleeps. Long enough to carry a
 * worker across the gaps between the operations of one pass (a few
 * microseconds each), short enough that a busy machine loses little. */
#define SPIN_NS 50000

/* Ranges never exceed the seats, at most ADAPT_MAX_THREADS: 16 bits each suffice. */
#define CLAIM_GEN(word) ((word) >> 32)
#define CLAIM_RANGES(word) (((word) >> 16) & 0xffffu)
#define CLAIM_INDEX(word) ((word) & 0xffffu)

typedef struct {
    ad_pool *pool;
    pthread_t thread;
    _Atomic bool aside; /* stepped off the caller's core (threads_placement.h) */
} ad_worker;

struct ad_pool {
    int32_t n_seats;   /* the thread count asked for: it alone decides the ranges */
    int32_t n_workers; /* the workers started, fewer if the system refused some */
    ad_worker *workers;
    /* The current job; written by the caller before it publishes `claim`. */
    ad_range_fn body;
    void *arg;
    int64_t n, chunk;
    _Atomic uint64_t claim;   /* generation << 32 | ranges << 16 | next unclaimed */
    _Atomic int64_t done;     /* ranges of the current job finished */
    _Atomic int32_t sleepers; /* workers asleep on `wake` */
    _Atomic bool caller_asleep;
    ad_placement placement;
    _Atomic bool stopping;
    pthread_mutex_t lock;
    pthread_cond_t wake, finished;
};

static int64_t now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

/* Polls `until(pool, value)` for up to SPIN_NS; true if it came true. */
static bool spin(ad_pool *pool, uint64_t value, bool (*until)(ad_pool *, uint64_t))
{
    const int64_t deadline = now_ns() + SPIN_NS;
    for (;;) {
        for (int i = 0; i < 64; i++) {
            if (until(pool, value))
                return true;
            cpu_relax();
        }
        if (now_ns() > deadline)
            return false;
    }
}

static bool new_job(ad_pool *pool, uint64_t gen)
{
    return CLAIM_GEN(atomic_load(&pool->claim)) != gen || atomic_load(&pool->stopping);
}

static bool job_done(ad_pool *pool, uint64_t ranges)
{
    return (uint64_t)atomic_load(&pool->done) == ranges;
}

/* Runs ranges of generation `gen` until none is left unclaimed. */
static void take_ranges(ad_pool *pool, uint64_t gen)
{
    uint64_t word = atomic_load(&pool->claim);
    while (CLAIM_GEN(word) == gen && CLAIM_INDEX(word) < CLAIM_RANGES(word)) {
        if (!atomic_compare_exchange_weak(&pool->claim, &word, word + 1))
            continue;
        const int64_t begin = (int64_t)CLAIM_INDEX(word) * pool->chunk;
        const int64_t end = begin + pool->chunk < pool->n ? begin + pool->chunk : pool->n;
        if (begin < end)
            pool->body(pool->arg, begin, end);
        if ((uint64_t)atomic_fetch_add(&pool->done, 1) + 1 == CLAIM_RANGES(word) &&
            atomic_load(&pool->caller_asleep)) {
            pthread_mutex_lock(&pool->lock);
            pthread_cond_signal(&pool->finished);
            pthread_mutex_unlock(&pool->lock);
        }
        word = atomic_load(&pool->claim);
    }
}

static void *worker_main(void *raw)
{
    ad_worker *self = raw;
    ad_pool *pool = self->pool;
    uint64_t seen = 0;
    while (!atomic_load(&pool->stopping)) {
        if (!spin(pool, seen, new_job)) {
            pthread_mutex_lock(&pool->lock);
            atomic_fetch_add(&pool->sleepers, 1);
            while (!new_job(pool, seen))
                pthread_cond_wait(&pool->wake, &pool->lock);
            atomic_fetch_sub(&pool->sleepers, 1);
            pthread_mutex_unlock(&pool->lock);
        }
        seen = CLAIM_GEN(atomic_load(&pool->claim));
        if (ad_placement_step_aside(&pool->placement))
            atomic_store(&self->aside, true);
        take_ranges(pool, seen);
    }
    return NULL;
}

ad_pool *ad_pool_create(int32_t n_threads)
{
    if (n_threads < 2)
        return NULL;
    ad_pool *pool = calloc(1, sizeof *pool);
    if (!pool)
        return NULL;
    pool->workers = calloc((size_t)n_threads - 1, sizeof *pool->workers);
    if (!pool->workers || pthread_mutex_init(&pool->lock, NULL) ||
        pthread_cond_init(&pool->wake, NULL) || pthread_cond_init(&pool->finished, NULL)) {
        free(pool->workers);
        free(pool);
        return NULL;
    }
    pool->n_seats = n_threads;
    ad_placement_init(&pool->placement);
    /* Seats without a thread leave their ranges to the others: the results stay those
     * of n_threads, only slower. */
    for (int32_t i = 0; i < n_threads - 1; i++) {
        pool->workers[i].pool = pool;
        if (pthread_create(&pool->workers[i].thread, NULL, worker_main, &pool->workers[i]) != 0)
            break;
        pool->n_workers++;
    }
    return pool;
}

void ad_pool_free(ad_pool *pool)
{
    if (!pool)
        return;
    pthread_mutex_lock(&pool->lock);
    atomic_store(&pool->stopping, true);
    pthread_cond_broadcast(&pool->wake);
    pthread_mutex_unlock(&pool->lock);
    for (int32_t i = 0; i < pool->n_workers; i++)
        pthread_join(pool->workers[i].thread, NULL);
    pthread_mutex_destroy(&pool->lock);
    pthread_cond_destroy(&pool->wake);
    pthread_cond_destroy(&pool->finished);
    free(pool->workers);
    free(pool);
}

static void wait_until_done(ad_pool *pool, uint64_t ranges)
{
    if (job_done(pool, ranges) || spin(pool, ranges, job_done))
        return;
    /* The caller's core is about to be free: a worker that left it may finish there. */
    for (int32_t i = 0; i < pool->n_workers; i++)
        if (atomic_exchange(&pool->workers[i].aside, false))
            ad_placement_recall(&pool->placement, pool->workers[i].thread);
    pthread_mutex_lock(&pool->lock);
    atomic_store(&pool->caller_asleep, true);
    while (!job_done(pool, ranges))
        pthread_cond_wait(&pool->finished, &pool->lock);
    atomic_store(&pool->caller_asleep, false);
    pthread_mutex_unlock(&pool->lock);
}

/* Publishes the job and takes part in it. */
static void run_job(ad_pool *pool, int64_t n, int64_t ranges, ad_range_fn body, void *arg)
{
    /* Every range of the previous job is done, so no worker reads these now. */
    pool->body = body;
    pool->arg = arg;
    pool->n = n;
    pool->chunk = (n + ranges - 1) / ranges;
    atomic_store(&pool->done, 0);
    ad_placement_note_caller(&pool->placement);
    const uint64_t gen = CLAIM_GEN(atomic_load(&pool->claim)) + 1;
    atomic_store(&pool->claim, gen << 32 | (uint64_t)ranges << 16);
    if (atomic_load(&pool->sleepers) > 0) {
        pthread_mutex_lock(&pool->lock);
        pthread_cond_broadcast(&pool->wake);
        pthread_mutex_unlock(&pool->lock);
    }
    take_ranges(pool, gen);
}

int32_t ad_pool_seats(const ad_pool *pool)
{
    return pool ? pool->n_seats : 1;
}

void ad_pool_for(ad_pool *pool, int64_t n, int64_t grain, ad_range_fn body, void *arg)
{
    const int64_t ranges = ad_pool_ranges(n, grain, pool ? pool->n_seats : 1);
    if (ranges <= 1) {
        if (n > 0)
            body(arg, 0, n);
        return;
    }
    run_job(pool, n, ranges, body, arg);
    wait_until_done(pool, (uint64_t)ranges);
}

