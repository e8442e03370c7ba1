/* The rounding allowance of interval products. A float sum of K products, in any order, with
 * or without fused multiply-adds, is within gamma_K = K u / (1 - K u) of the exact sum of
 * their magnitudes (Higham, Accuracy and Stability of Numerical Algorithms, 3.1), u = 2^-24.
 * The point value, the centre and the radius each carry such an error, and forming the centre
 * and radius and adding the bias round a few times more: 4 (K + 2) u times the product of the
 * magnitudes (every weight and input at its largest over the boxes) covers all of them with
 * room to spare. The allowance is a constant to backward: a bound on rounding, not a function
 * to train. */
#include <math.h>

#include "lib/core/context.h"
#include "lib/core/error.h"
#include "lib/core/tensor.h"
#include "lib/ops/interval.h"
#include "lib/ops/ops.h"

#define UNIT_ROUNDOFF 0x1p-24

/* max(|a|, |b|) elementwise, a new tensor shaped like a; a itself (as |a|) when b is a. */
static adapt_status magnitude(adapt_tensor **out, adapt_context *ctx, adapt_tensor *a,
                              const adapt_tensor *b)
{
    if (a == b)
        return ad_op_abs(out, ctx, a);
    adapt_status st = ad_tensor_new(out, ctx, a->ndim, a->shape);
    for (int64_t i = 0; !st && i < a->numel; i++) {
        const float x = fabsf(a->data[i]), y = fabsf(b->data[i]);
        (*out)->data[i] = x > y ? x : y;
    }
    return st;
}

static adapt_status magnitudes(adapt_tensor **out, adapt_context *ctx, const ad_interval *x,
                               const ad_interval_product *p, adapt_tensor *w_lo,
                               const adapt_tensor *w_hi, adapt_tensor *b_lo,
                               const adapt_tensor *b_hi)
{
    adapt_tensor *xm, *wm, *bm = NULL;
    adapt_status st = magnitude(&xm, ctx, x->lo, x->hi);
    if (!st)
        st = magnitude(&wm, ctx, w_lo, w_hi);
    if (!st && b_lo)
        st = magnitude(&bm, ctx, b_lo, b_hi);
    return st ? st : p->apply(out, ctx, xm, wm, bm, p->arg);
}

adapt_status ad_interval_slack(adapt_tensor **out, adapt_context *ctx, const ad_interval *x,
                               const ad_interval_product *p, adapt_tensor *w_lo,
                               const adapt_tensor *w_hi, adapt_tensor *b_lo,
                               const adapt_tensor *b_hi)
{
    const bool recording = ctx->grad_enabled;
    ctx->grad_enabled = false; /* a constant: nothing of it goes on the tape */
    adapt_tensor *s;
    adapt_status st = magnitudes(&s, ctx, x, p, w_lo, w_hi, b_lo, b_hi);
    ctx->grad_enabled = recording;
    if (st)
        return st;
    const int64_t terms = w_lo->numel / w_lo->shape[0];
    /* 2^-20 more than the allowance: the float it rounds to is never below it */
    const double gamma = 4.0 * (double)(terms + 2) * UNIT_ROUNDOFF * (1.0 + 0x1p-20);
    for (int64_t i = 0; i < s->numel; i++)
        s->data[i] = (float)(gamma * (double)s->data[i]);
    *out = s;
    return ADAPT_OK;
}
