/* Temperature scaling: one T > 0 for all logits, fitted by minimising the NLL.
 *
 * With beta = 1 / T the mean NLL, mean_i [logsumexp(beta z_i) - beta z_iy], is convex in
 * beta: its derivative is mean_i [E_p(z_i) - z_iy] and its second derivative the mean
 * variance of the logits under p, never negative. The derivative is therefore monotone and
 * has at most one root in the allowed range, which a Newton iteration safeguarded by a
 * bracket (falling back to bisection of log beta) finds from any data. */
#include "lib/eval/calibrator.h"

#include <math.h>
#include <stdbool.h>

#define MAX_ITERATIONS 200
#define RELATIVE_STEP 1e-12 /* converged when a step moves beta by less than this */

typedef struct {
    double slope, curvature; /* first and second derivative of the mean NLL in beta */
} nll_derivatives;

static nll_derivatives derivatives(const float *logits, const int32_t *labels, int64_t n,
                                   int32_t classes, double beta)
{
    double slope = 0.0, curvature = 0.0;
    for (int64_t i = 0; i < n; i++) {
        const float *z = logits + i * classes;
        float top = z[0];
        for (int32_t k = 1; k < classes; k++)
            top = z[k] > top ? z[k] : top;
        double sum = 0.0, weighted = 0.0;
        for (int32_t k = 0; k < classes; k++) {
            const double w = exp(beta * ((double)z[k] - top));
            sum += w;
            weighted += w * z[k];
        }
        const double mean = weighted / sum;
        double spread = 0.0;
        for (int32_t k = 0; k < classes; k++) {
            const double d = z[k] - mean;
            spread += exp(beta * ((double)z[k] - top)) * d * d;
        }
        slope += mean - z[labels[i]];
        curvature += spread / sum;
    }
    return (nll_derivatives){slope / (double)n, curvature / (double)n};
}

double ad_temperature_fit(const float *logits, const int32_t *labels, int64_t n,
                          int32_t classes)
{
    double lo = 1.0 / AD_TEMPERATURE_MAX, hi = 1.0 / AD_TEMPERATURE_MIN, beta = 1.0;
    double last_move = INFINITY; /* |log beta| moved by the previous step */
    for (int32_t it = 0; it < MAX_ITERATIONS; it++) {
        const nll_derivatives d = derivatives(logits, labels, n, classes, beta);
        if (d.slope == 0.0)
            break;
        /* The minimum lies where the slope changes sign: shrink the bracket towards it. */
        if (d.slope > 0.0)
            hi = beta;
        else
            lo = beta;
        /* Newton unless it leaves the bracket or stops halving its steps, as on a slope
         * that fades exponentially towards a bound; bisection of log beta then. */
        double next = d.curvature > 0.0 ? beta - d.slope / d.curvature : NAN;
        if (!(next > lo && next < hi) || fabs(log(next / beta)) > 0.5 * last_move)
            next = sqrt(lo * hi);
        last_move = fabs(log(next / beta));
        const bool converged = fabs(next - beta) <= RELATIVE_STEP * beta;
        beta = next;
        if (converged)
            break;
    }
    return 1.0 / beta;
}
