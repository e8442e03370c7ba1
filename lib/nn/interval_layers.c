#include "lib/nn/interval_layers.h"

#include <math.h>

#include "lib/core/context.h"
#include "lib/core/error.h"
#include "lib/core/tensor.h"
#include "lib/ops/ops.h"

adapt_status ad_linear_interval_product(adapt_tensor **y, adapt_context *ctx, adapt_tensor *x,
                                        adapt_tensor *w, adapt_tensor *b, const void *arg)
{
    (void)arg;
    adapt_tensor *rows = x, *z;
    adapt_status st = x->ndim == 2 ? ADAPT_OK : ad_flatten_rows(&rows, ctx, x);
    if (!st)
        st = ad_op_matmul(b ? &z : y, ctx, rows, w, ADAPT_MATMUL_TRANS_B);
    return st || !b ? st : ad_op_add(y, ctx, z, b);
}

adapt_status ad_conv2d_interval_product(adapt_tensor **y, adapt_context *ctx, adapt_tensor *x,
                                        adapt_tensor *w, adapt_tensor *b, const void *arg)
{
    const ad_conv2d *c = arg;
    return ad_op_conv2d(y, ctx, x, w, b, c->stride, c->padding);
}

adapt_status ad_linear_interval(ad_interval *out, adapt_context *ctx, const ad_linear *l,
                                const ad_interval *x)
{
    const ad_interval_product p = {ad_linear_interval_product, NULL};
    return ad_interval_affine(out, ctx, x, &p, l->weight, l->bias);
}

adapt_status ad_conv2d_interval(ad_interval *out, adapt_context *ctx, const ad_conv2d *c,
                                const ad_interval *x)
{
    const ad_interval_product p = {ad_conv2d_interval_product, c};
    return ad_interval_affine(out, ctx, x, &p, c->weight, c->bias);
}

static adapt_status batchnorm_map(adapt_tensor **y, adapt_context *ctx, adapt_tensor *x,
                                  const void *arg)
{
    return ad_batchnorm2d_forward(y, ctx, arg, x);
}

/* The norm on each bound is exact for the float norm (each channel is x scale + shift with
 * constant scale and shift, monotone in floats too), but a point forward may compute it
 * another way: contracted into fused multiply-adds, or in the epilogue of a convolution.
 * 8 u (|a mean| + |beta| + |y|) per value, a the channel's scale, covers such differences. */
static adapt_status batchnorm_slack(adapt_tensor **out, adapt_context *ctx,
                                    const ad_batchnorm2d *bn, const adapt_tensor *lo,
                                    const adapt_tensor *hi)
{
    adapt_status st = ad_tensor_new(out, ctx, lo->ndim, lo->shape);
    if (st)
        return st;
    const int64_t channels = lo->shape[1], spatial = lo->numel / lo->shape[0] / channels;
    for (int64_t i = 0; i < lo->numel; i++) {
        const int64_t c = i / spatial % channels;
        const double a = fabs((double)bn->weight->data[c]) /
                         sqrt((double)bn->running_var->data[c] + AD_BATCHNORM_EPS);
        const double reach = fmax(fabs((double)lo->data[i]), fabs((double)hi->data[i]));
        const double shift = a * fabs((double)bn->running_mean->data[c]) +
                             fabs((double)bn->bias->data[c]);
        (*out)->data[i] = nextafterf((float)(8.0 * AD_UNIT_ROUNDOFF * (shift + reach)), INFINITY);
    }
    return ADAPT_OK;
}

adapt_status ad_batchnorm2d_interval(ad_interval *out, adapt_context *ctx,
                                     const ad_batchnorm2d *bn, const ad_interval *x)
{
    if (ctx->training)
        return ad_fail(ADAPT_ERR_UNSUPPORTED, "batchnorm2d: no interval forward in training "
                       "mode (batch statistics tie each sample's bounds to the others')");
    ad_interval z, y = {0};
    adapt_tensor *low, *high, *slack, *minus_slack;
    adapt_status st = ad_interval_monotone(&z, ctx, x, batchnorm_map, bn);
    if (!st)
        st = ad_op_minimum(&low, ctx, z.lo, z.hi);
    if (!st)
        st = ad_op_maximum(&high, ctx, z.lo, z.hi);
    if (!st)
        st = batchnorm_slack(&slack, ctx, bn, low, high);
    if (!st)
        st = ad_op_scale(&minus_slack, ctx, slack, -1.0f);
    if (!st)
        st = ad_op_add(&y.lo, ctx, low, minus_slack);
    if (!st)
        st = ad_op_add(&y.hi, ctx, high, slack);
    if (!st) {
        y.mid = z.mid;
        *out = y;
    }
    return st;
}

static adapt_status relu_map(adapt_tensor **y, adapt_context *ctx, adapt_tensor *x,
                             const void *arg)
{
    (void)arg;
    return ad_op_relu(y, ctx, x);
}

static adapt_status conv_bn_interval(ad_interval *out, adapt_context *ctx, const ad_conv2d *c,
                                     const ad_batchnorm2d *bn, const ad_interval *x)
{
    ad_interval z;
    adapt_status st = ad_conv2d_interval(&z, ctx, c, x);
    return st ? st : ad_batchnorm2d_interval(out, ctx, bn, &z);
}

adapt_status ad_residual_block_interval(ad_interval *out, adapt_context *ctx,
                                        const ad_residual_block *b, const ad_interval *x)
{
    ad_interval h, s = *x;
    adapt_status st = conv_bn_interval(&h, ctx, &b->conv1, &b->bn1, x);
    if (!st)
        st = ad_interval_monotone(&h, ctx, &h, relu_map, NULL);
    if (!st)
        st = conv_bn_interval(&h, ctx, &b->conv2, &b->bn2, &h);
    if (!st && b->projected)
        st = conv_bn_interval(&s, ctx, &b->shortcut_conv, &b->shortcut_bn, x);
    if (!st)
        st = ad_interval_add(&h, ctx, &h, &s);
    return st ? st : ad_interval_monotone(out, ctx, &h, relu_map, NULL);
}
