/* libFuzzer target: adapt_model_load and adapt_model_load_weights (through their in-memory
 * twins) on arbitrary bytes. load_weights goes into a fixed small MLP, which must come out
 * either fully loaded or exactly as it was. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "adapt.h"
#include "lib/io/checkpoint.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The MLP of the corpus's load_weights seeds: sizes 4, 3, 2. */
static adapt_model *fixed_model(void)
{
    static adapt_model *model;
    if (!model) {
        adapt_mlp_params p;
        adapt_mlp_params_init(&p, sizeof p);
        p.n_sizes = 3;
        p.sizes = (const int64_t[]){4, 3, 2};
        p.seed = 1;
        if (adapt_model_create_mlp(&model, &p) != ADAPT_OK)
            abort();
    }
    return model;
}

/* Copies every parameter value into `out` (room for `cap`); returns the count. */
static size_t snapshot(const adapt_model *m, float *out, size_t cap)
{
    size_t n = 0;
    for (int32_t i = 0; i < adapt_model_param_count(m); i++) {
        const adapt_tensor *p = adapt_model_param(m, i);
        size_t count = (size_t)adapt_tensor_numel(p);
        if (n + count > cap)
            abort();
        memcpy(out + n, adapt_tensor_data(p), count * sizeof(float));
        n += count;
    }
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    adapt_model *loaded = NULL;
    if (ad_checkpoint_load_memory(&loaded, data, size) == ADAPT_OK)
        adapt_model_free(loaded);
    else if (loaded) /* untouched on error */
        abort();
    adapt_model *m = fixed_model();
    float before[64], after[64];
    size_t n = snapshot(m, before, 64);
    if (ad_checkpoint_load_weights_memory(m, data, size) != ADAPT_OK &&
        (snapshot(m, after, 64) != n || memcmp(before, after, n * sizeof(float)) != 0))
        abort();
    return 0;
}
