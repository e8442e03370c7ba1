#include "lib/transfer/low_rank_linear.h"

#include "lib/nn/layer.h"
#include "lib/ops/ops.h"

AD_LAYER_STATE_FITS(ad_low_rank_linear);

static const ad_layer_field fields[] = {AD_FIELD_WIDTH(out_features), AD_FIELD_WIDTH(rank)};

static adapt_status shape(ad_dims *out, const adapt_layer_params *p, const ad_dims *in,
                          const char *fn)
{
    (void)in, (void)fn;
    *out = ad_dims1(p->out_features);
    return ADAPT_OK;
}

/* As LoRA starts: R random as a linear weight, L zero, so the layer starts as its base; s 1. */
static adapt_status init(ad_layer *l, ad_param_list *list, const ad_layer_names *names)
{
    ad_low_rank_linear *a = AD_LAYER_STATE(l, ad_low_rank_linear);
    const int64_t in = ad_dims_numel(&l->in), out = l->params.out_features;
    a->rank = l->params.rank;
    adapt_status st = ad_linear_init(&a->base, list, names->prefix, in, out, true);
    if (!st)
        st = ad_params_add(&a->left, list, names->prefix, "left", 2, (int64_t[]){out, a->rank},
                           (ad_init){AD_INIT_CONSTANT, 0.0f, false});
    if (!st)
        st = ad_params_add(&a->scales, list, names->prefix, "scales", 1, &a->rank,
                           (ad_init){AD_INIT_CONSTANT, 1.0f, false});
    if (!st)
        st = ad_params_add(&a->right, list, names->prefix, "right", 2, (int64_t[]){a->rank, in},
                           ad_init_fan_in(in));
    return st;
}

static adapt_status forward(adapt_tensor **out, adapt_context *ctx, const ad_layer *l,
                            adapt_tensor *x)
{
    const ad_low_rank_linear *a = AD_LAYER_STATE(l, const ad_low_rank_linear);
    adapt_tensor *rows, *y, *t;
    adapt_status st = ad_flatten_rows(&rows, ctx, x);
    if (!st)
        st = ad_linear_forward_rows(&y, ctx, &a->base, rows, AD_ACT_NONE);
    if (!st)
        st = ad_op_matmul(&t, ctx, rows, a->right, ADAPT_MATMUL_TRANS_B);
    if (!st)
        st = ad_op_mul(&t, ctx, t, a->scales);
    if (!st)
        st = ad_op_matmul(&t, ctx, t, a->left, ADAPT_MATMUL_TRANS_B);
    return st ? st : ad_op_add(out, ctx, y, t);
}

static int64_t flops(const ad_layer *l)
{
    const ad_low_rank_linear *a = AD_LAYER_STATE(l, const ad_low_rank_linear);
    return ad_linear_flops(&a->base, 1) +
           2 * a->rank * (a->base.in_features + a->base.out_features);
}

const ad_layer_kind ad_kind_low_rank_linear = {
    .name = "low_rank_linear", AD_FIELDS(fields), .shape = shape, .init = init,
    .forward = forward, .flops = flops, .flattens = true,
};
