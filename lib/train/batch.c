#include "lib/train/batch.h"

#include <string.h>

#include "lib/core/context.h"
#include "lib/core/error.h"
#include "lib/core/tensor.h"
#include "lib/train/dataset.h"

/* Names the first bad sample; called only once the whole-batch scan failed. */
static adapt_status report_nonfinite(const adapt_dataset *ds, const float *batch,
                                     const int64_t *order, int64_t count, const char *fn)
{
    int64_t i = 0;
    while (i + 1 < count && ad_all_finite(batch + i * ds->sample_numel, ds->sample_numel))
        i++;
    return ad_fail(ADAPT_ERR_NONFINITE, "%s: sample %lld of the dataset has NaN or inf", fn,
                   (long long)order[i]);
}

adapt_status ad_batch_assemble(adapt_tensor **x, int32_t **labels, adapt_context *ctx,
                               const adapt_dataset *ds, const int64_t *order, int64_t count,
                               const char *fn)
{
    int64_t shape[ADAPT_MAX_DIMS];
    shape[0] = count;
    memcpy(shape + 1, ds->sample_shape, (size_t)ds->sample_ndim * sizeof *shape);
    adapt_tensor *t = NULL;
    int32_t *y = NULL;
    adapt_status st = ad_tensor_new(&t, ctx, ds->sample_ndim + 1, shape);
    if (!st)
        st = ad_scratch((void **)&y, ctx, (size_t)count * sizeof *y, fn);
    if (st)
        return st;
    const size_t bytes = (size_t)ds->sample_numel * sizeof(float);
    for (int64_t i = 0; i < count; i++) {
        const int64_t base = ad_dataset_base(ds, order[i]);
        memcpy(t->data + i * ds->sample_numel, ds->x + base * ds->sample_numel, bytes);
        y[i] = ad_dataset_label(ds, order[i]);
        if (y[i] < 0 || y[i] > ds->max_label) /* the labels were checked against the model */
            return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: sample %lld of the dataset has "
                           "label %d, not the one it had when the dataset was made", fn,
                           (long long)order[i], (int)y[i]);
    }
    if (!ad_all_finite(t->data, t->numel))
        return report_nonfinite(ds, t->data, order, count, fn);
    *x = t;
    *labels = y;
    return ADAPT_OK;
}
