/* Vision transformer in timm's layout (docs/models.md has its PyTorch twin): the patch
 * embedding is a block, each encoder block is a block, and the head block is the final layer
 * norm, the class-token pick and the linear head. */
#include <math.h>
#include <stdio.h>

#include "lib/core/error.h"
#include "lib/core/struct_io.h"
#include "lib/models/model_impl.h"

void adapt_vit_params_init(adapt_vit_params *params, size_t size)
{
    static const adapt_vit_params defaults = {.image_size = 32, .in_channels = 3, .patch = 4,
                                              .dim = 192, .depth = 6, .heads = 3, .mlp_ratio = 4.0f,
                                              .n_classes = 10};
    ad_struct_init(params, size, &defaults, sizeof defaults);
}

static adapt_status check_sizes(const adapt_vit_params *p, const char *fn)
{
    const struct {
        const char *name;
        int32_t value;
    } sizes[] = {{"image_size", p->image_size}, {"in_channels", p->in_channels},
                 {"patch", p->patch}, {"dim", p->dim}, {"depth", p->depth},
                 {"heads", p->heads}, {"n_classes", p->n_classes}};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        if (sizes[i].value < 1)
            return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: %s = %d must be >= 1", fn,
                           sizes[i].name, (int)sizes[i].value);
    if (p->image_size % p->patch)
        return ad_fail(ADAPT_ERR_SHAPE, "%s: patch %d does not divide image_size %d", fn,
                       (int)p->patch, (int)p->image_size);
    if (p->dim % p->heads)
        return ad_fail(ADAPT_ERR_SHAPE, "%s: heads %d do not divide dim %d", fn, (int)p->heads,
                       (int)p->dim);
    return ADAPT_OK;
}

static adapt_status check_vit(const adapt_vit_params *p, const char *fn)
{
    adapt_status st = check_sizes(p, fn);
    if (st)
        return st;
    if (!isfinite(p->mlp_ratio) || !isfinite(p->dropout))
        return ad_fail(ADAPT_ERR_NONFINITE, "%s: %s is not finite", fn,
                       isfinite(p->dropout) ? "mlp_ratio" : "dropout");
    if (ad_mlp_hidden(p->mlp_ratio, p->dim) < 1)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT,
                       "%s: mlp_ratio %g times dim %d gives no usable hidden size", fn,
                       (double)p->mlp_ratio, (int)p->dim);
    if (p->dropout < 0.0f || p->dropout >= 1.0f)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: dropout %g is outside [0, 1)", fn,
                       (double)p->dropout);
    return ADAPT_OK;
}

/* A block of the single layer `layer`. */
static adapt_status add_single(adapt_model *m, const adapt_layer_params *layer,
                               const ad_layer_names *names, const char *fn)
{
    ad_block b;
    ad_dims in = ad_model_tail(m);
    ad_block_start(&b, layer->kind, &in);
    adapt_status st = ad_block_add(&b, layer, &m->params, names, fn);
    return st ? st : ad_model_push_block(m, &b);
}

static adapt_status add_head(adapt_model *m, const adapt_vit_params *p, const char *fn)
{
    ad_block b;
    ad_dims in = ad_model_tail(m);
    ad_block_start(&b, ADAPT_LAYER_LINEAR, &in);
    adapt_layer_params norm = {.kind = ADAPT_LAYER_LAYERNORM};
    adapt_layer_params pick = {.kind = ADAPT_LAYER_CLASS_TOKEN};
    adapt_layer_params head = {.kind = ADAPT_LAYER_LINEAR, .out_features = p->n_classes};
    adapt_status st = ad_block_add(&b, &norm, &m->params, &(ad_layer_names){.prefix = "norm."},
                                   fn);
    if (!st)
        st = ad_block_add(&b, &pick, &m->params, &(ad_layer_names){.prefix = "pick."}, fn);
    if (!st)
        st = ad_block_add(&b, &head, &m->params, &(ad_layer_names){.prefix = "head."}, fn);
    return st ? st : ad_model_push_block(m, &b);
}

static adapt_status add_blocks(adapt_model *m, const adapt_vit_params *p, const char *fn)
{
    adapt_layer_params embed = {.kind = ADAPT_LAYER_PATCH_EMBED, .out_features = p->dim,
                                .kernel = p->patch};
    adapt_status st = ad_model_check_blocks(m, (int64_t)p->depth + 2);
    if (!st)
        st = add_single(m, &embed, &(ad_layer_names){"patch_embed.", "", false}, fn);
    adapt_layer_params block = {.kind = ADAPT_LAYER_TRANSFORMER_BLOCK, .heads = p->heads,
                                .mlp_ratio = p->mlp_ratio, .p = p->dropout};
    for (int32_t i = 0; i < p->depth && !st; i++) {
        char prefix[AD_PREFIX_MAX];
        snprintf(prefix, sizeof prefix, "blocks.%d.", (int)i);
        st = add_single(m, &block, &(ad_layer_names){.prefix = prefix}, fn);
    }
    return st ? st : add_head(m, p, fn);
}

adapt_status ad_build_vit(adapt_model **out, const adapt_vit_params *p,
                          int64_t max_values)
{
    const char *fn = "adapt_model_create_vit";
    adapt_status st = check_vit(p, fn);
    adapt_model *m = NULL;
    ad_dims input = ad_dims3(p->in_channels, p->image_size, p->image_size);
    if (!st)
        st = ad_model_new(&m, AD_ARCH_VIT, &input, p->seed, max_values);
    if (!st)
        st = add_blocks(m, p, fn);
    if (!st)
        st = ad_describe_vit(m, p);
    if (st) {
        adapt_model_free(m);
        return st;
    }
    *out = m;
    return ADAPT_OK;
}

adapt_status adapt_model_create_vit(adapt_model **out, const adapt_vit_params *params)
{
    const char *fn = "adapt_model_create_vit";
    adapt_vit_params p;
    adapt_vit_params_init(&p, sizeof p);
    if (!out)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: out is NULL", fn);
    adapt_status st = ad_read_struct(&p, sizeof p, params, "adapt_vit_params", fn);
    /* The model builders beneath cannot name the caller. */
    return st ? st : ad_prefix(ad_build_vit(out, &p, INT64_MAX), fn);
}
