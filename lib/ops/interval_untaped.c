/* The point-weight affine step of interval bound propagation without a tape (certification,
 * evaluation): the same bounds as the composed operations of ad_interval_affine, in two
 * products of twice the rows instead of four, since the centre and the mid input share W and
 * the radius and the magnitudes share |W|, and one pass for everything else. */
#include <math.h>

#include "lib/core/context.h"
#include "lib/core/error.h"
#include "lib/core/tensor.h"
#include "lib/core/threads.h"
#include "lib/ops/interval.h"

/* A new tensor shaped like t but with `rows` samples. */
static adapt_status with_rows(adapt_tensor **out, adapt_context *ctx, const adapt_tensor *t,
                              int64_t rows)
{
    int64_t shape[ADAPT_MAX_DIMS];
    for (int32_t i = 0; i < t->ndim; i++)
        shape[i] = t->shape[i];
    shape[0] = rows;
    return ad_tensor_new(out, ctx, t->ndim, shape);
}

/* Below this many values a pass runs on the calling thread. */
#define PASS_GRAIN 16384

typedef struct {
    const ad_interval *x;
    float *centres, *spreads;
} stack_job;

/* centres = [c; mid], spreads = [r; max(|lo|, |hi|)] over values [begin, end), as the
 * composed path rounds them. */
static void stack_range(void *arg, int64_t begin, int64_t end)
{
    const stack_job *j = arg;
    const int64_t n = j->x->lo->numel;
    const float *lo = j->x->lo->data, *hi = j->x->hi->data;
    for (int64_t i = begin; i < end; i++) {
        const float a = fabsf(lo[i]), b = fabsf(hi[i]);
        j->centres[i] = (hi[i] + lo[i]) * 0.5f;
        j->spreads[i] = (hi[i] - lo[i]) * 0.5f;
        j->spreads[n + i] = a > b ? a : b;
        if (j->x->mid)
            j->centres[n + i] = j->x->mid->data[i];
    }
}

typedef struct {
    ad_interval *y;
    const float *mu, *rho, *mag;
    const adapt_tensor *b;
    int64_t channels, spatial;
    ad_allowance allowance;
} finish_job;

/* lo and hi of output planes [begin, end) (a plane: one sample's one channel), from mu, rho and
 * the magnitudes, with the allowance of interval_slack.c on magnitude + |b|. */
static void finish_range(void *arg, int64_t begin, int64_t end)
{
    const finish_job *j = arg;
    for (int64_t plane = begin; plane < end; plane++) {
        const double bias = j->b ? fabs((double)j->b->data[plane % j->channels]) : 0.0;
        for (int64_t i = plane * j->spatial; i < (plane + 1) * j->spatial; i++) {
            const float s = ad_allowance_of(&j->allowance, (double)j->mag[i] + bias);
            const float reach = j->rho[i] + s;
            j->y->lo->data[i] = j->mu[i] - reach;
            j->y->hi->data[i] = j->mu[i] + reach;
        }
    }
}

static void finish(adapt_context *ctx, ad_interval *y, const adapt_tensor *centres,
                   const adapt_tensor *spreads, const adapt_tensor *b, int64_t terms)
{
    const int64_t n = y->lo->numel, channels = y->lo->ndim > 1 ? y->lo->shape[1] : 1;
    const int64_t planes = y->lo->shape[0] * channels;
    finish_job j = {y, centres->data, spreads->data, spreads->data + n, b, channels,
                    n / planes, ad_allowance_for(terms)};
    ad_pool_for(ctx->pool, planes, PASS_GRAIN / (j.spatial > 0 ? j.spatial : 1) + 1,
                finish_range, &j);
}

adapt_status ad_interval_affine_untaped(ad_interval *out, adapt_context *ctx,
                                        const ad_interval *x, const ad_interval_product *p,
                                        adapt_tensor *w, adapt_tensor *b)
{
    const int64_t n = x->lo->shape[0];
    adapt_tensor *centre_in, *spread_in, *w_abs, *centres, *spreads;
    ad_interval y = {0};
    adapt_status st = with_rows(&centre_in, ctx, x->lo, x->mid ? 2 * n : n);
    if (!st)
        st = with_rows(&spread_in, ctx, x->lo, 2 * n);
    if (!st) {
        stack_job j = {x, centre_in->data, spread_in->data};
        ad_pool_for(ctx->pool, x->lo->numel, PASS_GRAIN, stack_range, &j);
    }
    if (!st)
        st = ad_interval_magnitude(&w_abs, ctx, w, w);
    if (!st)
        st = p->apply(&centres, ctx, centre_in, w, b, p->arg);
    if (!st)
        st = p->apply(&spreads, ctx, spread_in, w_abs, NULL, p->arg);
    if (!st)
        st = with_rows(&y.lo, ctx, centres, n);
    if (!st)
        st = with_rows(&y.hi, ctx, centres, n);
    const int64_t half = !st ? y.lo->numel : 0;
    if (!st && x->mid)
        st = ad_tensor_view(&y.mid, ctx, y.lo->ndim, y.lo->shape, half, centres->data + half,
                            "interval forward");
    if (st)
        return st;
    finish(ctx, &y, centres, spreads, b, w->numel / w->shape[0]);
    *out = y;
    return ADAPT_OK;
}
