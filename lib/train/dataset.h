/* The dataset object behind adapt_dataset: N samples of one shape with integer labels, seen
 * either directly (a wrapped or loaded array) or through an index list (a split part or a
 * selection of classes), and through a class map when classes were selected. Index lists
 * always point into the base arrays and maps into the base labels, so a split of a split
 * costs no extra hop. */
#ifndef AD_TRAIN_DATASET_H
#define AD_TRAIN_DATASET_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "adapt.h"

#define AD_DATASET_MAGIC 0xda7a5e75u

/* Arrays the library allocated for a loaded file, shared by the dataset that loaded them and
 * every split of it, freed with the last of them: a split stays valid whichever is freed
 * first. */
typedef struct {
    atomic_int refs;
    float *x;
    int32_t *labels;
} ad_dataset_storage;

struct adapt_dataset {
    uint32_t magic;
    const float *x;         /* base samples, [base count, sample shape] */
    const int32_t *labels;  /* base labels */
    int64_t count;          /* samples visible through this dataset */
    const int64_t *index;   /* count positions into the base arrays; NULL: identity */
    int32_t sample_ndim;
    int64_t sample_shape[ADAPT_MAX_DIMS];
    int64_t sample_numel;
    int32_t max_label;      /* largest visible label; -1 when empty */
    ad_dataset_storage *storage; /* shared loaded arrays; NULL for a caller's arrays */
    int64_t *own_index;          /* this dataset's index list, freed with it; may be NULL */
    int32_t *class_map; /* NULL, or a visible label for each base label below map_len,
                           owned; visible samples' base labels all map to one >= 0 */
    int32_t map_len;
    int32_t task_classes; /* > 0: labels compete within their task's classes */
};

/* Validates a dataset argument of public function `fn`. */
adapt_status ad_dataset_check(const adapt_dataset *ds, const char *fn, const char *what);

/* Position of visible sample i in the base arrays. */
static inline int64_t ad_dataset_base(const adapt_dataset *ds, int64_t i)
{
    return ds->index ? ds->index[i] : i;
}

/* Visible sample i's label; -1 for a stored label a caller has since changed to one the map
 * does not know (a wrapped dataset's labels stay the caller's array). */
static inline int32_t ad_dataset_label(const adapt_dataset *ds, int64_t i)
{
    const int32_t stored = ds->labels[ad_dataset_base(ds, i)];
    if (!ds->class_map)
        return stored;
    return stored >= 0 && stored < ds->map_len ? ds->class_map[stored] : -1;
}

/* A new dataset over base arrays (borrowed) with `sample_ndim` dims of `sample_shape`;
 * validates labels >= 0 and records the largest. */
adapt_status ad_dataset_new(adapt_dataset **out, const float *x, const int32_t *labels,
                            int64_t count, int32_t sample_ndim, const int64_t *sample_shape,
                            const char *fn);

/* Storage for arrays loaded by the library (taken over, freed with the last user); NULL when
 * out of memory, the arrays then still the caller's. */
ad_dataset_storage *ad_dataset_storage_new(float *x, int32_t *labels);

/* One more dataset uses `s` (NULL: none). */
void ad_dataset_storage_retain(ad_dataset_storage *s);

/* A view of `count` base positions of `parent`, its class map and task classes; takes
 * ownership of `index`. */
adapt_status ad_dataset_subset(adapt_dataset **out, const adapt_dataset *parent, int64_t *index,
                               int64_t count, const char *fn);

/* INVALID_ARGUMENT naming the first sample whose label is not below `classes`, or when
 * `classes` is no multiple of the dataset's task classes. */
adapt_status ad_dataset_check_labels(const adapt_dataset *ds, int32_t classes, const char *fn,
                                     const char *what);

#endif
