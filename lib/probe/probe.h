/* The probe handle: one binary classifier per layer of hidden states and their combination
 * (docs/probes.md). Prototypes and logistic regression both end as one linear logit per
 * layer; the MLP keeps a small model of its own. */
#ifndef AD_PROBE_PROBE_H
#define AD_PROBE_PROBE_H

#include <stdint.h>

#include "adapt.h"

/* Layers a probe may read: the combination's Hessian is (layers + 1)^2 doubles. */
#define AD_PROBE_MAX_LAYERS 4096

typedef struct {
    int64_t width;
    double *weight;     /* PROTOTYPES, LOGISTIC: logit of "flagged" = weightᵀ h + bias */
    double bias;
    adapt_model *mlp;   /* MLP: width -> hidden -> 2 */
} ad_probe_layer;

struct adapt_probe {
    adapt_probe_kind kind;
    int32_t n_layers;
    int32_t n_threads;
    ad_probe_layer *layers;
    double *combination; /* n_layers weights, then the bias */
    double threshold;
};

/* The rows' features as the public calls take them. */
typedef struct {
    const float *const *features;
    const int64_t *widths;
    int32_t n_layers;
    int64_t n;
} ad_probe_rows;

/* Scores rows matching the probe into combined [n] and per_layer [n, n_layers]. */
adapt_status ad_probe_score_rows(const adapt_probe *probe, float *combined, float *per_layer,
                                 const ad_probe_rows *rows, const char *fn);

/* Checks rows for the public call `fn`: pointers, counts, finite values. */
adapt_status ad_probe_rows_check(const ad_probe_rows *rows, const char *fn);

/* Fit one layer's classifier on x [n, layer->width] (labels 0/1, both present); the
 * layer's arrays are released by adapt_probe_free() also after a failure. */
adapt_status ad_prototypes_fit(ad_probe_layer *layer, const float *x, int64_t n,
                               const int32_t *labels, const char *fn);
adapt_status ad_logistic_fit(ad_probe_layer *layer, const float *x, int64_t n,
                             const int32_t *labels, const adapt_probe_params *params,
                             const char *fn);
adapt_status ad_probe_mlp_fit(ad_probe_layer *layer, const float *x, int64_t n,
                              const int32_t *labels, const adapt_probe_params *params,
                              const char *fn);

/* The MLP's probability of "flagged" of each of n rows of x into p [n] (stride apart). */
adapt_status ad_probe_mlp_score(const ad_probe_layer *layer, int32_t n_threads, float *p,
                                int64_t stride, const float *x, int64_t n, const char *fn);

/* The probability of "flagged" of each of n rows of x under `layer` into p [n] (stride
 * `stride` floats apart). */
adapt_status ad_probe_layer_score(const ad_probe_layer *layer, int32_t n_threads, float *p,
                                  int64_t stride, const float *x, int64_t n, const char *fn);

/* The L1-regularised logistic regression over the layers' probabilities p [n, dim]:
 * weights w [dim + 1] (the bias last) minimising the mean log loss + (l1 / n) times the L1
 * norm of w without its bias. */
adapt_status ad_l1_logistic_fit(double *w, const float *p, int64_t n, int32_t dim,
                                const int32_t *labels, double l1, int32_t max_iterations,
                                double tolerance, const char *fn);

#endif
