/* The first exit of a CNN in one pass over the stem's output. At batch 256 the stem writes
 * 16 x 28 x 28 values per image, and its SDN head read them all back in a pass of its own,
 * which made the first exit cost more than twice its share of FLOPs where often most images
 * leave. Here the stem's convolution hands each finished plane to the head's pooling while it
 * is in cache, on its way into the stem's output. The same kernels, plane for plane: the same
 * bits as the stem's output pooled afterwards. */
#include "lib/adaptive/head.h"

#include "lib/core/context.h"
#include "lib/core/tensor.h"
#include "lib/models/model_impl.h"
#include "lib/nn/batchnorm.h"

/* The stem's layers when the first head is SDN, reads block 0, and block 0 is convolution,
 * batch norm and ReLU taking `input`; else NULL. */
static const ad_layer *stem_layers(const adapt_model *model, const adapt_tensor *input)
{
    if (model->n_heads < 1 || model->n_blocks < 1)
        return NULL;
    const adapt_head *h = model->heads[0];
    const ad_block *b = &model->blocks[0];
    const int32_t kinds[] = {ADAPT_LAYER_CONV2D, ADAPT_LAYER_BATCHNORM2D, ADAPT_LAYER_RELU};
    bool ok = h->params.kind == ADAPT_HEAD_SDN && h->params.block == 0 && b->n_layers == 3 &&
              b->in.ndim == 3 && input->ndim == 4 && input->shape[0] >= 1;
    for (int32_t i = 0; ok && i < 3; i++)
        ok = b->layers[i].params.kind == kinds[i] && input->shape[i + 1] == b->in.d[i];
    return ok ? b->layers : NULL;
}

adapt_status ad_first_head_features(adapt_tensor **f, adapt_tensor **stem, adapt_context *ctx,
                                    const adapt_model *model, adapt_tensor *input)
{
    *f = NULL;
    const ad_layer *layers = stem_layers(model, input);
    if (!layers)
        return ADAPT_OK;
    const ad_conv2d *conv = &layers[0].u.conv;
    const ad_batchnorm2d *bn = &layers[1].u.batchnorm;
    const ad_dims *in = &layers[0].in, *out = &layers[0].out;
    const ad_conv_geom g = {in->d[0], in->d[1], in->d[2], conv->kernel, conv->kernel,
                            conv->stride, conv->padding, out->d[1], out->d[2]};
    if (!ad_conv_direct_suits(&g))
        return ADAPT_OK;
    const adapt_head *h = model->heads[0];
    const int64_t n = input->shape[0], c = out->d[0];
    const int64_t width = c * (out->d[1] / h->window) * (out->d[2] / h->window);
    adapt_tensor *pooled, *y;
    adapt_status st = ad_tensor_new(&pooled, ctx, 2, (int64_t[]){n, width});
    if (!st)
        st = ad_tensor_new(&y, ctx, 4, (int64_t[]){n, c, out->d[1], out->d[2]});
    if (st)
        return st;
    ad_sdn_plane_pool pool;
    ad_sdn_plane_pool_init(&pool, h, c, out->d[1], out->d[2], pooled->data);
    const ad_conv_epilogue e = {bn->weight->data, bn->bias->data, bn->running_mean->data,
                                bn->running_var->data, AD_BATCHNORM_EPS, NULL, true};
    const ad_conv_call call = {.g = g, .batch = n, .out_channels = c, .x = input->data,
                               .weight = conv->weight->data,
                               .bias = conv->bias ? conv->bias->data : NULL, .epilogue = &e,
                               .y = y->data, .sink = &pool.sink};
    st = ad_conv_direct(ctx, &call, "adapt_model_infer_exits");
    if (!st)
        *f = pooled, *stem = y;
    return st;
}
