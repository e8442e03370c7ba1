#include "lib/nn/chain.h"

#include "lib/nn/conv_bn.h"
#include "lib/nn/layer_kinds.h"
#include "lib/nn/linear.h"
#include "lib/nn/sparsity.h"

/* The kind of layers[i] when it runs as that kind alone, else NULL. */
static const ad_layer_kind *builtin_kind(const ad_layer *layers, int32_t n, int32_t i)
{
    return i < n && ad_layer_is_builtin(&layers[i]) ? layers[i].kind : NULL;
}

/* The step that starts at layer i; a replaced layer is never fused. */
static ad_chain_step step_at(const ad_layer *layers, int32_t n, int32_t i)
{
    const ad_layer_kind *kind = builtin_kind(layers, n, i), *next = builtin_kind(layers, n, i + 1);
    if (kind == &ad_kind_linear)
        return (ad_chain_step){AD_STEP_LINEAR_ACT, i, next && next->activation ? 2 : 1};
    if (kind == &ad_kind_conv2d && next == &ad_kind_batchnorm2d) {
        if (builtin_kind(layers, n, i + 2) == &ad_kind_relu)
            return (ad_chain_step){AD_STEP_CONV_BN_RELU, i, 3};
        return (ad_chain_step){AD_STEP_CONV_BN, i, 2};
    }
    return (ad_chain_step){AD_STEP_LAYER, i, 1};
}

/* Whether step s leaves nothing in the arena but its output when untaped: a fused step, or a
 * built-in layer of a kind that does. */
static bool leaves_only_output(const ad_chain_step *s, const ad_layer *layers, int32_t n)
{
    const ad_layer_kind *kind = builtin_kind(layers, n, s->first);
    return s->kind != AD_STEP_LAYER || (kind && kind->leaves_only_output);
}

void ad_chain_plan_make(ad_chain_plan *plan, const ad_layer *layers, int32_t n)
{
    plan->n_steps = 0;
    for (int32_t i = 0; i < n; i += plan->steps[plan->n_steps - 1].count)
        plan->steps[plan->n_steps++] = step_at(layers, n, i);
    bool only_output = n > 0 && leaves_only_output(&plan->steps[0], layers, n);
    for (int32_t s = 1; s < plan->n_steps && only_output; s++)
        only_output = builtin_kind(layers, n, plan->steps[s].first) == &ad_kind_dropout;
    plan->leaves_only_output = only_output;
}

/* Whether step s ends in a built-in ReLU (fused or not), whose output the sparsity penalty
 * measures. */
static bool ends_in_relu(const ad_chain_step *s, const ad_layer *layers)
{
    const ad_layer *last = &layers[s->first + s->count - 1];
    return last->kind == &ad_kind_relu && ad_layer_is_builtin(last);
}

static adapt_status run_step(adapt_tensor **out, adapt_context *ctx, const ad_chain_step *s,
                             const ad_layer *layers, adapt_tensor *x)
{
    const ad_layer *l = &layers[s->first];
    switch (s->kind) {
    case AD_STEP_LINEAR_ACT:
        return ad_linear_forward_rows(out, ctx, AD_LAYER_STATE(l, const ad_linear), x,
                                      s->count == 2 ? l[1].kind->activation : AD_ACT_NONE);
    case AD_STEP_CONV_BN:
    case AD_STEP_CONV_BN_RELU:
        return ad_conv_bn_forward(out, ctx, AD_LAYER_STATE(l, const ad_conv2d),
                                  AD_LAYER_STATE(&l[1], const ad_batchnorm2d),
                                  s->kind == AD_STEP_CONV_BN_RELU, x);
    default:
        return ad_layer_forward(out, ctx, l, x);
    }
}

adapt_status ad_chain_forward(adapt_tensor **out, adapt_context *ctx, const ad_chain_plan *plan,
                              const ad_layer *layers, adapt_tensor *x)
{
    adapt_status st = ADAPT_OK;
    for (int32_t s = 0; s < plan->n_steps && !st; s++) {
        st = run_step(&x, ctx, &plan->steps[s], layers, x);
        if (!st && ends_in_relu(&plan->steps[s], layers))
            st = ad_sparsity_note(ctx, x);
    }
    if (!st)
        *out = x;
    return st;
}
