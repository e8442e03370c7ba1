/* The execution context: arena, tape, random stream, threads, backend. */
#ifndef AD_CORE_CONTEXT_H
#define AD_CORE_CONTEXT_H

#include <stdbool.h>

#include "adapt.h"
#include "lib/core/arena.h"
#include "lib/core/threads.h"

typedef struct ad_node ad_node;

struct adapt_context {
    ad_arena arena;
    ad_node *tape;          /* newest record first; NULL when empty */
    struct ad_spare_grad *spare_grads; /* gradient blocks free for reuse in this pass (tape.c) */
    uint64_t generation;    /* bumped by reset; stamps activations */
    uint64_t seed;
    uint64_t rng_stream;    /* next random stream id */
    int32_t n_threads;
    adapt_backend backend;
    bool grad_enabled;
    bool training;
    bool recompute;         /* blocks keep their output only, backward reruns them (recompute.c) */
    bool rerunning;         /* in such a rerun: running statistics are not updated again */
    ad_pool *pool;          /* NULL when n_threads == 1 */
    int64_t *meter;         /* FLOPs each row of the batch executed, while metering (meter.h) */
    int64_t meter_rows;
    /* The activation-sparsity penalty (lib/nn/sparsity.h): on while > 0, and the sum and
     * count of the measures taped since the last reset. */
    float sparsity_weight;
    adapt_tensor *sparsity_sum;
    int32_t sparsity_count;
    /* While not NULL, a Mixture-of-Experts or ACM layer writes how many experts or learners
     * each token ran (adapt_moe_expert_counts, adapt_acm_learner_counts). */
    int32_t *expert_counts;
    /* The ACM budget terms (lib/adaptive/acm_budget.h): while acm_noting, the gated ACM
     * forwards of this pass note their choices in acm_notes (newest first, arena memory). */
    bool acm_noting;
    struct ad_acm_note *acm_notes;
};

/* Validates a context argument of public function `fn`. */
adapt_status ad_check_context(const adapt_context *ctx, const char *fn);

/* Validates that `t` can be read by operations of `ctx` (a parameter, or an
 * activation of this context made since the last reset). `what` names the
 * argument in the message. */
adapt_status ad_check_tensor(const adapt_context *ctx, const adapt_tensor *t,
                             const char *fn, const char *what);

/* The input of an inference call of `fn`: *x the record behind the caller's handle `input`,
 * usable in ctx, which must not record gradients (STATE). */
adapt_status ad_inference_input(adapt_tensor **x, const adapt_context *ctx,
                                adapt_tensor *input, const char *fn);

/* New activation with uninitialised data. */
adapt_status ad_tensor_new(adapt_tensor **out, adapt_context *ctx, int32_t ndim,
                           const int64_t *shape);

/* New activation of `numel` values of the given shape over `data` (shared, not copied);
 * OUT_OF_MEMORY naming `fn` when no record fits. */
adapt_status ad_tensor_view(adapt_tensor **out, adapt_context *ctx, int32_t ndim,
                            const int64_t *shape, int64_t numel, float *data, const char *fn);

/* Arena block or an OUT_OF_MEMORY status with a message naming `fn`. */
adapt_status ad_scratch(void **out, adapt_context *ctx, size_t bytes, const char *fn);

#endif
