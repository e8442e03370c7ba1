/* The autograd tape: one record per operation executed with gradient
 * recording on, walked newest-first by adapt_backward(). Records, saved
 * values and gradients all live in the context's arena. */
#ifndef AD_AUTOGRAD_TAPE_H
#define AD_AUTOGRAD_TAPE_H

#include <stdbool.h>

#include "adapt.h"
#include "lib/core/context.h"
#include "lib/core/tensor.h"

/* Adds d(loss)/d(input) into the inputs' gradients given the output's
 * gradient (node->out->pass_grad). Fails only on arena exhaustion. */
typedef adapt_status (*ad_backward_fn)(adapt_context *ctx, const ad_node *node);

struct ad_node {
    ad_node *prev;
    ad_backward_fn backward;
    const char *name;
    adapt_tensor *out;
    adapt_tensor **in;
    int32_t n_in;
    void *saved; /* op-specific values kept for the backward pass */
    size_t arena_used; /* the arena's use once this record was made (memory reports) */
};

/* True when an operation on these inputs must be taped. */
bool ad_tape_wants(const adapt_context *ctx, adapt_tensor *const *in, int32_t n_in);

/* Appends a record for `out` = name(in...), marks `out` as requiring a
 * gradient and, when saved_size > 0, returns a block of that many bytes for
 * the op's saved values in *saved. */
adapt_status ad_tape_record(adapt_context *ctx, const char *name, ad_backward_fn backward,
                            adapt_tensor *out, adapt_tensor *const *in, int32_t n_in,
                            void **saved, size_t saved_size);

/* The gradient being accumulated for `t` during backward, zero-filled on
 * first use; NULL (and OK) when `t` needs no gradient. */
adapt_status ad_grad(float **grad, adapt_context *ctx, adapt_tensor *t);

/* Runs the backward functions of `newest` and every record before it, each
 * whose output has a gradient, retiring the gradients that die with them. */
adapt_status ad_tape_run_backward(adapt_context *ctx, const ad_node *newest);

/* adapt_backward() on the record of the loss. */
adapt_status ad_backward(adapt_context *ctx, adapt_tensor *loss);

#endif
