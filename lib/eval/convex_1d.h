/* Minimising a convex function of one positive variable from its first two derivatives: the
 * one-parameter calibrators (temperature, exponent) fit their parameter with it. */
#ifndef AD_EVAL_CONVEX_1D_H
#define AD_EVAL_CONVEX_1D_H

typedef struct {
    double slope, curvature; /* first and second derivative at the point asked */
} ad_derivatives;

typedef ad_derivatives (*ad_derivatives_fn)(double x, const void *data);

/* The minimiser in [lo, hi] (0 < lo <= start <= hi) of a convex function whose derivatives
 * `f` gives: Newton's iteration kept inside a bracket of the slope's sign change, falling back
 * to bisection of log x, so it converges from any data, a minimiser on a bound included. */
double ad_convex_minimise(ad_derivatives_fn f, const void *data, double lo, double hi,
                          double start);

#endif
