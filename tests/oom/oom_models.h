/* The small models and data the out-of-memory workflows run on. */
#ifndef TESTS_OOM_MODELS_H
#define TESTS_OOM_MODELS_H

#include <stdint.h>

#include "adapt.h"

enum {
    OOM_IMAGE = 16,
    OOM_CHANNELS = 3,
    OOM_SAMPLE_VALUES = OOM_CHANNELS * OOM_IMAGE * OOM_IMAGE,
    OOM_SAMPLES = 32,
    OOM_WIDE = 1024,
    /* The MoE workflow's ViT and data: 1x8x8 images in 4x4 patches, 3 classes. */
    OOM_MOE_IMAGE = 8,
    OOM_MOE_SAMPLE_VALUES = OOM_MOE_IMAGE * OOM_MOE_IMAGE,
    OOM_MOE_SAMPLES = 16,
    OOM_MOE_TOKENS = (OOM_MOE_IMAGE / 4) * (OOM_MOE_IMAGE / 4) + 1, /* patches, class token */
    OOM_MOE_DIM = 8,
};

/* A two-stage CNN on [N, 3, 16, 16]; the same seed gives the same weights. */
adapt_status oom_cnn(adapt_model **out, uint64_t seed);
/* The CNN with an SDN head after block 1 and a pooled linear head after block 2. */
adapt_status oom_cnn_with_heads(adapt_model **out, uint64_t seed);
/* A two-block ViT on the same images. */
adapt_status oom_vit(adapt_model **out, uint64_t seed);
/* A small U-Net on [N, 1, 8, 8] giving scores [N, 2, 8, 8]: convolution, pooling, a
 * transposed convolution, the skip joined, a 1x1 convolution. */
adapt_status oom_unet(adapt_model **out, uint64_t seed);
/* A two-block ViT on [N, 1, 8, 8]: patch 4, dim 8, 2 heads, MLP ratio 4, 3 classes. */
adapt_status oom_small_vit(adapt_model **out, uint64_t seed);
/* An MLP on the flattened images; OOM_WIDE hidden units make it wide enough for
 * oneDNN's matmul primitive (at least 2^19 weights, 16 to 512 rows). */
adapt_status oom_mlp(adapt_model **out, uint64_t seed, int64_t hidden);

/* x[0..n) uniform in [-1, 1) from `seed`. */
void oom_fill(float *x, int64_t n, uint64_t seed);

/* OOM_SAMPLES images with labels 0..9 in turn, wrapping arrays returned in *x, *labels
 * (the caller frees them after the dataset). */
adapt_status oom_dataset(adapt_dataset **out, float **x, int32_t **labels);

/* OOM_MOE_SAMPLES images [1, 8, 8] with labels 0..2 in turn, as oom_dataset. */
adapt_status oom_small_dataset(adapt_dataset **out, float **x, int32_t **labels);

#endif
