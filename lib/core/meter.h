/* Per-sample cost of a forward pass: while a context meters, every module charges the FLOPs
 * each row of its batch executed (multiply-add = 2, products only). A static layer charges
 * its fixed count to every row; a module whose work depends on the data (an exit that lets
 * rows leave, later experts and learners chosen per token) charges each row what ran for it.
 * The rows are those of the batch in hand: code that drops rows keeps the meter's in step. */
#ifndef AD_CORE_METER_H
#define AD_CORE_METER_H

#include "lib/core/context.h"

/* Starts metering `rows` rows at 0 (arena memory: until the context's next reset or the
 * caller's rewind). */
adapt_status ad_meter_start(adapt_context *ctx, int64_t rows, const char *fn);

void ad_meter_stop(adapt_context *ctx);

/* `flops` more for each of the first `rows` rows; nothing when the context does not meter. */
void ad_meter_charge(adapt_context *ctx, int64_t rows, int64_t flops);

/* flops[i] more for row i, i < rows; nothing when the context does not meter. */
void ad_meter_charge_each(adapt_context *ctx, int64_t rows, const int64_t *flops);

/* Keeps rows keep[0 .. kept) (increasing), as a batch that drops rows does. */
void ad_meter_keep_rows(adapt_context *ctx, const int64_t *keep, int64_t kept);

#endif
