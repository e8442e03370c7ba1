/* Interval bound propagation (docs/intervals.md). A box of activations is three tensors of one
 * shape, lo <= mid <= hi elementwise: bounds on every value the layers can produce for inputs
 * (and weights) inside the boxes they were given, and the value at one point inside (mid: the
 * clean input, or the box's middle weights). The bounds are built from the taped ops, so they
 * train like any other expression, and are sound in float arithmetic: every affine step widens
 * them by a bound on the rounding error of any order of summation (interval_slack.c). */
#ifndef AD_OPS_INTERVAL_H
#define AD_OPS_INTERVAL_H

#include "adapt.h"

typedef struct {
    adapt_tensor *lo, *mid, *hi; /* mid may be NULL: not tracked */
} ad_interval;

#define AD_UNIT_ROUNDOFF 0x1p-24 /* u: float32 rounds to nearest within a factor 1 + u */

/* lo, hi (and mid when set) must be activations of ctx or parameters: SHAPE unless of one
 * shape, NONFINITE for NaN or infinity, INVALID_ARGUMENT unless lo <= mid <= hi. */
adapt_status ad_interval_check(adapt_context *ctx, const ad_interval *x, const char *fn);

/* The L-infinity box of radius eps around x within [min, max]: lo = max(x - eps, min),
 * hi = min(x + eps, max), mid = x; constants to backward. INVALID_ARGUMENT for an x outside
 * [min, max]. */
adapt_status ad_interval_around(ad_interval *box, adapt_context *ctx, adapt_tensor *x, float eps,
                                float min, float max);

/* INVALID_ARGUMENT naming the first negative value of x->lo: the interval-weight products
 * need inputs >= 0. */
adapt_status ad_interval_check_nonnegative(const ad_interval *x, const char *fn);

/* An op that maps x to y (e.g. relu, a pooling, a reshape); arg is the op's own. */
typedef adapt_status (*ad_interval_map_fn)(adapt_tensor **y, adapt_context *ctx, adapt_tensor *x,
                                           const void *arg);

/* f on each of lo, mid and hi: the exact bounds of a nondecreasing f (ReLU, max and average
 * pooling, reshapes), rounding included, since rounding to nearest is monotone too. */
adapt_status ad_interval_monotone(ad_interval *out, adapt_context *ctx, const ad_interval *x,
                                  ad_interval_map_fn f, const void *arg);

/* An affine product y = x w^T + b (linear) or conv(x, w) + b: x[N, ...] -> [N, C, ...] with
 * the output channel on axis 1; b may be NULL. */
typedef adapt_status (*ad_interval_product_fn)(adapt_tensor **y, adapt_context *ctx,
                                               adapt_tensor *x, adapt_tensor *w, adapt_tensor *b,
                                               const void *arg);
typedef struct {
    ad_interval_product_fn apply;
    const void *arg;
} ad_interval_product;

/* Point weights w, b (b may be NULL): centre and radius, mu = P(c, w, b), rho = P(r, |w|),
 * the output [mu - rho, mu + rho] widened by the rounding allowance; mid = P(mid, w, b). */
adapt_status ad_interval_affine(ad_interval *out, adapt_context *ctx, const ad_interval *x,
                                const ad_interval_product *p, adapt_tensor *w, adapt_tensor *b);

/* ad_interval_affine without a tape (interval_untaped.c): two products of twice the rows
 * instead of four. The caller checked that ctx does not record. */
adapt_status ad_interval_affine_untaped(ad_interval *out, adapt_context *ctx,
                                        const ad_interval *x, const ad_interval_product *p,
                                        adapt_tensor *w, adapt_tensor *b);

/* Interval weights w->lo <= w->hi (w->mid the point the mid output uses) and biases b (all
 * three NULL for none), for inputs x >= 0 (else INVALID_ARGUMENT):
 *   lo = P(x.lo, w.lo+) + P(x.hi, w.lo-) + b.lo,  hi = P(x.hi, w.hi+) + P(x.lo, w.hi-) + b.hi
 * with A+ = max(A, 0), A- = min(A, 0), widened by the rounding allowance. */
adapt_status ad_interval_affine_boxed(ad_interval *out, adapt_context *ctx, const ad_interval *x,
                                      const ad_interval_product *p, const ad_interval *w,
                                      const ad_interval *b);

/* lo + lo, mid + mid, hi + hi: the box of a sum. */
adapt_status ad_interval_add(ad_interval *out, adapt_context *ctx, const ad_interval *a,
                             const ad_interval *b);

/* The rounding allowance of sums of K products (interval_slack.c): 4 (K + 2) u times their
 * magnitude plus 4 (K + 2) + 2 smallest subnormals, each part raised a little further so that
 * the float it rounds to is never below it. */
typedef struct {
    double relative, absolute;
} ad_allowance;

static inline ad_allowance ad_allowance_for(int64_t terms)
{
    const double k = 4.0 * (double)(terms + 2);
    return (ad_allowance){k * AD_UNIT_ROUNDOFF * (1.0 + 0x1p-20), (k + 2.0) * 0x1p-149};
}

static inline float ad_allowance_of(const ad_allowance *a, double magnitude)
{
    return (float)(a->relative * magnitude + a->absolute);
}

/* max(|a|, |b|) elementwise, untaped; |a| when b is a. */
adapt_status ad_interval_magnitude(adapt_tensor **out, adapt_context *ctx, adapt_tensor *a,
                                   const adapt_tensor *b);

/* The rounding allowance of the affine product p (interval_slack.c), a constant shaped like
 * its output: 4 (K + 2) u P(max(|x.lo|, |x.hi|), w_mag, b_mag) plus 4 (K + 2) + 1 of the
 * smallest subnormal float, with K the terms of each sum and w_mag, b_mag (may be NULL) the
 * largest magnitudes of the weights and biases over their boxes. It bounds the error of any
 * order of float summation of the point value and of the bounds alike. */
adapt_status ad_interval_slack(adapt_tensor **out, adapt_context *ctx, const ad_interval *x,
                               const ad_interval_product *p, adapt_tensor *w_mag,
                               adapt_tensor *b_mag);

#endif
