/* Multi-layer perceptron, the twin of an nn.Sequential of Linear, activation and Dropout
 * modules (docs/models.md): each linear layer with what follows it is one block. */
#include <math.h>
#include <stdio.h>

#include "lib/core/error.h"
#include "lib/core/struct_io.h"
#include "lib/models/model_impl.h"

void adapt_mlp_params_init(adapt_mlp_params *params, size_t size)
{
    /* No default sizes: n_sizes and sizes must come together from the caller. */
    static const adapt_mlp_params defaults = {.activation = ADAPT_ACTIVATION_RELU};
    ad_struct_init(params, size, &defaults, sizeof defaults);
}

static adapt_status check_mlp(const adapt_mlp_params *p, const char *fn)
{
    if (p->n_sizes < 2 || !p->sizes)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: %s", fn,
                       p->sizes ? "n_sizes must be >= 2 (input and classes)" : "sizes is NULL");
    for (int32_t i = 0; i < p->n_sizes; i++)
        if (p->sizes[i] < 1)
            return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: sizes[%d] = %lld must be >= 1", fn,
                           (int)i, (long long)p->sizes[i]);
    if (p->activation != ADAPT_ACTIVATION_RELU && p->activation != ADAPT_ACTIVATION_GELU)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: unknown activation %d", fn,
                       (int)p->activation);
    if (!isfinite(p->dropout))
        return ad_fail(ADAPT_ERR_NONFINITE, "%s: dropout is not finite", fn);
    if (p->dropout < 0.0f || p->dropout >= 1.0f)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: dropout %g is outside [0, 1)", fn,
                       (double)p->dropout);
    return ADAPT_OK;
}

/* Adds layer `kind` to the block under nn.Sequential index *index, then advances it. */
static adapt_status add_module(ad_block *b, adapt_model *m, adapt_layer_params *layer,
                               int32_t *index, const char *fn)
{
    char prefix[AD_PREFIX_MAX];
    snprintf(prefix, sizeof prefix, "%d.", (int)(*index)++);
    ad_layer_names names = {.prefix = prefix};
    return ad_block_add(b, layer, &m->params, &names, fn);
}

static adapt_status add_blocks(adapt_model *m, const adapt_mlp_params *p, const char *fn)
{
    adapt_status st = ADAPT_OK;
    int32_t index = 0;
    for (int32_t i = 0; i + 1 < p->n_sizes && !st; i++) {
        const bool hidden = i + 2 < p->n_sizes;
        ad_block b;
        ad_dims in = ad_model_tail(m);
        ad_block_start(&b, ADAPT_LAYER_LINEAR, &in);
        adapt_layer_params layer = {.kind = ADAPT_LAYER_LINEAR, .out_features = p->sizes[i + 1]};
        st = add_module(&b, m, &layer, &index, fn);
        layer = (adapt_layer_params){.kind = p->activation == ADAPT_ACTIVATION_GELU
                                                 ? ADAPT_LAYER_GELU : ADAPT_LAYER_RELU};
        if (!st && hidden)
            st = add_module(&b, m, &layer, &index, fn);
        layer = (adapt_layer_params){.kind = ADAPT_LAYER_DROPOUT, .p = p->dropout};
        if (!st && hidden && p->dropout > 0.0f)
            st = add_module(&b, m, &layer, &index, fn);
        if (!st)
            st = ad_model_push_block(m, &b);
    }
    return st;
}

adapt_status ad_build_mlp(adapt_model **out, const adapt_mlp_params *p,
                          int64_t max_values)
{
    const char *fn = "adapt_model_create_mlp";
    adapt_status st = check_mlp(p, fn);
    adapt_model *m = NULL;
    if (!st)
        st = ad_model_new(&m, AD_ARCH_MLP, &(ad_dims){1, {p->sizes[0]}}, p->seed,
                          max_values);
    if (!st)
        st = add_blocks(m, p, fn);
    if (!st)
        st = ad_describe_mlp(m, p);
    if (st) {
        adapt_model_free(m);
        return st;
    }
    *out = m;
    return ADAPT_OK;
}

adapt_status adapt_model_create_mlp(adapt_model **out, const adapt_mlp_params *params)
{
    const char *fn = "adapt_model_create_mlp";
    adapt_mlp_params p;
    adapt_mlp_params_init(&p, sizeof p);
    if (!out)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: out is NULL", fn);
    adapt_status st = ad_read_struct(&p, sizeof p, params, "adapt_mlp_params", fn);
    /* The model builders beneath cannot name the caller. */
    return st ? st : ad_prefix(ad_build_mlp(out, &p, INT64_MAX), fn);
}
