/* SGD and AdamW, written to follow torch.optim step by step (same operation order, float32
 * element arithmetic, scalar factors formed in double as Python forms them), so that a run
 * here and the same run in PyTorch agree to rounding. */
#include "lib/train/optimizer.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lib/core/error.h"
#include "lib/core/tensor.h"
#include "lib/kernels/row_reduce.h"

struct ad_optimizer {
    ad_optim_config config;
    adapt_tensor **params;
    int32_t count;
    float **first;  /* SGD momentum buffer / AdamW exp_avg; NULL entries without state */
    float **second; /* AdamW exp_avg_sq */
    int64_t *steps; /* updates applied to each parameter (AdamW bias correction) */
    float *storage; /* every state buffer, zero-initialised */
};

/* State buffers per parameter: SGD with momentum 1, AdamW 2, plain SGD none. */
static int32_t state_per_param(const ad_optim_config *c)
{
    if (c->kind == ADAPT_OPTIMIZER_ADAMW)
        return 2;
    return c->momentum != 0.0f ? 1 : 0;
}

static adapt_status allocate(ad_optimizer *opt, int32_t count, int64_t values)
{
    opt->params = calloc((size_t)count + 1, sizeof *opt->params);
    opt->first = calloc((size_t)count + 1, sizeof *opt->first);
    opt->second = calloc((size_t)count + 1, sizeof *opt->second);
    opt->steps = calloc((size_t)count + 1, sizeof *opt->steps);
    opt->storage = calloc((size_t)values + 1, sizeof *opt->storage);
    if (opt->params && opt->first && opt->second && opt->steps && opt->storage)
        return ADAPT_OK;
    return ad_fail(ADAPT_ERR_OUT_OF_MEMORY, "optimizer: no memory for %lld state values",
                   (long long)values);
}

adapt_status ad_optimizer_create(ad_optimizer **out, const ad_optim_config *config,
                                 adapt_tensor *const *params, int32_t count)
{
    const int32_t per_param = state_per_param(config);
    int64_t values = 0;
    for (int32_t i = 0; i < count; i++) {
        if (params[i]->numel > (INT64_MAX / (int64_t)sizeof(float) - values) / 2)
            return ad_fail(ADAPT_ERR_OVERFLOW, "optimizer: too many parameter values");
        values += per_param * params[i]->numel;
    }
    ad_optimizer *opt = calloc(1, sizeof *opt);
    adapt_status st = opt ? allocate(opt, count, values)
                          : ad_fail(ADAPT_ERR_OUT_OF_MEMORY, "optimizer: no memory");
    if (st) {
        ad_optimizer_free(opt);
        return st;
    }
    opt->config = *config;
    opt->count = count;
    float *next = opt->storage;
    for (int32_t i = 0; i < count; i++) {
        opt->params[i] = params[i];
        if (per_param >= 1)
            opt->first[i] = next, next += params[i]->numel;
        if (per_param == 2)
            opt->second[i] = next, next += params[i]->numel;
    }
    *out = opt;
    return ADAPT_OK;
}

void ad_optimizer_free(ad_optimizer *opt)
{
    if (!opt)
        return;
    free(opt->params);
    free(opt->first);
    free(opt->second);
    free(opt->steps);
    free(opt->storage);
    free(opt);
}

/* torch.optim.SGD, dampening 0: d = g + wd * p; buf = momentum * buf + d (buf starts at 0,
 * which makes the first step buf = d exactly); d = nesterov ? d + momentum * buf : buf. */
static void sgd_update(float *restrict p, const float *restrict g, float *restrict buf,
                       int64_t n, float lr, const ad_optim_config *c)
{
    const float wd = c->weight_decay, mom = c->momentum;
    if (!buf) {
        for (int64_t i = 0; i < n; i++)
            p[i] -= lr * (g[i] + wd * p[i]);
        return;
    }
    for (int64_t i = 0; i < n; i++) {
        const float d = g[i] + wd * p[i];
        const float b = mom * buf[i] + d;
        buf[i] = b;
        p[i] -= lr * (c->nesterov ? d + mom * b : b);
    }
}

/* torch.lerp's two-sided formula, exact at both ends. */
static inline float lerp(float from, float to, float w)
{
    return w < 0.5f ? from + w * (to - from) : to - (to - from) * (1.0f - w);
}

/* torch.optim.AdamW: p *= 1 - lr * wd; m = lerp(m, g, 1 - beta1); v = beta2 * v +
 * (1 - beta2) * g^2; p -= lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps). */
static void adamw_update(float *restrict p, const float *restrict g, float *restrict m,
                         float *restrict v, int64_t n, float lr, int64_t t,
                         const ad_optim_config *c)
{
    const float decay = (float)(1.0 - (double)lr * c->weight_decay);
    const float w1 = (float)(1.0 - (double)c->beta1), b2 = c->beta2;
    const float w2 = (float)(1.0 - (double)c->beta2);
    const float step_size = (float)((double)lr / (1.0 - pow(c->beta1, (double)t)));
    const float bc2_sqrt = (float)sqrt(1.0 - pow(c->beta2, (double)t));
    const float eps = c->eps;
    for (int64_t i = 0; i < n; i++) {
        p[i] *= decay;
        m[i] = lerp(m[i], g[i], w1);
        v[i] = v[i] * b2 + w2 * g[i] * g[i];
        p[i] += -step_size * (m[i] / (sqrtf(v[i]) / bc2_sqrt + eps));
    }
}

/* One parameter's update over elements [begin, end); ranges run in parallel, each element
 * updated by exactly one thread, so results do not depend on the thread count. The gradient
 * is zeroed as it is consumed, saving a pass over it. */
typedef struct {
    const ad_optimizer *opt;
    int32_t index;
    float lr;
} update_job;

static void update_range(void *arg, int64_t begin, int64_t end)
{
    const update_job *j = arg;
    const ad_optimizer *opt = j->opt;
    adapt_tensor *t = opt->params[j->index];
    float *p = t->data + begin, *g = t->grad + begin;
    float *m = opt->first[j->index] ? opt->first[j->index] + begin : NULL;
    if (opt->config.kind == ADAPT_OPTIMIZER_ADAMW)
        adamw_update(p, g, m, opt->second[j->index] + begin, end - begin, j->lr,
                     opt->steps[j->index], &opt->config);
    else
        sgd_update(p, g, m, end - begin, j->lr, &opt->config);
    memset(g, 0, (size_t)(end - begin) * sizeof *g);
}

/* Elements per parallel range: enough to amortise waking the threads. */
#define UPDATE_GRAIN 32768

void ad_optimizer_step(ad_optimizer *opt, float lr, ad_pool *pool)
{
    for (int32_t i = 0; i < opt->count; i++) {
        adapt_tensor *t = opt->params[i];
        if (!ad_requires_grad(t)) {
            memset(t->grad, 0, (size_t)t->numel * sizeof(float));
            continue;
        }
        ++opt->steps[i];
        update_job job = {opt, i, lr};
        ad_pool_for(pool, t->numel, UPDATE_GRAIN, update_range, &job);
    }
}

void ad_zero_grads(adapt_tensor *const *params, int32_t count)
{
    for (int32_t i = 0; i < count; i++)
        memset(params[i]->grad, 0, (size_t)params[i]->numel * sizeof(float));
}

/* Squared gradient norm in fixed chunks summed in order: parallel, yet the same on any
 * thread count. */
#define NORM_CHUNK 65536

typedef struct {
    const float *g;
    int64_t n;
    double *partial; /* one per chunk */
} norm_job;

static void norm_range(void *arg, int64_t begin, int64_t end)
{
    const norm_job *j = arg;
    for (int64_t c = begin; c < end; c++) {
        const int64_t first = c * NORM_CHUNK;
        const int64_t len = j->n - first < NORM_CHUNK ? j->n - first : NORM_CHUNK;
        j->partial[c] = ad_row_dot(j->g + first, j->g + first, len);
    }
}

static adapt_status squared_norm(double *sum, const adapt_tensor *t, ad_pool *pool)
{
    const int64_t chunks = (t->numel + NORM_CHUNK - 1) / NORM_CHUNK;
    double partial[64], *parts = chunks <= 64 ? partial : malloc((size_t)chunks * sizeof *parts);
    if (!parts)
        return ad_fail(ADAPT_ERR_OUT_OF_MEMORY, "gradient norm: no memory");
    norm_job job = {t->grad, t->numel, parts};
    ad_pool_for(pool, chunks, 1, norm_range, &job);
    for (int64_t c = 0; c < chunks; c++)
        *sum += parts[c];
    if (parts != partial)
        free(parts);
    return ADAPT_OK;
}

adapt_status ad_clip_grad_norm(double *norm, adapt_tensor *const *params, int32_t count,
                               float max_norm, ad_pool *pool)
{
    double sum = 0.0;
    for (int32_t i = 0; i < count; i++) {
        if (!ad_requires_grad(params[i]))
            continue;
        adapt_status st = squared_norm(&sum, params[i], pool);
        if (st)
            return st;
    }
    const double total = sqrt(sum);
    if (!isfinite(total))
        return ad_fail(ADAPT_ERR_NONFINITE, "gradient norm is not finite");
    *norm = total;
    const double coef = (double)max_norm / (total + 1e-6);
    if (max_norm <= 0.0f || coef >= 1.0)
        return ADAPT_OK;
    const float scale = (float)coef;
    for (int32_t i = 0; i < count; i++) {
        if (!ad_requires_grad(params[i]))
            continue;
        float *restrict g = params[i]->grad;
        for (int64_t j = 0; j < params[i]->numel; j++)
            g[j] *= scale;
    }
    return ADAPT_OK;
}
