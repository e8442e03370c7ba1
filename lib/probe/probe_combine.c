/* The probe's combination over layers: L1-regularised logistic regression on the layers'
 * probabilities p_il, minimising F(w) = (1/n) sum_i [softplus(z_i) - y_i z_i]
 * + lambda sum_l |w_l|, z_i = sum_l w_l p_il + b, the bias unpenalised; lambda = l1 / n, so
 * that l1 is scikit-learn's 1 / C. The layers' probabilities are strongly correlated and
 * often spread over a narrow band, which leaves first-order methods crawling; so it is solved
 * by proximal Newton (Lee, Sun & Saunders, 2014): at each step the loss's second-order model
 * plus the L1 term is minimised exactly by coordinate descent, then a backtracking search
 * along that direction ensures descent. In double throughout. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lib/core/error.h"
#include "lib/kernels/row_reduce.h"
#include "lib/probe/probe.h"

#define INNER_SWEEPS 200 /* coordinate-descent sweeps per Newton step at most */
#define ARMIJO 1e-4
#define MAX_HALVINGS 50

typedef struct {
    const float *p;
    const int32_t *labels;
    int64_t n;
    int32_t dim;   /* layers; the bias is coordinate dim */
    double lambda; /* on the mean loss */
} combine_problem;

static double l1_norm(const double *w, int32_t dim)
{
    double s = 0.0;
    for (int32_t l = 0; l < dim; l++)
        s += fabs(w[l]);
    return s;
}

/* z_i of row i under w. */
static double logit(const combine_problem *c, const double *w, int64_t i)
{
    double z = w[c->dim];
    for (int32_t l = 0; l < c->dim; l++)
        z += w[l] * c->p[i * c->dim + l];
    return z;
}

static double objective(const combine_problem *c, const double *w)
{
    double loss = 0.0;
    for (int64_t i = 0; i < c->n; i++) {
        const double z = logit(c, w, i);
        loss += ad_softplus(z) - (c->labels[i] ? z : 0.0);
    }
    return loss / (double)c->n + c->lambda * l1_norm(w, c->dim);
}

/* The mean loss's gradient g [m] and Hessian h [m, m] at w, m = dim + 1 (row i's features
 * extended by a 1 for the bias). */
static void second_order(double *g, double *h, const combine_problem *c, const double *w)
{
    const int32_t m = c->dim + 1;
    memset(g, 0, (size_t)m * sizeof *g);
    memset(h, 0, (size_t)m * (size_t)m * sizeof *h);
    for (int64_t i = 0; i < c->n; i++) {
        const float *pi = c->p + i * c->dim;
        const double s = ad_sigmoid(logit(c, w, i)), r = s - c->labels[i], v = s * (1.0 - s);
        for (int32_t a = 0; a < m; a++) {
            const double xa = a < c->dim ? pi[a] : 1.0;
            g[a] += r * xa;
            for (int32_t b = a; b < m; b++)
                h[a * m + b] += v * xa * (b < c->dim ? pi[b] : 1.0);
        }
    }
    for (int32_t a = 0; a < m; a++) {
        g[a] /= (double)c->n;
        for (int32_t b = a; b < m; b++)
            h[b * m + a] = h[a * m + b] /= (double)c->n;
    }
}

/* The direction d minimising gᵀd + dᵀ h d / 2 + lambda |w + d|_1 (over the layers), by
 * cyclic coordinate descent: each coordinate's minimum is a soft threshold. */
static void newton_direction(double *d, double *hd, const double *g, const double *h,
                             const double *w, const combine_problem *c, double tolerance)
{
    const int32_t m = c->dim + 1;
    memset(d, 0, (size_t)m * sizeof *d);
    memset(hd, 0, (size_t)m * sizeof *hd);
    for (int sweep = 0; sweep < INNER_SWEEPS; sweep++) {
        double largest = 0.0;
        for (int32_t j = 0; j < m; j++) {
            const double a = h[j * m + j] > 1e-300 ? h[j * m + j] : 1e-300;
            const double b = g[j] + hd[j] - a * d[j]; /* slope at d_j = 0, others fixed */
            const double u = w[j] - b / a, t = j < c->dim ? c->lambda / a : 0.0;
            const double next = (u > t ? u - t : u < -t ? u + t : 0.0) - w[j];
            const double step = next - d[j];
            if (step == 0.0)
                continue;
            for (int32_t k = 0; k < m; k++)
                hd[k] += h[k * m + j] * step;
            d[j] = next;
            largest = fabs(step) > largest ? fabs(step) : largest;
        }
        if (largest <= 0.01 * tolerance)
            break;
    }
}

/* The largest entry of F's minimum-norm subgradient at w: 0 exactly at the minimum. */
static double optimality_gap(const double *g, const double *w, const combine_problem *c)
{
    double gap = fabs(g[c->dim]);
    for (int32_t l = 0; l < c->dim; l++) {
        const double v = w[l] != 0.0 ? fabs(g[l] + copysign(c->lambda, w[l]))
                                     : fmax(fabs(g[l]) - c->lambda, 0.0);
        gap = v > gap ? v : gap;
    }
    return gap;
}

/* One Newton step from w with backtracking; returns 0 when no step decreases F. */
static int newton_step(double *w, double *work, const combine_problem *c, const double *g,
                       double tolerance)
{
    const int32_t m = c->dim + 1;
    double *h = work, *d = h + m * m, *hd = d + m, *next = hd + m;
    newton_direction(d, hd, g, h, w, c, tolerance);
    double descent = c->lambda * -l1_norm(w, c->dim);
    for (int32_t j = 0; j < m; j++)
        descent += g[j] * d[j], next[j] = w[j] + d[j];
    descent += c->lambda * l1_norm(next, c->dim);
    const double before = objective(c, w);
    for (int k = 0; k < MAX_HALVINGS; k++) {
        const double s = ldexp(1.0, -k);
        for (int32_t j = 0; j < m; j++)
            next[j] = w[j] + s * d[j];
        if (objective(c, next) <= before + ARMIJO * s * descent) {
            memcpy(w, next, (size_t)m * sizeof *w);
            return 1;
        }
    }
    return 0;
}

adapt_status ad_l1_logistic_fit(double *w, const float *p, int64_t n, int32_t dim,
                                const int32_t *labels, double l1, int32_t max_iterations,
                                double tolerance, const char *fn)
{
    const size_t m = (size_t)dim + 1;
    double *work = calloc(m * m + 5 * m, sizeof *work); /* newton_step's, then x and g */
    if (!work)
        return ad_fail(ADAPT_ERR_OUT_OF_MEMORY, "%s: no memory for the combination", fn);
    double *x = work + m * m + 3 * m, *g = x + m;
    const combine_problem c = {p, labels, n, dim, l1 / (double)n};
    for (int32_t it = 0; it < max_iterations; it++) {
        second_order(g, work, &c, x);
        if (optimality_gap(g, x, &c) <= tolerance || !newton_step(x, work, &c, g, tolerance))
            break;
    }
    memcpy(w, x, m * sizeof *x);
    free(work);
    return ADAPT_OK;
}
