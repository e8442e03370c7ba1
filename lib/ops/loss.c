/* Losses reduced to one value by the mean, as PyTorch's defaults:
 * cross-entropy over logits with optional label smoothing, and mean squared
 * error. */
#include <math.h>
#include <string.h>

#include "lib/ops/op.h"

typedef struct {
    int64_t n, c;
    float smoothing;
    const int32_t *labels;  /* arena copy */
    const float *log_probs; /* [n, c], arena */
} ce_saved;

/* Stable log-softmax of one row. */
static void log_softmax_row(const float *restrict z, float *restrict out, int64_t c)
{
    float max = z[0];
    for (int64_t j = 1; j < c; j++)
        max = z[j] > max ? z[j] : max;
    double sum = 0.0;
    for (int64_t j = 0; j < c; j++)
        sum += exp((double)(z[j] - max));
    const float log_sum = max + (float)log(sum);
    for (int64_t j = 0; j < c; j++)
        out[j] = z[j] - log_sum;
}

/* loss_i = (1 - s) * -log p[y_i] + s * mean_j(-log p_j) */
static double cross_entropy_value(const ce_saved *p)
{
    double total = 0.0;
    for (int64_t i = 0; i < p->n; i++) {
        const float *lp = p->log_probs + i * p->c;
        double all = 0.0;
        for (int64_t j = 0; j < p->c; j++)
            all += lp[j];
        total -= (1.0 - p->smoothing) * lp[p->labels[i]] + p->smoothing * all / (double)p->c;
    }
    return total / (double)p->n;
}

/* d loss / d z_ij = (softmax_ij - target_ij) / n, target = smoothed one-hot. */
static adapt_status cross_entropy_backward(adapt_context *ctx, const ad_node *node)
{
    const ce_saved *p = node->saved;
    float *dz;
    adapt_status st = ad_grad(&dz, ctx, node->in[0]);
    if (st || !dz)
        return st;
    const float scale = node->out->pass_grad[0] / (float)p->n;
    const float off = p->smoothing / (float)p->c, on = 1.0f - p->smoothing + off;
    for (int64_t i = 0; i < p->n; i++) {
        const float *restrict lp = p->log_probs + i * p->c;
        float *restrict d = dz + i * p->c;
        for (int64_t j = 0; j < p->c; j++)
            d[j] += scale * (expf(lp[j]) - off);
        d[p->labels[i]] -= scale * (on - off);
    }
    return ADAPT_OK;
}

adapt_status ad_op_check_class_labels(const adapt_tensor *logits, const int32_t *labels,
                                      const char *fn)
{
    char s[96];
    if (logits->ndim != 2 || logits->shape[0] == 0 || logits->shape[1] == 0)
        return ad_fail(ADAPT_ERR_SHAPE, "%s: logits %s must be [N, C] with N, C >= 1", fn,
                       ad_shape_str(logits, s, sizeof s));
    if (!labels)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: labels is NULL", fn);
    for (int64_t i = 0; i < logits->shape[0]; i++)
        if (labels[i] < 0 || labels[i] >= logits->shape[1])
            return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: labels[%lld] = %d outside [0, %lld)",
                           fn, (long long)i, (int)labels[i], (long long)logits->shape[1]);
    return ADAPT_OK;
}

static adapt_status check_smoothing(float smoothing, const char *fn)
{
    if (!isfinite(smoothing))
        return ad_fail(ADAPT_ERR_NONFINITE, "%s: label_smoothing is not finite", fn);
    if (smoothing < 0.0f || smoothing >= 1.0f)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: label_smoothing %g outside [0, 1)", fn,
                       (double)smoothing);
    return ADAPT_OK;
}

adapt_status ad_op_cross_entropy(adapt_tensor **out, adapt_context *ctx, adapt_tensor *logits,
                                 const int32_t *labels, float label_smoothing)
{
    const char *fn = "adapt_op_cross_entropy";
    adapt_status st = ad_op_check(ctx, out, fn, &logits, (const char *[]){"logits"}, 1);
    if (!st)
        st = ad_op_check_class_labels(logits, labels, fn);
    if (!st)
        st = check_smoothing(label_smoothing, fn);
    if (st)
        return st;
    ce_saved p = {.n = logits->shape[0], .c = logits->shape[1], .smoothing = label_smoothing};
    int32_t *label_copy = NULL;
    float *log_probs = NULL;
    adapt_tensor *y = NULL;
    st = ad_scratch((void **)&label_copy, ctx, (size_t)p.n * sizeof *label_copy, fn);
    if (!st)
        st = ad_scratch((void **)&log_probs, ctx, (size_t)logits->numel * sizeof(float), fn);
    if (!st)
        st = ad_tensor_new(&y, ctx, 0, NULL);
    if (st)
        return st;
    memcpy(label_copy, labels, (size_t)p.n * sizeof *label_copy);
    for (int64_t i = 0; i < p.n; i++)
        log_softmax_row(logits->data + i * p.c, log_probs + i * p.c, p.c);
    p.labels = label_copy, p.log_probs = log_probs;
    y->data[0] = (float)cross_entropy_value(&p);
    return ad_op_finish(out, ctx, fn, cross_entropy_backward, y, &logits, 1, &p, sizeof p);
}

static adapt_status mse_backward(adapt_context *ctx, const ad_node *node)
{
    adapt_tensor *a = node->in[0], *b = node->in[1];
    float *da, *db;
    adapt_status st = ad_grad(&da, ctx, a);
    if (!st)
        st = ad_grad(&db, ctx, b);
    if (st)
        return st;
    const float scale = 2.0f * node->out->pass_grad[0] / (float)a->numel;
    for (int64_t i = 0; i < a->numel; i++) {
        float g = scale * (a->data[i] - b->data[i]);
        if (da)
            da[i] += g;
        if (db)
            db[i] -= g;
    }
    return ADAPT_OK;
}

adapt_status ad_op_mse(adapt_tensor **out, adapt_context *ctx, adapt_tensor *a,
                       adapt_tensor *b)
{
    const char *fn = "adapt_op_mse";
    adapt_tensor *in[] = {a, b};
    adapt_status st = ad_op_check(ctx, out, fn, in, (const char *[]){"a", "b"}, 2);
    if (st)
        return st;
    if (!ad_same_shape(a, b) || a->numel == 0) {
        char sa[96], sb[96];
        return ad_fail(ADAPT_ERR_SHAPE, "%s: shapes %s and %s must match and be non-empty", fn,
                       ad_shape_str(a, sa, sizeof sa), ad_shape_str(b, sb, sizeof sb));
    }
    adapt_tensor *y = NULL;
    st = ad_tensor_new(&y, ctx, 0, NULL);
    if (st)
        return st;
    double sum = 0.0;
    for (int64_t i = 0; i < a->numel; i++) {
        double d = (double)a->data[i] - b->data[i];
        sum += d * d;
    }
    y->data[0] = (float)(sum / (double)a->numel);
    return ad_op_finish(out, ctx, fn, mse_backward, y, in, 2, NULL, 0);
}
