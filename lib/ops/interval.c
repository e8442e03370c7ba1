#include "lib/ops/interval.h"

#include <math.h>

#include "lib/core/context.h"
#include "lib/core/error.h"
#include "lib/core/tensor.h"
#include "lib/ops/ops.h"

static adapt_status check_part(adapt_context *ctx, const adapt_tensor *t, const adapt_tensor *lo,
                               const char *fn, const char *what)
{
    if (!t)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: %s is NULL", fn, what);
    adapt_status st = ad_check_tensor(ctx, t, fn, what);
    if (st)
        return st;
    if (!ad_same_shape(t, lo)) {
        char a[160], b[160];
        return ad_fail(ADAPT_ERR_SHAPE, "%s: %s is %s, lo is %s", fn, what,
                       ad_shape_str(t, a, sizeof a), ad_shape_str(lo, b, sizeof b));
    }
    if (!ad_all_finite(t->data, t->numel))
        return ad_fail(ADAPT_ERR_NONFINITE, "%s: %s holds NaN or infinity", fn, what);
    return ADAPT_OK;
}

/* INVALID_ARGUMENT at the first i with a[i] > b[i]. */
static adapt_status check_order(const adapt_tensor *a, const adapt_tensor *b, const char *fn,
                                const char *what_a, const char *what_b)
{
    for (int64_t i = 0; i < a->numel; i++)
        if (a->data[i] > b->data[i])
            return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: %s > %s at value %lld (%g > %g)",
                           fn, what_a, what_b, (long long)i, (double)a->data[i],
                           (double)b->data[i]);
    return ADAPT_OK;
}

adapt_status ad_interval_check(adapt_context *ctx, const ad_interval *x, const char *fn)
{
    if (!x->lo)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: lo is NULL", fn);
    adapt_status st = check_part(ctx, x->lo, x->lo, fn, "lo");
    if (!st)
        st = check_part(ctx, x->hi, x->lo, fn, "hi");
    if (!st && x->mid)
        st = check_part(ctx, x->mid, x->lo, fn, "mid");
    if (!st && x->mid)
        st = check_order(x->lo, x->mid, fn, "lo", "mid");
    if (!st && x->mid)
        st = check_order(x->mid, x->hi, fn, "mid", "hi");
    return st ? st : check_order(x->lo, x->hi, fn, "lo", "hi");
}

adapt_status ad_interval_around(ad_interval *box, adapt_context *ctx, adapt_tensor *x, float eps,
                                float min, float max)
{
    adapt_status st = ad_tensor_new(&box->lo, ctx, x->ndim, x->shape);
    if (!st)
        st = ad_tensor_new(&box->hi, ctx, x->ndim, x->shape);
    if (st)
        return st;
    for (int64_t i = 0; i < x->numel; i++) {
        if (!(x->data[i] >= min && x->data[i] <= max))
            return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "input value %lld is %g, outside the "
                           "inputs' range [%g, %g]", (long long)i, (double)x->data[i],
                           (double)min, (double)max);
        box->lo->data[i] = fmaxf(x->data[i] - eps, min);
        box->hi->data[i] = fminf(x->data[i] + eps, max);
    }
    box->mid = x;
    return ADAPT_OK;
}

adapt_status ad_interval_check_nonnegative(const ad_interval *x, const char *fn)
{
    for (int64_t i = 0; i < x->lo->numel; i++)
        if (!(x->lo->data[i] >= 0.0f))
            return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: interval weights need inputs >= 0, "
                           "lo is %g at value %lld (put a ReLU, or inputs in [0, 1], before "
                           "the layer)", fn, (double)x->lo->data[i], (long long)i);
    return ADAPT_OK;
}

adapt_status ad_interval_monotone(ad_interval *out, adapt_context *ctx, const ad_interval *x,
                                  ad_interval_map_fn f, const void *arg)
{
    ad_interval y = {0};
    adapt_status st = f(&y.lo, ctx, x->lo, arg);
    if (!st)
        st = f(&y.hi, ctx, x->hi, arg);
    if (!st && x->mid)
        st = f(&y.mid, ctx, x->mid, arg);
    if (!st)
        *out = y;
    return st;
}

/* y = [mu - rho - slack, mu + rho + slack]. */
static adapt_status widen(ad_interval *y, adapt_context *ctx, adapt_tensor *mu, adapt_tensor *rho,
                          adapt_tensor *slack)
{
    adapt_tensor *reach;
    adapt_status st = ad_op_add(&reach, ctx, rho, slack);
    if (!st)
        st = ad_op_sub(&y->lo, ctx, mu, reach);
    return st ? st : ad_op_add(&y->hi, ctx, mu, reach);
}

adapt_status ad_interval_affine(ad_interval *out, adapt_context *ctx, const ad_interval *x,
                                const ad_interval_product *p, adapt_tensor *w, adapt_tensor *b)
{
    if (!ctx->grad_enabled)
        return ad_interval_affine_untaped(out, ctx, x, p, w, b);
    adapt_tensor *sum, *diff, *c, *r, *w_abs, *b_abs = NULL, *mu, *rho, *slack;
    ad_interval y = {0};
    adapt_status st = ad_op_add(&sum, ctx, x->hi, x->lo);
    if (!st)
        st = ad_op_sub(&diff, ctx, x->hi, x->lo);
    if (!st)
        st = ad_op_scale(&c, ctx, sum, 0.5f);
    if (!st)
        st = ad_op_scale(&r, ctx, diff, 0.5f);
    if (!st)
        st = ad_op_abs(&w_abs, ctx, w);
    if (!st)
        st = p->apply(&mu, ctx, c, w, b, p->arg);
    if (!st)
        st = p->apply(&rho, ctx, r, w_abs, NULL, p->arg);
    if (!st && b)
        st = ad_interval_magnitude(&b_abs, ctx, b, b);
    if (!st)
        st = ad_interval_slack(&slack, ctx, x, p, w_abs, b_abs);
    if (!st)
        st = widen(&y, ctx, mu, rho, slack);
    if (!st && x->mid)
        st = p->apply(&y.mid, ctx, x->mid, w, b, p->arg);
    if (!st)
        *out = y;
    return st;
}

/* w+ and w- = w - w+. */
static adapt_status split_signs(adapt_tensor **pos, adapt_tensor **neg, adapt_context *ctx,
                                adapt_tensor *w)
{
    adapt_status st = ad_op_relu(pos, ctx, w);
    return st ? st : ad_op_sub(neg, ctx, w, *pos);
}

/* P(a, w+, b) + P(other, w-): the bound whose weights' signs pick its inputs' ends. */
static adapt_status signed_bound(adapt_tensor **out, adapt_context *ctx,
                                 const ad_interval_product *p, adapt_tensor *a,
                                 adapt_tensor *other, adapt_tensor *w, adapt_tensor *b)
{
    adapt_tensor *pos, *neg, *first, *second;
    adapt_status st = split_signs(&pos, &neg, ctx, w);
    if (!st)
        st = p->apply(&first, ctx, a, pos, b, p->arg);
    if (!st)
        st = p->apply(&second, ctx, other, neg, NULL, p->arg);
    return st ? st : ad_op_add(out, ctx, first, second);
}

adapt_status ad_interval_affine_boxed(ad_interval *out, adapt_context *ctx, const ad_interval *x,
                                      const ad_interval_product *p, const ad_interval *w,
                                      const ad_interval *b)
{
    adapt_tensor *lo, *hi, *w_mag, *b_mag = NULL, *slack;
    ad_interval y = {0};
    adapt_status st = ad_interval_check_nonnegative(x, "interval product");
    if (!st)
        st = signed_bound(&lo, ctx, p, x->lo, x->hi, w->lo, b->lo);
    if (!st)
        st = signed_bound(&hi, ctx, p, x->hi, x->lo, w->hi, b->hi);
    if (!st)
        st = ad_interval_magnitude(&w_mag, ctx, w->lo, w->hi);
    if (!st && b->lo)
        st = ad_interval_magnitude(&b_mag, ctx, b->lo, b->hi);
    if (!st)
        st = ad_interval_slack(&slack, ctx, x, p, w_mag, b_mag);
    if (!st)
        st = ad_op_sub(&y.lo, ctx, lo, slack);
    if (!st)
        st = ad_op_add(&y.hi, ctx, hi, slack);
    if (!st && x->mid)
        st = p->apply(&y.mid, ctx, x->mid, w->mid, b->mid, p->arg);
    if (!st)
        *out = y;
    return st;
}

adapt_status ad_interval_add(ad_interval *out, adapt_context *ctx, const ad_interval *a,
                             const ad_interval *b)
{
    ad_interval y = {0};
    adapt_status st = ad_op_add(&y.lo, ctx, a->lo, b->lo);
    if (!st)
        st = ad_op_add(&y.hi, ctx, a->hi, b->hi);
    if (!st && a->mid && b->mid)
        st = ad_op_add(&y.mid, ctx, a->mid, b->mid);
    if (!st)
        *out = y;
    return st;
}
