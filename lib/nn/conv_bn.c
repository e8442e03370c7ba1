/* Convolution, batch norm and optionally ReLU, as the CNN's blocks apply them. In inference
 * (no tape, not training) batch norm is a per-channel affine map, and it and the ReLU finish
 * the convolution's output in the pass that writes it (lib/ops/conv2d.h): one pass over the
 * activation instead of three, bit for bit the same values. Otherwise the three ops. */
#include "lib/nn/conv_bn.h"

#include <math.h>

#include "lib/autograd/tape.h"
#include "lib/core/context.h"
#include "lib/core/tensor.h"
#include "lib/ops/conv2d.h"

static adapt_status with_ops(adapt_tensor **out, adapt_context *ctx, const ad_conv2d *c,
                             const ad_batchnorm2d *bn, bool relu, adapt_tensor *x)
{
    adapt_tensor *h;
    adapt_status st = ad_conv2d_forward(&h, ctx, c, x);
    if (!st)
        st = ad_batchnorm2d_forward(&h, ctx, bn, h);
    if (!st && relu)
        st = adapt_op_relu(&h, ctx, h);
    if (!st)
        *out = h;
    return st;
}

/* The eval map of the batch-norm op, computed as it computes it. */
static void eval_map(const ad_batchnorm2d *bn, float *scale, float *shift, int64_t channels)
{
    const float eps = AD_BATCHNORM_EPS;
    for (int64_t c = 0; c < channels; c++) {
        const float rstd = (float)(1.0 / sqrt((double)bn->running_var->data[c] + eps));
        scale[c] = rstd * bn->weight->data[c];
        shift[c] = bn->bias->data[c] - bn->running_mean->data[c] * scale[c];
    }
}

adapt_status ad_conv_bn_forward(adapt_tensor **out, adapt_context *ctx, const ad_conv2d *c,
                                const ad_batchnorm2d *bn, bool relu, adapt_tensor *x)
{
    adapt_tensor *in[] = {x, c->weight, c->bias, bn->weight, bn->bias};
    if (ctx->training || ad_tape_wants(ctx, in, 5))
        return with_ops(out, ctx, c, bn, relu, x);
    float *map = NULL;
    adapt_status st = ad_scratch((void **)&map, ctx, 2 * (size_t)c->out_channels * sizeof *map,
                                 "convolution with batch norm");
    if (st)
        return st;
    eval_map(bn, map, map + c->out_channels, c->out_channels);
    const ad_conv_epilogue e = {map, map + c->out_channels, relu};
    return ad_conv2d_untaped(out, ctx, x, c->weight, c->bias, c->stride, c->padding, &e);
}
