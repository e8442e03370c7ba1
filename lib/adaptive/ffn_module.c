/* adapt_ffn_module: the dense network at a path copied into a module of token_linear,
 * activation, token_linear, with the activation the caller names: D2DMoE's swap of a ViT's
 * GELU for ReLU, whose outputs can then be made sparse. */
#include <string.h>

#include "lib/adaptive/ffn.h"
#include "lib/core/error.h"
#include "lib/core/tensor.h"

static const char *const fn = "adapt_ffn_module";

static void copy_linear(ad_linear *to, const ad_linear *from)
{
    memcpy(to->weight->data, from->weight->data, (size_t)from->weight->numel * sizeof(float));
    memcpy(to->bias->data, from->bias->data, (size_t)from->bias->numel * sizeof(float));
}

static adapt_status build(adapt_model **out, const ad_ffn *f, int32_t activation)
{
    adapt_model *m = NULL;
    adapt_status st = adapt_model_create_sequential(&m, f->in.ndim, f->in.d, 0);
    const int32_t kinds[] = {ADAPT_LAYER_TOKEN_LINEAR,
                             activation == ADAPT_ACTIVATION_RELU ? ADAPT_LAYER_RELU
                                                                 : ADAPT_LAYER_GELU,
                             ADAPT_LAYER_TOKEN_LINEAR};
    const int64_t widths[] = {f->first->out_features, 0, f->second->out_features};
    for (int i = 0; i < 3 && !st; i++) {
        adapt_layer_params p;
        adapt_layer_params_init(&p, sizeof p);
        p.kind = kinds[i], p.out_features = widths[i];
        st = adapt_model_append(m, &p);
    }
    if (st) {
        adapt_model_free(m);
        return st;
    }
    copy_linear(AD_LAYER_STATE(&m->blocks[0].layers[0], ad_linear), f->first);
    copy_linear(AD_LAYER_STATE(&m->blocks[2].layers[0], ad_linear), f->second);
    *out = m;
    return ADAPT_OK;
}

adapt_status adapt_ffn_module(adapt_model **ffn, const adapt_model *model, const char *path,
                              int32_t activation)
{
    if (!ffn || !model || !path)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: ffn, model or path is NULL", fn);
    if (activation != ADAPT_ACTIVATION_RELU && activation != ADAPT_ACTIVATION_GELU)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: unknown activation %d", fn,
                       (int)activation);
    ad_hold hold;
    adapt_status st = ad_model_enter(&hold, (adapt_model *)model, AD_READ, fn);
    if (st)
        return st;
    ad_ffn f;
    st = ad_ffn_at(&f, model, path, fn);
    if (!st)
        st = build(ffn, &f, activation);
    ad_busy_leave(&hold);
    return ad_prefix(st, fn);
}
