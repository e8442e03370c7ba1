/* "moe": the dynamic-k Mixture-of-Experts layer on the last axis, [..., D] -> [..., out].
 * Its routing (routing, tau, top_k) is how it runs, not what it is: checked here, set by
 * adapt_model_set_routing(), and left out of the architecture a checkpoint records, so that
 * a loaded model runs every expert until its routing is set again.
 * Parameter names follow the authors' module: experts.w1 [E, D, h], experts.b1 [E, h],
 * experts.w2 [E, h, out], last_bias [out], and the router's two bias-free linear layers
 * router.0 [R, D] and router.2 [E, R] (a Sequential of Linear, ReLU, Linear). */
#include <float.h>

#include "lib/adaptive/moe.h"
#include "lib/core/error.h"
#include "lib/core/tensor.h"
#include "lib/models/model_impl.h"
#include "lib/nn/layer_kinds.h"

AD_LAYER_STATE_FITS(ad_moe);

static const ad_layer_field fields[] = {
    AD_FIELD_WIDTH(out_features),
    AD_FIELD_COUNT32(experts, 1),
    AD_FIELD_WIDTH(expert_width),
    AD_FIELD_COUNT32(router_width, 128),
    AD_FIELD(activation, AD_FIELD_INT32, ADAPT_ACTIVATION_RELU, ADAPT_ACTIVATION_GELU, 0,
             ADAPT_ACTIVATION_RELU),
};

adapt_status ad_moe_check_routing(int32_t rule, float tau, int32_t top_k, int32_t experts,
                                  const char *fn)
{
    if (rule < ADAPT_ROUTING_DYNAMIC_K || rule > ADAPT_ROUTING_TOP_K)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: unknown routing rule %d", fn,
                       (int)rule);
    if (tau != tau)
        return ad_fail(ADAPT_ERR_NONFINITE, "%s: tau is NaN", fn);
    if (tau < 0.0f || tau > 1.0f)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: tau %g is outside [0, 1]", fn,
                       (double)tau);
    if (top_k < 1 || (rule == ADAPT_ROUTING_TOP_K && top_k > experts))
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: top_k %d is outside [1, %d experts]",
                       fn, (int)top_k, (int)experts);
    return ADAPT_OK;
}

static adapt_status check(const adapt_layer_params *p, const char *fn)
{
    if (ad_mul_sat(p->experts, p->expert_width) == INT64_MAX)
        return ad_fail(ADAPT_ERR_OVERFLOW, "%s: moe hidden width overflows", fn);
    return ad_moe_check_routing(p->routing, p->tau, p->top_k, p->experts, fn);
}

static adapt_status shape(ad_dims *out, const adapt_layer_params *p, const ad_dims *in,
                          const char *fn)
{
    if (in->ndim < 1)
        return ad_fail(ADAPT_ERR_SHAPE, "%s: moe needs a per-sample rank >= 1", fn);
    *out = *in;
    out->d[in->ndim - 1] = p->out_features;
    return ADAPT_OK;
}

static adapt_status add_experts(ad_moe *m, ad_param_list *list, const char *prefix)
{
    char at[AD_PREFIX_MAX];
    const ad_init first = ad_init_fan_in(m->in), second = ad_init_fan_in(m->experts * m->hidden);
    ad_prefix_join(at, prefix, "experts.");
    adapt_status st = ad_params_add(&m->w1, list, at, "w1", 3,
                                    (int64_t[]){m->experts, m->in, m->hidden}, first);
    if (!st)
        st = ad_params_add(&m->b1, list, at, "b1", 2, (int64_t[]){m->experts, m->hidden},
                           first);
    if (!st)
        st = ad_params_add(&m->w2, list, at, "w2", 3,
                           (int64_t[]){m->experts, m->hidden, m->out}, second);
    if (!st)
        st = ad_params_add(&m->bias, list, prefix, "last_bias", 1, &m->out, second);
    return st;
}

static adapt_status init(ad_layer *l, ad_param_list *list, const ad_layer_names *names)
{
    ad_moe *m = AD_LAYER_STATE(l, ad_moe);
    const adapt_layer_params *p = &l->params;
    *m = (ad_moe){.in = l->in.d[l->in.ndim - 1], .hidden = p->expert_width,
                  .out = p->out_features, .experts = p->experts,
                  .act = p->activation == ADAPT_ACTIVATION_GELU ? AD_ACT_GELU : AD_ACT_RELU};
    char at[AD_PREFIX_MAX];
    adapt_status st = add_experts(m, list, names->prefix);
    if (!st)
        st = ad_linear_init(&m->router_in, list, ad_prefix_join(at, names->prefix, "router.0."),
                            m->in, p->router_width, false);
    if (!st)
        st = ad_linear_init(&m->router_out, list,
                            ad_prefix_join(at, names->prefix, "router.2."), p->router_width,
                            m->experts, false);
    return st;
}

ad_moe *ad_moe_of(const adapt_model *module)
{
    const ad_layer *l = module->n_blocks == 1 && module->blocks[0].n_layers == 1
                            ? &module->blocks[0].layers[0] : NULL;
    if (!l || l->kind != &ad_kind_moe || l->replaced.module)
        return NULL;
    return AD_LAYER_STATE(l, ad_moe);
}

ad_grouped_weights ad_moe_weights(const ad_moe *m)
{
    return (ad_grouped_weights){m->in, m->hidden, m->out, m->w1->data, m->b1->data,
                                m->w2->data, m->bias->data, m->act};
}

int64_t ad_moe_router_flops(const ad_moe *m)
{
    return ad_add_sat(ad_linear_flops(&m->router_in, 1), ad_linear_flops(&m->router_out, 1));
}

int64_t ad_moe_expert_flops(const ad_moe *m)
{
    return ad_mul_sat(2, ad_add_sat(ad_mul_sat(m->in, m->hidden), ad_mul_sat(m->hidden, m->out)));
}

/* At most: the router and every expert, for every token. */
static int64_t flops(const ad_layer *l)
{
    const ad_moe *m = AD_LAYER_STATE(l, const ad_moe);
    const int64_t per_token =
        ad_add_sat(ad_moe_router_flops(m), ad_mul_sat(m->experts, ad_moe_expert_flops(m)));
    return ad_mul_sat(per_token, ad_dims_numel(&l->in) / m->in);
}

const ad_layer_kind ad_kind_moe = {
    .name = "moe", AD_FIELDS(fields), .check = check, .shape = shape, .init = init,
    .forward = ad_moe_forward, .flops = flops, .meters_itself = true,
    .leaves_only_output = true,
};
