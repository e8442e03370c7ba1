/* The straight-through Gumbel-softmax over the last axis (Jang et al.; the ACM's gates): the
 * forward value of each row is the one-hot of argmax((logits + g) / tau), its gradient that of
 * softmax((logits + g) / tau), so a hard choice made in the forward pass still trains what
 * produced the logits. g is Gumbel noise -log(-log u) from the context's random stream when
 * sampling, else 0. Ties go to the first maximum. */
#include <math.h>

#include "lib/core/rng.h"
#include "lib/ops/op.h"

static const char *const fn = "straight-through Gumbel-softmax";

typedef struct {
    const float *soft; /* [rows, width]: softmax((logits + g) / tau), in the arena */
    float inv_tau;
    int64_t rows, width;
} st_saved;

static adapt_status st_backward(adapt_context *ctx, const ad_node *node)
{
    const st_saved *s = node->saved;
    float *dl;
    adapt_status st = ad_grad(&dl, ctx, node->in[0]);
    if (st || !dl)
        return st;
    const float *dy = node->out->pass_grad;
    for (int64_t r = 0; r < s->rows; r++) {
        const float *p = s->soft + r * s->width, *g = dy + r * s->width;
        double inner = 0.0;
        for (int64_t c = 0; c < s->width; c++)
            inner += (double)g[c] * p[c];
        for (int64_t c = 0; c < s->width; c++)
            dl[r * s->width + c] += s->inv_tau * p[c] * (g[c] - (float)inner);
    }
    return ADAPT_OK;
}

/* Row r: soft = softmax(z), y = one-hot(argmax z), z = (l + g) / tau. */
static void one_row(float *y, float *soft, const float *l, int64_t width, float inv_tau,
                    const uint64_t *noise, uint64_t first)
{
    int64_t best = 0;
    for (int64_t c = 0; c < width; c++) {
        soft[c] = (l[c] + (noise ? ad_gumbel(noise[0], noise[1], first + (uint64_t)c) : 0.0f)) *
                  inv_tau;
        best = soft[c] > soft[best] ? c : best;
    }
    const float top = soft[best];
    double sum = 0.0;
    for (int64_t c = 0; c < width; c++)
        sum += soft[c] = expf(soft[c] - top);
    for (int64_t c = 0; c < width; c++) {
        soft[c] = (float)(soft[c] / sum);
        y[c] = c == best ? 1.0f : 0.0f;
    }
}

adapt_status ad_op_straight_through(adapt_tensor **out, adapt_context *ctx,
                                    adapt_tensor *logits, float tau, bool sample)
{
    adapt_status st = ad_op_check(ctx, out, fn, &logits, (const char *[]){"logits"}, 1);
    if (st)
        return st;
    if (!(tau > 0.0f) || !isfinite(tau))
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: temperature %g must be > 0", fn,
                       (double)tau);
    const int64_t width = logits->shape[logits->ndim - 1];
    const int64_t rows = width ? logits->numel / width : 0;
    for (int64_t i = 0; i < logits->numel; i++)
        if (!isfinite(logits->data[i]))
            return ad_fail(ADAPT_ERR_NONFINITE, "%s: logit %lld of row %lld is %g", fn,
                           (long long)(i % width), (long long)(i / width),
                           (double)logits->data[i]);
    adapt_tensor *y;
    float *soft;
    st = ad_tensor_new(&y, ctx, logits->ndim, logits->shape);
    if (!st)
        st = ad_scratch((void **)&soft, ctx, (size_t)(logits->numel + 1) * sizeof(float), fn);
    if (st)
        return st;
    const uint64_t noise[2] = {ctx->seed, sample ? ctx->rng_stream++ : 0};
    const st_saved s = {soft, 1.0f / tau, rows, width};
    for (int64_t r = 0; r < rows; r++)
        one_row(y->data + r * width, soft + r * width, logits->data + r * width, width,
                s.inv_tau, sample ? noise : NULL, (uint64_t)(r * width));
    return ad_op_finish(out, ctx, fn, st_backward, y, &logits, 1, &s, sizeof s);
}
