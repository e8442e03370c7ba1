/* Scoring rows with a fitted probe, and the threshold for a false-positive rate. */
#include <math.h>
#include <stdlib.h>

#include "lib/core/error.h"
#include "lib/core/tensor.h"
#include "lib/eval/ranking.h"
#include "lib/kernels/row_reduce.h"
#include "lib/probe/probe.h"

adapt_status ad_probe_rows_check(const ad_probe_rows *rows, const char *fn)
{
    if ((!rows->features && rows->n > 0) || !rows->widths)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: %s is NULL", fn,
                       rows->widths ? "features" : "widths");
    if (rows->n_layers < 1 || rows->n < 0)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: %s = %lld is out of range", fn,
                       rows->n_layers < 1 ? "n_layers" : "n",
                       (long long)(rows->n_layers < 1 ? rows->n_layers : rows->n));
    for (int32_t l = 0; l < rows->n_layers; l++) {
        const int64_t w = rows->widths[l];
        if (!rows->features[l] && rows->n > 0)
            return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: features[%d] is NULL", fn, (int)l);
        if (w < 1)
            return ad_fail(ADAPT_ERR_SHAPE, "%s: widths[%d] = %lld; must be >= 1", fn, (int)l,
                           (long long)w);
        if (rows->n > INT64_MAX / w)
            return ad_fail(ADAPT_ERR_OVERFLOW, "%s: %lld rows of %lld features", fn,
                           (long long)rows->n, (long long)w);
        if (rows->n > 0 && !ad_all_finite(rows->features[l], rows->n * w))
            return ad_fail(ADAPT_ERR_NONFINITE, "%s: features[%d] holds NaN or infinity", fn,
                           (int)l);
    }
    return ADAPT_OK;
}

adapt_status ad_probe_layer_score(const ad_probe_layer *layer, int32_t n_threads, float *p,
                                  int64_t stride, const float *x, int64_t n, const char *fn)
{
    if (layer->mlp)
        return ad_probe_mlp_score(layer, n_threads, p, stride, x, n, fn);
    const int64_t d = layer->width;
    for (int64_t i = 0; i < n; i++) {
        double z = layer->bias;
        for (int64_t j = 0; j < d; j++)
            z += layer->weight[j] * x[i * d + j];
        p[i * stride] = (float)ad_sigmoid(z);
    }
    return ADAPT_OK;
}

/* Rows checked against the probe's layers: their count and widths. */
static adapt_status rows_match(const adapt_probe *probe, const ad_probe_rows *rows,
                               const char *fn)
{
    if (!probe)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: probe is NULL", fn);
    /* The counts and widths first: the arrays are read only as far as the probe's own. */
    if (rows->n_layers != probe->n_layers)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: %d layers given; the probe reads %d",
                       fn, (int)rows->n_layers, (int)probe->n_layers);
    if (!rows->widths)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: widths is NULL", fn);
    for (int32_t l = 0; l < rows->n_layers; l++)
        if (rows->widths[l] != probe->layers[l].width)
            return ad_fail(ADAPT_ERR_SHAPE, "%s: layer %d has %lld features; the probe was "
                           "fitted on %lld", fn, (int)l, (long long)rows->widths[l],
                           (long long)probe->layers[l].width);
    return ad_probe_rows_check(rows, fn);
}

adapt_status ad_probe_score_rows(const adapt_probe *probe, float *combined, float *per_layer,
                                 const ad_probe_rows *rows, const char *fn)
{
    const int32_t L = probe->n_layers;
    adapt_status st = ADAPT_OK;
    for (int32_t l = 0; l < L && !st; l++)
        st = ad_probe_layer_score(&probe->layers[l], probe->n_threads, per_layer + l, L,
                                  rows->features[l], rows->n, fn);
    for (int64_t i = 0; i < rows->n && !st; i++) {
        double z = probe->combination[L];
        for (int32_t l = 0; l < L; l++)
            z += probe->combination[l] * per_layer[i * L + l];
        combined[i] = L == 1 ? per_layer[i] : (float)ad_sigmoid(z);
    }
    return st;
}

/* Scores of rows checked against the probe, in owned arrays the caller frees. */
static adapt_status score_owned(float **combined, float **per_layer, const adapt_probe *probe,
                                const ad_probe_rows *rows, const char *fn)
{
    adapt_status st = rows_match(probe, rows, fn);
    if (st)
        return st;
    const size_t n = rows->n ? (size_t)rows->n : 1;
    if ((size_t)probe->n_layers > SIZE_MAX / sizeof(float) / n)
        return ad_fail(ADAPT_ERR_OVERFLOW, "%s: %lld rows", fn, (long long)rows->n);
    *combined = malloc(n * sizeof **combined);
    *per_layer = malloc(n * (size_t)probe->n_layers * sizeof **per_layer);
    if (!*combined || !*per_layer)
        return ad_fail(ADAPT_ERR_OUT_OF_MEMORY, "%s: no memory for %lld scores", fn,
                       (long long)rows->n);
    return ad_probe_score_rows(probe, *combined, *per_layer, rows, fn);
}

adapt_status adapt_probe_score(const adapt_probe *probe, float *scores, float *layer_scores,
                               const float *const *features, const int64_t *widths,
                               int32_t n_layers, int64_t n)
{
    static const char *const fn = "adapt_probe_score";
    if (!scores)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: scores is NULL", fn);
    const ad_probe_rows rows = {features, widths, n_layers, n};
    float *combined = NULL, *per_layer = NULL;
    adapt_status st = score_owned(&combined, &per_layer, probe, &rows, fn);
    for (int64_t i = 0; i < n && !st; i++) {
        scores[i] = combined[i];
        for (int32_t l = 0; l < n_layers && layer_scores; l++)
            layer_scores[i * n_layers + l] = per_layer[i * n_layers + l];
    }
    free(combined);
    free(per_layer);
    return st;
}

adapt_status adapt_probe_set_threshold_for_fpr(adapt_probe *probe,
                                               const float *const *features,
                                               const int64_t *widths, int32_t n_layers,
                                               int64_t n, double fpr)
{
    static const char *const fn = "adapt_probe_set_threshold_for_fpr";
    if (!isfinite(fpr))
        return ad_fail(ADAPT_ERR_NONFINITE, "%s: fpr is %g", fn, fpr);
    if (fpr < 0.0 || fpr >= 1.0 || n < 1)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: %s", fn,
                       n < 1 ? "no benign rows (n < 1)" : "fpr must be in [0, 1)");
    const ad_probe_rows rows = {features, widths, n_layers, n};
    float *combined = NULL, *per_layer = NULL;
    ad_ranked *ranked = NULL;
    adapt_status st = score_owned(&combined, &per_layer, probe, &rows, fn);
    if (!st && !(ranked = malloc((size_t)n * sizeof *ranked)))
        st = ad_fail(ADAPT_ERR_OUT_OF_MEMORY, "%s: no memory to rank %lld scores", fn,
                     (long long)n);
    if (!st) {
        for (int64_t i = 0; i < n; i++)
            ranked[i] = (ad_ranked){combined[i], i};
        ad_rank_descending(ranked, n);
        /* At most k = floor(fpr n) benign rows may score above the threshold. */
        const int64_t k = (int64_t)floor(fpr * (double)n);
        probe->threshold = ranked[k < n ? k : n - 1].key;
    }
    free(ranked);
    free(combined);
    free(per_layer);
    return st;
}

int64_t adapt_probe_flops(const adapt_probe *probe)
{
    if (!probe)
        return 0;
    int64_t flops = probe->n_layers > 1 ? 2 * (int64_t)probe->n_layers : 0;
    for (int32_t l = 0; l < probe->n_layers; l++) {
        const ad_probe_layer *layer = &probe->layers[l];
        flops += layer->mlp ? adapt_model_flops(layer->mlp) : 2 * layer->width;
    }
    return flops;
}
