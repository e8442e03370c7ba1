/* Task-incremental heads: with the task classes k > 0 of a dataset view
 * (adapt_dataset_select_classes), label y belongs to task y / k, and its row of logits is
 * compared over that task's k classes only. One output layer then holds one head per task:
 * a task's loss reaches only its own rows of the layer. */
#ifndef AD_TRAIN_TASK_HEADS_H
#define AD_TRAIN_TASK_HEADS_H

#include "adapt.h"
#include "lib/ops/interval.h"

/* The first class a row labelled `label` is compared over. */
static inline int64_t ad_task_first(int32_t label, int32_t k)
{
    return k > 0 ? label - label % k : 0;
}

/* Each row's logits of [n, C] cut to its task's k classes, a taped [n, k] gather, and the
 * labels counted within them (an arena array); k = 0 gives both back as they are. */
adapt_status ad_task_head(adapt_tensor **out, const int32_t **local, adapt_context *ctx,
                          adapt_tensor *logits, const int32_t *labels, int32_t k);

/* The loss (adapt_loss_kind) of model(x), each row over its task's classes; taped. The
 * smoothing is the cross-entropy's. */
adapt_status ad_task_loss(adapt_tensor **loss, adapt_context *ctx, adapt_model *model,
                          adapt_tensor *x, const int32_t *labels, int32_t k, int32_t kind,
                          float label_smoothing);

/* The same cut of each bound of a box of logits, in place; *local as above. */
adapt_status ad_task_box(ad_interval *y, const int32_t **local, adapt_context *ctx,
                         const int32_t *labels, int32_t k);

#endif
