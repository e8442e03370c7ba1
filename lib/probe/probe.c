/* The probe handle: settings, fitting layer by layer and the combination, accessors. */
#include "lib/probe/probe.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lib/core/error.h"
#include "lib/core/struct_io.h"

void adapt_probe_params_init(adapt_probe_params *params, size_t size)
{
    static const adapt_probe_params defaults = {
        .kind = ADAPT_PROBE_PROTOTYPES, .hidden = 64, .epochs = 30, .max_iterations = 1000,
        .l2 = 1.0, .l1 = 1.0, .tolerance = 1e-7, .learning_rate = 1e-3};
    ad_struct_init(params, size, &defaults, sizeof defaults);
}

static adapt_status check_count(int32_t v, int32_t min, const char *name, const char *fn)
{
    if (v < min)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: %s = %d; must be >= %d", fn, name,
                       (int)v, (int)min);
    return ADAPT_OK;
}

/* A finite setting, >= 0, or > 0 when `positive`. */
static adapt_status check_real(double v, int positive, const char *name, const char *fn)
{
    if (!isfinite(v))
        return ad_fail(ADAPT_ERR_NONFINITE, "%s: %s is %g", fn, name, v);
    if (v < 0.0 || (positive && v == 0.0))
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: %s = %g; must be %s 0", fn, name, v,
                       positive ? ">" : ">=");
    return ADAPT_OK;
}

/* Defaults overlaid with the fields the caller knows, then checked. */
static adapt_status read_params(adapt_probe_params *own, const adapt_probe_params *user,
                                const char *fn)
{
    adapt_probe_params_init(own, sizeof *own);
    adapt_status st = ad_struct_read(own, sizeof *own, user, "adapt_probe_params", fn);
    if (!st && (own->kind < ADAPT_PROBE_PROTOTYPES || own->kind > ADAPT_PROBE_MLP))
        st = ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: unknown kind %d", fn, (int)own->kind);
    if (!st && !(st = check_count(own->hidden, 1, "hidden", fn))
        && !(st = check_count(own->epochs, 1, "epochs", fn))
        && !(st = check_count(own->max_iterations, 1, "max_iterations", fn))
        && !(st = check_count(own->n_threads, 0, "n_threads", fn))
        && !(st = check_real(own->l2, 0, "l2", fn)) && !(st = check_real(own->l1, 0, "l1", fn))
        && !(st = check_real(own->tolerance, 1, "tolerance", fn)))
        st = check_real(own->learning_rate, 1, "learning_rate", fn);
    return st;
}

static adapt_status check_labels(const int32_t *labels, int64_t n, const char *fn)
{
    if (!labels)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: labels is NULL", fn);
    int64_t count[2] = {0, 0};
    for (int64_t i = 0; i < n; i++) {
        if (labels[i] != 0 && labels[i] != 1)
            return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: labels[%lld] = %d; a probe's "
                           "labels are 0 (benign) and 1 (flagged)", fn, (long long)i,
                           (int)labels[i]);
        count[labels[i]]++;
    }
    if (!count[0] || !count[1])
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: every label is %d; a probe needs rows "
                       "of both classes", fn, count[0] ? 0 : 1);
    return ADAPT_OK;
}

void adapt_probe_free(adapt_probe *probe)
{
    if (!probe)
        return;
    for (int32_t l = 0; l < probe->n_layers && probe->layers; l++) {
        free(probe->layers[l].weight);
        adapt_model_free(probe->layers[l].mlp);
    }
    free(probe->layers);
    free(probe->combination);
    free(probe);
}

static adapt_status fit_layer(ad_probe_layer *layer, const float *x, int64_t n,
                              const int32_t *labels, const adapt_probe_params *p, const char *fn)
{
    switch (p->kind) {
    case ADAPT_PROBE_PROTOTYPES:
        return ad_prototypes_fit(layer, x, n, labels, fn);
    case ADAPT_PROBE_LOGISTIC:
        return ad_logistic_fit(layer, x, n, labels, p, fn);
    default:
        return ad_probe_mlp_fit(layer, x, n, labels, p, fn);
    }
}

/* The layers' probabilities on the training rows, combined by L1 logistic regression. */
static adapt_status fit_combination(adapt_probe *probe, const ad_probe_rows *rows,
                                    const int32_t *labels, const adapt_probe_params *p,
                                    const char *fn)
{
    const int32_t dim = probe->n_layers;
    if (dim == 1) {
        probe->combination[0] = 1.0, probe->combination[1] = 0.0;
        return ADAPT_OK;
    }
    float *probs = malloc((size_t)rows->n * (size_t)dim * sizeof *probs);
    if (!probs)
        return ad_fail(ADAPT_ERR_OUT_OF_MEMORY, "%s: no memory for %lld x %d probabilities",
                       fn, (long long)rows->n, (int)dim);
    adapt_status st = ADAPT_OK;
    for (int32_t l = 0; l < dim && !st; l++)
        st = ad_probe_layer_score(&probe->layers[l], probe->n_threads, probs + l, dim,
                                  rows->features[l], rows->n, fn);
    if (!st)
        st = ad_l1_logistic_fit(probe->combination, probs, rows->n, dim, labels, p->l1,
                                p->max_iterations, p->tolerance, fn);
    free(probs);
    return st;
}

static adapt_status fit(adapt_probe *probe, const ad_probe_rows *rows, const int32_t *labels,
                        const adapt_probe_params *p, const char *fn)
{
    probe->layers = calloc((size_t)rows->n_layers, sizeof *probe->layers);
    probe->combination = malloc(((size_t)rows->n_layers + 1) * sizeof *probe->combination);
    if (!probe->layers || !probe->combination)
        return ad_fail(ADAPT_ERR_OUT_OF_MEMORY, "%s: no memory for %d layers", fn,
                       (int)rows->n_layers);
    probe->n_layers = rows->n_layers;
    adapt_status st = ADAPT_OK;
    for (int32_t l = 0; l < rows->n_layers && !st; l++) {
        probe->layers[l].width = rows->widths[l];
        st = fit_layer(&probe->layers[l], rows->features[l], rows->n, labels, p, fn);
    }
    return st ? st : fit_combination(probe, rows, labels, p, fn);
}

adapt_status adapt_probe_fit(adapt_probe **out, const float *const *features,
                             const int64_t *widths, int32_t n_layers, const int32_t *labels,
                             int64_t n, const adapt_probe_params *params)
{
    static const char *const fn = "adapt_probe_fit";
    const ad_probe_rows rows = {features, widths, n_layers, n};
    adapt_probe_params p;
    adapt_status st = out ? read_params(&p, params, fn)
                          : ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: out is NULL", fn);
    if (!st && n < 2)
        st = ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: n = %lld; a probe needs 2 rows or more",
                     fn, (long long)n);
    if (!st && n_layers > AD_PROBE_MAX_LAYERS)
        st = ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: %d layers; at most %d", fn,
                     (int)n_layers, AD_PROBE_MAX_LAYERS);
    if (!st)
        st = ad_probe_rows_check(&rows, fn);
    if (!st)
        st = check_labels(labels, n, fn);
    if (st)
        return st;
    adapt_probe *probe = calloc(1, sizeof *probe);
    if (!probe)
        return ad_fail(ADAPT_ERR_OUT_OF_MEMORY, "%s: no memory for the probe", fn);
    probe->kind = (adapt_probe_kind)p.kind;
    probe->n_threads = p.n_threads;
    probe->threshold = 0.5;
    st = fit(probe, &rows, labels, &p, fn);
    if (st) {
        adapt_probe_free(probe);
        return st;
    }
    *out = probe;
    return ADAPT_OK;
}

int32_t adapt_probe_layer_count(const adapt_probe *probe)
{
    return probe ? probe->n_layers : 0;
}

double adapt_probe_threshold(const adapt_probe *probe)
{
    return probe ? probe->threshold : NAN;
}

adapt_status adapt_probe_set_threshold(adapt_probe *probe, double threshold)
{
    static const char *const fn = "adapt_probe_set_threshold";
    if (!probe)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: probe is NULL", fn);
    if (!isfinite(threshold))
        return ad_fail(ADAPT_ERR_NONFINITE, "%s: threshold is %g", fn, threshold);
    probe->threshold = threshold;
    return ADAPT_OK;
}

adapt_status adapt_probe_combination(const adapt_probe *probe, double *weights)
{
    if (!probe || !weights)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "adapt_probe_combination: %s is NULL",
                       !probe ? "probe" : "weights");
    for (int32_t i = 0; i <= probe->n_layers; i++)
        weights[i] = probe->combination[i];
    return ADAPT_OK;
}

adapt_status adapt_probe_layer_weights(const adapt_probe *probe, int32_t layer, double *weights)
{
    static const char *const fn = "adapt_probe_layer_weights";
    if (!probe || !weights)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: %s is NULL", fn,
                       !probe ? "probe" : "weights");
    if (layer < 0 || layer >= probe->n_layers)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: layer %d of %d", fn, (int)layer,
                       (int)probe->n_layers);
    const ad_probe_layer *l = &probe->layers[layer];
    if (l->mlp)
        return ad_fail(ADAPT_ERR_STATE, "%s: an MLP probe has no linear weights", fn);
    memcpy(weights, l->weight, (size_t)l->width * sizeof *weights);
    weights[l->width] = l->bias;
    return ADAPT_OK;
}
