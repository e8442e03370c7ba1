/* The point-weight affine step of interval bound propagation without a tape (certification,
 * evaluation): the same bounds as the composed operations of ad_interval_affine, in two
 * products of twice the rows instead of four, since the centre and the mid input share W and
 * the radius and the magnitudes share |W|, and one pass for everything else. */
#include <float.h>
#include <math.h>

#include "lib/core/context.h"
#include "lib/core/error.h"
#include "lib/core/tensor.h"
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

/* centres = [c; mid], spreads = [r; max(|lo|, |hi|)], as the composed path rounds them. */
static void stack_inputs(float *centres, float *spreads, const ad_interval *x)
{
    const int64_t n = x->lo->numel;
    for (int64_t i = 0; i < n; i++) {
        const float lo = x->lo->data[i], hi = x->hi->data[i];
        const float a = fabsf(lo), b = fabsf(hi);
        centres[i] = (hi + lo) * 0.5f;
        spreads[i] = (hi - lo) * 0.5f;
        spreads[n + i] = a > b ? a : b;
        if (x->mid)
            centres[n + i] = x->mid->data[i];
    }
}

/* lo and hi from mu (centres' first half), rho and the magnitudes (spreads' halves), with the
 * allowance of interval_slack.c: 4 (K + 2) u (magnitude + |b|) and the subnormal term. */
static void finish(ad_interval *y, const adapt_tensor *centres, const adapt_tensor *spreads,
                   const adapt_tensor *b, int64_t terms)
{
    const int64_t n = y->lo->numel, rows = y->lo->shape[0];
    const int64_t channels = y->lo->ndim > 1 ? y->lo->shape[1] : 1;
    const int64_t spatial = n / rows / channels;
    const double gamma = 4.0 * (double)(terms + 2) * AD_UNIT_ROUNDOFF * (1.0 + 0x1p-20);
    const double tiny = (4.0 * (double)(terms + 2) + 2.0) * (double)FLT_TRUE_MIN;
    const float *mu = centres->data, *rho = spreads->data, *mag = spreads->data + n;
    for (int64_t r = 0; r < rows; r++)
        for (int64_t c = 0; c < channels; c++) {
            const double bias = b ? fabs((double)b->data[c]) : 0.0;
            const int64_t at = (r * channels + c) * spatial;
            for (int64_t i = at; i < at + spatial; i++) {
                const float s = (float)(gamma * ((double)mag[i] + bias) + tiny);
                const float reach = rho[i] + s;
                y->lo->data[i] = mu[i] - reach;
                y->hi->data[i] = mu[i] + reach;
            }
        }
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
    if (!st)
        stack_inputs(centre_in->data, spread_in->data, x);
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
    finish(&y, centres, spreads, b, w->numel / w->shape[0]);
    *out = y;
    return ADAPT_OK;
}
