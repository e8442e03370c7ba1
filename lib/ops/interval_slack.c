/* The rounding allowance of interval products. A float sum of K products, in any order, with
 * or without fused multiply-adds, is within gamma_K = K u / (1 - K u) of the exact sum of
 * their magnitudes (Higham, Accuracy and Stability of Numerical Algorithms, 3.1), u = 2^-24,
 * as long as nothing falls below the normal range, where each product and sum may be off by
 * half the smallest subnormal instead. The point value, the centre and the radius each carry
 * such an error, and forming the centre and radius and adding the bias round a few times more:
 * 4 (K + 2) u times the product of the magnitudes (every weight and input at its largest over
 * the boxes), plus as many smallest subnormals, covers all of them with room to spare. The
 * allowance is a constant to backward: a bound on rounding, not a function to train. */
#include <math.h>

#include "lib/core/context.h"
#include "lib/core/error.h"
#include "lib/core/tensor.h"
#include "lib/ops/interval.h"
#include "lib/ops/ops.h"

adapt_status ad_interval_magnitude(adapt_tensor **out, adapt_context *ctx, adapt_tensor *a,
                                   const adapt_tensor *b)
{
    const bool recording = ctx->grad_enabled;
    ctx->grad_enabled = false;
    adapt_status st = a == b ? ad_op_abs(out, ctx, a) : ad_tensor_new(out, ctx, a->ndim, a->shape);
    ctx->grad_enabled = recording;
    for (int64_t i = 0; !st && a != b && i < a->numel; i++) {
        const float x = fabsf(a->data[i]), y = fabsf(b->data[i]);
        (*out)->data[i] = x > y ? x : y;
    }
    return st;
}

adapt_status ad_interval_slack(adapt_tensor **out, adapt_context *ctx, const ad_interval *x,
                               const ad_interval_product *p, adapt_tensor *w_mag,
                               adapt_tensor *b_mag)
{
    adapt_tensor *x_mag, *s;
    adapt_status st = ad_interval_magnitude(&x_mag, ctx, x->lo, x->hi);
    const bool recording = ctx->grad_enabled;
    ctx->grad_enabled = false; /* a constant: nothing of it goes on the tape */
    if (!st)
        st = p->apply(&s, ctx, x_mag, w_mag, b_mag, p->arg);
    ctx->grad_enabled = recording;
    if (st)
        return st;
    const ad_allowance a = ad_allowance_for(w_mag->numel / w_mag->shape[0]);
    for (int64_t i = 0; i < s->numel; i++)
        s->data[i] = ad_allowance_of(&a, (double)s->data[i]);
    *out = s;
    return ADAPT_OK;
}
