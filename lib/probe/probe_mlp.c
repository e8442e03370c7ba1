/* The MLP probe of one layer: a libadapt MLP width -> hidden -> 2, trained by Adam (AdamW
 * without weight decay) on the cross-entropy, scored in a private context. */
#include "lib/core/error.h"
#include "lib/kernels/row_reduce.h"
#include "lib/probe/probe.h"

#define SCORE_BATCH 256

adapt_status ad_probe_mlp_fit(ad_probe_layer *layer, const float *x, int64_t n,
                              const int32_t *labels, const adapt_probe_params *params,
                              const char *fn)
{
    const int64_t sizes[] = {layer->width, params->hidden, 2}, shape[] = {n, layer->width};
    adapt_mlp_params mp;
    adapt_mlp_params_init(&mp, sizeof mp);
    mp.n_sizes = 3, mp.sizes = sizes, mp.seed = params->seed;
    adapt_train_params tp;
    adapt_train_params_init(&tp, sizeof tp);
    tp.epochs = params->epochs, tp.optimizer = ADAPT_OPTIMIZER_ADAMW;
    tp.learning_rate = (float)params->learning_rate, tp.weight_decay = 0.0f;
    tp.seed = params->seed, tp.n_threads = params->n_threads;
    adapt_dataset *data = NULL;
    adapt_status st = adapt_model_create_mlp(&layer->mlp, &mp);
    if (!st)
        st = adapt_dataset_wrap(&data, x, 2, shape, labels);
    if (!st)
        st = adapt_model_train(layer->mlp, data, NULL, &tp);
    adapt_dataset_free(data);
    return ad_prefix(st, fn);
}

/* p_i = softmax(logits_i)_1 = sigmoid(z_1 - z_0) of each row of x, in batches. */
adapt_status ad_probe_mlp_score(const ad_probe_layer *layer, int32_t n_threads, float *p,
                                int64_t stride, const float *x, int64_t n, const char *fn)
{
    adapt_context_params cp;
    adapt_context_params_init(&cp, sizeof cp);
    cp.n_threads = n_threads;
    adapt_context *ctx = NULL;
    adapt_status st = adapt_context_create(&ctx, &cp);
    for (int64_t start = 0; start < n && !st; start += SCORE_BATCH) {
        const int64_t rows = n - start < SCORE_BATCH ? n - start : SCORE_BATCH;
        const int64_t shape[] = {rows, layer->width};
        adapt_tensor *in = NULL, *logits = NULL;
        st = adapt_tensor_input(&in, ctx, 2, shape, x + start * layer->width);
        if (!st)
            st = adapt_model_forward(&logits, ctx, layer->mlp, in);
        const float *z = st ? NULL : adapt_tensor_data(logits);
        for (int64_t i = 0; i < rows && z; i++)
            p[(start + i) * stride] = (float)ad_sigmoid((double)z[2 * i + 1] - z[2 * i]);
        adapt_context_reset(ctx);
    }
    adapt_context_free(ctx);
    return ad_prefix(st, fn);
}
