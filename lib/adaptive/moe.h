/* The dynamic-k Mixture-of-Experts layer (D2DMoE, docs/moe.md): a router predicts the norm
 * of each expert's output per token, a routing rule picks the experts from the predictions,
 * and the grouped kernel (lib/kernels/grouped_ffn.h) runs only those. */
#ifndef AD_ADAPTIVE_MOE_H
#define AD_ADAPTIVE_MOE_H

#include "lib/kernels/grouped_ffn.h"
#include "lib/nn/layer.h"
#include "lib/nn/linear.h"

typedef struct {
    ad_linear router_in, router_out; /* "router.0.", "router.2.": no biases */
    adapt_tensor *w1, *b1, *w2, *bias; /* experts.w1, experts.b1, experts.w2, last_bias */
    int64_t in, hidden, out, experts; /* hidden: units per expert */
    ad_act act;
} ad_moe;

/* The moe layer `module` consists of (a model of one such layer, run as itself), or NULL. */
ad_moe *ad_moe_of(const adapt_model *module);

/* The experts' weights as the grouped kernel reads them. */
ad_grouped_weights ad_moe_weights(const ad_moe *m);

/* FLOPs per token of the router, and of one expert. */
int64_t ad_moe_router_flops(const ad_moe *m);
int64_t ad_moe_expert_flops(const ad_moe *m);

/* Floats of scratch ad_moe_route_rows needs for `rows` tokens. */
int64_t ad_moe_route_floats(const ad_moe *m, int64_t rows);

/* selected[rows * experts] for the tokens x[rows, in] under `p`'s routing, on the calling
 * thread: the router's predicted norms (untaped) and the rule; nothing predicted when the
 * rule runs every expert. NONFINITE, with *bad_row the token, when a prediction is NaN or
 * infinite; a backend's failure. */
adapt_status ad_moe_route_rows(uint8_t *selected, int64_t *bad_row, adapt_backend backend,
                               const ad_moe *m, const adapt_layer_params *p, const float *x,
                               int64_t rows, float *scratch);

/* selected[tokens * experts] from the predictions g under `p`'s rule (rule, tau, top_k): at
 * least one expert per token. scratch: room for `experts` sort entries (2 floats each). */
void ad_moe_select(uint8_t *selected, const float *g, int64_t tokens, int64_t experts,
                   const adapt_layer_params *p, float *scratch);

/* INVALID_ARGUMENT (NONFINITE for a NaN tau) unless rule is an adapt_routing_rule, tau in
 * [0, 1] and top_k >= 1, and for TOP_K at most `experts`. */
adapt_status ad_moe_check_routing(int32_t rule, float tau, int32_t top_k, int32_t experts,
                                  const char *fn);

/* Whether `p`'s routing runs every expert whatever the router says (no router needed). */
bool ad_moe_runs_all(const adapt_layer_params *p);

/* The layer's forward, x[N, ..., in] -> [N, ..., out], taped when the context records. */
adapt_status ad_moe_forward(adapt_tensor **out, adapt_context *ctx, const ad_layer *l,
                            adapt_tensor *x);

#endif
