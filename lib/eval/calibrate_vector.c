/* Vector scaling: softmax(a_k z_k + b_k) with a scale and a shift per class, fitted by
 * minimising the mean NLL with L-BFGS from the identity (a = 1, b = 0). The NLL is convex in
 * (a, b), so any minimum L-BFGS reaches is the global one; on separable data it has none
 * (the scales grow for ever) and the iteration limit ends the fit. */
#include "lib/eval/calibrator.h"

#include <stdlib.h>
#include <string.h>

#include "lib/core/error.h"
#include "lib/eval/lbfgs.h"

typedef struct {
    const float *logits;
    const int32_t *labels;
    int64_t n;
    int32_t classes;
    double *row; /* one row of scaled logits, then probabilities */
} vector_problem;

/* x = [a_0 .. a_{K-1}, b_0 .. b_{K-1}]. With p = softmax(a z + b) the gradient of the mean
 * NLL is mean_i (p_ik - [y_i = k]) z_ik for a_k and mean_i (p_ik - [y_i = k]) for b_k. */
static double mean_nll(double *grad, const double *x, void *arg)
{
    const vector_problem *p = arg;
    const int32_t classes = p->classes;
    const double *a = x, *b = x + classes;
    double *grad_a = grad, *grad_b = grad + classes;
    memset(grad, 0, 2 * (size_t)classes * sizeof *grad);
    double total = 0.0;
    for (int64_t i = 0; i < p->n; i++) {
        const float *z = p->logits + i * classes;
        const int32_t y = p->labels[i];
        for (int32_t k = 0; k < classes; k++)
            p->row[k] = a[k] * z[k] + b[k];
        const double target = p->row[y];
        total += ad_softmax_in_place(p->row, classes) - target;
        for (int32_t k = 0; k < classes; k++) {
            const double residual = p->row[k] - (k == y);
            grad_a[k] += residual * z[k];
            grad_b[k] += residual;
        }
    }
    for (int32_t j = 0; j < 2 * classes; j++)
        grad[j] /= (double)p->n;
    return total / (double)p->n;
}

adapt_status ad_vector_fit(double *scale, double *shift, const float *logits,
                           const int32_t *labels, int64_t n, int32_t classes,
                           int32_t max_iterations, double tolerance, const char *fn)
{
    vector_problem problem = {logits, labels, n, classes,
                              malloc((size_t)classes * sizeof(double))};
    double *x = malloc(2 * (size_t)classes * sizeof *x);
    adapt_status st = ADAPT_OK;
    if (!problem.row || !x) {
        st = ad_fail(ADAPT_ERR_OUT_OF_MEMORY, "%s: no memory for %d classes", fn, (int)classes);
    } else {
        for (int32_t k = 0; k < classes; k++) {
            x[k] = 1.0;
            x[classes + k] = 0.0;
        }
        const ad_lbfgs_limits limits = {max_iterations, tolerance};
        st = ad_lbfgs_minimise(x, 2 * classes, mean_nll, &problem, &limits, fn);
        if (!st) {
            memcpy(scale, x, (size_t)classes * sizeof *x);
            memcpy(shift, x + classes, (size_t)classes * sizeof *x);
        }
    }
    free(problem.row);
    free(x);
    return st;
}
