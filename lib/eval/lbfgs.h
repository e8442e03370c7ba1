/* A small deterministic L-BFGS minimiser for smooth objectives of a few hundred variables. */
#ifndef AD_EVAL_LBFGS_H
#define AD_EVAL_LBFGS_H

#include <stdint.h>

#include "adapt.h"

/* Returns f(x) and writes its gradient into `grad`. */
typedef double (*ad_objective_fn)(double *grad, const double *x, void *arg);

typedef struct {
    int32_t max_iterations; /* accepted steps at most */
    double tolerance;       /* stop once max_i |grad_i| <= tolerance */
} ad_lbfgs_limits;

/* Minimises `f` from x[0..dim), updating x in place. Stops at the gradient tolerance, the
 * iteration limit, or when a line search finds no decrease (the objective is flat to
 * rounding). Fails only for lack of memory, with x unchanged. */
adapt_status ad_lbfgs_minimise(double *x, int32_t dim, ad_objective_fn f, void *arg,
                               const ad_lbfgs_limits *limits, const char *fn);

#endif
