/* The inference pass of a per-token conditional module (a Mixture-of-Experts layer, an
 * Adaptive Computation Module): the tokens go in blocks, and on one thread each block's
 * groups are chosen (a router and a routing rule, a gate's argmax) and run by the grouped
 * kernel (lib/kernels/grouped_ffn.h), adding into the block's output rows. One parallel
 * pass per layer, each group's weights read once per block. Blocks depend only on the
 * number of tokens, so the bits do not depend on the thread count. */
#ifndef AD_ADAPTIVE_TOKEN_BLOCKS_H
#define AD_ADAPTIVE_TOKEN_BLOCKS_H

#include "lib/kernels/grouped_ffn.h"

typedef struct {
    /* selected[rows * groups] for the tokens x[rows, in], on the calling thread, with
     * `floats(module, rows)` floats of scratch. NONFINITE, with *bad_row the block's token,
     * when what decides is NaN or infinite; a backend's failure. */
    adapt_status (*choose)(uint8_t *selected, int64_t *bad_row, adapt_backend backend,
                           const void *module, const float *x, int64_t rows, float *scratch);
    int64_t (*floats)(const void *module, int64_t rows);
    const void *module;
    ad_grouped_weights weights;
    int64_t groups;
} ad_token_chooser;

/* selected[tokens * groups] as `c` chooses for x[tokens, in] and, when y is not NULL,
 * y[tokens, out] from the chosen groups. OUT_OF_MEMORY; NONFINITE without a message, the
 * caller's to word, *bad_token the first token found; a backend's failure. Scratch from
 * ctx's arena, rewound before returning. */
adapt_status ad_token_blocks_run(adapt_context *ctx, const ad_token_chooser *c,
                                 const float *x, float *y, uint8_t *selected, int64_t tokens,
                                 int64_t *bad_token);

/* After a pass: each of `samples` samples (the tokens split evenly among them) charged its
 * tokens' chosen groups, group_flops each, and choose_flops per token (0 when nothing chose:
 * a rule that runs every group, a fixed count); each token's number of groups written to the
 * context's counts when it asks for them (adapt_moe_expert_counts, adapt_acm_learner_counts).
 * OUT_OF_MEMORY only. */
adapt_status ad_token_blocks_charge(adapt_context *ctx, const uint8_t *selected, int64_t tokens,
                                    int64_t groups, int64_t samples, int64_t group_flops,
                                    int64_t choose_flops);

#endif
