/* Gaussian prototypes of one layer (arXiv 2502.16174's later code; docs/probes.md): class
 * means, the pooled within-class covariance Sigma = S / (n - 1) with S the scatter of every
 * row about its class mean, and the shrunk precision P = d ((n - 1) Sigma + tr(Sigma) I)^-1
 * = d (S + tr(Sigma) I)^-1. The authors' code also computes a covariance per class and never
 * uses it; the library computes the pooled one alone. With two classes the logits' difference
 * is one linear function: z_1 - z_0 = (P mu_1 - P mu_0)ᵀ h - (mu_1ᵀ P mu_1 - mu_0ᵀ P mu_0) / 2
 * + log(n_1 / n_0). Everything is in double. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lib/core/error.h"
#include "lib/linalg/spd.h"
#include "lib/probe/probe.h"

#define CHUNK_ROWS 256 /* rows centred at a time for the scatter's rank-k updates */

static void class_means(double *mean, int64_t *count, const float *x, int64_t n, int64_t d,
                        const int32_t *labels)
{
    memset(mean, 0, 2 * (size_t)d * sizeof *mean);
    count[0] = count[1] = 0;
    for (int64_t i = 0; i < n; i++) {
        double *m = mean + labels[i] * d;
        for (int64_t j = 0; j < d; j++)
            m[j] += x[i * d + j];
        count[labels[i]]++;
    }
    for (int c = 0; c < 2; c++)
        for (int64_t j = 0; j < d; j++)
            mean[c * d + j] /= (double)count[c];
}

/* scatter [d, d] (upper triangle) = sum_i (x_i - mu_{y_i})(x_i - mu_{y_i})ᵀ. */
static void within_scatter(double *scatter, double *chunk, const float *x, int64_t n, int64_t d,
                           const int32_t *labels, const double *mean)
{
    memset(scatter, 0, (size_t)d * (size_t)d * sizeof *scatter);
    for (int64_t start = 0; start < n; start += CHUNK_ROWS) {
        const int64_t rows = n - start < CHUNK_ROWS ? n - start : CHUNK_ROWS;
        for (int64_t i = 0; i < rows; i++) {
            const double *m = mean + labels[start + i] * d;
            for (int64_t j = 0; j < d; j++)
                chunk[i * d + j] = x[(start + i) * d + j] - m[j];
        }
        ad_gram_add(scatter, chunk, rows, d);
    }
}

/* The linear logit of "flagged" from the means and a = (S + tr(Sigma) I) / d, destroyed. */
static adapt_status linear_logit(ad_probe_layer *layer, double *a, const double *mean,
                                 const int64_t *count, const char *fn)
{
    const int64_t d = layer->width;
    double *pm = malloc(2 * (size_t)d * sizeof *pm); /* rows: P mu_0, P mu_1 */
    if (!pm)
        return ad_fail(ADAPT_ERR_OUT_OF_MEMORY, "%s: no memory for %lld features", fn,
                       (long long)d);
    memcpy(pm, mean, 2 * (size_t)d * sizeof *pm);
    adapt_status st = ad_spd_solve(a, pm, d, 2, fn);
    if (!st) {
        double quad[2] = {0.0, 0.0};
        for (int c = 0; c < 2; c++)
            for (int64_t j = 0; j < d; j++)
                quad[c] += mean[c * d + j] * pm[c * d + j];
        for (int64_t j = 0; j < d; j++)
            layer->weight[j] = pm[d + j] - pm[j];
        layer->bias = -0.5 * (quad[1] - quad[0]) + log((double)count[1] / (double)count[0]);
    }
    free(pm);
    return st;
}

adapt_status ad_prototypes_fit(ad_probe_layer *layer, const float *x, int64_t n,
                               const int32_t *labels, const char *fn)
{
    const int64_t d = layer->width;
    if (!ad_spd_fits(d, 2) || (size_t)d > SIZE_MAX / sizeof(double) / (size_t)d)
        return ad_fail(ADAPT_ERR_OVERFLOW, "%s: %lld features are too many for prototypes", fn,
                       (long long)d);
    double *a = malloc((size_t)d * (size_t)d * sizeof *a);
    double *mean = malloc(2 * (size_t)d * sizeof *mean);
    double *chunk = malloc(CHUNK_ROWS * (size_t)d * sizeof *chunk);
    layer->weight = malloc((size_t)d * sizeof *layer->weight);
    adapt_status st = ADAPT_OK;
    if (!a || !mean || !chunk || !layer->weight)
        st = ad_fail(ADAPT_ERR_OUT_OF_MEMORY, "%s: no memory for the covariance of %lld "
                     "features", fn, (long long)d);
    int64_t count[2];
    double trace = 0.0;
    if (!st) {
        class_means(mean, count, x, n, d, labels);
        within_scatter(a, chunk, x, n, d, labels, mean);
        for (int64_t j = 0; j < d; j++)
            trace += a[j * d + j];
        trace /= (double)(n - 1);
        if (!(trace > 0.0))
            st = ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: the features do not vary within the "
                         "classes: their covariance is 0 and has no inverse", fn);
    }
    for (int64_t j = 0; j < d && !st; j++) {
        for (int64_t k = j; k < d; k++)
            a[j * d + k] /= (double)d;
        a[j * d + j] += trace / (double)d;
    }
    if (!st)
        st = linear_logit(layer, a, mean, count, fn);
    free(chunk);
    free(mean);
    free(a);
    return st;
}
