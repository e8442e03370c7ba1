/* Batch normalisation over axis 1 of x viewed as [N, C, S] (S = product of
 * the spatial dims). Training mode normalises with the batch's biased
 * variance and then moves the running statistics towards the batch mean and
 * unbiased variance, PyTorch's rule; eval mode normalises with the running
 * statistics. Either way each channel's mean and rstd are kept in the arena
 * for the backward pass, which is the full batch-statistics gradient in
 * training mode and a per-channel affine map in eval mode. */
#include <math.h>

#include "lib/ops/op.h"

typedef struct {
    int64_t n, c, s;
    bool training;
    float eps;
    float *mean, *rstd; /* [C]: the statistics the forward pass normalised with */
    float *var;         /* [C], training only: biased batch variance */
} bn_plan;

/* Channels are independent, so ranges of them run in parallel deterministically. */
typedef struct {
    const bn_plan *p;
    const float *x, *gamma, *beta, *running_mean, *running_var, *dy;
    float *y, *dx, *dgamma, *dbeta;
} bn_job;

static void batch_stats(const bn_job *job, int64_t c)
{
    const bn_plan *p = job->p;
    double sum = 0.0, sq = 0.0;
    for (int64_t n = 0; n < p->n; n++) {
        const float *restrict x = job->x + (n * p->c + c) * p->s;
        for (int64_t i = 0; i < p->s; i++)
            sum += x[i];
    }
    const double count = (double)(p->n * p->s), mean = sum / count;
    for (int64_t n = 0; n < p->n; n++) {
        const float *restrict x = job->x + (n * p->c + c) * p->s;
        for (int64_t i = 0; i < p->s; i++)
            sq += (x[i] - mean) * (x[i] - mean);
    }
    p->mean[c] = (float)mean;
    p->var[c] = (float)(sq / count);
    p->rstd[c] = (float)(1.0 / sqrt(sq / count + p->eps));
}

static void forward_channel(const bn_job *job, int64_t c)
{
    const bn_plan *p = job->p;
    if (p->training) {
        batch_stats(job, c);
    } else {
        p->mean[c] = job->running_mean[c];
        p->rstd[c] = (float)(1.0 / sqrt((double)job->running_var[c] + p->eps));
    }
    const float scale = p->rstd[c] * (job->gamma ? job->gamma[c] : 1.0f);
    const float shift = (job->beta ? job->beta[c] : 0.0f) - p->mean[c] * scale;
    for (int64_t n = 0; n < p->n; n++) {
        const float *restrict x = job->x + (n * p->c + c) * p->s;
        float *restrict y = job->y + (n * p->c + c) * p->s;
        for (int64_t i = 0; i < p->s; i++)
            y[i] = x[i] * scale + shift;
    }
}

static void forward_range(void *arg, int64_t begin, int64_t end)
{
    for (int64_t c = begin; c < end; c++)
        forward_channel(arg, c);
}

/* With xhat = (x - mean) * rstd and k = gamma * rstd:
 *   training: dx = k * (dy - mean(dy) - xhat * mean(dy * xhat)), over the channel;
 *   eval:     dx = k * dy (the statistics are constants). */
static void backward_channel(const bn_job *job, int64_t c)
{
    const bn_plan *p = job->p;
    const float mean = p->mean[c], rstd = p->rstd[c];
    double sum_dy = 0.0, sum_dy_xhat = 0.0;
    for (int64_t n = 0; n < p->n; n++) {
        const float *restrict x = job->x + (n * p->c + c) * p->s;
        const float *restrict dy = job->dy + (n * p->c + c) * p->s;
        for (int64_t i = 0; i < p->s; i++) {
            sum_dy += dy[i];
            sum_dy_xhat += dy[i] * ((x[i] - mean) * rstd);
        }
    }
    if (job->dgamma)
        job->dgamma[c] += (float)sum_dy_xhat;
    if (job->dbeta)
        job->dbeta[c] += (float)sum_dy;
    if (!job->dx)
        return;
    const double count = (double)(p->n * p->s);
    const float k = rstd * (job->gamma ? job->gamma[c] : 1.0f);
    const float mean_dy = p->training ? (float)(sum_dy / count) : 0.0f;
    const float mean_dy_xhat = p->training ? (float)(sum_dy_xhat / count) : 0.0f;
    for (int64_t n = 0; n < p->n; n++) {
        const float *restrict x = job->x + (n * p->c + c) * p->s;
        const float *restrict dy = job->dy + (n * p->c + c) * p->s;
        float *restrict dx = job->dx + (n * p->c + c) * p->s;
        for (int64_t i = 0; i < p->s; i++)
            dx[i] += k * (dy[i] - mean_dy - (x[i] - mean) * rstd * mean_dy_xhat);
    }
}

static void backward_range(void *arg, int64_t begin, int64_t end)
{
    for (int64_t c = begin; c < end; c++)
        backward_channel(arg, c);
}

static int64_t channel_grain(const bn_plan *p)
{
    int64_t per_channel = p->n * p->s;
    return per_channel >= 32768 ? 1 : 32768 / (per_channel ? per_channel : 1);
}

static adapt_status batchnorm_backward(adapt_context *ctx, const ad_node *node)
{
    adapt_tensor *x = node->in[0], *gamma = node->in[1];
    bn_job job = {.p = node->saved, .x = x->data, .gamma = gamma ? gamma->data : NULL,
                  .dy = node->out->pass_grad};
    adapt_status st = ad_grad(&job.dx, ctx, x);
    if (!st)
        st = ad_grad(&job.dgamma, ctx, gamma);
    if (!st)
        st = ad_grad(&job.dbeta, ctx, node->in[2]);
    if (!st)
        ad_pool_for(ctx->pool, job.p->c, channel_grain(job.p), backward_range, &job);
    return st;
}

/* gamma, beta, running_mean, running_var: each NULL or [C]; the running pair
 * both given or both NULL, and required in eval mode. */
static adapt_status check_vectors(const bn_plan *p, const adapt_tensor *x,
                                  adapt_tensor *const *vectors, const char *const *names,
                                  const char *fn)
{
    char sx[96], sv[96];
    for (int i = 0; i < 4; i++)
        if (vectors[i] && (vectors[i]->ndim != 1 || vectors[i]->shape[0] != p->c))
            return ad_fail(ADAPT_ERR_SHAPE, "%s: %s %s does not match the %lld channels of x %s",
                           fn, names[i], ad_shape_str(vectors[i], sv, sizeof sv),
                           (long long)p->c, ad_shape_str(x, sx, sizeof sx));
    if (!vectors[2] != !vectors[3])
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT,
                       "%s: running_mean and running_var must both be given or both be NULL",
                       fn);
    if (!p->training && !vectors[2])
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT,
                       "%s: eval mode needs running_mean and running_var", fn);
    return ADAPT_OK;
}

static adapt_status check_scalars(float momentum, float eps, const char *fn)
{
    if (!isfinite(momentum) || !isfinite(eps))
        return ad_fail(ADAPT_ERR_NONFINITE, "%s: momentum %g and eps %g must be finite", fn,
                       (double)momentum, (double)eps);
    if (momentum < 0.0f || momentum > 1.0f)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: momentum %g is outside [0, 1]", fn,
                       (double)momentum);
    if (eps <= 0.0f)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: eps %g must be > 0", fn, (double)eps);
    return ADAPT_OK;
}

static adapt_status plan_batchnorm(bn_plan *p, const adapt_tensor *x,
                                   adapt_tensor *const *vectors, const char *const *names,
                                   float momentum, float eps, const char *fn)
{
    char sx[96];
    if (x->ndim < 2)
        return ad_fail(ADAPT_ERR_SHAPE, "%s: x %s is not [N, C, ...]", fn,
                       ad_shape_str(x, sx, sizeof sx));
    p->n = x->shape[0], p->c = x->shape[1], p->s = 1;
    for (int32_t i = 2; i < x->ndim; i++)
        p->s *= x->shape[i];
    p->eps = eps;
    adapt_status st = check_vectors(p, x, vectors, names, fn);
    if (!st)
        st = check_scalars(momentum, eps, fn);
    /* As PyTorch: the unbiased variance needs two values per channel. */
    if (!st && p->training && p->n * p->s < 2)
        st = ad_fail(ADAPT_ERR_SHAPE,
                     "%s: training needs more than one value per channel, x is %s", fn,
                     ad_shape_str(x, sx, sizeof sx));
    return st;
}

static adapt_status alloc_stats(bn_plan *p, adapt_context *ctx, const char *fn)
{
    size_t bytes = (size_t)p->c * sizeof(float);
    adapt_status st = ad_scratch((void **)&p->mean, ctx, bytes, fn);
    if (!st)
        st = ad_scratch((void **)&p->rstd, ctx, bytes, fn);
    if (!st && p->training)
        st = ad_scratch((void **)&p->var, ctx, bytes, fn);
    return st;
}

/* running = (1 - momentum) * running + momentum * batch statistic, with the
 * variance made unbiased by count / (count - 1). */
static void update_running(const bn_plan *p, float momentum, float *running_mean,
                           float *running_var)
{
    const double count = (double)(p->n * p->s), unbias = count / (count - 1.0);
    for (int64_t c = 0; c < p->c; c++) {
        running_mean[c] = (float)((1.0 - momentum) * running_mean[c] + momentum * p->mean[c]);
        running_var[c] =
            (float)((1.0 - momentum) * running_var[c] + momentum * p->var[c] * unbias);
    }
}

adapt_status ad_op_batchnorm(adapt_tensor **out, adapt_context *ctx, adapt_tensor *x,
                             adapt_tensor *gamma, adapt_tensor *beta,
                             adapt_tensor *running_mean, adapt_tensor *running_var,
                             float momentum, float eps)
{
    const char *fn = "adapt_op_batchnorm";
    adapt_status st = ad_op_check(ctx, out, fn, &x, (const char *[]){"x"}, 1);
    adapt_tensor *vectors[] = {gamma, beta, running_mean, running_var};
    const char *names[] = {"gamma", "beta", "running_mean", "running_var"};
    for (int i = 0; i < 4 && !st; i++)
        if (vectors[i])
            st = ad_check_tensor(ctx, vectors[i], fn, names[i]);
    bn_plan p = {.training = ctx && ctx->training};
    if (!st)
        st = plan_batchnorm(&p, x, vectors, names, momentum, eps, fn);
    adapt_tensor *y = NULL;
    if (!st)
        st = ad_tensor_new(&y, ctx, x->ndim, x->shape);
    if (!st)
        st = alloc_stats(&p, ctx, fn);
    if (st)
        return st;
    bn_job job = {.p = &p, .x = x->data, .gamma = gamma ? gamma->data : NULL,
                  .beta = beta ? beta->data : NULL, .y = y->data,
                  .running_mean = running_mean ? running_mean->data : NULL,
                  .running_var = running_var ? running_var->data : NULL};
    ad_pool_for(ctx->pool, p.c, channel_grain(&p), forward_range, &job);
    adapt_tensor *in[] = {x, gamma, beta};
    st = ad_op_finish(out, ctx, fn, batchnorm_backward, y, in, 3, &p, sizeof p);
    if (!st && p.training && running_mean && !ctx->rerunning)
        update_running(&p, momentum, running_mean->data, running_var->data);
    return st;
}
