/* Convolution, batch norm, optionally a residual and a ReLU, as the CNN's blocks apply them.
 * In inference (no tape, not training) batch norm is a per-channel affine map, and it, the
 * residual and the ReLU finish the convolution's output in the pass that writes it
 * (lib/ops/conv2d.h): one pass over the activation instead of up to four, bit for bit the same
 * values. Otherwise the ops. */
#include "lib/nn/conv_bn.h"

#include "lib/autograd/tape.h"
#include "lib/core/context.h"
#include "lib/core/error.h"
#include "lib/core/tensor.h"
#include "lib/ops/conv2d.h"
#include "lib/ops/ops.h"

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
        st = ad_op_add(&h, ctx, h, residual);
    if (!st && relu)
        st = ad_op_relu(&h, ctx, h);
    if (!st)
        *out = h;
    return st;
}

/* Batch norm's eval map, the residual and the ReLU as a convolution's epilogue. */
static ad_conv_epilogue epilogue_of(const ad_batchnorm2d *bn, adapt_tensor *residual, bool relu,
                                    const struct ad_conv_sink *sink)
{
    return (ad_conv_epilogue){bn->weight->data, bn->bias->data, bn->running_mean->data,
                              bn->running_var->data, AD_BATCHNORM_EPS, residual, relu, sink};
}

static adapt_status forward(adapt_tensor **out, adapt_context *ctx, const ad_conv2d *c,
                            const ad_batchnorm2d *bn, adapt_tensor *residual, bool relu,
                            adapt_tensor *x, const struct ad_conv_sink *sink)
{
    adapt_tensor *in[] = {x, c->weight, c->bias, bn->weight, bn->bias, residual};
    if (ctx->training || ad_tape_wants(ctx, in, residual ? 6 : 5))
        return sink ? ad_fail(ADAPT_ERR_STATE, "a plane sink is for inference only")
                    : with_ops(out, ctx, c, bn, residual, relu, x);
    const ad_conv_epilogue e = epilogue_of(bn, residual, relu, sink);
    return ad_conv2d_untaped(out, ctx, x, c->weight, c->bias, c->stride, c->padding, &e);
}

adapt_status ad_conv_bn_forward(adapt_tensor **out, adapt_context *ctx, const ad_conv2d *c,
                                const ad_batchnorm2d *bn, bool relu, adapt_tensor *x)
{
    return forward(out, ctx, c, bn, NULL, relu, x, NULL);
}

adapt_status ad_conv_bn_add_relu_forward(adapt_tensor **out, adapt_context *ctx,
                                         const ad_conv2d *c, const ad_batchnorm2d *bn,
                                         adapt_tensor *residual, adapt_tensor *x,
                                         const struct ad_conv_sink *sink)
{
    return forward(out, ctx, c, bn, residual, true, x, sink);
}

adapt_status ad_conv_bn_pair_forward(adapt_tensor **out1, adapt_tensor **out2,
                                     adapt_context *ctx, const ad_conv_bn_ref *first,
                                     const ad_conv_bn_ref *second, adapt_tensor *x)
{
    const ad_conv_bn_ref *r[] = {first, second};
    adapt_tensor *in[] = {x, first->conv->weight, first->conv->bias, first->bn->weight,
                          first->bn->bias, second->conv->weight, second->conv->bias,
                          second->bn->weight, second->bn->bias};
    if (ctx->training || ad_tape_wants(ctx, in, 9)) {
        adapt_status st = with_ops(out1, ctx, first->conv, first->bn, NULL, first->relu, x);
        return st ? st : with_ops(out2, ctx, second->conv, second->bn, NULL, second->relu, x);
    }
    ad_conv_epilogue e[2];
    ad_conv_spec spec[2];
    for (int i = 0; i < 2; i++) {
        e[i] = epilogue_of(r[i]->bn, NULL, r[i]->relu, NULL);
        spec[i] = (ad_conv_spec){r[i]->conv->weight, r[i]->conv->bias, r[i]->conv->stride,
                                 r[i]->conv->padding, &e[i]};
    }
    return ad_conv2d_pair_untaped(out1, out2, ctx, x, &spec[0], &spec[1]);
}
