#include "lib/core/threads.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

struct ad_pool {
    pthread_mutex_t lock;
    pthread_cond_t work_ready;
    pthread_cond_t work_done;
    int32_t n_workers;
    pthread_t *workers;
    /* The current job, published under `lock`. */
    ad_range_fn body;
    void *arg;
    int64_t n, chunk;
    uint64_t job;       /* incremented per job; workers wait for a change */
    int32_t pending;    /* workers still running the current job */
    bool stopping;
};

typedef struct {
    ad_pool *pool;
    int32_t index; /* range index; the caller takes range 0 */
} worker_seat;

static void run_range(ad_pool *pool, int32_t index)
{
    int64_t begin = (int64_t)index * pool->chunk;
    int64_t end = begin + pool->chunk < pool->n ? begin + pool->chunk : pool->n;
    if (begin < end)
        pool->body(pool->arg, begin, end);
}

static void *worker_main(void *raw)
{
    worker_seat *seat = raw;
    ad_pool *pool = seat->pool;
    uint64_t seen = 0;
    pthread_mutex_lock(&pool->lock);
    for (;;) {
        while (!pool->stopping && pool->job == seen)
            pthread_cond_wait(&pool->work_ready, &pool->lock);
        if (pool->stopping)
            break;
        seen = pool->job;
        pthread_mutex_unlock(&pool->lock);
        run_range(pool, seat->index);
        pthread_mutex_lock(&pool->lock);
        if (--pool->pending == 0)
            pthread_cond_signal(&pool->work_done);
    }
    pthread_mutex_unlock(&pool->lock);
    return NULL;
}

ad_pool *ad_pool_create(int32_t n_threads)
{
    if (n_threads < 2)
        return NULL;
    ad_pool *pool = calloc(1, sizeof *pool);
    if (!pool)
        return NULL;
    int32_t n_workers = n_threads - 1;
    pool->workers = calloc((size_t)n_workers, sizeof(pthread_t) + sizeof(worker_seat));
    if (!pool->workers) {
        free(pool);
        return NULL;
    }
    pthread_mutex_init(&pool->lock, NULL);
    pthread_cond_init(&pool->work_ready, NULL);
    pthread_cond_init(&pool->work_done, NULL);
    worker_seat *seats = (worker_seat *)(pool->workers + n_workers);
    for (int32_t i = 0; i < n_workers; i++) {
        seats[i] = (worker_seat){pool, i + 1};
        if (pthread_create(&pool->workers[i], NULL, worker_main, &seats[i]) != 0)
            break;
        pool->n_workers++;
    }
    if (pool->n_workers == 0) {
        ad_pool_free(pool);
        return NULL;
    }
    return pool;
}

void ad_pool_free(ad_pool *pool)
{
    if (!pool)
        return;
    pthread_mutex_lock(&pool->lock);
    pool->stopping = true;
    pthread_cond_broadcast(&pool->work_ready);
    pthread_mutex_unlock(&pool->lock);
    for (int32_t i = 0; i < pool->n_workers; i++)
        pthread_join(pool->workers[i], NULL);
    pthread_mutex_destroy(&pool->lock);
    pthread_cond_destroy(&pool->work_ready);
    pthread_cond_destroy(&pool->work_done);
    free(pool->workers);
    free(pool);
}

void ad_pool_for(ad_pool *pool, int64_t n, int64_t grain, ad_range_fn body, void *arg)
{
    int64_t ranges = ad_pool_ranges(n, grain, pool ? pool->n_workers + 1 : 1);
    if (ranges <= 1) {
        if (n > 0)
            body(arg, 0, n);
        return;
    }
    pthread_mutex_lock(&pool->lock);
    pool->body = body;
    pool->arg = arg;
    pool->n = n;
    pool->chunk = (n + ranges - 1) / ranges;
    /* Workers whose range is empty return at once; all of them take part so
     * that `pending` has one meaning. */
    pool->pending = pool->n_workers;
    pool->job++;
    pthread_cond_broadcast(&pool->work_ready);
    pthread_mutex_unlock(&pool->lock);

    run_range(pool, 0);

    pthread_mutex_lock(&pool->lock);
    while (pool->pending > 0)
        pthread_cond_wait(&pool->work_done, &pool->lock);
    pthread_mutex_unlock(&pool->lock);
}
