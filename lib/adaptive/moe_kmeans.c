/* Balanced k-means on unit-norm rows. A round scores every (row, cluster) pair against fixed
 * centroids, fills the clusters greedily in increasing distance, improves that assignment by
 * exchanging rows between pairs of clusters, and moves the centroids to the cluster means.
 * A round keeps the previous assignment unless the new one is cheaper, so the cost never
 * rises and the rounds stop once nothing changes.
 *
 * Determinism: every distance is a sum of float products, each exact in double, added in a
 * fixed order, so it rounds the same on every machine, with fused multiply-add or without;
 * every choice breaks ties by index. No threads are used. */
#include "lib/adaptive/moe_kmeans.h"

#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "lib/core/error.h"
#include "lib/core/rng.h"
#include "lib/eval/ranking.h"

/* Streams of ad_uniform, one per use. */
#define STREAM_FIRST_CENTRE 0x6b6d65616e730001ull
#define STREAM_NEXT_CENTRE 0x6b6d65616e730002ull
#define MAX_SWEEPS 64 /* exchange sweeps per round; the last sweep usually changes nothing */
/* A change must lower the cost (at most 4 a row: unit rows, centroids in the unit ball) by
 * more than this, relative to 1 + the cost, so rounding noise cannot make anything cycle. */
#define GAIN_TOL 1e-12

typedef struct {
    double dist;
    int64_t row, cluster;
} pick;

typedef struct {
    int64_t n, d, k, m; /* rows, row length, clusters, rows per cluster */
    float *x;           /* [n, d] unit-norm rows */
    float *centres;     /* [k, d] */
    double *sums;       /* [k, d] accumulators of the means */
    double *xx, *cc;    /* [n], [k] squared norms */
    double *dist;       /* [n, k] squared distances of rows to centroids */
    int32_t *assign;    /* [n] the assignment */
    int32_t *next;      /* [n] a round's candidate */
    int64_t *members;   /* [k, m] the rows of each cluster */
    int64_t *count;     /* [k] rows given to each cluster so far */
    pick *heap;         /* [n] */
    ad_ranked *ranked;  /* [2 m] the rows of two clusters */
} work;

static adapt_status check_args(const int32_t *cluster, const float *x, int64_t n, int64_t d,
                               int64_t k, int32_t iterations, const char *fn)
{
    if (!cluster || !x)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: %s is NULL", fn,
                       cluster ? "x" : "cluster");
    if (n < 1 || d < 1 || k < 1)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT,
                       "%s: n = %lld, d = %lld, k = %lld; each must be >= 1", fn, (long long)n,
                       (long long)d, (long long)k);
    if (n % k)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT,
                       "%s: k = %lld clusters do not divide n = %lld rows", fn, (long long)k,
                       (long long)n);
    if (iterations < 1)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: iterations = %d; must be >= 1", fn,
                       (int)iterations);
    /* n x d floats, n x k and k x d doubles (k <= n); this also keeps k below 2^30, so the
     * cluster numbers fit cluster[]'s int32. */
    const int64_t wide = d > k ? d : k;
    if (wide > (int64_t)(PTRDIFF_MAX / sizeof(double)) / n)
        return ad_fail(ADAPT_ERR_OVERFLOW, "%s: %lld rows of %lld values into %lld clusters "
                       "do not fit in memory", fn, (long long)n, (long long)d, (long long)k);
    for (int64_t i = 0; i < n * d; i++)
        if (!isfinite(x[i]))
            return ad_fail(ADAPT_ERR_NONFINITE, "%s: x[%lld, %lld] is %g", fn,
                           (long long)(i / d), (long long)(i % d), (double)x[i]);
    return ADAPT_OK;
}

static void work_free(work *w)
{
    free(w->x);
    free(w->centres);
    free(w->sums);
    free(w->xx);
    free(w->cc);
    free(w->dist);
    free(w->assign);
    free(w->next);
    free(w->members);
    free(w->count);
    free(w->heap);
    free(w->ranked);
}

static adapt_status work_alloc(work *w, int64_t n, int64_t d, int64_t k, const char *fn)
{
    const size_t un = (size_t)n, ud = (size_t)d, uk = (size_t)k;
    *w = (work){.n = n, .d = d, .k = k, .m = n / k};
    w->x = malloc(un * ud * sizeof *w->x);
    w->centres = malloc(uk * ud * sizeof *w->centres);
    w->sums = malloc(uk * ud * sizeof *w->sums);
    w->xx = malloc(un * sizeof *w->xx);
    w->cc = malloc(uk * sizeof *w->cc);
    w->dist = malloc(un * uk * sizeof *w->dist);
    w->assign = malloc(un * sizeof *w->assign);
    w->next = malloc(un * sizeof *w->next);
    w->members = malloc(un * sizeof *w->members);
    w->count = malloc(uk * sizeof *w->count);
    w->heap = malloc(un * sizeof *w->heap);
    w->ranked = malloc(2 * (size_t)w->m * sizeof *w->ranked);
    if (w->x && w->centres && w->sums && w->xx && w->cc && w->dist && w->assign && w->next &&
        w->members && w->count && w->heap && w->ranked)
        return ADAPT_OK;
    work_free(w);
    return ad_fail(ADAPT_ERR_OUT_OF_MEMORY,
                   "%s: no memory for balanced k-means of %lld rows of %lld values into %lld "
                   "clusters", fn, (long long)n, (long long)d, (long long)k);
}

/* a . b in double. Float products are exact in double, so the fixed order of the additions
 * alone decides the rounding. Eight partial sums keep the additions independent. */
static double dot(const float *a, const float *b, int64_t d)
{
    double s[8] = {0};
    int64_t j = 0;
    for (; j + 8 <= d; j += 8)
        for (int r = 0; r < 8; r++)
            s[r] += (double)a[j + r] * (double)b[j + r];
    for (; j < d; j++)
        s[0] += (double)a[j] * (double)b[j];
    return ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
}

/* Unit rows let the clustering see directions only: a neuron's weight scale says how strongly
 * it responds, not to which inputs. Scaling by a power of two leaves a row's bits unchanged. */
static void normalise_rows(work *w, const float *x)
{
    for (int64_t i = 0; i < w->n; i++) {
        const float *src = x + i * w->d;
        float *dst = w->x + i * w->d;
        const double norm = sqrt(dot(src, src, w->d));
        for (int64_t j = 0; j < w->d; j++)
            dst[j] = norm > 0.0 ? (float)(src[j] / norm) : 0.0f;
        w->xx[i] = dot(dst, dst, w->d);
    }
}

static double sq_distance(const work *w, int64_t row, const float *centre, double cc)
{
    const double s = w->xx[row] + cc - 2.0 * dot(w->x + row * w->d, centre, w->d);
    return s > 0.0 ? s : 0.0; /* rounding can take a zero distance below zero */
}

static int64_t index_below(double u, int64_t n)
{
    const int64_t i = (int64_t)(u * (double)n);
    return i < n ? i : n - 1;
}

static void set_centre(work *w, int64_t c, int64_t row)
{
    memcpy(w->centres + c * w->d, w->x + row * w->d, (size_t)w->d * sizeof *w->x);
    w->cc[c] = w->xx[row];
}

/* The row at which the running sum of nearest[] first exceeds `target`, zero rows skipped
 * (they sit on a centre); the last nonzero row if rounding never lets it. */
static int64_t draw_row(const double *nearest, int64_t n, double target)
{
    double run = 0.0;
    int64_t row = 0;
    for (int64_t i = 0; i < n; i++)
        if (nearest[i] > 0.0) {
            row = i;
            if ((run += nearest[i]) > target)
                break;
        }
    return row;
}

/* k-means++ (Arthur & Vassilvitskii 2007): each further centre is a row drawn with probability
 * proportional to its squared distance from the nearest centre so far, which spreads the
 * centres over the directions present and avoids Lloyd's worst starts. */
static void seed_centres(work *w, uint64_t seed)
{
    double *nearest = w->dist; /* [n] of the [n, k] scores, not in use before a round */
    set_centre(w, 0, index_below(ad_uniform(seed, STREAM_FIRST_CENTRE, 0), w->n));
    for (int64_t i = 0; i < w->n; i++)
        nearest[i] = sq_distance(w, i, w->centres, w->cc[0]);
    for (int64_t c = 1; c < w->k; c++) {
        double total = 0.0;
        for (int64_t i = 0; i < w->n; i++)
            total += nearest[i];
        const double u = ad_uniform(seed, STREAM_NEXT_CENTRE, (uint64_t)c);
        /* Every row on a centre already (duplicates): any row will do. */
        set_centre(w, c, total > 0.0 ? draw_row(nearest, w->n, u * total) : index_below(u, w->n));
        for (int64_t i = 0; c + 1 < w->k && i < w->n; i++)
            nearest[i] = fmin(nearest[i], sq_distance(w, i, w->centres + c * w->d, w->cc[c]));
    }
}

static void score_pairs(work *w)
{
    for (int64_t i = 0; i < w->n; i++)
        for (int64_t c = 0; c < w->k; c++)
            w->dist[i * w->k + c] = sq_distance(w, i, w->centres + c * w->d, w->cc[c]);
}

/* Whether pick a comes first: the nearer, then the lower row (a row is in the heap once). */
static bool earlier(const pick *a, const pick *b)
{
    return a->dist < b->dist || (a->dist == b->dist && a->row < b->row);
}

static void sift_down(pick *heap, int64_t size, int64_t i)
{
    for (;;) {
        const int64_t left = 2 * i + 1, right = left + 1;
        int64_t first = i;
        if (left < size && earlier(&heap[left], &heap[first]))
            first = left;
        if (right < size && earlier(&heap[right], &heap[first]))
            first = right;
        if (first == i)
            return;
        const pick t = heap[i];
        heap[i] = heap[first];
        heap[first] = t;
        i = first;
    }
}

/* The row's nearest cluster that still has room, the lower cluster on a tie. */
static pick nearest_open(const work *w, int64_t row)
{
    const double *dr = w->dist + row * w->k;
    pick p = {.dist = INFINITY, .row = row, .cluster = -1};
    for (int64_t c = 0; c < w->k; c++)
        if (w->count[c] < w->m && (p.cluster < 0 || dr[c] < p.dist))
            p = (pick){.dist = dr[c], .row = row, .cluster = c};
    return p;
}

/* The greedy balanced assignment: (row, cluster) pairs taken in increasing distance, ties by
 * row then cluster, each row going to its nearest cluster with room. The heap holds each
 * waiting row's best open pair; one whose cluster filled meanwhile is replaced by the row's
 * next best, never nearer, so pairs come out in the order of a sort of all n k of them,
 * without building it. */
static void greedy_assign(work *w, int32_t *out)
{
    memset(w->count, 0, (size_t)w->k * sizeof *w->count);
    for (int64_t i = 0; i < w->n; i++)
        w->heap[i] = nearest_open(w, i);
    for (int64_t i = w->n / 2 - 1; i >= 0; i--)
        sift_down(w->heap, w->n, i);
    for (int64_t size = w->n; size > 0;) {
        const pick top = w->heap[0];
        if (w->count[top.cluster] < w->m) {
            out[top.row] = (int32_t)top.cluster;
            w->count[top.cluster]++;
            w->heap[0] = w->heap[--size];
        } else {
            w->heap[0] = nearest_open(w, top.row);
        }
        sift_down(w->heap, size, 0);
    }
}

static void gather_members(work *w, const int32_t *assign)
{
    memset(w->count, 0, (size_t)w->k * sizeof *w->count);
    for (int64_t i = 0; i < w->n; i++)
        w->members[assign[i] * w->m + w->count[assign[i]]++] = i;
}

static double cost_of(const work *w, const int32_t *assign)
{
    double sum = 0.0;
    for (int64_t i = 0; i < w->n; i++)
        sum += w->dist[i * w->k + assign[i]];
    return sum;
}

/* The best exchange of rows between clusters a and b for fixed centroids: with
 * g = dist(., a) - dist(., b), the m rows of lowest g go to a. That is every improving swap
 * of a row of a with a row of b at once. Returns whether the cost went down. */
static bool exchange(work *w, int64_t a, int64_t b, int32_t *assign)
{
    const int64_t m = w->m, k = w->k;
    int64_t *in_a = w->members + a * m, *in_b = w->members + b * m;
    const double *dist = w->dist;
    /* Swapping i of a with j of b gains g_i - g_j: nothing to gain unless the largest g in a
     * exceeds the smallest in b. This check is all that most pairs cost. */
    double top_a = -INFINITY, low_b = INFINITY;
    for (int64_t r = 0; r < m; r++) {
        top_a = fmax(top_a, dist[in_a[r] * k + a] - dist[in_a[r] * k + b]);
        low_b = fmin(low_b, dist[in_b[r] * k + a] - dist[in_b[r] * k + b]);
    }
    if (!(top_a - low_b > GAIN_TOL))
        return false;
    ad_ranked *ranked = w->ranked;
    double before = 0.0, after = 0.0;
    for (int64_t r = 0; r < m; r++) {
        const int64_t i = in_a[r], j = in_b[r];
        ranked[r] = (ad_ranked){dist[i * k + a] - dist[i * k + b], i};
        ranked[m + r] = (ad_ranked){dist[j * k + a] - dist[j * k + b], j};
        before += dist[i * k + a] + dist[j * k + b];
    }
    ad_rank_ascending(ranked, 2 * m);
    for (int64_t r = 0; r < m; r++)
        after += dist[ranked[r].index * k + a] + dist[ranked[m + r].index * k + b];
    if (!(after < before)) /* rounding ate the gain the check promised */
        return false;
    for (int64_t r = 0; r < m; r++) {
        in_a[r] = ranked[r].index;
        in_b[r] = ranked[m + r].index;
        assign[in_a[r]] = (int32_t)a;
        assign[in_b[r]] = (int32_t)b;
    }
    return true;
}

/* Exchanges between every pair of clusters, swept until a sweep changes nothing: then no swap
 * of two rows in different clusters lowers the cost by more than GAIN_TOL. The greedy fill
 * alone leaves such swaps (its last rows take whatever room is left). */
static void improve(work *w, int32_t *assign)
{
    gather_members(w, assign);
    for (int32_t sweep = 0; sweep < MAX_SWEEPS; sweep++) {
        bool changed = false;
        for (int64_t a = 0; a < w->k; a++)
            for (int64_t b = a + 1; b < w->k; b++)
                if (exchange(w, a, b, assign))
                    changed = true;
        if (!changed)
            return;
    }
}

/* One round against the current centroids. The greedy assignment, improved, replaces the
 * previous one only if cheaper; otherwise the previous one is improved in place. A greedy fill
 * can be worse than last round's assignment, and without this the rounds could cycle.
 * Returns whether the assignment changed. */
static bool one_round(work *w, bool first)
{
    score_pairs(w);
    greedy_assign(w, w->next);
    improve(w, w->next);
    bool changed = true;
    if (!first) {
        const double previous = cost_of(w, w->assign);
        if (!(cost_of(w, w->next) < previous - GAIN_TOL * (1.0 + previous))) {
            memcpy(w->next, w->assign, (size_t)w->n * sizeof *w->next);
            improve(w, w->next);
            changed = memcmp(w->next, w->assign, (size_t)w->n * sizeof *w->next) != 0;
        }
    }
    int32_t *t = w->assign;
    w->assign = w->next;
    w->next = t;
    return changed;
}

/* Centroids move to the means of their rows, summed in row order in double. */
static void update_centres(work *w)
{
    const int64_t d = w->d;
    memset(w->sums, 0, (size_t)(w->k * d) * sizeof *w->sums);
    for (int64_t i = 0; i < w->n; i++) {
        double *sum = w->sums + w->assign[i] * d;
        const float *row = w->x + i * d;
        for (int64_t j = 0; j < d; j++)
            sum[j] += row[j];
    }
    for (int64_t c = 0; c < w->k; c++) {
        float *centre = w->centres + c * d;
        for (int64_t j = 0; j < d; j++)
            centre[j] = (float)(w->sums[c * d + j] / (double)w->m);
        w->cc[c] = dot(centre, centre, d);
    }
}

/* Clusters renumbered by their first row, so one partition has one array. */
static void number_by_first_row(int32_t *cluster, work *w)
{
    int64_t *label = w->count, next = 0;
    for (int64_t c = 0; c < w->k; c++)
        label[c] = -1;
    for (int64_t i = 0; i < w->n; i++) {
        const int32_t c = w->assign[i];
        if (label[c] < 0)
            label[c] = next++;
        cluster[i] = (int32_t)label[c];
    }
}

adapt_status ad_balanced_kmeans(int32_t *cluster, const float *x, int64_t n, int64_t d,
                                int64_t k, uint64_t seed, int32_t iterations, const char *fn)
{
    adapt_status st = check_args(cluster, x, n, d, k, iterations, fn);
    if (st)
        return st;
    work w;
    if ((st = work_alloc(&w, n, d, k, fn)))
        return st;
    normalise_rows(&w, x);
    seed_centres(&w, seed);
    for (int32_t round = 0; round < iterations && one_round(&w, round == 0); round++)
        update_centres(&w);
    number_by_first_row(cluster, &w);
    work_free(&w);
    return ADAPT_OK;
}
