/* The entry-wise merges. Task arithmetic (Ilharco et al., 2023): theta_base + scale *
 * sum_i Delta_i. TIES-merging (Yadav et al., 2023): each task vector keeps only its
 * `density` largest magnitudes over all its parameters (trim), each entry takes the sign of
 * the sum of the trimmed vectors (elect), and the trimmed values of that sign are averaged
 * (disjoint mean); theta_base + scale * that. */
#include <math.h>
#include <stdlib.h>

#include "lib/core/error.h"
#include "lib/core/tensor.h"
#include "lib/models/model.h"
#include "lib/transfer/merge.h"

static int32_t param_count(const ad_merge_job *job)
{
    return adapt_model_param_count(job->base);
}

/* Entry j of parameter i of source s's task vector, in double. */
static double delta(const ad_merge_job *job, int32_t s, int32_t i, int64_t j)
{
    return (double)ad_model_param(job->sources[s], i)->data[j] -
           (double)ad_model_param(job->base, i)->data[j];
}

static int64_t total_values(const ad_merge_job *job)
{
    int64_t total = 0;
    for (int32_t i = 0; i < param_count(job); i++)
        total += ad_model_param(job->base, i)->numel;
    return total;
}

/* out = theta_base + scale * merged, merged given flat over all parameters. */
static void add_to_base(float *out, const double *merged, const ad_merge_job *job)
{
    int64_t at = 0;
    for (int32_t i = 0; i < param_count(job); i++) {
        const adapt_tensor *b = ad_model_param(job->base, i);
        for (int64_t j = 0; j < b->numel; j++, at++)
            out[at] = (float)((double)b->data[j] + job->p.scale * merged[at]);
    }
}

adapt_status ad_merge_task_arithmetic(float *out, const ad_merge_job *job)
{
    double *sum = calloc((size_t)total_values(job), sizeof *sum);
    if (!sum)
        return ad_fail(ADAPT_ERR_OUT_OF_MEMORY, "%s: no memory for the merged vector", job->fn);
    for (int32_t s = 0; s < job->n_sources; s++) {
        int64_t at = 0;
        for (int32_t i = 0; i < param_count(job); i++)
            for (int64_t j = 0; j < ad_model_param(job->base, i)->numel; j++)
                sum[at++] += delta(job, s, i, j);
    }
    add_to_base(out, sum, job);
    free(sum);
    return ADAPT_OK;
}

static int descending(const void *a, const void *b)
{
    const float x = *(const float *)a, y = *(const float *)b;
    return (x < y) - (x > y);
}

/* The smallest magnitude source s keeps: its k-th largest |Delta| (ties all kept). */
static float trim_threshold(float *scratch, int64_t total, int64_t k, const ad_merge_job *job,
                            int32_t s)
{
    int64_t at = 0;
    for (int32_t i = 0; i < param_count(job); i++)
        for (int64_t j = 0; j < ad_model_param(job->base, i)->numel; j++)
            scratch[at++] = (float)fabs(delta(job, s, i, j));
    qsort(scratch, (size_t)total, sizeof *scratch, descending);
    return scratch[k - 1];
}

/* Source s's trimmed entry: Delta, or 0 below its threshold. */
static double trimmed(const ad_merge_job *job, const float *threshold, int32_t s, int32_t i,
                      int64_t j)
{
    const double d = delta(job, s, i, j);
    return (float)fabs(d) >= threshold[s] ? d : 0.0;
}

/* merged[j]: the mean of the trimmed entries whose sign is that of sign_sum[j], their sum. */
static void disjoint_mean(double *merged, const double *sign_sum, const float *threshold,
                          const ad_merge_job *job)
{
    int64_t at = 0;
    for (int32_t i = 0; i < param_count(job); i++)
        for (int64_t j = 0; j < ad_model_param(job->base, i)->numel; j++, at++) {
            double sum = 0.0;
            int32_t agreeing = 0;
            for (int32_t s = 0; s < job->n_sources; s++) {
                const double d = trimmed(job, threshold, s, i, j);
                if (d != 0.0 && (d > 0.0) == (sign_sum[at] > 0.0))
                    sum += d, agreeing++;
            }
            merged[at] = agreeing ? sum / agreeing : 0.0;
        }
}

adapt_status ad_merge_ties(float *out, const ad_merge_job *job)
{
    const int64_t total = total_values(job);
    const int64_t k = llround(job->p.density * (double)total);
    float *scratch = malloc((size_t)total * sizeof *scratch);
    float *threshold = malloc((size_t)job->n_sources * sizeof *threshold);
    double *sign_sum = calloc((size_t)total, sizeof *sign_sum);
    double *merged = malloc((size_t)total * sizeof *merged);
    adapt_status st = ADAPT_OK;
    if (!scratch || !threshold || !sign_sum || !merged)
        st = ad_fail(ADAPT_ERR_OUT_OF_MEMORY, "%s: no memory for TIES over %lld values",
                     job->fn, (long long)total);
    for (int32_t s = 0; s < job->n_sources && !st; s++) {
        threshold[s] = trim_threshold(scratch, total, k < 1 ? 1 : k, job, s);
        int64_t at = 0;
        for (int32_t i = 0; i < param_count(job); i++)
            for (int64_t j = 0; j < ad_model_param(job->base, i)->numel; j++)
                sign_sum[at++] += trimmed(job, threshold, s, i, j);
    }
    if (!st) {
        disjoint_mean(merged, sign_sum, threshold, job);
        add_to_base(out, merged, job);
    }
    free(scratch), free(threshold), free(sign_sum), free(merged);
    return st;
}
