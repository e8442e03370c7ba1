/* Isotonic regression, one class against the rest, as sklearn.isotonic.IsotonicRegression
 * (increasing, out_of_bounds='clip'): the samples' probabilities of class k are sorted, equal
 * probabilities merged into one point holding the mean of their targets [y = k], and the
 * pool-adjacent-violators algorithm fits the non-decreasing sequence closest in weighted
 * least squares. New probabilities map through the linear interpolation of the fitted
 * points, clipped to the first and last. */
#include "lib/eval/calibrator.h"

#include <stdlib.h>

#include "lib/core/error.h"
#include "lib/eval/ranking.h"

/* Weighted points (x, mean target, weight), then PAVA blocks over them. */
typedef struct {
    ad_ranked *order;
    double *x, *y, *w;
    int64_t *block_end; /* PAVA stack: one past the last point of each block */
} isotonic_work;

/* Sorted probabilities of class k, equal ones merged; returns the number of points. */
static int64_t unique_points(isotonic_work *w, const ad_score_rows *rows,
                             const int32_t *labels, int32_t k)
{
    const int64_t n = rows->n;
    for (int64_t i = 0; i < n; i++)
        w->order[i] = (ad_ranked){ad_score_prob(rows, i, k), i};
    ad_rank_ascending(w->order, n);
    int64_t points = 0;
    for (int64_t start = 0, end; start < n; start = end, points++) {
        end = ad_tie_group_end(w->order, start, n);
        double hits = 0.0;
        for (int64_t j = start; j < end; j++)
            hits += labels[w->order[j].index] == k;
        w->x[points] = w->order[start].key;
        w->w[points] = (double)(end - start);
        w->y[points] = hits / w->w[points];
    }
    return points;
}

/* Pool adjacent violators: y[] becomes the fitted block mean at every point; returns the
 * number of blocks, whose ends are in block_end[]. */
static int64_t pool_adjacent_violators(isotonic_work *w, int64_t points)
{
    int64_t blocks = 0;
    for (int64_t j = 0; j < points; j++) {
        w->block_end[blocks++] = j + 1; /* point j as a block; y and w at its first point */
        while (blocks > 1) {
            const int64_t prev = blocks >= 3 ? w->block_end[blocks - 3] : 0;
            const int64_t last = w->block_end[blocks - 2];
            if (w->y[prev] <= w->y[last])
                break;
            const double weight = w->w[prev] + w->w[last];
            w->y[prev] = (w->y[prev] * w->w[prev] + w->y[last] * w->w[last]) / weight;
            w->w[prev] = weight;
            w->block_end[blocks - 2] = w->block_end[blocks - 1];
            blocks--;
        }
    }
    return blocks;
}

/* Knots at the first and last point of each block: the interpolation is flat in between. */
static adapt_status build_curve(ad_isotonic_curve *curve, const isotonic_work *w,
                                int64_t blocks, const char *fn)
{
    curve->x = malloc(2 * (size_t)blocks * sizeof *curve->x);
    curve->value = malloc(2 * (size_t)blocks * sizeof *curve->value);
    if (!curve->x || !curve->value)
        return ad_fail(ADAPT_ERR_OUT_OF_MEMORY, "%s: no memory for %lld isotonic knots", fn,
                       (long long)(2 * blocks));
    int64_t count = 0;
    for (int64_t b = 0, first = 0; b < blocks; first = w->block_end[b++]) {
        const int64_t last = w->block_end[b] - 1;
        curve->x[count] = w->x[first];
        curve->value[count++] = w->y[first];
        if (last != first) {
            curve->x[count] = w->x[last];
            curve->value[count++] = w->y[first];
        }
    }
    curve->count = count;
    return ADAPT_OK;
}

adapt_status ad_isotonic_fit(ad_isotonic_curve *curves, const ad_score_rows *rows,
                             const int32_t *labels, const char *fn)
{
    const size_t n = (size_t)rows->n;
    isotonic_work w = {malloc(n * sizeof *w.order), malloc(n * sizeof(double)),
                       malloc(n * sizeof(double)), malloc(n * sizeof(double)),
                       malloc(n * sizeof(int64_t))};
    adapt_status st = ADAPT_OK;
    if (!w.order || !w.x || !w.y || !w.w || !w.block_end)
        st = ad_fail(ADAPT_ERR_OUT_OF_MEMORY, "%s: no memory for %zu samples", fn, n);
    for (int32_t k = 0; !st && k < rows->classes; k++) {
        const int64_t points = unique_points(&w, rows, labels, k);
        st = build_curve(&curves[k], &w, pool_adjacent_violators(&w, points), fn);
    }
    free(w.order);
    free(w.x);
    free(w.y);
    free(w.w);
    free(w.block_end);
    return st;
}

double ad_isotonic_map(const ad_isotonic_curve *curve, double p)
{
    const double *x = curve->x, *v = curve->value;
    const int64_t last = curve->count - 1;
    if (p <= x[0])
        return v[0];
    if (p >= x[last])
        return v[last];
    int64_t lo = 0, hi = last; /* x[lo] <= p < x[hi] */
    while (hi - lo > 1) {
        const int64_t mid = lo + (hi - lo) / 2;
        if (x[mid] <= p)
            lo = mid;
        else
            hi = mid;
    }
    return v[lo] + (v[hi] - v[lo]) * (p - x[lo]) / (x[hi] - x[lo]);
}

void ad_isotonic_curves_free(ad_isotonic_curve *curves, int32_t classes)
{
    if (!curves)
        return;
    for (int32_t k = 0; k < classes; k++) {
        free(curves[k].x);
        free(curves[k].value);
    }
    free(curves);
}
