/* The ACM's third training phase: end to end, the task's loss plus terms on what the gates
 * chose (docs/acm.md):
 *   lambda_b |C / C_max - beta|  the learners' cost per sample against the target budget beta
 *                                (C_max: every learner for every token), mean over the batch;
 *   - lambda_e H                 H: per sample and ACM, the entropy of its tokens' choices
 *                                (normalised by log of the number of choices), mean over both;
 *   - lambda_d 2 mean |u_i - u_j| u_i: sample i's cost fraction; over every pair of samples.
 * While the trainer asks for them, every gated ACM forward on a tape notes its straight-through
 * one-hot choices in the context; the terms are one taped op on all of them. */
#ifndef AD_ADAPTIVE_ACM_BUDGET_H
#define AD_ADAPTIVE_ACM_BUDGET_H

#include "lib/adaptive/acm.h"

typedef struct ad_acm_note {
    struct ad_acm_note *next;
    adapt_tensor *onehot; /* [N, ..., choices], taped */
    int64_t min_learners, learner_flops;
} ad_acm_note;

/* Notes an ACM's choices when the context collects them (ctx->acm_noting); else nothing. */
adapt_status ad_acm_note_choices(adapt_context *ctx, const ad_acm *a, adapt_tensor *onehot);

typedef struct {
    float beta, budget, entropy, diversity; /* beta and the three weights */
} ad_acm_budget;

/* The terms above on the context's notes, taped: a scalar. INVALID_ARGUMENT when there is no
 * note (no ACM ran its gate). */
adapt_status ad_acm_budget_loss(adapt_tensor **loss, adapt_context *ctx,
                                const ad_acm_budget *weights);

#endif
