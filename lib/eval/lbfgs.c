/* L-BFGS with the two-loop recursion (Nocedal & Wright, algorithm 7.4) and a backtracking
 * line search under the Armijo condition. Curvature pairs with s.y <= 0 are skipped, so the
 * implied inverse Hessian stays positive definite without a Wolfe line search. */
#include "lib/eval/lbfgs.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "lib/core/error.h"

#define HISTORY 10       /* curvature pairs kept */
#define ARMIJO 1e-4      /* sufficient-decrease constant */
#define MAX_HALVINGS 60  /* a step of 2^-60 moves nothing */

typedef struct {
    int32_t dim, count, newest; /* pairs held; index of the newest in the ring */
    double *s, *y;              /* [HISTORY, dim] */
    double rho[HISTORY];        /* 1 / (s.y) */
} history;

static double dot(const double *a, const double *b, int32_t dim)
{
    double sum = 0.0;
    for (int32_t i = 0; i < dim; i++)
        sum += a[i] * b[i];
    return sum;
}

static double max_abs(const double *a, int32_t dim)
{
    double m = 0.0;
    for (int32_t i = 0; i < dim; i++)
        m = fmax(m, fabs(a[i]));
    return m;
}

/* d = -H g, H the inverse-Hessian approximation of the pairs held. */
static void direction(double *d, const double *g, const history *h)
{
    const int32_t dim = h->dim;
    double alpha[HISTORY];
    for (int32_t i = 0; i < dim; i++)
        d[i] = -g[i];
    for (int32_t j = 0; j < h->count; j++) {
        const int32_t m = (h->newest - j + HISTORY) % HISTORY;
        alpha[m] = h->rho[m] * dot(h->s + m * dim, d, dim);
        for (int32_t i = 0; i < dim; i++)
            d[i] -= alpha[m] * h->y[m * dim + i];
    }
    if (h->count) {
        const double *s = h->s + h->newest * dim, *y = h->y + h->newest * dim;
        const double gamma = dot(s, y, dim) / dot(y, y, dim);
        for (int32_t i = 0; i < dim; i++)
            d[i] *= gamma;
    }
    for (int32_t j = h->count - 1; j >= 0; j--) {
        const int32_t m = (h->newest - j + HISTORY) % HISTORY;
        const double beta = h->rho[m] * dot(h->y + m * dim, d, dim);
        for (int32_t i = 0; i < dim; i++)
            d[i] += (alpha[m] - beta) * h->s[m * dim + i];
    }
}

static void remember(history *h, const double *x_old, const double *x_new,
                     const double *g_old, const double *g_new)
{
    const int32_t dim = h->dim, slot = (h->newest + 1) % HISTORY;
    double *s = h->s + slot * dim, *y = h->y + slot * dim;
    for (int32_t i = 0; i < dim; i++) {
        s[i] = x_new[i] - x_old[i];
        y[i] = g_new[i] - g_old[i];
    }
    const double sy = dot(s, y, dim);
    if (!(sy > 0.0))
        return;
    h->rho[slot] = 1.0 / sy;
    h->newest = slot;
    h->count += h->count < HISTORY;
}

/* Backtracks from step 1 along d until f decreases enough; false if it never does. */
static bool line_search(double *x_new, double *g_new, double *f_new, const double *x,
                        double f, const double *d, double slope, int32_t dim,
                        ad_objective_fn fun, void *arg)
{
    double step = 1.0;
    for (int32_t k = 0; k < MAX_HALVINGS; k++, step *= 0.5) {
        for (int32_t i = 0; i < dim; i++)
            x_new[i] = x[i] + step * d[i];
        *f_new = fun(g_new, x_new, arg);
        if (*f_new <= f + ARMIJO * step * slope)
            return true;
    }
    return false;
}

static void iterate(double *x, double *work, history *h, ad_objective_fn fun, void *arg,
                    const ad_lbfgs_limits *limits)
{
    const int32_t dim = h->dim;
    double *g = work, *d = work + dim, *x_new = work + 2 * dim, *g_new = work + 3 * dim;
    double f = fun(g, x, arg);
    for (int32_t it = 0; it < limits->max_iterations && max_abs(g, dim) > limits->tolerance;
         it++) {
        direction(d, g, h);
        double slope = dot(d, g, dim);
        if (!h->count || !(slope < 0.0)) { /* first step, or a direction gone bad: descend */
            const double scale = 1.0 / fmax(1.0, sqrt(dot(g, g, dim)));
            for (int32_t i = 0; i < dim; i++)
                d[i] = -g[i] * scale;
            slope = dot(d, g, dim);
        }
        double f_new;
        if (!line_search(x_new, g_new, &f_new, x, f, d, slope, dim, fun, arg))
            break;
        remember(h, x, x_new, g, g_new);
        memcpy(x, x_new, (size_t)dim * sizeof *x);
        memcpy(g, g_new, (size_t)dim * sizeof *g);
        f = f_new;
    }
}

adapt_status ad_lbfgs_minimise(double *x, int32_t dim, ad_objective_fn f, void *arg,
                               const ad_lbfgs_limits *limits, const char *fn)
{
    history h = {.dim = dim, .newest = HISTORY - 1};
    h.s = malloc((size_t)HISTORY * (size_t)dim * sizeof *h.s);
    h.y = malloc((size_t)HISTORY * (size_t)dim * sizeof *h.y);
    double *work = malloc(4 * (size_t)dim * sizeof *work);
    adapt_status st = ADAPT_OK;
    if (h.s && h.y && work)
        iterate(x, work, &h, f, arg, limits);
    else
        st = ad_fail(ADAPT_ERR_OUT_OF_MEMORY, "%s: no memory for L-BFGS on %d variables", fn,
                     (int)dim);
    free(h.s);
    free(h.y);
    free(work);
    return st;
}
