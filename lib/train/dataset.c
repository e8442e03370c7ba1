/* Datasets over caller arrays: wrapping, inspection and release. Sample values are not scanned
 * here (that would touch every byte of a large dataset); batch assembly refuses non-finite
 * samples instead. Labels are scanned once, since they are few and the trainer needs their
 * range. */
#include "lib/train/dataset.h"

#include <stdlib.h>
#include <string.h>

#include "lib/core/error.h"
#include "lib/core/tensor.h"

adapt_status ad_dataset_check(const adapt_dataset *ds, const char *fn, const char *what)
{
    if (!ds)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: %s is NULL", fn, what);
    if (ds->magic != AD_DATASET_MAGIC)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: %s is not a live dataset", fn, what);
    return ADAPT_OK;
}

adapt_status ad_dataset_check_labels(const adapt_dataset *ds, int32_t classes, const char *fn,
                                     const char *what)
{
    if (ds->task_classes > 0 && classes % ds->task_classes != 0)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: %s has tasks of %d classes but the "
                       "model's %d classes are no multiple of that", fn, what,
                       (int)ds->task_classes, (int)classes);
    if (ds->max_label < classes)
        return ADAPT_OK;
    int64_t i = 0;
    while (ad_dataset_label(ds, i) < classes)
        i++;
    return ad_fail(ADAPT_ERR_INVALID_ARGUMENT,
                   "%s: %s sample %lld has label %d but the model has %d classes", fn, what,
                   (long long)i, (int)ad_dataset_label(ds, i), (int)classes);
}

/* Dims of one sample, each >= 1; one sample and the whole array must fit in memory. */
static adapt_status check_sample_shape(int64_t *numel, int64_t count, int32_t ndim,
                                       const int64_t *shape, const char *fn)
{
    for (int32_t i = 0; i < ndim; i++)
        if (shape[i] < 1)
            return ad_fail(ADAPT_ERR_SHAPE, "%s: sample dimension %d is %lld; must be >= 1", fn,
                           (int)i, (long long)shape[i]);
    int64_t full[ADAPT_MAX_DIMS + 1], total;
    full[0] = count;
    memcpy(full + 1, shape, (size_t)ndim * sizeof *shape);
    adapt_status st = ad_shape_numel(numel, ndim, shape);
    if (!st)
        st = ad_shape_numel(&total, ndim + 1, full);
    return ad_prefix(st, fn);
}

static adapt_status scan_labels(int32_t *max_label, const int32_t *labels, int64_t count,
                                const char *fn)
{
    int32_t max = -1;
    for (int64_t i = 0; i < count; i++) {
        if (labels[i] < 0)
            return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: labels[%lld] = %d is negative", fn,
                           (long long)i, (int)labels[i]);
        max = labels[i] > max ? labels[i] : max;
    }
    *max_label = max;
    return ADAPT_OK;
}

adapt_status ad_dataset_new(adapt_dataset **out, const float *x, const int32_t *labels,
                            int64_t count, int32_t sample_ndim, const int64_t *sample_shape,
                            const char *fn)
{
    int64_t numel = 0;
    int32_t max_label = -1;
    adapt_status st = check_sample_shape(&numel, count, sample_ndim, sample_shape, fn);
    if (!st)
        st = scan_labels(&max_label, labels, count, fn);
    if (st)
        return st;
    adapt_dataset *ds = calloc(1, sizeof *ds);
    if (!ds)
        return ad_fail(ADAPT_ERR_OUT_OF_MEMORY, "%s: no memory for the dataset", fn);
    ds->magic = AD_DATASET_MAGIC;
    ds->x = x;
    ds->labels = labels;
    ds->count = count;
    ds->sample_ndim = sample_ndim;
    memcpy(ds->sample_shape, sample_shape, (size_t)sample_ndim * sizeof *sample_shape);
    ds->sample_numel = numel;
    ds->max_label = max_label;
    *out = ds;
    return ADAPT_OK;
}

adapt_status adapt_dataset_wrap(adapt_dataset **out, const float *x, int32_t ndim,
                                const int64_t *shape, const int32_t *labels)
{
    const char *fn = "adapt_dataset_wrap";
    if (!out || !x || !labels)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: %s is NULL", fn,
                       !out ? "out" : !x ? "x" : "labels");
    if (ndim < 1 || ndim > ADAPT_MAX_DIMS)
        return ad_fail(ADAPT_ERR_SHAPE, "%s: ndim %d outside [1, %d] (N first)", fn, (int)ndim,
                       ADAPT_MAX_DIMS);
    if (!shape)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: shape is NULL", fn);
    if (shape[0] < 0)
        return ad_fail(ADAPT_ERR_SHAPE, "%s: sample count %lld is negative", fn,
                       (long long)shape[0]);
    return ad_dataset_new(out, x, labels, shape[0], ndim - 1, shape + 1, fn);
}

ad_dataset_storage *ad_dataset_storage_new(float *x, int32_t *labels)
{
    ad_dataset_storage *s = malloc(sizeof *s);
    if (s) {
        atomic_init(&s->refs, 1);
        s->x = x;
        s->labels = labels;
    }
    return s;
}

void ad_dataset_storage_retain(ad_dataset_storage *s)
{
    if (s)
        atomic_fetch_add(&s->refs, 1);
}

static void storage_release(ad_dataset_storage *s)
{
    if (!s || atomic_fetch_sub(&s->refs, 1) != 1)
        return;
    free(s->x);
    free(s->labels);
    free(s);
}

void adapt_dataset_free(adapt_dataset *dataset)
{
    if (!dataset || dataset->magic != AD_DATASET_MAGIC)
        return;
    dataset->magic = 0;
    storage_release(dataset->storage);
    free(dataset->own_index);
    free(dataset->class_map);
    free(dataset);
}

int64_t adapt_dataset_count(const adapt_dataset *dataset)
{
    return dataset && dataset->magic == AD_DATASET_MAGIC ? dataset->count : 0;
}

int32_t adapt_dataset_sample_shape(const adapt_dataset *dataset, int64_t *shape)
{
    if (!dataset || dataset->magic != AD_DATASET_MAGIC)
        return 0;
    if (shape)
        memcpy(shape, dataset->sample_shape, (size_t)dataset->sample_ndim * sizeof *shape);
    return dataset->sample_ndim;
}

adapt_status adapt_dataset_sample(const float **x, int32_t *label, const adapt_dataset *dataset,
                                  int64_t index)
{
    const char *fn = "adapt_dataset_sample";
    adapt_status st = ad_dataset_check(dataset, fn, "dataset");
    if (st)
        return st;
    if (!x || !label)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: %s is NULL", fn, x ? "label" : "x");
    if (index < 0 || index >= dataset->count)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: index %lld outside [0, %lld)", fn,
                       (long long)index, (long long)dataset->count);
    const int64_t base = ad_dataset_base(dataset, index);
    *x = dataset->x + base * dataset->sample_numel;
    *label = ad_dataset_label(dataset, index);
    return ADAPT_OK;
}
