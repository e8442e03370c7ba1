/* Temperature scaling: one T > 0 for all logits, fitted by minimising the NLL.
 *
 * With beta = 1 / T the mean NLL, mean_i [logsumexp(beta z_i) - beta z_iy], is convex in
 * beta: its derivative is mean_i [E_p(z_i) - z_iy] and its second derivative the mean
 * variance of the logits under p, never negative, so ad_convex_minimise finds it. */
#include "lib/eval/calibrator.h"

#include <math.h>

#include "lib/eval/convex_1d.h"

typedef struct {
    const float *logits;
    const int32_t *labels;
    int64_t n;
    int32_t classes;
} validation_set;

/* First and second derivative of the mean NLL in beta. */
static ad_derivatives nll_derivatives(double beta, const void *data)
{
    const validation_set *v = data;
    double slope = 0.0, curvature = 0.0;
    for (int64_t i = 0; i < v->n; i++) {
        const float *z = v->logits + i * v->classes;
        float top = z[0];
        for (int32_t k = 1; k < v->classes; k++)
            top = z[k] > top ? z[k] : top;
        double sum = 0.0, weighted = 0.0;
        for (int32_t k = 0; k < v->classes; k++) {
            const double w = exp(beta * ((double)z[k] - top));
            sum += w;
            weighted += w * z[k];
        }
        const double mean = weighted / sum;
        double spread = 0.0;
        for (int32_t k = 0; k < v->classes; k++) {
            const double d = z[k] - mean;
            spread += exp(beta * ((double)z[k] - top)) * d * d;
        }
        slope += mean - z[v->labels[i]];
        curvature += spread / sum;
    }
    return (ad_derivatives){slope / (double)v->n, curvature / (double)v->n};
}

double ad_temperature_fit(const float *logits, const int32_t *labels, int64_t n,
                          int32_t classes)
{
    const validation_set v = {logits, labels, n, classes};
    return 1.0 / ad_convex_minimise(nll_derivatives, &v, 1.0 / AD_TEMPERATURE_MAX,
                                    1.0 / AD_TEMPERATURE_MIN, 1.0);
}
