/* Mini-batch assembly: samples of a dataset gathered into one contiguous activation. */
#ifndef AD_TRAIN_BATCH_H
#define AD_TRAIN_BATCH_H

#include "adapt.h"

/* Copies visible samples order[0..count) of `ds` into a new activation [count, sample...]
 * of `ctx` and their labels into an arena array. A sample with NaN or inf is refused
 * (NONFINITE, naming its dataset index), so a wrapped array is checked only where used; so
 * is a label a caller changed since (INVALID_ARGUMENT), which could lie beyond the classes
 * it was checked against. */
adapt_status ad_batch_assemble(adapt_tensor **x, int32_t **labels, adapt_context *ctx,
                               const adapt_dataset *ds, const int64_t *order, int64_t count,
                               const char *fn);

#endif
