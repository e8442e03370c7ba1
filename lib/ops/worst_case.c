/* Worst-case logits of a box of logits: the true class at its lower bound, every other class
 * at its upper one. Cross-entropy on them bounds the cross-entropy of every logit vector in the
 * box from above (it grows as the true logit falls and the others rise), and their argmax is
 * the label only if every point of the box is classified right: IBP training's and
 * certification's logits. */
#include <string.h>

#include "lib/ops/op.h"

typedef struct {
    const int32_t *labels;
    int64_t n, classes;
} worst_case_saved;

static adapt_status worst_case_backward(adapt_context *ctx, const ad_node *node)
{
    const worst_case_saved *s = node->saved;
    float *dlo, *dhi;
    adapt_status st = ad_grad(&dlo, ctx, node->in[0]);
    if (!st)
        st = ad_grad(&dhi, ctx, node->in[1]);
    if (st)
        return st;
    const float *dy = node->out->pass_grad;
    for (int64_t i = 0; i < s->n; i++)
        for (int64_t j = 0; j < s->classes; j++) {
            const int64_t k = i * s->classes + j;
            float *d = j == s->labels[i] ? dlo : dhi;
            if (d)
                d[k] += dy[k];
        }
    return ADAPT_OK;
}

adapt_status ad_op_worst_case_logits(adapt_tensor **out, adapt_context *ctx, adapt_tensor *lo,
                                     adapt_tensor *hi, const int32_t *labels)
{
    const char *fn = "adapt_op_worst_case_logits";
    adapt_tensor *in[2] = {lo, hi};
    adapt_status st = ad_op_check(ctx, out, fn, in, (const char *[]){"lo", "hi"}, 2);
    if (st)
        return st;
    char a[96], b[96];
    if (lo->ndim != 2 || lo->shape[0] < 1 || lo->shape[1] < 1 || !ad_same_shape(lo, hi))
        return ad_fail(ADAPT_ERR_SHAPE, "%s: lo %s and hi %s must both be [N, C], N, C >= 1", fn,
                       ad_shape_str(lo, a, sizeof a), ad_shape_str(hi, b, sizeof b));
    if (!labels)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: labels is NULL", fn);
    worst_case_saved s = {NULL, lo->shape[0], lo->shape[1]};
    for (int64_t i = 0; i < s.n; i++)
        if (labels[i] < 0 || labels[i] >= s.classes)
            return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: labels[%lld] = %d outside [0, %lld)",
                           fn, (long long)i, (int)labels[i], (long long)s.classes);
    int32_t *label_copy;
    adapt_tensor *y;
    st = ad_scratch((void **)&label_copy, ctx, (size_t)s.n * sizeof *label_copy, fn);
    if (!st)
        st = ad_tensor_new(&y, ctx, 2, lo->shape);
    if (st)
        return st;
    memcpy(label_copy, labels, (size_t)s.n * sizeof *label_copy);
    s.labels = label_copy;
    for (int64_t k = 0; k < lo->numel; k++)
        y->data[k] = k % s.classes == labels[k / s.classes] ? lo->data[k] : hi->data[k];
    return ad_op_finish(out, ctx, fn, worst_case_backward, y, in, 2, &s, sizeof s);
}
