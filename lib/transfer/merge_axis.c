/* AXIS's merge (arXiv 2508.19353): per matrix parameter, the rank-one components
 * sigma u v^T of every source's task vector pooled, the K largest singular values kept, and
 * Delta_m = sum_k sigma_k u_k v_k^T added to the base; every other parameter is the sources'
 * mean. The pool is kept as it goes: a source's components enter it after that source's SVD
 * and only the K largest stay, so memory does not grow with the number of sources. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lib/core/error.h"
#include "lib/core/tensor.h"
#include "lib/models/model.h"
#include "lib/transfer/merge.h"
#include "lib/linalg/svd.h"

/* The SVD of one source's task vector and room for the pool's next state. */
typedef struct {
    double *delta, *u, *s, *vt; /* [m, n], [m, k], [k], [k, n] */
    ad_components next;
} pool_scratch;

static adapt_status pool_alloc(ad_components *p, int64_t m, int64_t n, int64_t capacity)
{
    *p = (ad_components){.m = m, .n = n, .capacity = capacity};
    p->sigma = malloc((size_t)capacity * sizeof *p->sigma);
    p->u = malloc((size_t)(capacity * m) * sizeof *p->u);
    p->v = malloc((size_t)(capacity * n) * sizeof *p->v);
    return p->sigma && p->u && p->v ? ADAPT_OK : ADAPT_ERR_OUT_OF_MEMORY;
}

void ad_components_free(ad_components *p)
{
    free(p->sigma), free(p->u), free(p->v);
}

/* Appends component j of an SVD (u [m, k], s, vt [k, n]) to `to`. */
static void take_new(ad_components *to, const pool_scratch *w, int64_t k, int64_t j)
{
    const int64_t c = to->count++;
    to->sigma[c] = w->s[j];
    for (int64_t r = 0; r < to->m; r++)
        to->u[c * to->m + r] = w->u[r * k + j];
    memcpy(to->v + c * to->n, w->vt + j * to->n, (size_t)to->n * sizeof *to->v);
}

static void take_pooled(ad_components *to, const ad_components *from, int64_t j)
{
    const int64_t c = to->count++;
    to->sigma[c] = from->sigma[j];
    memcpy(to->u + c * to->m, from->u + j * from->m, (size_t)to->m * sizeof *to->u);
    memcpy(to->v + c * to->n, from->v + j * from->n, (size_t)to->n * sizeof *to->v);
}

/* The pool merged with a new source's components (both sorted), the largest `capacity`
 * kept; on equal singular values the pooled one, from an earlier source, goes first. */
static void pool_merge(ad_components *pool, pool_scratch *w, int64_t k)
{
    ad_components *next = &w->next;
    next->count = 0;
    int64_t a = 0, b = 0;
    while (next->count < next->capacity && (a < pool->count || b < k)) {
        if (b >= k || (a < pool->count && pool->sigma[a] >= w->s[b]))
            take_pooled(next, pool, a++);
        else
            take_new(next, w, k, b++);
    }
    const ad_components swap = *pool;
    *pool = *next, *next = swap;
}

void ad_components_write(float *out, const float *base, const ad_components *pool)
{
    for (int64_t r = 0; r < pool->m; r++)
        for (int64_t c = 0; c < pool->n; c++) {
            double sum = base[r * pool->n + c];
            for (int64_t j = 0; j < pool->count; j++)
                sum += pool->sigma[j] * pool->u[j * pool->m + r] * pool->v[j * pool->n + c];
            out[r * pool->n + c] = (float)sum;
        }
}

/* Every source's components of parameter i entered into `pool` in turn. */
static adapt_status pool_sources(ad_components *pool, const ad_merge_job *job, int32_t i,
                                 pool_scratch *w)
{
    const float *base = ad_model_param(job->base, i)->data;
    const int64_t m = pool->m, n = pool->n, k = m < n ? m : n;
    for (int32_t s = 0; s < job->n_sources; s++) {
        const float *theta = ad_model_param(job->sources[s], i)->data;
        for (int64_t j = 0; j < m * n; j++)
            w->delta[j] = (double)theta[j] - (double)base[j];
        adapt_status st = ad_svd_thin(w->delta, m, n, w->u, w->s, w->vt, job->fn);
        if (st)
            return st;
        pool_merge(pool, w, k);
    }
    return ADAPT_OK;
}

static void scratch_free(pool_scratch *w)
{
    free(w->delta), free(w->u), free(w->s), free(w->vt);
    ad_components_free(&w->next);
}

adapt_status ad_axis_components(ad_components *pool, const ad_merge_job *job, int32_t i,
                                int64_t rows)
{
    const int64_t n = ad_model_param(job->base, i)->numel / rows, m = rows;
    const int64_t k = m < n ? m : n;
    int64_t keep = llround(job->p.keep_fraction * (double)k);
    keep = keep < 1 ? 1 : keep;
    pool_scratch w = {.delta = malloc((size_t)(m * n) * sizeof(double)),
                      .u = malloc((size_t)(m * k) * sizeof(double)),
                      .s = malloc((size_t)k * sizeof(double)),
                      .vt = malloc((size_t)(k * n) * sizeof(double))};
    adapt_status st = pool_alloc(pool, m, n, keep);
    if (!st)
        st = pool_alloc(&w.next, m, n, keep);
    if (!st && (!w.delta || !w.u || !w.s || !w.vt))
        st = ADAPT_ERR_OUT_OF_MEMORY;
    if (st)
        st = ad_fail(st, "%s: no memory for the components of a %lld x %lld matrix", job->fn,
                     (long long)m, (long long)n);
    else
        st = pool_sources(pool, job, i, &w);
    scratch_free(&w);
    if (st)
        ad_components_free(pool);
    return st;
}

/* Parameter i, a matrix of `rows` rows, merged through its pooled components. */
static adapt_status merge_by_components(float *out, const ad_merge_job *job, int32_t i,
                                        int64_t rows)
{
    ad_components pool;
    adapt_status st = ad_axis_components(&pool, job, i, rows);
    if (st)
        return st;
    ad_components_write(out, ad_model_param(job->base, i)->data, &pool);
    ad_components_free(&pool);
    return ADAPT_OK;
}

/* Parameter i, not a matrix: the sources' mean. */
static void merge_by_mean(float *out, const ad_merge_job *job, int32_t i)
{
    const adapt_tensor *base = ad_model_param(job->base, i);
    for (int64_t j = 0; j < base->numel; j++) {
        double sum = 0.0;
        for (int32_t s = 0; s < job->n_sources; s++)
            sum += ad_model_param(job->sources[s], i)->data[j];
        out[j] = (float)(sum / job->n_sources);
    }
}

adapt_status ad_merge_axis(float *out, const ad_merge_job *job, const bool *pooled_elsewhere)
{
    int64_t at = 0;
    for (int32_t i = 0; i < adapt_model_param_count(job->base); i++) {
        const adapt_tensor *base = ad_model_param(job->base, i);
        const int64_t rows = ad_merge_rows(base);
        adapt_status st = ADAPT_OK;
        if (pooled_elsewhere && pooled_elsewhere[i])
            ; /* its caller pools it and writes it */
        else if (rows > 0 && base->numel > 0)
            st = merge_by_components(out + at, job, i, rows);
        else
            merge_by_mean(out + at, job, i);
        if (st)
            return st;
        at += base->numel;
    }
    return ADAPT_OK;
}
