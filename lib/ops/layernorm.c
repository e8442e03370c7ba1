/* Layer normalisation over the last axis, as PyTorch (biased variance):
 *   y = (x - mean) * rstd * gamma + beta,   rstd = 1 / sqrt(var + eps),
 * with x viewed as [rows, D]. Each row's mean and rstd are kept in the arena
 * for the backward pass; statistics accumulate in double. */
#include <math.h>

#include "lib/kernels/row_reduce.h"
#include "lib/kernels/vector_math.h"
#include "lib/ops/op.h"

typedef struct {
    int64_t rows, d;
    float eps;
    float *mean, *rstd; /* [rows] */
} ln_plan;

/* Rows are independent, so ranges of them run in parallel deterministically. */
typedef struct {
    const ln_plan *p;
    const float *x, *gamma, *beta, *dy;
    float *y, *dx, *dgamma, *dbeta;
} ln_job;

AD_VECTOR_CLONES
static void normalize_row(const ln_job *job, int64_t r)
{
    const int64_t d = job->p->d;
    const float *restrict x = job->x + r * d;
    float *restrict y = job->y + r * d;
    const double mean = ad_row_sum(x, d) / (double)d;
    const double rstd = 1.0 / sqrt(ad_row_sq_dev(x, mean, d) / (double)d + job->p->eps);
    for (int64_t i = 0; i < d; i++)
        y[i] = (float)((x[i] - mean) * rstd);
    if (job->gamma)
        for (int64_t i = 0; i < d; i++)
            y[i] *= job->gamma[i];
    if (job->beta)
        for (int64_t i = 0; i < d; i++)
            y[i] += job->beta[i];
    job->p->mean[r] = (float)mean;
    job->p->rstd[r] = (float)rstd;
}

static void forward_range(void *arg, int64_t begin, int64_t end)
{
    for (int64_t r = begin; r < end; r++)
        normalize_row(arg, r);
}

/* dx = rstd * (g - mean(g) - xhat * mean(g * xhat)) with g = dy * gamma;
 * gamma is never NULL here (see layernorm_backward). Both sums run in
 * AD_ROW_LANES lanes, as in row_reduce.h. */
AD_VECTOR_CLONES
static void input_grad_row(const ln_job *job, int64_t r)
{
    const int64_t d = job->p->d;
    const float *restrict x = job->x + r * d, *restrict dy = job->dy + r * d;
    const float *restrict gamma = job->gamma;
    float *restrict dx = job->dx + r * d;
    const float mean = job->p->mean[r], rstd = job->p->rstd[r];
    double sum_g[AD_ROW_LANES] = {0}, sum_gx[AD_ROW_LANES] = {0};
    int64_t i = 0;
    for (; i + AD_ROW_LANES <= d; i += AD_ROW_LANES)
        for (int l = 0; l < AD_ROW_LANES; l++) {
            const float g = dy[i + l] * gamma[i + l];
            sum_g[l] += g;
            sum_gx[l] += (double)g * ((x[i + l] - mean) * rstd);
        }
    for (; i < d; i++) {
        const float g = dy[i] * gamma[i];
        sum_g[0] += g;
        sum_gx[0] += (double)g * ((x[i] - mean) * rstd);
    }
    const float mean_g = (float)(ad_lanes_total(sum_g) / (double)d);
    const float mean_gx = (float)(ad_lanes_total(sum_gx) / (double)d);
    for (i = 0; i < d; i++) {
        const float g = dy[i] * gamma[i];
        dx[i] += rstd * (g - mean_g - (x[i] - mean) * rstd * mean_gx);
    }
}

static void input_grad_range(void *arg, int64_t begin, int64_t end)
{
    for (int64_t r = begin; r < end; r++)
        input_grad_row(arg, r);
}

/* dgamma += sum over rows of dy * xhat, dbeta += sum of dy (either may be
 * NULL), for columns [begin, end): ranges of columns run in parallel. */
static void affine_grad_range(void *arg, int64_t begin, int64_t end)
{
    const ln_job *job = arg;
    const int64_t d = job->p->d;
    float *restrict dgamma = job->dgamma, *restrict dbeta = job->dbeta;
    for (int64_t r = 0; r < job->p->rows; r++) {
        const float *restrict x = job->x + r * d, *restrict dy = job->dy + r * d;
        const float mean = job->p->mean[r], rstd = job->p->rstd[r];
        if (dgamma)
            for (int64_t i = begin; i < end; i++)
                dgamma[i] += dy[i] * ((x[i] - mean) * rstd);
        if (dbeta)
            for (int64_t i = begin; i < end; i++)
                dbeta[i] += dy[i];
    }
}

static int64_t row_grain(int64_t d)
{
    return d >= 32768 ? 1 : 32768 / (d ? d : 1);
}

/* gamma's values, or a row of ones when there is none, so that the input
 * gradient's loops need no branch. */
static adapt_status gamma_or_ones(const float **gamma, adapt_context *ctx,
                                  const adapt_tensor *t, int64_t d, const char *fn)
{
    if (t) {
        *gamma = t->data;
        return ADAPT_OK;
    }
    float *ones;
    adapt_status st = ad_scratch((void **)&ones, ctx, (size_t)d * sizeof *ones, fn);
    for (int64_t i = 0; !st && i < d; i++)
        ones[i] = 1.0f;
    *gamma = ones;
    return st;
}

static adapt_status layernorm_backward(adapt_context *ctx, const ad_node *node)
{
    const ln_plan *p = node->saved;
    adapt_tensor *x = node->in[0];
    float *dx, *dgamma, *dbeta;
    adapt_status st = ad_grad(&dx, ctx, x);
    if (!st)
        st = ad_grad(&dgamma, ctx, node->in[1]);
    if (!st)
        st = ad_grad(&dbeta, ctx, node->in[2]);
    ln_job job = {.p = p, .x = x->data, .dy = node->out->pass_grad, .dx = dx};
    if (!st && dx)
        st = gamma_or_ones(&job.gamma, ctx, node->in[1], p->d, node->name);
    if (st)
        return st;
    if (dx)
        ad_pool_for(ctx->pool, p->rows, row_grain(p->d), input_grad_range, &job);
    job.dgamma = dgamma, job.dbeta = dbeta;
    if (dgamma || dbeta)
        ad_pool_for(ctx->pool, p->d, row_grain(p->rows), affine_grad_range, &job);
    return ADAPT_OK;
}

static adapt_status plan_layernorm(ln_plan *p, const adapt_tensor *x, const adapt_tensor *gamma,
                                   const adapt_tensor *beta, float eps, const char *fn)
{
    char sx[96], sa[96];
    if (x->ndim < 1)
        return ad_fail(ADAPT_ERR_SHAPE, "%s: x %s has no last axis", fn,
                       ad_shape_str(x, sx, sizeof sx));
    p->d = x->shape[x->ndim - 1];
    p->rows = p->d ? x->numel / p->d : 0;
    const adapt_tensor *affine[] = {gamma, beta};
    for (int i = 0; i < 2; i++)
        if (affine[i] && (affine[i]->ndim != 1 || affine[i]->shape[0] != p->d))
            return ad_fail(ADAPT_ERR_SHAPE, "%s: %s %s does not match [%lld] of x %s", fn,
                           i ? "beta" : "gamma", ad_shape_str(affine[i], sa, sizeof sa),
                           (long long)p->d, ad_shape_str(x, sx, sizeof sx));
    if (!isfinite(eps))
        return ad_fail(ADAPT_ERR_NONFINITE, "%s: eps is %g", fn, (double)eps);
    if (eps <= 0.0f)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: eps %g must be > 0", fn, (double)eps);
    p->eps = eps;
    return ADAPT_OK;
}

adapt_status ad_op_layernorm(adapt_tensor **out, adapt_context *ctx, adapt_tensor *x,
                             adapt_tensor *gamma, adapt_tensor *beta, float eps)
{
    const char *fn = "adapt_op_layernorm";
    adapt_status st = ad_op_check(ctx, out, fn, &x, (const char *[]){"x"}, 1);
    if (!st && gamma)
        st = ad_check_tensor(ctx, gamma, fn, "gamma");
    if (!st && beta)
        st = ad_check_tensor(ctx, beta, fn, "beta");
    ln_plan p = {0};
    if (!st)
        st = plan_layernorm(&p, x, gamma, beta, eps, fn);
    adapt_tensor *y = NULL;
    if (!st)
        st = ad_tensor_new(&y, ctx, x->ndim, x->shape);
    if (!st)
        st = ad_scratch((void **)&p.mean, ctx, (size_t)p.rows * sizeof(float), fn);
    if (!st)
        st = ad_scratch((void **)&p.rstd, ctx, (size_t)p.rows * sizeof(float), fn);
    if (st)
        return st;
    ln_job job = {.p = &p, .x = x->data, .gamma = gamma ? gamma->data : NULL,
                  .beta = beta ? beta->data : NULL, .y = y->data};
    ad_pool_for(ctx->pool, p.rows, row_grain(p.d), forward_range, &job);
    adapt_tensor *in[] = {x, gamma, beta};
    return ad_op_finish(out, ctx, fn, layernorm_backward, y, in, 3, &p, sizeof p);
}
