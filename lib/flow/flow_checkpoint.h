/* Flow checkpoints from memory, for the fuzz target; adapt_flow_load runs the same code on a
 * file. */
#ifndef AD_FLOW_FLOW_CHECKPOINT_H
#define AD_FLOW_FLOW_CHECKPOINT_H

#include <stddef.h>

#include "adapt.h"

adapt_status ad_flow_load_memory(adapt_flow **out, const void *bytes, size_t size);

#endif
