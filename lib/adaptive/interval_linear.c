#include "lib/adaptive/interval_linear.h"

#include <stdio.h>

#include "lib/core/context.h"
#include "lib/core/error.h"
#include "lib/core/tensor.h"
#include "lib/nn/interval_layers.h"
#include "lib/ops/ops.h"

AD_LAYER_STATE_FITS(ad_interval_linear);

static const ad_layer_field fields[] = {AD_FIELD_WIDTH(out_features)};

static adapt_status shape(ad_dims *out, const adapt_layer_params *p, const ad_dims *in,
                          const char *fn)
{
    (void)in, (void)fn;
    *out = ad_dims1(p->out_features);
    return ADAPT_OK;
}

/* "<name>" with the centre's init, then "_<name>radius", "_<name>shift", "_<name>scale"
 * (name "" or "bias_"): the authors' names. */
static adapt_status add_boxed(ad_boxed_param *p, ad_param_list *list, const char *prefix,
                              const char *centre, const char *name, int32_t ndim,
                              const int64_t *shape, ad_init init)
{
    char part[32];
    adapt_status st = ad_params_add(&p->centre, list, prefix, centre, ndim, shape, init);
    snprintf(part, sizeof part, "_%sradius", name);
    if (!st)
        st = ad_params_add(&p->radius, list, prefix, part, ndim, shape,
                           (ad_init){AD_INIT_CONSTANT, AD_INTERVAL_RADIUS_INIT, false});
    snprintf(part, sizeof part, "_%sshift", name);
    if (!st)
        st = ad_params_add(&p->shift, list, prefix, part, ndim, shape,
                           (ad_init){AD_INIT_CONSTANT, 0.0f, false});
    snprintf(part, sizeof part, "_%sscale", name);
    if (!st)
        st = ad_params_add(&p->scale, list, prefix, part, ndim, shape,
                           (ad_init){AD_INIT_CONSTANT, AD_INTERVAL_SCALE_INIT, false});
    return st;
}

/* The authors' parameter order: the weight's four, then the bias's four. The bias starts at
 * 0, as theirs (they draw it and then zero it). */
static adapt_status init(ad_layer *l, ad_param_list *list, const ad_layer_names *names)
{
    ad_interval_linear *a = AD_LAYER_STATE(l, ad_interval_linear);
    a->in_features = ad_dims_numel(&l->in), a->out_features = l->params.out_features;
    adapt_status st = add_boxed(&a->weight, list, names->prefix, "weight", "", 2,
                                (int64_t[]){a->out_features, a->in_features},
                                ad_init_fan_in(a->in_features));
    if (!st)
        st = add_boxed(&a->bias, list, names->prefix, "bias", "bias_", 1,
                       (int64_t[]){a->out_features}, (ad_init){AD_INIT_CONSTANT, 0.0f, false});
    if (!st)
        ad_interval_linear_train(a, ADAPT_INTERVAL_CENTRES);
    return st;
}

/* A radius below 0 is no box: refused rather than clamped, so that a parameter written or
 * loaded wrong says so. */
static adapt_status check_radius(const adapt_tensor *r)
{
    for (int64_t i = 0; i < r->numel; i++)
        if (!(r->data[i] >= 0.0f))
            return ad_fail(r->data[i] < 0.0f ? ADAPT_ERR_INVALID_ARGUMENT : ADAPT_ERR_NONFINITE,
                           "interval_linear: radius %g at value %lld; radii must be >= 0",
                           (double)r->data[i], (long long)i);
    return ADAPT_OK;
}

/* s = tanh(_shift) and W_mid = W + s R of p. */
static adapt_status box_middle(adapt_tensor **s, adapt_tensor **mid, adapt_context *ctx,
                               const ad_boxed_param *p)
{
    adapt_tensor *moved;
    adapt_status st = check_radius(p->radius);
    if (!st)
        st = ad_op_tanh(s, ctx, p->shift);
    if (!st)
        st = ad_op_mul(&moved, ctx, *s, p->radius);
    return st ? st : ad_op_add(mid, ctx, p->centre, moved);
}

/* c R = sigmoid(_scale) (1 - |s|) R of p. */
static adapt_status box_half_width(adapt_tensor **half, adapt_context *ctx,
                                   const ad_boxed_param *p, adapt_tensor *s)
{
    adapt_tensor *abs_s, *minus_abs_s, *one, *room, *squash, *c;
    adapt_status st = ad_op_abs(&abs_s, ctx, s);
    if (!st)
        st = ad_op_scale(&minus_abs_s, ctx, abs_s, -1.0f);
    if (!st)
        st = ad_tensor_new(&one, ctx, 0, NULL);
    if (!st) { /* 1 - |s|, the scalar broadcast over the tensor */
        one->data[0] = 1.0f;
        st = ad_op_add(&room, ctx, minus_abs_s, one);
    }
    if (!st)
        st = ad_op_sigmoid(&squash, ctx, p->scale);
    if (!st)
        st = ad_op_mul(&c, ctx, squash, room);
    return st ? st : ad_op_mul(half, ctx, c, p->radius);
}

adapt_status ad_boxed_param_box(ad_interval *box, adapt_context *ctx, const ad_boxed_param *p)
{
    adapt_tensor *s, *half, *lo, *hi, *outer_lo, *outer_hi;
    adapt_status st = box_middle(&s, &box->mid, ctx, p);
    if (!st)
        st = box_half_width(&half, ctx, p, s);
    if (!st)
        st = ad_op_sub(&lo, ctx, box->mid, half);
    if (!st)
        st = ad_op_add(&hi, ctx, box->mid, half);
    if (!st)
        st = ad_op_sub(&outer_lo, ctx, p->centre, p->radius);
    if (!st)
        st = ad_op_add(&outer_hi, ctx, p->centre, p->radius);
    if (!st)
        st = ad_op_maximum(&box->lo, ctx, lo, outer_lo);
    return st ? st : ad_op_minimum(&box->hi, ctx, hi, outer_hi);
}

static adapt_status forward(adapt_tensor **out, adapt_context *ctx, const ad_layer *l,
                            adapt_tensor *x)
{
    const ad_interval_linear *a = AD_LAYER_STATE(l, const ad_interval_linear);
    adapt_tensor *s, *w_mid, *b_mid;
    adapt_status st = box_middle(&s, &w_mid, ctx, &a->weight);
    if (!st)
        st = box_middle(&s, &b_mid, ctx, &a->bias);
    return st ? st : ad_linear_interval_product(out, ctx, x, w_mid, b_mid, NULL);
}

static adapt_status interval(ad_interval *out, adapt_context *ctx, const ad_layer *l,
                             const ad_interval *x)
{
    const ad_interval_linear *a = AD_LAYER_STATE(l, const ad_interval_linear);
    const ad_interval_product p = {ad_linear_interval_product, NULL};
    ad_interval w, b;
    adapt_status st = ad_boxed_param_box(&w, ctx, &a->weight);
    if (!st)
        st = ad_boxed_param_box(&b, ctx, &a->bias);
    return st ? st : ad_interval_affine_boxed(out, ctx, x, &p, &w, &b);
}

static int64_t flops(const ad_layer *l)
{
    const ad_interval_linear *a = AD_LAYER_STATE(l, const ad_interval_linear);
    return ad_mul_sat(2, ad_mul_sat(a->in_features, a->out_features));
}

const ad_layer_kind ad_kind_interval_linear = {
    .name = "interval_linear", AD_FIELDS(fields), .shape = shape, .init = init,
    .forward = forward, .interval = interval, .flops = flops, .flattens = true,
};
