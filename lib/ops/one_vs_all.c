/* The one-vs-all loss of SLOVA (arXiv 2206.13923; docs/slova.md): a sigmoid per class, the
 * label's trained towards 1 and every other towards 0,
 *   loss = -log p_y - sum_{j != y} log(1 - p_j) = sum_j softplus(f_j) - f_y = -log q_y,
 * q_y = p_y prod_{j != y} (1 - p_j) the probability that the label alone is on. Computed in
 * double as softplus sums, which neither overflow nor lose the small terms at logits of
 * +-80 (where a float sigmoid rounds to 0 or 1 and its log to -inf). */
#include <math.h>
#include <string.h>

#include "lib/kernels/row_reduce.h"
#include "lib/ops/op.h"

typedef struct {
    int64_t n, c;
    const int32_t *labels; /* arena copy */
} ova_saved;

/* d loss / d f_ij = (sigmoid(f_ij) - [j = y_i]) / n */
static adapt_status one_vs_all_backward(adapt_context *ctx, const ad_node *node)
{
    const ova_saved *p = node->saved;
    const adapt_tensor *logits = node->in[0];
    float *df;
    adapt_status st = ad_grad(&df, ctx, node->in[0]);
    if (st || !df)
        return st;
    const double scale = (double)node->out->pass_grad[0] / (double)p->n;
    for (int64_t i = 0; i < p->n; i++)
        for (int64_t j = 0; j < p->c; j++) {
            const double target = j == p->labels[i] ? 1.0 : 0.0;
            df[i * p->c + j] += (float)(scale * (ad_sigmoid(logits->data[i * p->c + j]) - target));
        }
    return ADAPT_OK;
}

/* The mean over rows of sum_j softplus(f_j) - f_y. */
static double mean_loss(const float *logits, const ova_saved *p)
{
    double total = 0.0;
    for (int64_t i = 0; i < p->n; i++) {
        const float *f = logits + i * p->c;
        total += ad_row_softplus_sum(f, p->c) - f[p->labels[i]];
    }
    return total / (double)p->n;
}

adapt_status ad_op_one_vs_all_loss(adapt_tensor **out, adapt_context *ctx, adapt_tensor *logits,
                                   const int32_t *labels)
{
    const char *fn = "adapt_op_one_vs_all_loss";
    adapt_status st = ad_op_check(ctx, out, fn, &logits, (const char *[]){"logits"}, 1);
    if (!st)
        st = ad_op_check_class_labels(logits, labels, fn);
    if (!st && !ad_all_finite(logits->data, logits->numel))
        st = ad_fail(ADAPT_ERR_NONFINITE, "%s: logits hold NaN or infinity", fn);
    if (st)
        return st;
    ova_saved p = {.n = logits->shape[0], .c = logits->shape[1]};
    int32_t *label_copy = NULL;
    adapt_tensor *y = NULL;
    st = ad_scratch((void **)&label_copy, ctx, (size_t)p.n * sizeof *label_copy, fn);
    if (!st)
        st = ad_tensor_new(&y, ctx, 0, NULL);
    if (st)
        return st;
    memcpy(label_copy, labels, (size_t)p.n * sizeof *label_copy);
    p.labels = label_copy;
    y->data[0] = (float)mean_loss(logits->data, &p);
    return ad_op_finish(out, ctx, fn, one_vs_all_backward, y, &logits, 1, &p, sizeof p);
}
