/* adapt_models_merge: what every merge method reads, and the methods. Each fills `out`, the
 * merged values of every parameter concatenated in the model's order, from models already
 * checked to share the base's parameters and to hold finite values. */
#ifndef AD_TRANSFER_MERGE_H
#define AD_TRANSFER_MERGE_H

#include <stdint.h>

#include "adapt.h"

typedef struct {
    adapt_model *base;
    adapt_model *const *sources;
    int32_t n_sources;
    adapt_merge_params p;
    const char *fn;
} ad_merge_job;

/* Rows of a parameter read as a matrix (shape[0]), or 0 for a vector or a scalar. */
int64_t ad_merge_rows(const adapt_tensor *param);

adapt_status ad_merge_task_arithmetic(float *out, const ad_merge_job *job);
adapt_status ad_merge_ties(float *out, const ad_merge_job *job);
adapt_status ad_merge_axis(float *out, const ad_merge_job *job);

#endif
