/* Convolution, batch norm, optionally a residual and a ReLU, as the CNN's blocks apply them.
 * In inference (no tape, not training) batch norm is a per-channel affine map, and it, the
 * residual and the ReLU finish the convolution's output in the pass that writes it
 * (lib/ops/conv2d.h): one pass over the activation instead of up to four, bit for bit the same
 * values. Otherwise the ops. */
#include "lib/nn/conv_bn.h"

#include "lib/autograd/tape.h"
#include "lib/core/context.h"
#include "lib/core/tensor.h"
#include "lib/ops/conv2d.h"

/* The ops one after another: convolution, batch norm, the residual if any, the ReLU if asked. */
static adapt_status with_ops(adapt_tensor **out, adapt_context *ctx, const ad_conv2d *c,
                             const ad_batchnorm2d *bn, adapt_tensor *residual, bool relu,
                             adapt_tensor *x)
{
    adapt_tensor *h;
    adapt_status st = ad_conv2d_forward(&h, ctx, c, x);
    if (!st)
        st = ad_batchnorm2d_forward(&h, ctx, bn, h);
    if (!st && residual)
        st = adapt_op_add(&h, ctx, h, residual);
    if (!st && relu)
        st = adapt_op_relu(&h, ctx, h);
    if (!st)
        *out = h;
    return st;
}

static adapt_status forward(adapt_tensor **out, adapt_context *ctx, const ad_conv2d *c,
                            const ad_batchnorm2d *bn, adapt_tensor *residual, bool relu,
                            adapt_tensor *x)
{
    adapt_tensor *in[] = {x, c->weight, c->bias, bn->weight, bn->bias, residual};
    if (ctx->training || ad_tape_wants(ctx, in, residual ? 6 : 5))
        return with_ops(out, ctx, c, bn, residual, relu, x);
    const ad_conv_epilogue e = {bn->weight->data, bn->bias->data, bn->running_mean->data,
                                bn->running_var->data, AD_BATCHNORM_EPS, residual, relu};
    return ad_conv2d_untaped(out, ctx, x, c->weight, c->bias, c->stride, c->padding, &e);
}

adapt_status ad_conv_bn_forward(adapt_tensor **out, adapt_context *ctx, const ad_conv2d *c,
                                const ad_batchnorm2d *bn, bool relu, adapt_tensor *x)
{
    return forward(out, ctx, c, bn, NULL, relu, x);
}

adapt_status ad_conv_bn_add_relu_forward(adapt_tensor **out, adapt_context *ctx,
                                         const ad_conv2d *c, const ad_batchnorm2d *bn,
                                         adapt_tensor *residual, adapt_tensor *x)
{
    return forward(out, ctx, c, bn, residual, true, x);
}
