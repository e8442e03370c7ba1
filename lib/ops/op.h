/* Shared plumbing of the public operations: argument checks that produce
 * the documented statuses, and the output/tape steps every op repeats. */
#ifndef AD_OPS_OP_H
#define AD_OPS_OP_H

#include "adapt.h"
#include "lib/autograd/tape.h"
#include "lib/core/context.h"
#include "lib/core/error.h"
#include "lib/core/tensor.h"
#include "lib/ops/ops.h"

/* Checks the context, the out pointer and `n` input tensors (names in
 * `names`, e.g. {"a", "b"}); a NULL entry in `in` is an error. */
adapt_status ad_op_check(adapt_context *ctx, adapt_tensor **out, const char *fn,
                         adapt_tensor *const *in, const char *const *names, int32_t n);

/* Tapes the op when needed (see ad_tape_wants), copying `saved_size` bytes of
 * `saved` (the op's values for backward; may be NULL/0) into the record, and
 * publishes `y` in *out. Entries of `in` may be NULL for absent optional
 * operands (a NULL gamma, say): the tape and ad_grad() skip them. */
adapt_status ad_op_finish(adapt_tensor **out, adapt_context *ctx, const char *fn,
                          ad_backward_fn backward, adapt_tensor *y, adapt_tensor *const *in,
                          int32_t n_in, const void *saved, size_t saved_size);

/* The checks of a classification loss: logits [N, C], N, C >= 1, and N labels in [0, C). */
adapt_status ad_op_check_class_labels(const adapt_tensor *logits, const int32_t *labels,
                                      const char *fn);

#endif
