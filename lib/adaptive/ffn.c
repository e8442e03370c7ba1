#include "lib/adaptive/ffn.h"

#include <string.h>

#include "lib/core/error.h"
#include "lib/core/tensor.h"
#include "lib/nn/layer_kinds.h"
#include "lib/nn/transformer.h"

/* A linear layer on the last axis of `in`: token_linear, or linear on a one-axis input (a
 * linear layer flattens anything wider). */
static const ad_linear *as_linear(const ad_layer *l)
{
    const bool on_last_axis = l->kind == &ad_kind_token_linear ||
                              (l->kind == &ad_kind_linear && l->in.ndim == 1);
    return on_last_axis ? AD_LAYER_STATE(l, const ad_linear) : NULL;
}

/* Three layers, linear, ReLU or GELU, linear, each running as itself. */
static bool three_layers(ad_ffn *f, const ad_layer *const layers[3])
{
    for (int i = 0; i < 3; i++)
        if (!ad_layer_is_builtin(layers[i]))
            return false;
    const ad_layer_kind *act = layers[1]->kind;
    if (!as_linear(layers[0]) || !as_linear(layers[2]) ||
        (act != &ad_kind_relu && act != &ad_kind_gelu))
        return false;
    f->first = as_linear(layers[0]), f->second = as_linear(layers[2]);
    f->act = act == &ad_kind_relu ? AD_ACT_RELU : AD_ACT_GELU;
    return f->first->bias && f->second->bias;
}

/* A module of three such layers, in one block or several. */
static bool module_ffn(ad_ffn *f, const adapt_model *module)
{
    const ad_layer *layers[3];
    int32_t n = 0;
    for (int32_t b = 0; b < module->n_blocks; b++)
        for (int32_t i = 0; i < module->blocks[b].n_layers; i++, n++)
            if (n < 3)
                layers[n] = &module->blocks[b].layers[i];
    return n == 3 && !module->n_replaced && three_layers(f, layers);
}

/* A slice of a model's layers ("0:3" of an MLP) that is such a network. */
static bool slice_ffn(ad_ffn *f, const adapt_model *model, const ad_site *site)
{
    const ad_layer *layers[3];
    for (int32_t k = 0; k < 3 && site->span == 3; k++)
        layers[k] = ad_site_covered(model, site, k);
    return site->span == 3 && three_layers(f, layers);
}

static adapt_status find(ad_ffn *f, const adapt_model *model, const char *path, const char *fn)
{
    ad_site site;
    adapt_status st = ad_model_site(&site, model, path, fn);
    if (st)
        return st;
    ad_dims out;
    ad_site_shapes(&f->in, &out, model, &site);
    for (int32_t r = 0; r < model->n_replaced; r++)
        if (strcmp(model->replaced[r].path, path) == 0)
            return module_ffn(f, model->replaced[r].module)
                       ? ADAPT_OK
                       : ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: the module replacing \"%s\" "
                                 "is not linear, ReLU or GELU, linear", fn, path);
    if (site.span > 1)
        return slice_ffn(f, model, &site)
                   ? ADAPT_OK
                   : ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: the slice \"%s\" is not linear, "
                             "ReLU or GELU, linear", fn, path);
    const ad_layer *l = &model->blocks[site.block].layers[site.layer];
    if (l->kind != &ad_kind_transformer_block || !site.part || strcmp(site.part->name, "mlp") ||
        l->replaced.module) /* a replaced block's MLP does not run */
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: \"%s\" is no two-layer network (a "
                       "transformer block's mlp, or a module replacing one)", fn, path);
    const ad_transformer_block *b = AD_LAYER_STATE(l, const ad_transformer_block);
    f->first = &b->fc1, f->second = &b->fc2, f->act = AD_ACT_GELU;
    return ADAPT_OK;
}

adapt_status ad_ffn_at(ad_ffn *ffn, const adapt_model *model, const char *path,
                       const char *fn)
{
    ad_ffn f;
    adapt_status st = find(&f, model, path, fn);
    if (st)
        return st;
    if (f.first->in_features != f.in.d[f.in.ndim - 1] ||
        f.second->in_features != f.first->out_features)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: the network at \"%s\" does not map "
                       "the last axis through its hidden units", fn, path);
    const adapt_tensor *w[] = {f.first->weight, f.first->bias, f.second->weight,
                               f.second->bias};
    for (int i = 0; i < 4; i++)
        if (!ad_all_finite(w[i]->data, w[i]->numel))
            return ad_fail(ADAPT_ERR_NONFINITE, "%s: the network at \"%s\" holds NaN or "
                           "infinity", fn, path);
    *ffn = f;
    return ADAPT_OK;
}
