/* Balanced k-means of MoEfication (lib/adaptive/moe_kmeans): exact cluster sizes, planted
 * clusters recovered, determinism and the canonical numbering, invariance to row scale, no
 * improving swap left where the greedy fill leaves one, and argument errors. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check_util.h"
#include "lib/adaptive/moe_kmeans.h"
#include "lib/core/rng.h"

#define FN "adapt_moe_split"

static float *random_rows(int64_t n, int64_t d, uint64_t seed)
{
    float *x = malloc((size_t)(n * d) * sizeof *x);
    ck_assert_ptr_nonnull(x);
    tu_fill(x, n * d, seed, -1.0f, 1.0f);
    return x;
}

static int32_t *split(const float *x, int64_t n, int64_t d, int64_t k, uint64_t seed,
                      int32_t iterations)
{
    int32_t *cluster = malloc((size_t)n * sizeof *cluster);
    ck_assert_ptr_nonnull(cluster);
    TU_OK(ad_balanced_kmeans(cluster, x, n, d, k, seed, iterations, FN));
    return cluster;
}

static void assert_balanced(const int32_t *cluster, int64_t n, int64_t k)
{
    int64_t *size = calloc((size_t)k, sizeof *size);
    ck_assert_ptr_nonnull(size);
    for (int64_t i = 0; i < n; i++) {
        ck_assert_msg(cluster[i] >= 0 && cluster[i] < k, "cluster[%lld] = %d outside [0, %lld)",
                      (long long)i, (int)cluster[i], (long long)k);
        size[cluster[i]]++;
    }
    for (int64_t c = 0; c < k; c++)
        ck_assert_msg(size[c] == n / k, "n %lld k %lld: cluster %lld has %lld rows",
                      (long long)n, (long long)k, (long long)c, (long long)size[c]);
    free(size);
}

/* Numbered by first row: each row's cluster is one seen before or the next new number. */
static void assert_canonical(const int32_t *cluster, int64_t n)
{
    int32_t fresh = 0;
    for (int64_t i = 0; i < n; i++) {
        ck_assert_msg(cluster[i] <= fresh, "row %lld opens cluster %d before cluster %d",
                      (long long)i, (int)cluster[i], (int)fresh);
        fresh += cluster[i] == fresh;
    }
}

/* k random directions, `per` rows each, jittered by up to `noise` per value and scaled by a
 * factor in [0.5, 2), in shuffled order; truth[i] is row i's direction. */
static float *planted(int32_t *truth, int64_t k, int64_t per, int64_t d, float noise,
                      uint64_t seed)
{
    const int64_t n = k * per;
    float *dir = random_rows(k, d, seed), *x = malloc((size_t)(n * d) * sizeof *x);
    ck_assert_ptr_nonnull(x);
    for (int64_t i = 0; i < n; i++)
        truth[i] = (int32_t)(i % k);
    for (int64_t i = n - 1; i > 0; i--) { /* Fisher-Yates */
        const int64_t j = (int64_t)((double)ad_uniform(seed, 1, (uint64_t)i) * (double)(i + 1));
        const int32_t t = truth[i];
        truth[i] = truth[j];
        truth[j] = t;
    }
    for (int64_t i = 0; i < n; i++) {
        const float scale = 0.5f + 1.5f * ad_uniform(seed, 2, (uint64_t)i);
        for (int64_t j = 0; j < d; j++) {
            const float jitter = noise * (2.0f * ad_uniform(seed, 3, (uint64_t)(i * d + j)) - 1);
            x[i * d + j] = scale * (dir[truth[i] * d + j] + jitter);
        }
    }
    free(dir);
    return x;
}

/* dist[i * k + c]: squared distance of unit row i to the mean of cluster c's unit rows, all
 * in double. */
static double *distances_to_means(const float *x, const int32_t *cluster, int64_t n, int64_t d,
                                  int64_t k)
{
    double *u = malloc((size_t)(n * d) * sizeof *u), *mean = calloc((size_t)(k * d), sizeof *u);
    double *dist = malloc((size_t)(n * k) * sizeof *dist);
    ck_assert(u && mean && dist);
    for (int64_t i = 0; i < n; i++) {
        double ss = 0.0;
        for (int64_t j = 0; j < d; j++)
            ss += (double)x[i * d + j] * x[i * d + j];
        for (int64_t j = 0; j < d; j++) {
            u[i * d + j] = ss > 0.0 ? x[i * d + j] / sqrt(ss) : 0.0;
            mean[cluster[i] * d + j] += u[i * d + j] / (double)(n / k);
        }
    }
    for (int64_t i = 0; i < n; i++)
        for (int64_t c = 0; c < k; c++) {
            double s = 0.0;
            for (int64_t j = 0; j < d; j++)
                s += (u[i * d + j] - mean[c * d + j]) * (u[i * d + j] - mean[c * d + j]);
            dist[i * k + c] = s;
        }
    free(u);
    free(mean);
    return dist;
}

static double cost_of(const double *dist, const int32_t *cluster, int64_t n, int64_t k)
{
    double sum = 0.0;
    for (int64_t i = 0; i < n; i++)
        sum += dist[i * k + cluster[i]];
    return sum;
}

/* The largest drop in cost from swapping two rows of different clusters. */
static double best_swap_gain(const double *dist, const int32_t *cluster, int64_t n, int64_t k)
{
    double best = 0.0;
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = i + 1; j < n; j++) {
            const int32_t a = cluster[i], b = cluster[j];
            const double gain =
                dist[i * k + a] + dist[j * k + b] - dist[i * k + b] - dist[j * k + a];
            best = gain > best ? gain : best;
        }
    return best;
}

typedef struct {
    double dist;
    int64_t row, cluster;
} pair;

static int pair_order(const void *pa, const void *pb)
{
    const pair *a = pa, *b = pb;
    if (a->dist != b->dist)
        return a->dist < b->dist ? -1 : 1;
    if (a->row != b->row)
        return a->row < b->row ? -1 : 1;
    return (a->cluster > b->cluster) - (a->cluster < b->cluster);
}

/* The plain greedy balanced assignment to fixed centroids: all pairs sorted, each row to its
 * first cluster with room. */
static void greedy(int32_t *out, const double *dist, int64_t n, int64_t k)
{
    pair *pairs = malloc((size_t)(n * k) * sizeof *pairs);
    int64_t *size = calloc((size_t)k, sizeof *size);
    ck_assert(pairs && size);
    for (int64_t i = 0; i < n * k; i++)
        pairs[i] = (pair){dist[i], i / k, i % k};
    qsort(pairs, (size_t)(n * k), sizeof *pairs, pair_order);
    for (int64_t i = 0; i < n; i++)
        out[i] = -1;
    for (int64_t p = 0; p < n * k; p++)
        if (out[pairs[p].row] < 0 && size[pairs[p].cluster] < n / k) {
            out[pairs[p].row] = (int32_t)pairs[p].cluster;
            size[pairs[p].cluster]++;
        }
    free(pairs);
    free(size);
}

START_TEST(every_cluster_has_exactly_n_over_k_rows)
{
    const struct {
        int64_t n, d, k;
    } cases[] = {{12, 5, 1},   {12, 5, 12}, {12, 5, 3},  {60, 7, 4},   {96, 16, 8},
                 {100, 3, 25}, {64, 1, 16}, {200, 9, 8}, {384, 24, 96}};
    for (size_t t = 0; t < sizeof cases / sizeof cases[0]; t++) {
        const int64_t n = cases[t].n, d = cases[t].d, k = cases[t].k;
        float *x = random_rows(n, d, 100 + t);
        int32_t *cluster = split(x, n, d, k, 7, 10);
        assert_balanced(cluster, n, k);
        assert_canonical(cluster, n);
        for (int64_t i = 0; i < n; i++) { /* one cluster, or one row each */
            if (k == 1)
                ck_assert_int_eq(cluster[i], 0);
            if (k == n)
                ck_assert_int_eq(cluster[i], i);
        }
        free(cluster);
        free(x);
    }
}
END_TEST

START_TEST(duplicate_and_zero_rows_still_fill_every_cluster)
{
    /* Identical rows leave k-means++ no distance to draw by; zero rows stay at the origin. */
    const int64_t n = 30, d = 4, k = 5;
    float x[30 * 4];
    for (int64_t i = 0; i < n * d; i++)
        x[i] = i % d == 1 ? 0.5f : 0.0f;
    for (int64_t j = 0; j < d; j++)
        x[3 * d + j] = x[17 * d + j] = 0.0f;
    int32_t *cluster = split(x, n, d, k, 3, 5);
    assert_balanced(cluster, n, k);
    assert_canonical(cluster, n);
    free(cluster);
}
END_TEST

static const struct {
    int64_t k, per, d;
} planted_cases[] = {{8, 24, 32}, {16, 8, 64}, {4, 64, 16}, {24, 16, 48}};

START_TEST(planted_clusters_are_recovered)
{
    const int64_t k = planted_cases[_i].k, per = planted_cases[_i].per, d = planted_cases[_i].d;
    const int64_t n = k * per;
    int32_t *truth = malloc((size_t)n * sizeof *truth);
    int32_t *group_cluster = malloc((size_t)k * sizeof *group_cluster);
    ck_assert(truth && group_cluster);
    float *x = planted(truth, k, per, d, 0.2f, 40 + (uint64_t)_i);
    int32_t *cluster = split(x, n, d, k, 11, 30);
    assert_balanced(cluster, n, k);
    for (int64_t g = 0; g < k; g++)
        group_cluster[g] = -1;
    for (int64_t i = 0; i < n; i++) {
        int32_t *c = &group_cluster[truth[i]];
        if (*c < 0)
            *c = cluster[i]; /* sizes are exact, so groups cannot share a cluster */
        ck_assert_msg(cluster[i] == *c, "row %lld of direction %d in cluster %d, not %d",
                      (long long)i, (int)truth[i], (int)cluster[i], (int)*c);
    }
    /* And far cheaper than a balanced split that ignores the directions: rows by index. */
    int32_t *blind = calloc((size_t)n, sizeof *blind);
    ck_assert_ptr_nonnull(blind);
    for (int64_t i = 0; i < n; i++)
        blind[i] = (int32_t)(i / per);
    double *dist = distances_to_means(x, cluster, n, d, k);
    double *blind_dist = distances_to_means(x, blind, n, d, k);
    const double found = cost_of(dist, cluster, n, k), base = cost_of(blind_dist, blind, n, k);
    ck_assert_msg(found < 0.25 * base, "cost %g against %g of a blind split", found, base);
    free(dist);
    free(blind_dist);
    free(blind);
    free(cluster);
    free(x);
    free(group_cluster);
    free(truth);
}
END_TEST

START_TEST(same_seed_same_output_numbered_by_first_row)
{
    const int64_t n = 120, d = 10, k = 6;
    float *x = random_rows(n, d, 5);
    int32_t *first = split(x, n, d, k, 99, 20), *again = split(x, n, d, k, 99, 20);
    ck_assert_mem_eq(first, again, (size_t)n * sizeof *first);
    ck_assert_int_eq(first[0], 0);
    assert_canonical(first, n);
    free(first);
    free(again);
    free(x);
    /* Seeds that find the same partition give the same array: numbering does not depend on
     * which centroid k-means++ happened to place first. */
    int32_t truth[8 * 24];
    float *p = planted(truth, 8, 24, 32, 0.2f, 8);
    int32_t *one = split(p, 192, 32, 8, 1, 30), *other = split(p, 192, 32, 8, 12345, 30);
    ck_assert_mem_eq(one, other, sizeof truth);
    free(one);
    free(other);
    free(p);
}
END_TEST

START_TEST(row_scale_does_not_change_the_assignment)
{
    /* Powers of two scale exactly, so even random rows must give the same bits. */
    const int64_t n = 96, d = 12, k = 8;
    float *x = random_rows(n, d, 21);
    int32_t *plain = split(x, n, d, k, 4, 20);
    const float factors[] = {0.25f, 8.0f, 1024.0f, 1.0f / 4096};
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < d; j++)
            x[i * d + j] *= factors[i % 4];
    int32_t *scaled = split(x, n, d, k, 4, 20);
    ck_assert_mem_eq(plain, scaled, (size_t)n * sizeof *plain);
    free(plain);
    free(scaled);
    free(x);
    /* Any positive factors on planted directions, whose margins dwarf the rounding. */
    int32_t truth[8 * 24];
    float *p = planted(truth, 8, 24, 32, 0.2f, 9);
    int32_t *before = split(p, 192, 32, 8, 6, 30);
    for (int64_t i = 0; i < 192; i++)
        for (int64_t j = 0; j < 32; j++)
            p[i * 32 + j] *= i % 3 == 0 ? 7.3f : i % 5 == 1 ? 0.013f : 1.0f;
    int32_t *after = split(p, 192, 32, 8, 6, 30);
    ck_assert_mem_eq(before, after, sizeof truth);
    free(before);
    free(after);
    free(p);
}
END_TEST

START_TEST(exchanges_leave_no_improving_swap)
{
    /* Random rows have no clear clusters, so the greedy fill's last rows take whatever room
     * is left. Run to convergence, the result is its own centroids' assignment with no
     * improving swap, and no worse than the greedy fill to those centroids, which (the
     * test's teeth) does leave an improving swap. */
    const int64_t n = 96, d = 8, k = 6;
    float *x = random_rows(n, d, 77);
    int32_t *cluster = split(x, n, d, k, 2, 500);
    assert_balanced(cluster, n, k);
    double *dist = distances_to_means(x, cluster, n, d, k);
    const double found = cost_of(dist, cluster, n, k);
    const double gain = best_swap_gain(dist, cluster, n, k);
    ck_assert_msg(gain < 1e-5, "a swap still gains %g of %g", gain, found);
    int32_t *fill = malloc((size_t)n * sizeof *fill);
    ck_assert_ptr_nonnull(fill);
    greedy(fill, dist, n, k);
    assert_balanced(fill, n, k);
    const double greedy_cost = cost_of(dist, fill, n, k);
    ck_assert_msg(found <= greedy_cost + 1e-5, "cost %.9g, greedy fill %.9g", found, greedy_cost);
    const double greedy_gain = best_swap_gain(dist, fill, n, k);
    ck_assert_msg(greedy_gain > 1e-3, "the greedy fill leaves only %g to gain", greedy_gain);
    free(fill);
    free(dist);
    free(cluster);
    free(x);
}
END_TEST

static void assert_untouched(const int32_t *cluster, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        ck_assert_int_eq(cluster[i], -7);
}

static void assert_names_fn(void)
{
    ck_assert_msg(strncmp(adapt_last_error(), FN ": ", strlen(FN ": ")) == 0,
                  "message \"%s\" does not start with \"" FN ": \"", adapt_last_error());
}

START_TEST(bad_input_is_refused_and_cluster_untouched)
{
    const int64_t n = 12, d = 3;
    float x[12 * 3];
    tu_fill(x, n * d, 1, -1.0f, 1.0f);
    int32_t cluster[12];
    for (int64_t i = 0; i < n; i++)
        cluster[i] = -7;
    const adapt_status invalid = ADAPT_ERR_INVALID_ARGUMENT;
    TU_FAILS(ad_balanced_kmeans(NULL, x, n, d, 3, 1, 10, FN), invalid);
    assert_names_fn();
    TU_FAILS(ad_balanced_kmeans(cluster, NULL, n, d, 3, 1, 10, FN), invalid);
    TU_FAILS(ad_balanced_kmeans(cluster, x, 0, d, 3, 1, 10, FN), invalid);
    TU_FAILS(ad_balanced_kmeans(cluster, x, -12, d, 3, 1, 10, FN), invalid);
    TU_FAILS(ad_balanced_kmeans(cluster, x, n, 0, 3, 1, 10, FN), invalid);
    TU_FAILS(ad_balanced_kmeans(cluster, x, n, d, 0, 1, 10, FN), invalid);
    TU_FAILS(ad_balanced_kmeans(cluster, x, n, d, -3, 1, 10, FN), invalid);
    TU_FAILS(ad_balanced_kmeans(cluster, x, n, d, 5, 1, 10, FN), invalid);
    assert_names_fn();
    TU_FAILS(ad_balanced_kmeans(cluster, x, n, d, 24, 1, 10, FN), invalid);
    TU_FAILS(ad_balanced_kmeans(cluster, x, n, d, 3, 1, 0, FN), invalid);
    /* Sizes no memory could hold are refused before x is read. */
    TU_FAILS(ad_balanced_kmeans(cluster, x, INT64_C(1) << 40, INT64_C(1) << 40, 1, 1, 10, FN),
             ADAPT_ERR_OVERFLOW);
    const float bad[] = {NAN, INFINITY, -INFINITY};
    for (int t = 0; t < 3; t++) {
        x[7] = bad[t];
        TU_FAILS(ad_balanced_kmeans(cluster, x, n, d, 3, 1, 10, FN), ADAPT_ERR_NONFINITE);
        assert_names_fn();
        ck_assert_ptr_nonnull(strstr(adapt_last_error(), "x[2, 1]"));
    }
    assert_untouched(cluster, n);
    x[7] = 0.5f;
    TU_OK(ad_balanced_kmeans(cluster, x, n, d, 3, 1, 10, FN));
    assert_balanced(cluster, n, 3);
}
END_TEST

static Suite *moe_kmeans_suite(void)
{
    Suite *s = suite_create("moe_kmeans");
    TCase *tc = tcase_create("balanced_kmeans");
    tcase_add_test(tc, every_cluster_has_exactly_n_over_k_rows);
    tcase_add_test(tc, duplicate_and_zero_rows_still_fill_every_cluster);
    tcase_add_loop_test(tc, planted_clusters_are_recovered, 0,
                        (int)(sizeof planted_cases / sizeof planted_cases[0]));
    tcase_add_test(tc, same_seed_same_output_numbered_by_first_row);
    tcase_add_test(tc, row_scale_does_not_change_the_assignment);
    tcase_add_test(tc, exchanges_leave_no_improving_swap);
    tcase_add_test(tc, bad_input_is_refused_and_cluster_untouched);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run(moe_kmeans_suite());
}
