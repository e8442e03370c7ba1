/* The coupling step of a normalizing flow (RealNVP, Dinh et al. 2017; NICE, 2015): x [N, d]
 * is split into a half that passes unchanged and a half that is scaled and shifted by s and
 * t computed from the first,
 *   y_b = x_b * exp(s) + t   (affine; additive: s absent, y_b = x_b + t),
 * so that the inverse is exact, x_b = (y_b - t) * exp(-s), and log |det dy/dx| = sum s per
 * row. Parity 0 transforms columns [d/2, d), parity 1 columns [0, d/2): alternating parities
 * touch every column. */
#include <math.h>
#include <string.h>

#include "lib/ops/op.h"

/* The transformed columns [lo, hi) of a d-wide row under `parity`. */
void ad_coupling_columns(int64_t *lo, int64_t *hi, int64_t d, int32_t parity)
{
    *lo = parity ? 0 : d / 2;
    *hi = parity ? d / 2 : d;
}

typedef struct {
    int64_t rows, d, lo, hi;
} coupling_saved;

/* dx = dy on the passed half, dy exp(s) on the other; ds = dy x_b exp(s); dt = dy. */
static adapt_status coupling_backward(adapt_context *ctx, const ad_node *node)
{
    const coupling_saved *c = node->saved;
    const adapt_tensor *x = node->in[0], *s = node->in[1];
    const float *dy = node->out->pass_grad;
    const int64_t w = c->hi - c->lo;
    float *dx, *ds = NULL, *dt;
    adapt_status st = ad_grad(&dx, ctx, node->in[0]);
    if (!st && s)
        st = ad_grad(&ds, ctx, node->in[1]);
    if (!st)
        st = ad_grad(&dt, ctx, node->in[2]);
    for (int64_t i = 0; i < c->rows && !st; i++)
        for (int64_t j = 0; j < c->d; j++) {
            const float g = dy[i * c->d + j];
            const bool moved = j >= c->lo && j < c->hi;
            const int64_t k = i * w + (j - c->lo);
            const float scale = moved && s ? expf(s->data[k]) : 1.0f;
            if (dx)
                dx[i * c->d + j] += g * scale;
            if (moved && ds)
                ds[k] += g * x->data[i * c->d + j] * scale;
            if (moved && dt)
                dt[k] += g;
        }
    return st;
}

static adapt_status check_halves(const adapt_tensor *x, const adapt_tensor *s,
                                 const adapt_tensor *t, int64_t w, const char *fn)
{
    if (x->ndim != 2 || x->shape[1] < 2)
        return ad_fail(ADAPT_ERR_SHAPE, "%s: x must be [N, d] with d >= 2", fn);
    const adapt_tensor *halves[2] = {s, t};
    for (int k = 0; k < 2; k++)
        if (halves[k] && (halves[k]->ndim != 2 || halves[k]->shape[0] != x->shape[0]
                          || halves[k]->shape[1] != w))
            return ad_fail(ADAPT_ERR_SHAPE, "%s: %s must be [%lld, %lld]", fn, k ? "t" : "s",
                           (long long)x->shape[0], (long long)w);
    return ADAPT_OK;
}

adapt_status ad_op_coupling(adapt_tensor **out, adapt_context *ctx, adapt_tensor *x,
                            adapt_tensor *s, adapt_tensor *t, int32_t parity)
{
    static const char *const fn = "coupling";
    coupling_saved c = {.rows = x->ndim == 2 ? x->shape[0] : 0,
                        .d = x->ndim == 2 ? x->shape[1] : 0};
    ad_coupling_columns(&c.lo, &c.hi, c.d, parity);
    adapt_status st = check_halves(x, s, t, c.hi - c.lo, fn);
    adapt_tensor *y = NULL;
    if (!st)
        st = ad_tensor_new(&y, ctx, 2, x->shape);
    if (st)
        return st;
    const int64_t w = c.hi - c.lo;
    memcpy(y->data, x->data, (size_t)x->numel * sizeof(float));
    for (int64_t i = 0; i < c.rows; i++)
        for (int64_t j = 0; j < w; j++) {
            const int64_t k = i * w + j;
            float *v = &y->data[i * c.d + c.lo + j];
            *v = (s ? *v * expf(s->data[k]) : *v) + t->data[k];
        }
    adapt_tensor *in[3] = {x, s, t};
    return ad_op_finish(out, ctx, fn, coupling_backward, y, in, 3, &c, sizeof c);
}

void ad_coupling_inverse(float *x, const float *y, const float *s, const float *t, int64_t rows,
                         int64_t d, int32_t parity)
{
    int64_t lo, hi;
    ad_coupling_columns(&lo, &hi, d, parity);
    const int64_t w = hi - lo;
    memmove(x, y, (size_t)(rows * d) * sizeof *x);
    for (int64_t i = 0; i < rows; i++)
        for (int64_t j = 0; j < w; j++) {
            const int64_t k = i * w + j;
            float *v = &x[i * d + lo + j];
            *v = s ? (*v - t[k]) * expf(-s[k]) : *v - t[k];
        }
}
