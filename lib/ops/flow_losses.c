/* The terms of a normalizing flow's objective that the generic ops do not give exactly: the
 * log-determinant of a batch normalisation, the negative log-likelihood of codes under a
 * diagonal Gaussian prior of per-row means and widths, and the spread of codes around their
 * group's mean (PluGeN4Faces' identity loss). Sums in double. */
#include <math.h>
#include <string.h>

#include "lib/ops/op.h"

/* log(2 pi) / 2; M_PI is POSIX, not ISO C. */
static const double half_log_two_pi = 0.91893853320467274178;

/* ---- log |det| of batch normalisation ------------------------------------------------ */

typedef struct {
    int64_t rows, width;
    const double *mean, *var; /* the batch's, per column; NULL outside training */
    float eps;
} bn_saved;

/* d/dx_ij of -1/2 log(var_j + eps) = -(x_ij - mean_j) / (rows (var_j + eps)); d/dgamma_j of
 * log |gamma_j| = 1 / gamma_j. */
static adapt_status bn_logdet_backward(adapt_context *ctx, const ad_node *node)
{
    const bn_saved *b = node->saved;
    const double g = node->out->pass_grad[0];
    float *dx = NULL, *dgamma = NULL;
    adapt_status st = b->mean ? ad_grad(&dx, ctx, node->in[0]) : ADAPT_OK;
    if (!st && node->in[1])
        st = ad_grad(&dgamma, ctx, node->in[1]);
    for (int64_t j = 0; j < b->width && !st; j++) {
        if (dgamma)
            dgamma[j] += (float)(g / node->in[1]->data[j]);
        for (int64_t i = 0; i < b->rows && dx; i++)
            dx[i * b->width + j] -= (float)(g * (node->in[0]->data[i * b->width + j] - b->mean[j])
                                            / ((double)b->rows * (b->var[j] + b->eps)));
    }
    return st;
}

/* Mean and biased variance of each column, as batch normalisation normalises by. */
static void column_moments(double *mean, double *var, const float *x, int64_t rows,
                           int64_t width)
{
    for (int64_t j = 0; j < width; j++) {
        double m = 0.0, v = 0.0;
        for (int64_t i = 0; i < rows; i++)
            m += x[i * width + j];
        m /= (double)rows;
        for (int64_t i = 0; i < rows; i++)
            v += (x[i * width + j] - m) * (x[i * width + j] - m);
        mean[j] = m, var[j] = v / (double)rows;
    }
}

adapt_status ad_op_batchnorm_logdet(adapt_tensor **out, adapt_context *ctx, adapt_tensor *x,
                                    adapt_tensor *gamma, const adapt_tensor *running_var,
                                    float eps)
{
    static const char *const fn = "batchnorm_logdet";
    if (x->ndim != 2 || (gamma && gamma->numel != x->shape[1])
        || (running_var && running_var->numel != x->shape[1]))
        return ad_fail(ADAPT_ERR_SHAPE, "%s: x must be [N, C] with gamma and running_var [C]",
                       fn);
    if (!ctx->training && !running_var)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: outside training the running variance "
                       "is required", fn);
    bn_saved b = {.rows = x->shape[0], .width = x->shape[1], .eps = eps};
    double *mean = NULL, *var = NULL;
    adapt_tensor *y = NULL;
    adapt_status st = ad_tensor_new(&y, ctx, 0, NULL);
    if (!st && ctx->training)
        st = ad_scratch((void **)&mean, ctx, 2 * (size_t)b.width * sizeof *mean, fn);
    if (st)
        return st;
    if (mean) {
        var = mean + b.width;
        column_moments(mean, var, x->data, b.rows, b.width);
        b.mean = mean, b.var = var;
    }
    double logdet = 0.0;
    for (int64_t j = 0; j < b.width; j++)
        logdet += (gamma ? log(fabs((double)gamma->data[j])) : 0.0)
                  - 0.5 * log((var ? var[j] : running_var->data[j]) + eps);
    y->data[0] = (float)logdet;
    adapt_tensor *in[2] = {x, gamma};
    return ad_op_finish(out, ctx, fn, bn_logdet_backward, y, in, 2, &b, sizeof b);
}

/* ---- Gaussian negative log-likelihood ------------------------------------------------ */

typedef struct {
    int64_t rows, width;
    const float *mean, *std; /* arena copies */
} nll_saved;

/* d/dz_ij = (z_ij - m_ij) / (s_ij^2 rows). */
static adapt_status gaussian_nll_backward(adapt_context *ctx, const ad_node *node)
{
    const nll_saved *p = node->saved;
    float *dz;
    adapt_status st = ad_grad(&dz, ctx, node->in[0]);
    if (st || !dz)
        return st;
    const double g = node->out->pass_grad[0] / (double)p->rows;
    const float *z = node->in[0]->data;
    for (int64_t k = 0; k < p->rows * p->width; k++)
        dz[k] += (float)(g * (z[k] - p->mean[k]) / ((double)p->std[k] * p->std[k]));
    return ADAPT_OK;
}

adapt_status ad_op_gaussian_nll(adapt_tensor **out, adapt_context *ctx, adapt_tensor *z,
                                const float *mean, const float *std)
{
    static const char *const fn = "gaussian_nll";
    if (z->ndim != 2 || z->shape[0] < 1)
        return ad_fail(ADAPT_ERR_SHAPE, "%s: z must be [N, d], N >= 1", fn);
    nll_saved p = {.rows = z->shape[0], .width = z->shape[1]};
    const size_t bytes = (size_t)z->numel * sizeof(float);
    float *copies = NULL;
    adapt_tensor *y = NULL;
    adapt_status st = ad_scratch((void **)&copies, ctx, 2 * bytes, fn);
    if (!st)
        st = ad_tensor_new(&y, ctx, 0, NULL);
    if (st)
        return st;
    memcpy(copies, mean, bytes);
    memcpy(copies + z->numel, std, bytes);
    p.mean = copies, p.std = copies + z->numel;
    double total = 0.0;
    for (int64_t k = 0; k < z->numel; k++) {
        const double u = (z->data[k] - p.mean[k]) / (double)p.std[k];
        total += 0.5 * u * u + log((double)p.std[k]) + half_log_two_pi;
    }
    y->data[0] = (float)(total / (double)p.rows);
    return ad_op_finish(out, ctx, fn, gaussian_nll_backward, y, &z, 1, &p, sizeof p);
}

/* ---- spread around group means ------------------------------------------------------- */

typedef struct {
    int64_t rows, width, first, last;
    const float *centre; /* [rows, last - first]: each row's group mean, itself if alone */
} spread_saved;

/* d/dz_ij = 2 (z_ij - centre_ij) / rows: the centre's own dependence on z_ij sums to 0 over
 * the group. */
static adapt_status group_spread_backward(adapt_context *ctx, const ad_node *node)
{
    const spread_saved *p = node->saved;
    float *dz;
    adapt_status st = ad_grad(&dz, ctx, node->in[0]);
    if (st || !dz)
        return st;
    const double g = 2.0 * node->out->pass_grad[0] / (double)p->rows;
    const int64_t w = p->last - p->first;
    for (int64_t i = 0; i < p->rows; i++)
        for (int64_t j = 0; j < w; j++)
            dz[i * p->width + p->first + j] +=
                (float)(g * (node->in[0]->data[i * p->width + p->first + j]
                             - p->centre[i * w + j]));
    return ADAPT_OK;
}

/* centre [rows, w]: the mean of columns [first, last) over the rows of each row's group. */
static void group_centres(float *centre, double *sum, const float *z, const int32_t *groups,
                          const spread_saved *p)
{
    const int64_t w = p->last - p->first;
    for (int64_t i = 0; i < p->rows; i++) {
        int64_t members = 0;
        memset(sum, 0, (size_t)w * sizeof *sum);
        for (int64_t r = 0; r < p->rows; r++)
            if (r == i || (groups[i] >= 0 && groups[r] == groups[i])) {
                for (int64_t j = 0; j < w; j++)
                    sum[j] += z[r * p->width + p->first + j];
                members++;
            }
        for (int64_t j = 0; j < w; j++)
            centre[i * w + j] = (float)(sum[j] / (double)members);
    }
}

adapt_status ad_op_group_spread(adapt_tensor **out, adapt_context *ctx, adapt_tensor *z,
                                const int32_t *groups, int64_t first, int64_t last)
{
    static const char *const fn = "group_spread";
    if (z->ndim != 2 || z->shape[0] < 1 || first < 0 || last <= first || last > z->shape[1])
        return ad_fail(ADAPT_ERR_SHAPE, "%s: z must be [N, d], N >= 1, with 0 <= first < last "
                       "<= d", fn);
    spread_saved p = {z->shape[0], z->shape[1], first, last, NULL};
    const int64_t w = last - first;
    float *centre = NULL;
    double *sum = NULL;
    adapt_tensor *y = NULL;
    adapt_status st = ad_scratch((void **)&centre, ctx, (size_t)(p.rows * w) * sizeof *centre,
                                 fn);
    if (!st)
        st = ad_scratch((void **)&sum, ctx, (size_t)w * sizeof *sum, fn);
    if (!st)
        st = ad_tensor_new(&y, ctx, 0, NULL);
    if (st)
        return st;
    group_centres(centre, sum, z->data, groups, &p);
    p.centre = centre;
    double total = 0.0;
    for (int64_t i = 0; i < p.rows; i++)
        for (int64_t j = 0; j < w; j++) {
            const double e = z->data[i * p.width + first + j] - centre[i * w + j];
            total += e * e;
        }
    y->data[0] = (float)(total / (double)p.rows);
    return ad_op_finish(out, ctx, fn, group_spread_backward, y, &z, 1, &p, sizeof p);
}
