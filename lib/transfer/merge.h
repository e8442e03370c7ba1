/* adapt_models_merge: what every merge method reads, and the methods. Each fills `out`, the
 * merged values of every parameter concatenated in the model's order, from models already
 * checked to share the base's parameters and to hold finite values. */
#ifndef AD_TRANSFER_MERGE_H
#define AD_TRANSFER_MERGE_H

#include <stdbool.h>
#include <stdint.h>

#include "adapt.h"

typedef struct {
    adapt_model *base;
    adapt_model *const *sources;
    int32_t n_sources, min_sources;
    adapt_merge_params p;
    const char *fn; /* the entry point, for messages */
} ad_merge_job;

/* Checks the job's models (pointers, the base's parameters in each, finite values), holds
 * them (the target for writing, the others for reading) and runs `body` under the holds. */
typedef adapt_status (*ad_merge_body)(adapt_model *target, const ad_merge_job *job, void *arg);
adapt_status ad_merge_run(adapt_model *target, const ad_merge_job *job, ad_merge_body body,
                          void *arg);

/* Rows of a parameter read as a matrix (shape[0]), or 0 for a vector or a scalar. */
int64_t ad_merge_rows(const adapt_tensor *param);

/* At most `capacity` rank-one components of one m x n matrix, by singular value descending. */
typedef struct {
    int64_t m, n, count, capacity;
    double *sigma; /* [capacity] */
    double *u;     /* [capacity, m] */
    double *v;     /* [capacity, n] */
} ad_components;

/* AXIS's pool of parameter i, a matrix of `rows` rows: the K largest of every source's
 * components (K from job->p.keep_fraction). Free with ad_components_free(). */
adapt_status ad_axis_components(ad_components *pool, const ad_merge_job *job, int32_t i,
                                int64_t rows);
void ad_components_free(ad_components *pool);
/* out[m, n] = base + the pool's sum of sigma u v^T: the matrix AXIS merges. */
void ad_components_write(float *out, const float *base, const ad_components *pool);

adapt_status ad_merge_task_arithmetic(float *out, const ad_merge_job *job);
adapt_status ad_merge_ties(float *out, const ad_merge_job *job);
/* AXIS's merge of every parameter but those marked in `pooled_elsewhere` (NULL: none), whose
 * values the caller writes from its own ad_axis_components() pool. */
adapt_status ad_merge_axis(float *out, const ad_merge_job *job, const bool *pooled_elsewhere);

#endif
