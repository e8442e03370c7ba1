/* Per-token conditional computation: each token runs a subset of G small two-layer networks
 * (MoE experts, ACM learners), y[t] = b2 + sum over its groups g of act(x[t] W1_g + b1_g) W2_g.
 * Never a loop of per-token matrix-vector products: a group's tokens are gathered into one
 * block and two GEMMs run on it. Two shapes of the same sums, in the same order:
 *   - a block of tokens on one thread (ad_grouped_ffn_rows): group by group, its tokens'
 *     results added into their rows; inference, where callers hand blocks to threads;
 *   - a whole batch (ad_grouped_ffn_forward): the (token, group) pairs bucketed by group with a
 *     counting sort, units of pairs shared by the threads, a merge pass adding each token's
 *     results in increasing group order; training, whose backward needs each pair's hidden
 *     activation.
 * Work is cut by the sizes alone, never by the thread count, so the bits of every output and
 * gradient are the same whatever the number of threads. */
#ifndef AD_KERNELS_GROUPED_FFN_H
#define AD_KERNELS_GROUPED_FFN_H

#include <stdbool.h>
#include <stdint.h>

#include "lib/core/context.h"
#include "lib/kernels/epilogue.h"

/* Which tokens run which groups, both ways round. Pairs are numbered group-major (the pairs of
 * group g are [group_start[g], group_start[g + 1]), their tokens increasing); token_pair lists
 * each token's pairs (token_start[t] .. token_start[t + 1]) in increasing group order. */
typedef struct {
    int64_t tokens, groups, pairs;
    int64_t *group_start; /* [groups + 1] */
    int64_t *token_start; /* [tokens + 1] */
    int32_t *pair_token;  /* [pairs] */
    int32_t *token_pair;  /* [pairs] */
} ad_grouping;

/* The groups' weights, each group's block contiguous and laid out as the product reads it:
 * x W1_g with W1_g [in, hidden], then h W2_g with W2_g [hidden, out]. */
typedef struct {
    int64_t in, hidden, out;
    const float *w1; /* [groups, in, hidden] */
    const float *b1; /* [groups, hidden], or NULL */
    const float *w2; /* [groups, hidden, out] */
    const float *b2; /* [out], or NULL */
    ad_act act;
} ad_grouped_weights;

/* The grouping of selected[tokens * groups] (non-zero: the token runs the group), in arena
 * memory of ctx. OUT_OF_MEMORY (naming fn) or OVERFLOW (more pairs than int32 indexes). */
adapt_status ad_grouping_build(ad_grouping *out, adapt_context *ctx, const uint8_t *selected,
                               int64_t tokens, int64_t groups, const char *fn);

/* Where the forward puts what it computes; any may be NULL but not all. */
typedef struct {
    float *y;     /* [tokens, out]: the grouped networks' output */
    float *saved; /* [pairs, hidden]: each pair's hidden activation as backward needs it:
                     after the activation for ReLU and none, before it for GELU */
    float *norms; /* [pairs]: the L2 norm of each pair's output, b2 left out */
    float *pairs; /* [tokens * groups, out]: each pair's output, b2 left out, at row
                     t * groups + g (an ACM's learners one by one); other rows untouched */
} ad_grouped_outputs;

/* The grouped networks on x[tokens, in]. Scratch from ctx's arena, rewound before
 * returning. */
adapt_status ad_grouped_ffn_forward(adapt_context *ctx, const ad_grouping *g,
                                    const ad_grouped_weights *w, const float *x,
                                    const ad_grouped_outputs *out, const char *fn);

/* y[rows, out] = the grouped networks on x[rows, in], for a block of tokens on the calling
 * thread: per group, in increasing order, its tokens gathered, two products, their rows added
 * into y, then b2; the same sums in the same order as the grouped forward's merge. scratch:
 * ad_grouped_rows_floats(w, rows) floats. A backend's failure only. */
int64_t ad_grouped_rows_floats(const ad_grouped_weights *w, int64_t rows);
adapt_status ad_grouped_ffn_rows(adapt_backend backend, const ad_grouped_weights *w,
                                 const uint8_t *selected, int64_t groups, int64_t rows,
                                 const float *x, float *y, float *scratch);

/* The gradients, each ADDED into its buffer (any may be NULL but dy): dx[tokens, in],
 * dw1/db1/dw2/db2 shaped as the weights; `saved` as the forward filled it. dy is the gradient
 * of the merged output y [tokens, out] or, when per_pair, of the pairs' outputs laid out as
 * ad_grouped_outputs.pairs (then b2 takes none of it: the pairs leave it out). */
typedef struct {
    float *dx, *dw1, *db1, *dw2, *db2;
} ad_grouped_grads;

adapt_status ad_grouped_ffn_backward(adapt_context *ctx, const ad_grouping *g,
                                     const ad_grouped_weights *w, const float *x,
                                     const float *saved, const float *dy, bool per_pair,
                                     const ad_grouped_grads *grads, const char *fn);

#endif
