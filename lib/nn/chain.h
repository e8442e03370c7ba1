/* A short chain of layers run as one unit (a model's block), and its plan: which neighbours
 * run fused, chosen once when the chain is built rather than recognised on every call. */
#ifndef AD_NN_CHAIN_H
#define AD_NN_CHAIN_H

#include <stdbool.h>

#include "lib/nn/layer.h"

/* Longest chain: linear + activation + dropout, conv + bn + relu, or layernorm + class token
 * + linear. */
#define AD_CHAIN_MAX_LAYERS 3

typedef enum {
    AD_STEP_LAYER,        /* one layer as its kind runs it */
    AD_STEP_LINEAR_ACT,   /* a linear layer and the activation after it, if any */
    AD_STEP_CONV_BN,      /* convolution and batch norm */
    AD_STEP_CONV_BN_RELU, /* convolution, batch norm and ReLU */
} ad_step_kind;

typedef struct {
    ad_step_kind kind;
    int32_t first, count; /* the layers it runs */
} ad_chain_step;

typedef struct {
    ad_chain_step steps[AD_CHAIN_MAX_LAYERS];
    int32_t n_steps;
    /* Run without a tape and outside training, the chain allocates nothing but its output:
     * one fused step, then only dropout (the identity there). */
    bool leaves_only_output;
} ad_chain_plan;

/* The plan of layers[0 .. n). A linear layer takes the activation after it; convolution and
 * batch norm (and ReLU) run as one (fused without a tape, the same ops with one). */
void ad_chain_plan_make(ad_chain_plan *plan, const ad_layer *layers, int32_t n);

/* layers[0 .. n) by their plan. */
adapt_status ad_chain_forward(adapt_tensor **out, adapt_context *ctx, const ad_chain_plan *plan,
                              const ad_layer *layers, adapt_tensor *x);

#endif
