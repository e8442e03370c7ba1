/* adapt_model_low_rank_tune: every linear layer of a model replaced by a low_rank_linear
 * module whose few trainable parameters are AXIS's singular values or LoRA's factors. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/core/error.h"
#include "lib/core/struct_io.h"
#include "lib/core/tensor.h"
#include "lib/models/model.h"
#include "lib/models/model_impl.h"
#include "lib/nn/layer.h"
#include "lib/nn/layer_kinds.h"
#include "lib/nn/linear.h"
#include "lib/transfer/merge.h"
#include "lib/linalg/svd.h"

static const char *const fn = "adapt_model_low_rank_tune";

void adapt_tune_params_init(adapt_tune_params *params, size_t size)
{
    static const adapt_tune_params defaults = {.method = ADAPT_TUNE_SINGULAR_VALUES,
                                               .keep_fraction = 0.1f,
                                               .trainable_fraction = 0.2f, .rank = 4,
                                               .alpha = 8.0f};
    ad_struct_init(params, size, &defaults, sizeof defaults);
}

static adapt_status read_params(adapt_tune_params *own, const adapt_tune_params *user)
{
    adapt_tune_params_init(own, sizeof *own);
    adapt_status st = ad_struct_read(own, sizeof *own, user, "adapt_tune_params", fn);
    if (st)
        return st;
    if (own->method < ADAPT_TUNE_SINGULAR_VALUES || own->method > ADAPT_TUNE_LORA)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: unknown method %d", fn,
                       (int)own->method);
    if (!(own->keep_fraction > 0.0f && own->keep_fraction <= 1.0f) ||
        !(own->trainable_fraction > 0.0f && own->trainable_fraction <= 1.0f))
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: keep_fraction %g and "
                       "trainable_fraction %g must be in (0, 1]", fn,
                       (double)own->keep_fraction, (double)own->trainable_fraction);
    if (own->rank < 1 || own->rank > INT32_MAX)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: rank %lld; must be >= 1", fn,
                       (long long)own->rank);
    if (!isfinite(own->alpha))
        return ad_fail(ADAPT_ERR_NONFINITE, "%s: alpha is %g", fn, (double)own->alpha);
    return ADAPT_OK;
}

/* A linear layer to replace: its path, its parameters' positions in the model, its module. */
typedef struct {
    const char *path;
    int32_t weight, bias;
    int64_t in, out;
    adapt_model *module;
} tuned_layer;

static int32_t param_index(const adapt_model *m, const char *path, const char *name)
{
    char full[AD_PREFIX_MAX + 16];
    snprintf(full, sizeof full, "%s.%s", path, name);
    for (int32_t i = 0; i < adapt_model_param_count(m); i++)
        if (!strcmp(adapt_model_param_name(m, i), full))
            return i;
    return -1;
}

/* The model's linear layers that no module replaces, with their parameters. */
static adapt_status find_linears(tuned_layer **out, int32_t *count, const adapt_model *m)
{
    int32_t layers = 0;
    for (int32_t b = 0; b < m->n_blocks; b++)
        layers += m->blocks[b].n_layers;
    *count = 0;
    *out = calloc((size_t)layers + 1, sizeof **out);
    if (!*out)
        return ad_fail(ADAPT_ERR_OUT_OF_MEMORY, "%s: no memory for the layer list", fn);
    for (int32_t b = 0; b < m->n_blocks; b++)
        for (int32_t j = 0; j < m->blocks[b].n_layers; j++) {
            const ad_layer *l = &m->blocks[b].layers[j];
            if (l->kind != &ad_kind_linear || l->replaced.module)
                continue;
            const ad_linear *lin = AD_LAYER_STATE(l, const ad_linear);
            tuned_layer *t = &(*out)[(*count)++];
            *t = (tuned_layer){l->path, param_index(m, l->path, "weight"),
                               param_index(m, l->path, "bias"), lin->in_features,
                               lin->out_features, NULL};
            if (t->weight < 0 || t->bias < 0)
                return ad_fail(ADAPT_ERR_INTERNAL, "%s: layer %s has no weight or bias", fn,
                               t->path);
        }
    if (*count == 0)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: the model has no linear layer", fn);
    return ADAPT_OK;
}

/* A one-layer module on [in]: low_rank_linear(out, rank). */
static adapt_status new_module(adapt_model **out, const tuned_layer *t, int64_t rank,
                               uint64_t seed)
{
    adapt_layer_params p;
    adapt_layer_params_init(&p, sizeof p);
    p.kind = ADAPT_LAYER_LOW_RANK_LINEAR, p.out_features = t->out, p.rank = rank;
    adapt_status st = adapt_model_create_sequential(out, 1, &t->in, seed);
    if (!st && (st = adapt_model_append(*out, &p))) {
        adapt_model_free(*out);
        *out = NULL;
    }
    return st;
}

/* The module's parameters, in the kind's order. */
enum { WEIGHT, BIAS, LEFT, SCALES, RIGHT, MODULE_PARAMS };

static float *values(adapt_model *module, int32_t k)
{
    return ad_model_param(module, k)->data;
}

static void set_trainable(adapt_tensor *t, bool on)
{
    if (on)
        t->flags |= AD_TENSOR_REQUIRES_GRAD;
    else
        t->flags &= ~(uint32_t)AD_TENSOR_REQUIRES_GRAD;
}

/* The pool replaced by the SVD of the matrix it sums: orthonormal vectors, the same sum. */
static adapt_status reorthogonalise(ad_components *pool, const char *name)
{
    const int64_t m = pool->m, n = pool->n, k = m < n ? m : n;
    double *sum = calloc((size_t)(m * n), sizeof *sum), *u = malloc((size_t)(m * k) * sizeof *u);
    double *s = malloc((size_t)k * sizeof *s), *vt = malloc((size_t)(k * n) * sizeof *vt);
    adapt_status st = sum && u && s && vt
                          ? ADAPT_OK
                          : ad_fail(ADAPT_ERR_OUT_OF_MEMORY, "%s: no memory for the SVD of %s",
                                    fn, name);
    for (int64_t j = 0; !st && j < pool->count; j++)
        for (int64_t r = 0; r < m; r++)
            for (int64_t c = 0; c < n; c++)
                sum[r * n + c] += pool->sigma[j] * pool->u[j * m + r] * pool->v[j * n + c];
    if (!st)
        st = ad_svd_thin(sum, m, n, u, s, vt, fn);
    for (int64_t j = 0; !st && j < pool->count; j++) { /* the sum has rank <= count */
        pool->sigma[j] = s[j];
        for (int64_t r = 0; r < m; r++)
            pool->u[j * m + r] = u[r * k + j];
        memcpy(pool->v + j * n, vt + j * n, (size_t)n * sizeof *vt);
    }
    free(sum), free(u), free(s), free(vt);
    return st;
}

/* The module of one layer from its pool: the first N components trainable through their
 * singular values, the rest folded into the frozen weight; `bias` the merged bias. */
static adapt_status singular_value_module(tuned_layer *t, const ad_components *pool,
                                          const float *base, const float *bias,
                                          const adapt_tune_params *p)
{
    int64_t n_train = llround(p->trainable_fraction * (double)pool->count);
    n_train = n_train < 1 ? 1 : n_train;
    adapt_status st = new_module(&t->module, t, n_train, 0);
    if (st)
        return st;
    float *w = values(t->module, WEIGHT), *left = values(t->module, LEFT);
    float *right = values(t->module, RIGHT), *scales = values(t->module, SCALES);
    for (int64_t r = 0; r < t->out; r++)
        for (int64_t c = 0; c < t->in; c++) {
            double sum = base[r * t->in + c];
            for (int64_t j = n_train; j < pool->count; j++)
                sum += pool->sigma[j] * pool->u[j * t->out + r] * pool->v[j * t->in + c];
            w[r * t->in + c] = (float)sum;
        }
    for (int64_t j = 0; j < n_train; j++) {
        scales[j] = p->zero_init ? 0.0f : (float)pool->sigma[j];
        for (int64_t r = 0; r < t->out; r++)
            left[r * n_train + j] = (float)pool->u[j * t->out + r];
        for (int64_t c = 0; c < t->in; c++)
            right[j * t->in + c] = (float)pool->v[j * t->in + c];
    }
    memcpy(values(t->module, BIAS), bias, (size_t)t->out * sizeof *bias);
    for (int32_t k = 0; k < MODULE_PARAMS; k++)
        set_trainable(ad_model_param(t->module, k), k == SCALES);
    return ADAPT_OK;
}

static adapt_status lora_module(tuned_layer *t, const float *weight, const float *bias,
                                const adapt_tune_params *p, uint64_t seed)
{
    adapt_status st = new_module(&t->module, t, p->rank, seed);
    if (st)
        return st;
    memcpy(values(t->module, WEIGHT), weight, (size_t)(t->out * t->in) * sizeof *weight);
    memcpy(values(t->module, BIAS), bias, (size_t)t->out * sizeof *bias);
    for (int64_t j = 0; j < p->rank; j++)
        values(t->module, SCALES)[j] = p->alpha / (float)p->rank;
    for (int32_t k = 0; k < MODULE_PARAMS; k++)
        set_trainable(ad_model_param(t->module, k), k == LEFT || k == RIGHT);
    return ADAPT_OK;
}

/* Every layer's module, from the merged (or base) values `flat` at offsets `at`; for singular
 * values the layer's pool also gives its merged weight in `flat`, which target_values()
 * left to it. */
static adapt_status build_modules(tuned_layer *layers, int32_t count, float *flat,
                                  const int64_t *at, const ad_merge_job *job,
                                  const adapt_tune_params *p)
{
    adapt_status st = ADAPT_OK;
    for (int32_t i = 0; i < count && !st; i++) {
        tuned_layer *t = &layers[i];
        const float *base = ad_model_param(job->base, t->weight)->data;
        if (p->method == ADAPT_TUNE_LORA) {
            st = lora_module(t, base, flat + at[t->bias], p, p->seed + (uint64_t)i);
            continue;
        }
        ad_components pool;
        if ((st = ad_axis_components(&pool, job, t->weight, t->out)))
            break;
        ad_components_write(flat + at[t->weight], base, &pool);
        if (!p->keep_pooled_basis)
            st = reorthogonalise(&pool, t->path);
        if (!st)
            st = singular_value_module(t, &pool, base, flat + at[t->bias], p);
        ad_components_free(&pool);
    }
    return st;
}

/* The flat values of the target's parameters and their offsets: the base's, or for singular
 * values AXIS's merge but for the layers' weights, which build_modules() pools. */
static adapt_status target_values(float **flat, int64_t **at, const ad_merge_job *job,
                                  const adapt_tune_params *p, const tuned_layer *layers,
                                  int32_t count)
{
    const int32_t n = adapt_model_param_count(job->base);
    *at = malloc(((size_t)n + 1) * sizeof **at);
    if (!*at)
        return ad_fail(ADAPT_ERR_OUT_OF_MEMORY, "%s: no memory for offsets", fn);
    (*at)[0] = 0;
    for (int32_t i = 0; i < n; i++)
        (*at)[i + 1] = (*at)[i] + ad_model_param(job->base, i)->numel;
    *flat = malloc((size_t)(*at)[n] * sizeof **flat);
    if (!*flat)
        return ad_fail(ADAPT_ERR_OUT_OF_MEMORY, "%s: no memory for %lld values", fn,
                       (long long)(*at)[n]);
    if (p->method == ADAPT_TUNE_SINGULAR_VALUES) {
        bool *pooled = calloc((size_t)n, sizeof *pooled);
        if (!pooled)
            return ad_fail(ADAPT_ERR_OUT_OF_MEMORY, "%s: no memory for %d flags", fn, (int)n);
        for (int32_t i = 0; i < count; i++)
            pooled[layers[i].weight] = true;
        adapt_status st = ad_merge_axis(*flat, job, pooled);
        free(pooled);
        return st;
    }
    for (int32_t i = 0; i < n; i++) {
        const adapt_tensor *t = ad_model_param(job->base, i);
        memcpy(*flat + (*at)[i], t->data, (size_t)t->numel * sizeof **flat);
    }
    return ADAPT_OK;
}

/* Writes the values, freezes every parameter and hands each layer its module. */
static adapt_status apply(adapt_model *target, tuned_layer *layers, int32_t count,
                          const float *flat, const int64_t *at)
{
    for (int32_t i = 0; i < adapt_model_param_count(target); i++) {
        adapt_tensor *t = ad_model_param(target, i);
        memcpy(t->data, flat + at[i], (size_t)t->numel * sizeof *flat);
        set_trainable(t, false);
    }
    adapt_status st = ADAPT_OK;
    for (int32_t i = 0; i < count && !st; i++)
        if (!(st = adapt_model_replace(target, layers[i].path, layers[i].module, NULL)))
            layers[i].module = NULL; /* the target's now */
    return st;
}

static adapt_status tune(adapt_model *target, const ad_merge_job *job, void *arg)
{
    const adapt_tune_params *p = arg;
    tuned_layer *layers = NULL;
    int32_t count = 0;
    float *flat = NULL;
    int64_t *at = NULL;
    adapt_status st = find_linears(&layers, &count, target);
    if (!st)
        st = target_values(&flat, &at, job, p, layers, count);
    if (!st)
        st = build_modules(layers, count, flat, at, job, p);
    if (!st)
        st = apply(target, layers, count, flat, at);
    for (int32_t i = 0; layers && i < count; i++)
        adapt_model_free(layers[i].module);
    free(layers), free(flat), free(at);
    return st;
}

adapt_status adapt_model_low_rank_tune(adapt_model *target, adapt_model *base,
                                       adapt_model *const *sources, int32_t n_sources,
                                       const adapt_tune_params *params)
{
    adapt_tune_params p;
    adapt_status st = read_params(&p, params);
    if (st)
        return st;
    const bool lora = p.method == ADAPT_TUNE_LORA;
    ad_merge_job job = {.base = base, .sources = lora ? NULL : sources,
                        .n_sources = lora ? 0 : n_sources, .min_sources = lora ? 0 : 1,
                        .fn = fn};
    adapt_merge_params_init(&job.p, sizeof job.p);
    job.p.keep_fraction = p.keep_fraction;
    return ad_merge_run(target, &job, tune, &p);
}
