/* "acm": the Adaptive Computation Module on the last axis, [..., D] -> [..., out]. How it runs
 * (ad_acm.fixed) is set by adapt_model_set_acm_learners() and is not part of the
 * architecture a checkpoint records: a loaded model runs as its gates choose.
 * Parameters: learners.w1 [N, D, h], learners.b1 [N, h], learners.w2 [N, h, out] (learner n's
 * blocks of the authors' w1 [D, N h], b1 [N h] and w2 [N h, out]), and the gate's three
 * linear layers gate.0 [g, D], gate.2 [g, g], gate.4 [choices, g] (a Sequential of Linear,
 * ReLU, Linear, ReLU, Linear). */
#include "lib/adaptive/acm.h"
#include "lib/core/error.h"
#include "lib/core/tensor.h"
#include "lib/models/model_impl.h"
#include "lib/nn/layer_kinds.h"

AD_LAYER_STATE_FITS(ad_acm);

static const ad_layer_field fields[] = {
    AD_FIELD_WIDTH(out_features),
    AD_FIELD_COUNT32(learners, 4),
    AD_FIELD_WIDTH(learner_width),
    AD_FIELD_COUNT32(gate_width, 16),
    AD_FIELD(min_learners, AD_FIELD_INT32, 0, 1, 0, 0),
    AD_FIELD(activation, AD_FIELD_INT32, ADAPT_ACTIVATION_RELU, ADAPT_ACTIVATION_IDENTITY, 0,
             ADAPT_ACTIVATION_RELU),
};

static adapt_status check(const adapt_layer_params *p, const char *fn)
{
    if (ad_mul_sat(p->learners, p->learner_width) == INT64_MAX)
        return ad_fail(ADAPT_ERR_OVERFLOW, "%s: acm hidden width overflows", fn);
    return ADAPT_OK;
}

static adapt_status shape(ad_dims *out, const adapt_layer_params *p, const ad_dims *in,
                          const char *fn)
{
    if (in->ndim < 1)
        return ad_fail(ADAPT_ERR_SHAPE, "%s: acm needs a per-sample rank >= 1", fn);
    *out = *in;
    out->d[in->ndim - 1] = p->out_features;
    return ADAPT_OK;
}

static adapt_status add_learners(ad_acm *a, ad_param_list *list, const char *prefix)
{
    char at[AD_PREFIX_MAX];
    const ad_init first = ad_init_fan_in(a->in), second = ad_init_fan_in(a->hidden);
    ad_prefix_join(at, prefix, "learners.");
    adapt_status st = ad_params_add(&a->w1, list, at, "w1", 3,
                                    (int64_t[]){a->learners, a->in, a->hidden}, first);
    if (!st)
        st = ad_params_add(&a->b1, list, at, "b1", 2, (int64_t[]){a->learners, a->hidden},
                           first);
    if (!st)
        st = ad_params_add(&a->w2, list, at, "w2", 3,
                           (int64_t[]){a->learners, a->hidden, a->out}, second);
    return st;
}

static adapt_status add_gate(ad_acm *a, ad_param_list *list, const char *prefix, int64_t width)
{
    static const char *const names[] = {"gate.0.", "gate.2.", "gate.4."};
    const int64_t sizes[] = {a->in, width, width, ad_acm_choices(a)};
    char at[AD_PREFIX_MAX];
    adapt_status st = ADAPT_OK;
    for (int i = 0; i < 3 && !st; i++)
        st = ad_linear_init(&a->gate[i], list, ad_prefix_join(at, prefix, names[i]), sizes[i],
                            sizes[i + 1], true);
    return st;
}

static adapt_status init(ad_layer *l, ad_param_list *list, const ad_layer_names *names)
{
    ad_acm *a = AD_LAYER_STATE(l, ad_acm);
    const adapt_layer_params *p = &l->params;
    static const ad_act acts[] = {AD_ACT_RELU, AD_ACT_GELU, AD_ACT_NONE};
    *a = (ad_acm){.in = l->in.d[l->in.ndim - 1], .hidden = p->learner_width,
                  .out = p->out_features, .learners = p->learners,
                  .min_learners = p->min_learners, .fixed = -1, .act = acts[p->activation]};
    adapt_status st = add_learners(a, list, names->prefix);
    return st ? st : add_gate(a, list, names->prefix, p->gate_width);
}

ad_acm *ad_acm_of(const adapt_model *module)
{
    const ad_layer *l = module->n_blocks == 1 && module->blocks[0].n_layers == 1
                            ? &module->blocks[0].layers[0] : NULL;
    if (!l || l->kind != &ad_kind_acm || l->replaced.module)
        return NULL;
    return AD_LAYER_STATE(l, ad_acm);
}

ad_grouped_weights ad_acm_weights(const ad_acm *a)
{
    return (ad_grouped_weights){a->in, a->hidden, a->out, a->w1->data, a->b1->data,
                                a->w2->data, NULL, a->act};
}

int64_t ad_acm_choices(const ad_acm *a)
{
    return a->learners + 1 - a->min_learners;
}

int64_t ad_acm_gate_flops(const ad_acm *a)
{
    int64_t sum = 0;
    for (int i = 0; i < 3; i++)
        sum = ad_add_sat(sum, ad_linear_flops(&a->gate[i], 1));
    return sum;
}

int64_t ad_acm_learner_flops(const ad_acm *a)
{
    return ad_mul_sat(2, ad_add_sat(ad_mul_sat(a->in, a->hidden), ad_mul_sat(a->hidden, a->out)));
}

/* At most: the gate and every learner, for every token. */
static int64_t flops(const ad_layer *l)
{
    const ad_acm *a = AD_LAYER_STATE(l, const ad_acm);
    const int64_t per_token =
        ad_add_sat(ad_acm_gate_flops(a), ad_mul_sat(a->learners, ad_acm_learner_flops(a)));
    return ad_mul_sat(per_token, ad_dims_numel(&l->in) / a->in);
}

const ad_layer_kind ad_kind_acm = {
    .name = "acm", AD_FIELDS(fields), .check = check, .shape = shape, .init = init,
    .forward = ad_acm_forward, .flops = flops, .meters_itself = true,
    .leaves_only_output = true,
};
