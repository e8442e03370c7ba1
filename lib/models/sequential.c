/* The custom sequential builder: every appended layer is one block, its parameters named
 * "<block index>.<name>" as an nn.Sequential of the equivalent modules would name them. */
#include <stdio.h>

#include "lib/core/error.h"
#include "lib/core/struct_io.h"
#include "lib/models/join.h"
#include "lib/models/model_impl.h"

void adapt_layer_params_init(adapt_layer_params *params, size_t size)
{
    static const adapt_layer_params defaults = {.kind = ADAPT_LAYER_LINEAR, .kernel = 3,
                                                .stride = 1, .heads = 1, .mlp_ratio = 4.0f,
                                                .experts = 1, .router_width = 128,
                                                .top_k = 1, .learners = 4, .gate_width = 16,
                                                .scale = 2};
    ad_struct_init(params, size, &defaults, sizeof defaults);
}

adapt_status ad_build_sequential(adapt_model **out, int32_t input_ndim,
                                 const int64_t *input_shape, uint64_t seed, int64_t max_values)
{
    const char *fn = "adapt_model_create_sequential";
    if (!out)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: out is NULL", fn);
    if (input_ndim < 1 || input_ndim >= ADAPT_MAX_DIMS)
        return ad_fail(ADAPT_ERR_SHAPE, "%s: input_ndim %d outside [1, %d]", fn,
                       (int)input_ndim, ADAPT_MAX_DIMS - 1);
    if (!input_shape)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: input_shape is NULL", fn);
    ad_dims input = {.ndim = input_ndim};
    for (int32_t i = 0; i < input_ndim; i++) {
        if (input_shape[i] < 1)
            return ad_fail(ADAPT_ERR_SHAPE, "%s: input_shape[%d] = %lld must be >= 1", fn,
                           (int)i, (long long)input_shape[i]);
        input.d[i] = input_shape[i];
    }
    if (ad_dims_numel(&input) == INT64_MAX)
        return ad_fail(ADAPT_ERR_OVERFLOW, "%s: input_shape has too many values", fn);
    adapt_model *m = NULL;
    adapt_status st = ad_model_new(&m, AD_ARCH_SEQUENTIAL, &input, seed, max_values);
    if (!st)
        st = ad_describe_sequential(m);
    if (st) {
        adapt_model_free(m);
        return st;
    }
    *out = m;
    return ADAPT_OK;
}

adapt_status adapt_model_create_sequential(adapt_model **out, int32_t input_ndim,
                                           const int64_t *input_shape, uint64_t seed)
{
    /* The model builders beneath cannot name the caller. */
    return ad_prefix(ad_build_sequential(out, input_ndim, input_shape, seed, INT64_MAX),
                     "adapt_model_create_sequential");
}

static adapt_status append(adapt_model *model, const adapt_layer_params *layer, const char *fn)
{
    if (model->arch != AD_ARCH_SEQUENTIAL)
        return ad_fail(ADAPT_ERR_STATE, "%s: only sequential models take appended layers", fn);
    if (model->n_attached) /* a new last block would change the exits heads were made for */
        return ad_fail(ADAPT_ERR_STATE, "%s: remove the model's heads before appending", fn);
    if (model->owner) /* its output shape is the replaced submodule's */
        return ad_fail(ADAPT_ERR_STATE, "%s: the model replaces a submodule of another", fn);
    if (model->n_replaced) /* the description is rebuilt from the layers alone */
        return ad_fail(ADAPT_ERR_STATE, "%s: put the model's replaced submodules back before "
                       "appending", fn);
    adapt_layer_params p;
    adapt_layer_params_init(&p, sizeof p);
    adapt_status st = ad_read_struct(&p, sizeof p, layer, "adapt_layer_params", fn);
    if (st)
        return st;
    char prefix[AD_PREFIX_MAX];
    snprintf(prefix, sizeof prefix, "%d.", (int)model->n_blocks);
    const int32_t n_params = model->params.count;
    ad_block b;
    ad_dims in;
    int32_t join;
    st = ad_join_input(&in, &join, model, &p, fn);
    if (st)
        return st;
    ad_block_start(&b, p.kind, &in);
    b.join = join;
    st = ad_block_add(&b, &p, &model->params, &(ad_layer_names){.prefix = prefix}, fn);
    if (!st)
        st = ad_model_push_block(model, &b);
    if (st) {
        ad_params_truncate(&model->params, n_params);
        return st;
    }
    st = ad_describe_sequential(model);
    if (st) { /* keep the model and its description in step */
        model->n_blocks--;
        ad_params_truncate(&model->params, n_params);
    }
    return st;
}

adapt_status adapt_model_append(adapt_model *model, const adapt_layer_params *layer)
{
    const char *fn = "adapt_model_append";
    if (!model)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: model is NULL", fn);
    ad_hold hold;
    adapt_status st = ad_model_enter(&hold, model, AD_WRITE, fn);
    if (!st)
        st = append(model, layer, fn);
    ad_busy_leave(&hold);
    return ad_prefix(st, fn); /* the model builders cannot name the caller */
}
