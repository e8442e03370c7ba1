/* Checkpoint loading from memory, for the fuzz target; the public file functions run the same
 * code on a file source. */
#ifndef AD_IO_CHECKPOINT_H
#define AD_IO_CHECKPOINT_H

#include <stddef.h>

#include "adapt.h"

/* adapt_model_load on `size` bytes in memory. */
adapt_status ad_checkpoint_load_memory(adapt_model **out, const void *bytes, size_t size);

/* adapt_model_load_weights on `size` bytes in memory. */
adapt_status ad_checkpoint_load_weights_memory(adapt_model *model, const void *bytes,
                                               size_t size);

#endif
