#include "lib/eval/convex_1d.h"

#include <math.h>
#include <stdbool.h>

#define MAX_ITERATIONS 200
#define RELATIVE_STEP 1e-12 /* converged when a step moves x by less than this */

double ad_convex_minimise(ad_derivatives_fn f, const void *data, double lo, double hi,
                          double start)
{
    double x = start;
    double last_move = INFINITY; /* |log x| moved by the previous step */
    for (int it = 0; it < MAX_ITERATIONS; it++) {
        const ad_derivatives d = f(x, data);
        if (d.slope == 0.0)
            break;
        /* The minimum lies where the slope changes sign: shrink the bracket towards it. */
        if (d.slope > 0.0)
            hi = x;
        else
            lo = x;
        /* Newton unless it leaves the bracket or stops halving its steps, as on a slope
         * that fades exponentially towards a bound; bisection of log x then. */
        double next = d.curvature > 0.0 ? x - d.slope / d.curvature : NAN;
        if (!(next > lo && next < hi) || fabs(log(next / x)) > 0.5 * last_move)
            next = sqrt(lo * hi);
        last_move = fabs(log(next / x));
        const bool converged = fabs(next - x) <= RELATIVE_STEP * x;
        x = next;
        if (converged)
            break;
    }
    return x;
}
