/* Views of a dataset: a subset of its samples (the parts of adapt_dataset_split) and a
 * selection of its classes under new labels (adapt_dataset_select_classes, the tasks of a
 * class-incremental benchmark). A view indexes straight into the base arrays, sharing them
 * when the library loaded them (ad_dataset_storage), so it outlives its parent; its class
 * map is its own copy for the same reason. */
#include <stdlib.h>
#include <string.h>

#include "lib/core/error.h"
#include "lib/train/dataset.h"

static int32_t *copy_map(const int32_t *map, int32_t len)
{
    int32_t *copy = malloc((size_t)len * sizeof *copy);
    if (copy)
        memcpy(copy, map, (size_t)len * sizeof *copy);
    return copy;
}

/* A view of `parent`: base positions index[0 .. count), labels through `map` (len entries;
 * NULL: the stored ones); takes ownership of index and map, freed on failure. */
static adapt_status new_view(adapt_dataset **out, const adapt_dataset *parent, int64_t *index,
                             int64_t count, int32_t *map, int32_t len, int32_t task_classes,
                             const char *fn)
{
    adapt_dataset *ds = index ? calloc(1, sizeof *ds) : NULL;
    if (!ds || (len && !map)) {
        free(ds);
        free(index);
        free(map);
        return ad_fail(ADAPT_ERR_OUT_OF_MEMORY, "%s: no memory for the dataset", fn);
    }
    *ds = *parent;
    ds->class_map = map, ds->map_len = len;
    ds->task_classes = task_classes;
    ds->own_index = index;
    ds->index = index;
    ds->count = count;
    ds->max_label = -1;
    for (int64_t i = 0; i < count; i++) {
        const int32_t y = ad_dataset_label(ds, i);
        ds->max_label = y > ds->max_label ? y : ds->max_label;
    }
    ad_dataset_storage_retain(ds->storage);
    *out = ds;
    return ADAPT_OK;
}

adapt_status ad_dataset_subset(adapt_dataset **out, const adapt_dataset *parent, int64_t *index,
                               int64_t count, const char *fn)
{
    const int32_t len = parent->class_map ? parent->map_len : 0;
    return new_view(out, parent, index, count, len ? copy_map(parent->class_map, len) : NULL,
                    len, parent->task_classes, fn);
}

/* The map from the base labels: the parent's map followed by `map`, -1 for dropped ones. */
static int32_t *compose_maps(const adapt_dataset *parent, const int32_t *map, int32_t n,
                             int32_t *len)
{
    *len = parent->class_map ? parent->map_len : parent->max_label + 1;
    *len = *len > 0 ? *len : 1;
    int32_t *m = malloc((size_t)*len * sizeof *m);
    for (int32_t c = 0; m && c < *len; c++) {
        const int32_t mid = parent->class_map ? parent->class_map[c] : c;
        m[c] = mid >= 0 && mid < n ? map[mid] : -1;
    }
    return m;
}

/* The base positions of the parent's samples whose label the map keeps; *count of them. */
static int64_t *kept_positions(const adapt_dataset *parent, const int32_t *map, int32_t n,
                               int64_t *count)
{
    *count = 0;
    for (int64_t i = 0; i < parent->count; i++) {
        const int32_t y = ad_dataset_label(parent, i);
        *count += y >= 0 && y < n && map[y] >= 0;
    }
    int64_t *index = malloc((size_t)(*count ? *count : 1) * sizeof *index);
    int64_t k = 0;
    for (int64_t i = 0; index && i < parent->count; i++) {
        const int32_t y = ad_dataset_label(parent, i);
        if (y >= 0 && y < n && map[y] >= 0)
            index[k++] = ad_dataset_base(parent, i);
    }
    return index;
}

static adapt_status check_select(adapt_dataset **out, const adapt_dataset *dataset,
                                 const int32_t *class_map, int32_t n_classes,
                                 int32_t task_classes, const char *fn)
{
    adapt_status st = ad_dataset_check(dataset, fn, "dataset");
    if (st)
        return st;
    if (!out || !class_map)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: %s is NULL", fn,
                       out ? "class_map" : "out");
    if (n_classes < 1 || task_classes < 0)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: needs n_classes >= 1 (is %d) and "
                       "task_classes >= 0 (is %d)", fn, (int)n_classes, (int)task_classes);
    for (int32_t c = 0; c < n_classes; c++)
        if (class_map[c] < -1)
            return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: class_map[%d] = %d; must be a "
                           "label >= 0, or -1 to drop the class", fn, (int)c,
                           (int)class_map[c]);
    return ADAPT_OK;
}

adapt_status adapt_dataset_select_classes(adapt_dataset **out, const adapt_dataset *dataset,
                                          const int32_t *class_map, int32_t n_classes,
                                          int32_t task_classes)
{
    const char *fn = "adapt_dataset_select_classes";
    adapt_status st = check_select(out, dataset, class_map, n_classes, task_classes, fn);
    if (st)
        return st;
    int64_t count = 0;
    int32_t len = 0;
    int64_t *index = kept_positions(dataset, class_map, n_classes, &count);
    int32_t *map = compose_maps(dataset, class_map, n_classes, &len);
    return new_view(out, dataset, index, count, map, len, task_classes, fn);
}
