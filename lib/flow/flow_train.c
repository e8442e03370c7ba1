/* Training a flow (PluGeN4Faces' objective) on the library's training loop: each batch's
 * negative log-likelihood under the attribute prior, minus its mean log-determinant, plus the
 * weighted spread of each identity's codes around their mean. With identities the loop's
 * samples are whole identities (flow_identities.h). */
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "lib/core/context.h"
#include "lib/core/error.h"
#include "lib/core/struct_io.h"
#include "lib/core/tensor.h"
#include "lib/flow/flow.h"
#include "lib/flow/flow_identities.h"
#include "lib/ops/ops.h"
#include "lib/train/trainer.h"

static const char *const fn = "adapt_flow_train";

void adapt_flow_prior_init(adapt_flow_prior *prior, size_t size)
{
    static const adapt_flow_prior defaults = {.sigma = 0.7f, .sigma_decay = 0.9f,
                                              .identity_warmup = 1};
    ad_struct_init(prior, size, &defaults, sizeof defaults);
}

typedef struct {
    const adapt_flow *flow;
    const float *w, *cond, *values;
    const int32_t *identities;
    adapt_flow_prior prior;
    ad_identity_units units; /* the loop's samples when there are identities */
    int64_t steps_per_epoch, steps;
} flow_training;

/* The rows' copies of `src` (width values each) as a new tensor. */
static adapt_status gather(adapt_tensor **out, adapt_context *ctx, const float *src,
                           int64_t width, const int64_t *rows, int64_t m)
{
    const int64_t shape[] = {m, width};
    adapt_status st = ad_tensor_new(out, ctx, 2, shape);
    for (int64_t i = 0; i < m && !st; i++)
        memcpy((*out)->data + i * width, src + rows[i] * width, (size_t)width * sizeof(float));
    return st;
}

/* The prior's means and widths of the batch's rows [m, dim] in epoch e. */
static adapt_status prior_rows(float **mean, float **std, adapt_context *ctx,
                               const flow_training *t, const int64_t *rows, int64_t m,
                               int64_t epoch)
{
    const int64_t d = t->flow->p.dim, k = t->prior.attributes;
    adapt_status st = ad_scratch((void **)mean, ctx, 2 * (size_t)(m * d) * sizeof(float), fn);
    if (st)
        return st;
    *std = *mean + m * d;
    const float sigma = t->prior.sigma * powf(t->prior.sigma_decay, (float)epoch);
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < d; j++) {
            (*mean)[i * d + j] = j < k ? t->values[rows[i] * k + j] : 0.0f;
            (*std)[i * d + j] = j < k ? sigma : 1.0f;
        }
    return ADAPT_OK;
}

/* loss + weight * spread of the rest of the codes around their identity's mean. */
static adapt_status add_identity_loss(adapt_tensor **loss, adapt_context *ctx,
                                      const flow_training *t, adapt_tensor *z,
                                      const int64_t *rows, int64_t m, int64_t epoch)
{
    const double ramp = (double)(epoch + 1) / (double)t->prior.identity_warmup;
    const float weight = t->prior.identity_weight * (float)(ramp < 1.0 ? ramp : 1.0);
    if (!t->identities || weight == 0.0f || t->prior.attributes >= t->flow->p.dim)
        return ADAPT_OK;
    int32_t *groups = NULL;
    adapt_tensor *spread = NULL;
    adapt_status st = ad_scratch((void **)&groups, ctx, (size_t)m * sizeof *groups, fn);
    for (int64_t i = 0; i < m && !st; i++)
        groups[i] = t->identities[rows[i]];
    if (!st)
        st = ad_op_group_spread(&spread, ctx, z, groups, t->prior.attributes, t->flow->p.dim);
    if (!st)
        st = ad_op_scale(&spread, ctx, spread, weight);
    return st ? st : ad_op_add(loss, ctx, *loss, spread);
}

static adapt_status batch_loss(adapt_tensor **loss, adapt_context *ctx, void *arg,
                               const int64_t *samples, int64_t n_samples)
{
    flow_training *t = arg;
    const adapt_flow *f = t->flow;
    const int64_t epoch = t->steps++ / t->steps_per_epoch;
    adapt_tensor *w = NULL, *cond = NULL, *z = NULL, *logdet = NULL, *mean_logdet = NULL;
    float *mean = NULL, *std = NULL;
    const int64_t *rows = samples;
    int64_t m = n_samples;
    adapt_status st = t->units.rows ? ad_identity_units_rows(&rows, &m, ctx, &t->units, samples,
                                                             n_samples, fn)
                                    : ADAPT_OK;
    if (!st)
        st = gather(&w, ctx, t->w, f->p.dim, rows, m);
    if (!st && t->cond)
        st = gather(&cond, ctx, t->cond, f->p.cond_dim, rows, m);
    if (!st)
        st = ad_flow_forward(&z, &logdet, ctx, f, w, cond, fn);
    if (!st)
        st = prior_rows(&mean, &std, ctx, t, rows, m, epoch);
    if (!st)
        st = ad_op_gaussian_nll(loss, ctx, z, mean, std);
    if (!st)
        st = ad_op_mean(&mean_logdet, ctx, logdet, ADAPT_AXIS_ALL);
    if (!st)
        st = ad_op_sub(loss, ctx, *loss, mean_logdet);
    return st ? st : add_identity_loss(loss, ctx, t, z, rows, m, epoch);
}

static adapt_status check_data(const adapt_flow *f, const float *w, const float *cond,
                               const float *values, const adapt_flow_prior *p, int64_t n)
{
    if (!w || n < 2)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: %s", fn,
                       !w ? "w is NULL" : "training needs 2 rows or more");
    if (!cond != !f->p.cond_dim)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: the flow takes %s", fn,
                       f->p.cond_dim ? "a conditioning vector; cond is NULL" : "no cond");
    if (p->attributes < 0 || p->attributes >= f->p.dim || (p->attributes && !values))
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: %d attributes of a %lld-wide flow%s",
                       fn, (int)p->attributes, (long long)f->p.dim,
                       p->attributes && !values ? " without attribute values" : "");
    if (!(p->sigma > 0.0f) || !(p->sigma_decay > 0.0f) || p->sigma_decay > 1.0f
        || !(p->identity_weight >= 0.0f) || p->identity_warmup < 1 || !isfinite(p->sigma)
        || !isfinite(p->identity_weight))
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: the prior's sigma (> 0), sigma_decay "
                       "((0, 1]), identity_weight (>= 0) or identity_warmup (>= 1) is out of "
                       "range", fn);
    if (n > INT64_MAX / f->p.dim || (cond && n > INT64_MAX / f->p.cond_dim))
        return ad_fail(ADAPT_ERR_OVERFLOW, "%s: %lld rows", fn, (long long)n);
    if (!ad_all_finite(w, n * f->p.dim) || (cond && !ad_all_finite(cond, n * f->p.cond_dim))
        || (values && p->attributes && !ad_all_finite(values, n * p->attributes)))
        return ad_fail(ADAPT_ERR_NONFINITE, "%s: the data hold NaN or infinity", fn);
    return ADAPT_OK;
}

/* The flow's trainable parameters (its buffers are not), malloc'd. */
static adapt_status trainable(adapt_tensor ***list, int32_t *count, const adapt_flow *f)
{
    *list = malloc((size_t)f->params.count * sizeof **list);
    if (!*list)
        return ad_fail(ADAPT_ERR_OUT_OF_MEMORY, "%s: parameter list", fn);
    *count = 0;
    for (int32_t i = 0; i < f->params.count; i++)
        if (ad_requires_grad(f->params.items[i].tensor))
            (*list)[(*count)++] = f->params.items[i].tensor;
    return ADAPT_OK;
}

/* Whether a sample of the loop would be a single row: every row without identities, or an
 * identity of one row. */
static bool one_row_unit(const ad_identity_units *u, int64_t n)
{
    if (!u->rows)
        return n > 0;
    for (int64_t k = 0; k < u->count; k++)
        if (u->start[k + 1] - u->start[k] == 1)
            return true;
    return false;
}

adapt_status adapt_flow_train(adapt_flow *flow, const float *w, const float *cond,
                              const float *attribute_values, const int32_t *identities,
                              int64_t n, const adapt_flow_prior *prior,
                              const adapt_train_params *params)
{
    flow_training t = {.flow = flow, .w = w, .cond = cond, .values = attribute_values,
                       .identities = identities};
    adapt_flow_prior_init(&t.prior, sizeof t.prior);
    adapt_status st = flow ? ad_struct_read(&t.prior, sizeof t.prior, prior, "adapt_flow_prior",
                                            fn)
                           : ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: flow is NULL", fn);
    if (!st)
        st = check_data(flow, w, cond, attribute_values, &t.prior, n);
    adapt_train_params p;
    adapt_train_params_init(&p, sizeof p);
    if (!st)
        st = ad_struct_read(&p, sizeof p, params, "adapt_train_params", fn);
    if (!st && p.batch_size < 1)
        st = ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: batch_size must be >= 1", fn);
    if (!st && identities)
        st = ad_identity_units_make(&t.units, identities, n, fn);
    const int64_t samples = identities ? t.units.count : n;
    if (!st && flow->p.batch_norm && samples % p.batch_size == 1)
        p.drop_last = 1; /* batch normalisation cannot train on a batch of one row */
    if (!st && flow->p.batch_norm && p.batch_size == 1 && one_row_unit(&t.units, n))
        st = ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: batch normalisation cannot train on a "
                     "batch of one row: with batch_size 1 every identity needs 2 rows or more",
                     fn);
    adapt_tensor **list = NULL;
    int32_t count = 0;
    if (!st)
        st = trainable(&list, &count, flow);
    if (st) {
        ad_identity_units_free(&t.units);
        return st;
    }
    t.steps_per_epoch = p.drop_last && samples >= p.batch_size
                            ? samples / p.batch_size
                            : (samples + p.batch_size - 1) / p.batch_size;
    const ad_train_objective objective = {.arg = &t, .params = list, .n_params = count,
                                          .rows_loss = batch_loss, .rows = samples};
    st = ad_train_run(NULL, NULL, NULL, &p, &objective, fn);
    free(list);
    ad_identity_units_free(&t.units);
    return st;
}
