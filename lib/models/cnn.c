/* ResNet-style CNN (docs/models.md has its PyTorch twin): a stem block (3x3 conv, batch norm,
 * ReLU), one block per residual basic block, and a head block (global average pooling and the
 * linear classifier "fc"). */
#include <stdio.h>

#include "lib/core/error.h"
#include "lib/core/struct_io.h"
#include "lib/models/model_impl.h"

void adapt_cnn_params_init(adapt_cnn_params *params, size_t size)
{
    /* No default stages: n_stages and the three arrays must come together from the caller. */
    static const adapt_cnn_params defaults = {.in_channels = 3, .image_size = 32, .n_classes = 10,
                                              .stem_channels = 16};
    ad_struct_init(params, size, &defaults, sizeof defaults);
}

static adapt_status check_positive(int64_t value, const char *what, int32_t stage,
                                   const char *fn)
{
    if (value >= 1)
        return ADAPT_OK;
    if (stage < 0)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: %s = %lld must be >= 1", fn, what,
                       (long long)value);
    return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: %s[%d] = %lld must be >= 1", fn, what,
                   (int)stage, (long long)value);
}

static adapt_status check_cnn(const adapt_cnn_params *p, const char *fn)
{
    adapt_status st = check_positive(p->in_channels, "in_channels", -1, fn);
    if (!st)
        st = check_positive(p->image_size, "image_size", -1, fn);
    if (!st)
        st = check_positive(p->n_classes, "n_classes", -1, fn);
    if (!st)
        st = check_positive(p->stem_channels, "stem_channels", -1, fn);
    if (!st)
        st = check_positive(p->n_stages, "n_stages", -1, fn);
    if (st)
        return st;
    if (!p->stage_channels || !p->stage_blocks || !p->stage_strides)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: stage_%s is NULL", fn,
                       !p->stage_channels ? "channels" : !p->stage_blocks ? "blocks" : "strides");
    for (int32_t s = 0; s < p->n_stages && !st; s++) {
        st = check_positive(p->stage_channels[s], "stage_channels", s, fn);
        if (!st)
            st = check_positive(p->stage_blocks[s], "stage_blocks", s, fn);
        if (!st)
            st = check_positive(p->stage_strides[s], "stage_strides", s, fn);
    }
    return st;
}

static adapt_status add_stem(adapt_model *m, const adapt_cnn_params *p, const char *fn)
{
    ad_block b;
    ad_block_start(&b, ADAPT_LAYER_CONV2D, &m->input);
    adapt_layer_params conv = {.kind = ADAPT_LAYER_CONV2D, .out_features = p->stem_channels,
                               .kernel = 3, .stride = 1, .padding = 1};
    adapt_layer_params bn = {.kind = ADAPT_LAYER_BATCHNORM2D};
    adapt_layer_params relu = {.kind = ADAPT_LAYER_RELU};
    adapt_status st = ad_block_add(&b, &conv, &m->params,
                                   &(ad_layer_names){"stem.0.", NULL, true}, fn);
    if (!st)
        st = ad_block_add(&b, &bn, &m->params, &(ad_layer_names){.prefix = "stem.1."}, fn);
    if (!st)
        st = ad_block_add(&b, &relu, &m->params, &(ad_layer_names){.prefix = "stem.2."}, fn);
    return st ? st : ad_model_push_block(m, &b);
}

static adapt_status add_residual(adapt_model *m, int32_t stage, int32_t index, int64_t channels,
                                 int32_t stride, const char *fn)
{
    char prefix[AD_PREFIX_MAX];
    snprintf(prefix, sizeof prefix, "stages.%d.%d.", (int)stage, (int)index);
    adapt_layer_params layer = {.kind = ADAPT_LAYER_RESIDUAL_BLOCK, .out_features = channels,
                                .stride = stride};
    ad_block b;
    ad_dims in = ad_model_tail(m);
    ad_block_start(&b, ADAPT_LAYER_RESIDUAL_BLOCK, &in);
    adapt_status st = ad_block_add(&b, &layer, &m->params, &(ad_layer_names){.prefix = prefix},
                                   fn);
    return st ? st : ad_model_push_block(m, &b);
}

static adapt_status add_head(adapt_model *m, const adapt_cnn_params *p, const char *fn)
{
    ad_block b;
    ad_dims in = ad_model_tail(m);
    ad_block_start(&b, ADAPT_LAYER_LINEAR, &in);
    adapt_layer_params pool = {.kind = ADAPT_LAYER_GLOBAL_AVGPOOL};
    adapt_layer_params fc = {.kind = ADAPT_LAYER_LINEAR, .out_features = p->n_classes};
    adapt_status st = ad_block_add(&b, &pool, &m->params, &(ad_layer_names){.prefix = "pool."},
                                   fn);
    if (!st)
        st = ad_block_add(&b, &fc, &m->params, &(ad_layer_names){.prefix = "fc."}, fn);
    return st ? st : ad_model_push_block(m, &b);
}

static adapt_status add_blocks(adapt_model *m, const adapt_cnn_params *p, const char *fn)
{
    int64_t blocks = 2; /* stem and head */
    for (int32_t s = 0; s < p->n_stages; s++)
        blocks += p->stage_blocks[s];
    adapt_status st = ad_model_check_blocks(m, blocks);
    if (!st)
        st = add_stem(m, p, fn);
    for (int32_t s = 0; s < p->n_stages && !st; s++)
        for (int32_t i = 0; i < p->stage_blocks[s] && !st; i++)
            st = add_residual(m, s, i, p->stage_channels[s], i ? 1 : p->stage_strides[s], fn);
    return st ? st : add_head(m, p, fn);
}

adapt_status ad_build_cnn(adapt_model **out, const adapt_cnn_params *p,
                          int64_t max_values)
{
    const char *fn = "adapt_model_create_cnn";
    adapt_status st = check_cnn(p, fn);
    adapt_model *m = NULL;
    ad_dims input = ad_dims3(p->in_channels, p->image_size, p->image_size);
    if (!st)
        st = ad_model_new(&m, AD_ARCH_CNN, &input, p->seed, max_values);
    if (!st)
        st = add_blocks(m, p, fn);
    if (!st)
        st = ad_describe_cnn(m, p);
    if (st) {
        adapt_model_free(m);
        return st;
    }
    *out = m;
    return ADAPT_OK;
}

adapt_status adapt_model_create_cnn(adapt_model **out, const adapt_cnn_params *params)
{
    const char *fn = "adapt_model_create_cnn";
    adapt_cnn_params p;
    adapt_cnn_params_init(&p, sizeof p);
    if (!out)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: out is NULL", fn);
    adapt_status st = ad_read_struct(&p, sizeof p, params, "adapt_cnn_params", fn);
    /* The model builders beneath cannot name the caller. */
    return st ? st : ad_prefix(ad_build_cnn(out, &p, INT64_MAX), fn);
}
