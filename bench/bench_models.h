/* The models the benchmarks compare with their peers (bench/peers/torch_models.py builds the
 * same): their construction, input shapes and synthetic inputs. Header-only.
 *   mlp        784-1024-1024-1024-10, ReLU, no dropout
 *   vit        32x32x3 images, patch 4, dim 192, depth 6, 3 heads, mlp_ratio 4, 10 classes
 *   vit12      the same with depth 12
 *   vit-large  the same with dim 384, depth 12, 6 heads */
#ifndef BENCH_MODELS_H
#define BENCH_MODELS_H

#include <stdlib.h>
#include <string.h>

#include "adapt.h"

enum { MLP_INPUTS = 784, IMAGE_SIZE = 32, CHANNELS = 3, CLASSES = 10 };

static inline int bench_model_known(const char *name)
{
    return !strcmp(name, "mlp") || !strcmp(name, "vit") || !strcmp(name, "vit12") ||
           !strcmp(name, "vit-large");
}

static inline adapt_status bench_create_model(adapt_model **model, const char *name)
{
    if (!strcmp(name, "mlp")) {
        const int64_t sizes[] = {MLP_INPUTS, 1024, 1024, 1024, CLASSES};
        adapt_mlp_params p;
        adapt_mlp_params_init(&p, sizeof p);
        p.n_sizes = 5;
        p.sizes = sizes;
        p.activation = ADAPT_ACTIVATION_RELU;
        p.dropout = 0.0f;
        return adapt_model_create_mlp(model, &p);
    }
    const int large = !strcmp(name, "vit-large"), deep = large || !strcmp(name, "vit12");
    adapt_vit_params p;
    adapt_vit_params_init(&p, sizeof p);
    p.image_size = IMAGE_SIZE, p.in_channels = CHANNELS, p.patch = 4;
    p.dim = large ? 384 : 192, p.depth = deep ? 12 : 6, p.heads = large ? 6 : 3;
    p.mlp_ratio = 4.0f, p.n_classes = CLASSES, p.dropout = 0.0f;
    return adapt_model_create_vit(model, &p);
}

/* Shape of a batch of `batch` model inputs; returns the rank. */
static inline int32_t bench_input_shape(int64_t *shape, const char *model, int64_t batch)
{
    shape[0] = batch;
    if (!strcmp(model, "mlp")) {
        shape[1] = MLP_INPUTS;
        return 2;
    }
    shape[1] = CHANNELS, shape[2] = IMAGE_SIZE, shape[3] = IMAGE_SIZE;
    return 4;
}

static inline int64_t bench_numel(const int64_t *shape, int32_t ndim)
{
    int64_t n = 1;
    for (int32_t d = 0; d < ndim; d++)
        n *= shape[d];
    return n;
}

/* Pixel-like values in [0, 1). */
static inline float *bench_synthetic_inputs(int64_t count)
{
    float *x = malloc((size_t)count * sizeof *x);
    for (int64_t i = 0; x && i < count; i++)
        x[i] = (float)rand() / ((float)RAND_MAX + 1.0f);
    return x;
}

#endif
