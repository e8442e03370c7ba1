/* Logistic regression of one layer: w, b minimising the mean log loss
 * (1/n) sum_i [softplus(z_i) - y_i z_i], z_i = wᵀ x_i + b, plus (l2 / 2n) |w|^2, by L-BFGS in
 * double. scikit-learn's LogisticRegression(C = 1 / l2) minimises C n times the same; the
 * bias is penalised by neither. */
#include <stdlib.h>
#include <string.h>

#include "lib/core/error.h"
#include "lib/eval/lbfgs.h"
#include "lib/kernels/row_reduce.h"
#include "lib/probe/probe.h"

typedef struct {
    const float *x;
    const int32_t *labels;
    int64_t n, d;
    double l2;
} logistic_problem;

/* v = (w, b): returns the objective and writes its gradient. */
static double objective(double *grad, const double *v, void *arg)
{
    const logistic_problem *p = arg;
    const int64_t d = p->d;
    double loss = 0.0;
    memset(grad, 0, ((size_t)d + 1) * sizeof *grad);
    for (int64_t i = 0; i < p->n; i++) {
        const float *xi = p->x + i * d;
        double z = v[d];
        for (int64_t j = 0; j < d; j++)
            z += v[j] * xi[j];
        loss += ad_softplus(z) - (p->labels[i] ? z : 0.0);
        const double r = ad_sigmoid(z) - p->labels[i];
        for (int64_t j = 0; j < d; j++)
            grad[j] += r * xi[j];
        grad[d] += r;
    }
    const double inv_n = 1.0 / (double)p->n;
    double penalty = 0.0;
    for (int64_t j = 0; j <= d; j++)
        grad[j] *= inv_n;
    for (int64_t j = 0; j < d; j++) {
        penalty += v[j] * v[j];
        grad[j] += p->l2 * v[j];
    }
    return loss * inv_n + 0.5 * p->l2 * penalty;
}

adapt_status ad_logistic_fit(ad_probe_layer *layer, const float *x, int64_t n,
                             const int32_t *labels, const adapt_probe_params *params,
                             const char *fn)
{
    const int64_t d = layer->width;
    if (d >= INT32_MAX)
        return ad_fail(ADAPT_ERR_OVERFLOW, "%s: %lld features are too many", fn, (long long)d);
    double *v = calloc((size_t)d + 1, sizeof *v);
    layer->weight = malloc((size_t)d * sizeof *layer->weight);
    if (!v || !layer->weight) {
        free(v);
        return ad_fail(ADAPT_ERR_OUT_OF_MEMORY, "%s: no memory for %lld weights", fn,
                       (long long)d);
    }
    const logistic_problem problem = {x, labels, n, d, params->l2 / (double)n};
    const ad_lbfgs_limits limits = {params->max_iterations, params->tolerance};
    adapt_status st = ad_lbfgs_minimise(v, (int32_t)(d + 1), objective, (void *)&problem,
                                        &limits, fn);
    if (!st) {
        memcpy(layer->weight, v, (size_t)d * sizeof *v);
        layer->bias = v[d];
    }
    free(v);
    return st;
}
