#include "lib/train/task_heads.h"

#include "lib/core/context.h"
#include "lib/core/tensor.h"
#include "lib/models/model.h"
#include "lib/ops/ops.h"

adapt_status ad_task_head(adapt_tensor **out, const int32_t **local, adapt_context *ctx,
                          adapt_tensor *logits, const int32_t *labels, int32_t k)
{
    if (k == 0) {
        *out = logits, *local = labels;
        return ADAPT_OK;
    }
    const int64_t n = logits->shape[0], tasks = logits->shape[1] / k;
    int64_t *rows = NULL;
    int32_t *within = NULL;
    adapt_tensor *flat;
    adapt_status st = ad_scratch((void **)&rows, ctx, (size_t)n * sizeof *rows, "task heads");
    if (!st)
        st = ad_scratch((void **)&within, ctx, (size_t)n * sizeof *within, "task heads");
    for (int64_t i = 0; !st && i < n; i++) {
        rows[i] = i * tasks + labels[i] / k; /* row i's task among [n * tasks, k] */
        within[i] = labels[i] % k;
    }
    if (!st)
        st = ad_op_reshape(&flat, ctx, logits, 2, (const int64_t[]){n * tasks, k});
    if (!st)
        st = ad_op_gather_rows(out, ctx, flat, rows, n);
    if (!st)
        *local = within;
    return st;
}

adapt_status ad_task_loss(adapt_tensor **loss, adapt_context *ctx, adapt_model *model,
                          adapt_tensor *x, const int32_t *labels, int32_t k, int32_t kind,
                          float label_smoothing)
{
    adapt_tensor *logits, *head;
    const int32_t *within;
    adapt_status st = ad_model_forward(&logits, ctx, model, x);
    if (!st)
        st = ad_task_head(&head, &within, ctx, logits, labels, k);
    if (st)
        return st;
    return kind == ADAPT_LOSS_ONE_VS_ALL
               ? ad_op_one_vs_all_loss(loss, ctx, head, within)
               : ad_op_cross_entropy(loss, ctx, head, within, label_smoothing);
}

adapt_status ad_task_box(ad_interval *y, const int32_t **local, adapt_context *ctx,
                         const int32_t *labels, int32_t k)
{
    adapt_status st = ad_task_head(&y->lo, local, ctx, y->lo, labels, k);
    if (!st)
        st = ad_task_head(&y->hi, local, ctx, y->hi, labels, k);
    if (!st && y->mid)
        st = ad_task_head(&y->mid, local, ctx, y->mid, labels, k);
    return st;
}
