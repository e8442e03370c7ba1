/* The small models and data the out-of-memory workflows run on. */
#include "oom_models.h"

#include <stdlib.h>

static const int32_t cnn_channels[] = {8, 16}, cnn_blocks[] = {1, 1}, cnn_strides[] = {1, 2};

adapt_status oom_cnn(adapt_model **out, uint64_t seed)
{
    adapt_cnn_params p;
    adapt_cnn_params_init(&p, sizeof p);
    p.image_size = OOM_IMAGE;
    p.stem_channels = 8;
    p.n_stages = 2;
    p.stage_channels = cnn_channels;
    p.stage_blocks = cnn_blocks;
    p.stage_strides = cnn_strides;
    p.seed = seed;
    return adapt_model_create_cnn(out, &p);
}

adapt_status oom_cnn_with_heads(adapt_model **out, uint64_t seed)
{
    adapt_status st = oom_cnn(out, seed);
    for (int32_t block = 1; !st && block <= 2; block++) {
        adapt_head_params hp;
        adapt_head_params_init(&hp, sizeof hp);
        hp.kind = block == 1 ? ADAPT_HEAD_SDN : ADAPT_HEAD_POOLED_LINEAR;
        hp.block = block;
        hp.seed = seed + (uint64_t)block;
        adapt_head *head = NULL;
        st = adapt_head_create(&head, *out, &hp);
        if (!st)
            st = adapt_model_add_head(*out, head, NULL);
        if (st)
            adapt_head_free(head);
    }
    if (st) {
        adapt_model_free(*out);
        *out = NULL;
    }
    return st;
}

adapt_status oom_vit(adapt_model **out, uint64_t seed)
{
    adapt_vit_params p;
    adapt_vit_params_init(&p, sizeof p);
    p.image_size = OOM_IMAGE;
    p.patch = 4;
    p.dim = 32;
    p.depth = 2;
    p.heads = 2;
    p.seed = seed;
    return adapt_model_create_vit(out, &p);
}

adapt_status oom_small_vit(adapt_model **out, uint64_t seed)
{
    adapt_vit_params p;
    adapt_vit_params_init(&p, sizeof p);
    p.image_size = OOM_MOE_IMAGE;
    p.in_channels = 1;
    p.patch = 4;
    p.dim = OOM_MOE_DIM;
    p.depth = 2;
    p.heads = 2;
    p.mlp_ratio = 4.0f;
    p.n_classes = 3;
    p.seed = seed;
    return adapt_model_create_vit(out, &p);
}

/* Appends one layer of `kind` to m (NULL after an earlier failure: nothing). */
static adapt_status add_layer(adapt_model *m, adapt_status st, adapt_layer_kind kind,
                              int64_t out, int32_t kernel, int32_t stride, int32_t padding)
{
    adapt_layer_params p;
    adapt_layer_params_init(&p, sizeof p);
    p.kind = kind, p.out_features = out, p.kernel = kernel, p.stride = stride;
    p.padding = padding, p.source = 0;
    return st ? st : adapt_model_append(m, &p);
}

adapt_status oom_unet(adapt_model **out, uint64_t seed)
{
    adapt_model *m = NULL;
    adapt_status st = adapt_model_create_sequential(
        &m, 3, (const int64_t[]){1, OOM_MOE_IMAGE, OOM_MOE_IMAGE}, seed);
    st = add_layer(m, st, ADAPT_LAYER_CONV2D, 4, 3, 1, 1);
    st = add_layer(m, st, ADAPT_LAYER_MAXPOOL2D, 0, 2, 2, 0);
    st = add_layer(m, st, ADAPT_LAYER_CONV_TRANSPOSE2D, 4, 2, 2, 0);
    st = add_layer(m, st, ADAPT_LAYER_CONCAT, 0, 3, 1, 0); /* joins block 0 */
    st = add_layer(m, st, ADAPT_LAYER_CONV2D, 2, 1, 1, 0);
    if (st) {
        adapt_model_free(m);
        return st;
    }
    *out = m;
    return ADAPT_OK;
}

adapt_status oom_mlp(adapt_model **out, uint64_t seed, int64_t hidden)
{
    const int64_t sizes[] = {OOM_SAMPLE_VALUES, hidden, 10};
    adapt_mlp_params p;
    adapt_mlp_params_init(&p, sizeof p);
    p.n_sizes = 3;
    p.sizes = sizes;
    p.seed = seed;
    return adapt_model_create_mlp(out, &p);
}

void oom_fill(float *x, int64_t n, uint64_t seed)
{
    uint64_t s = seed * 6364136223846793005u + 1442695040888963407u;
    for (int64_t i = 0; i < n; i++) {
        s = s * 6364136223846793005u + 1442695040888963407u;
        x[i] = (float)(s >> 40) / (float)(1u << 24) * 2.0f - 1.0f;
    }
}

adapt_status oom_dataset(adapt_dataset **out, float **x, int32_t **labels)
{
    const int64_t shape[] = {OOM_SAMPLES, OOM_CHANNELS, OOM_IMAGE, OOM_IMAGE};
    *x = malloc(OOM_SAMPLES * OOM_SAMPLE_VALUES * sizeof **x);
    *labels = malloc(OOM_SAMPLES * sizeof **labels);
    if (!*x || !*labels)
        return ADAPT_ERR_OUT_OF_MEMORY;
    oom_fill(*x, OOM_SAMPLES * OOM_SAMPLE_VALUES, 7);
    for (int32_t i = 0; i < OOM_SAMPLES; i++)
        (*labels)[i] = i % 10;
    return adapt_dataset_wrap(out, *x, 4, shape, *labels);
}

adapt_status oom_small_dataset(adapt_dataset **out, float **x, int32_t **labels)
{
    const int64_t shape[] = {OOM_MOE_SAMPLES, 1, OOM_MOE_IMAGE, OOM_MOE_IMAGE};
    *x = malloc(OOM_MOE_SAMPLES * OOM_MOE_SAMPLE_VALUES * sizeof **x);
    *labels = malloc(OOM_MOE_SAMPLES * sizeof **labels);
    if (!*x || !*labels)
        return ADAPT_ERR_OUT_OF_MEMORY;
    oom_fill(*x, OOM_MOE_SAMPLES * OOM_MOE_SAMPLE_VALUES, 13);
    for (int32_t i = 0; i < OOM_MOE_SAMPLES; i++)
        (*labels)[i] = i % 3;
    return adapt_dataset_wrap(out, *x, 4, shape, *labels);
}
