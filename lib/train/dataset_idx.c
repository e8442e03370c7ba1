/* adapt_dataset_load_idx: an IDX image file and its label file as one owning dataset of
 * [N, 1, H, W] images. The file formats are lib/io's business; this only pairs them. */
#include <stdlib.h>

#include "lib/core/error.h"
#include "lib/io/idx.h"
#include "lib/train/dataset.h"

adapt_status adapt_dataset_load_idx(adapt_dataset **out, const char *images_path,
                                    const char *labels_path)
{
    const char *fn = "adapt_dataset_load_idx";
    if (!out || !images_path || !labels_path)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: %s is NULL", fn,
                       !out ? "out" : !images_path ? "images_path" : "labels_path");
    float *pixels = NULL;
    int32_t *labels = NULL;
    int64_t n_images = 0, h = 0, w = 0, n_labels = 0;
    adapt_status st = ad_idx_read_images(&pixels, &n_images, &h, &w, images_path);
    if (!st)
        st = ad_idx_read_labels(&labels, &n_labels, labels_path);
    if (!st && n_images != n_labels)
        st = ad_fail(ADAPT_ERR_FORMAT, "%s: %s holds %lld images but %s holds %lld labels", fn,
                     images_path, (long long)n_images, labels_path, (long long)n_labels);
    adapt_dataset *ds = NULL;
    if (!st)
        st = ad_dataset_new(&ds, pixels, labels, n_images, 3, (int64_t[]){1, h, w}, fn);
    if (!st && !(ds->storage = ad_dataset_storage_new(pixels, labels))) {
        adapt_dataset_free(ds);
        st = ad_fail(ADAPT_ERR_OUT_OF_MEMORY, "%s: no memory for the dataset", fn);
    }
    if (st) {
        free(pixels);
        free(labels);
        return st;
    }
    *out = ds;
    return ADAPT_OK;
}
