/* The Adaptive Computation Module (arXiv 2312.10193, docs/acm.md): N learners, learner n a
 * two-layer network h_n(x) = act(x W1_n + b1_n) W2_n, and a gate that chooses per token how
 * many of them run, c in [min_learners, N]; the output is h_1(x) + ... + h_c(x), 0 for c = 0.
 * The learners are the grouped kernel's groups (lib/kernels/grouped_ffn.h): token t runs
 * groups 0 .. c_t - 1. */
#ifndef AD_ADAPTIVE_ACM_H
#define AD_ADAPTIVE_ACM_H

#include "lib/kernels/grouped_ffn.h"
#include "lib/nn/layer.h"
#include "lib/nn/linear.h"

/* The gate's temperature where it samples (training, as the authors train it). */
#define AD_ACM_GATE_TAU 0.8f

typedef struct {
    ad_linear gate[3]; /* "gate.0.", "gate.2.", "gate.4.": in -> g -> g -> choices, ReLU */
    adapt_tensor *w1, *b1, *w2; /* learners.w1 [N, in, h], learners.b1 [N, h],
                                   learners.w2 [N, h, out] */
    int64_t in, hidden, out, learners, min_learners;
    int64_t fixed; /* how it runs: -1 each token as its gate chooses, else every token this
                      many learners (adapt_model_set_acm_learners; not in checkpoints) */
    ad_act act;
} ad_acm;

/* The acm layer `module` consists of (a model of one such layer, run as itself), or NULL. */
ad_acm *ad_acm_of(const adapt_model *module);

/* The learners' weights as the grouped kernel reads them (no output bias). */
ad_grouped_weights ad_acm_weights(const ad_acm *a);

/* The gate's choices: learner counts min_learners .. learners. */
int64_t ad_acm_choices(const ad_acm *a);

/* FLOPs per token of the gate, and of one learner. */
int64_t ad_acm_gate_flops(const ad_acm *a);
int64_t ad_acm_learner_flops(const ad_acm *a);

/* H [..., learners, out]: every learner's output for every token of x [..., in], taped when
 * the context records (acm_ops.c). */
adapt_status ad_acm_learner_outputs(adapt_tensor **h, adapt_context *ctx, const ad_acm *a,
                                    adapt_tensor *x);

/* y [..., out] = sum over n of mask[..., n] * h[..., n, :], learners in order, taped when the
 * context records. */
adapt_status ad_acm_combine(adapt_tensor **y, adapt_context *ctx, adapt_tensor *h,
                            adapt_tensor *mask);

/* The gate's logits [..., choices] for x [..., in], taped when the context records. */
adapt_status ad_acm_gate_logits(adapt_tensor **logits, adapt_context *ctx, const ad_acm *a,
                                adapt_tensor *x);

/* The distillation loss of `module` (one ACM layer) on recorded inputs x and outputs target
 * (acm_train.c), taped: the mean over the choices c of the squared error of the first c
 * learners' sum, learner c's gradient from choice c alone. */
adapt_status ad_acm_distill_loss(adapt_tensor **loss, adapt_context *ctx, adapt_model *module,
                                 adapt_tensor *x, adapt_tensor *target, const void *unused);

/* The gate's label for a token whose first c learners leave the error e[c] (c = 0 .. N): the
 * first c from min_learners on at which learner c + 1 cuts the error by less than gamma
 * (e[c] < gamma e[c + 1], or e[c] = 0), else N. */
int64_t ad_acm_label(const double *e, int64_t min_learners, int64_t learners, double gamma);

/* The layer's forward, x[N, ..., in] -> [N, ..., out], taped when the context records. */
adapt_status ad_acm_forward(adapt_tensor **out, adapt_context *ctx, const ad_layer *l,
                            adapt_tensor *x);

#endif
