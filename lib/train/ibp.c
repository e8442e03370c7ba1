#include "lib/train/ibp.h"

#include <stdbool.h>

#include "lib/core/error.h"
#include "lib/core/tensor.h"
#include "lib/models/model.h"
#include "lib/ops/ops.h"
#include "lib/train/batch.h"
#include "lib/train/evaluate.h"
#include "lib/train/task_heads.h"

ad_ibp_step ad_ibp_schedule(const adapt_train_params *p, int64_t step, int64_t total)
{
    const double at = (double)step / (double)(total > 0 ? total : 1);
    const double span = (double)p->ibp_ramp_end - (double)p->ibp_ramp_start;
    double r = span > 0.0 ? (at - (double)p->ibp_ramp_start) / span
                          : (at >= (double)p->ibp_ramp_start ? 1.0 : 0.0);
    r = r < 0.0 ? 0.0 : (r > 1.0 ? 1.0 : r);
    return (ad_ibp_step){(float)(r * p->ibp_epsilon), (float)(1.0 - r * (1.0 - p->ibp_kappa))};
}

/* a * wa + b * (1 - wa). */
static adapt_status mix(adapt_tensor **out, adapt_context *ctx, adapt_tensor *a, adapt_tensor *b,
                        float wa)
{
    adapt_tensor *sa, *sb;
    adapt_status st = ad_op_scale(&sa, ctx, a, wa);
    if (!st)
        st = ad_op_scale(&sb, ctx, b, 1.0f - wa);
    return st ? st : ad_op_add(out, ctx, sa, sb);
}

adapt_status ad_ibp_loss(adapt_tensor **loss, adapt_context *ctx, adapt_model *model,
                         adapt_tensor *x, const int32_t *labels, int32_t task_classes,
                         const adapt_train_params *p, ad_ibp_step s)
{
    const float smoothing = p->label_smoothing;
    if (s.kappa >= 1.0f)
        return ad_task_loss(loss, ctx, model, x, labels, task_classes, ADAPT_LOSS_CROSS_ENTROPY,
                            smoothing);
    ad_interval box, y;
    adapt_tensor *clean, *worst, *robust;
    const int32_t *within = labels;
    adapt_status st = ad_interval_around(&box, ctx, x, s.epsilon, p->ibp_input_min,
                                         p->ibp_input_max);
    if (!st)
        st = ad_model_interval(&y, ctx, model, &box, "IBP training");
    if (!st)
        st = ad_task_box(&y, &within, ctx, labels, task_classes);
    if (!st)
        st = ad_op_cross_entropy(&clean, ctx, y.mid, within, smoothing);
    if (!st)
        st = ad_op_worst_case_logits(&worst, ctx, y.lo, y.hi, within);
    if (!st) /* unsmoothed: only then does it bound the loss of every point of the box */
        st = ad_op_cross_entropy(&robust, ctx, worst, within, 0.0f);
    return st ? st : mix(loss, ctx, clean, robust, s.kappa);
}

/* Share of rows whose first largest logit is the label. */
static double accuracy(const adapt_tensor *logits, const int32_t *labels)
{
    const int64_t n = logits->shape[0], classes = logits->shape[1];
    int64_t right = 0;
    for (int64_t i = 0; i < n; i++)
        right += ad_argmax(logits->data + i * classes, classes) == labels[i];
    return (double)right / (double)n;
}

/* Adds the batch to the window; whether the worst case still lags. */
static bool lagging(ad_contraction_window *w, double clean, double worst, float tau)
{
    w->clean[w->next] = clean, w->worst[w->next] = worst;
    w->next = (w->next + 1) % AD_CONTRACTION_WINDOW;
    w->count += w->count < AD_CONTRACTION_WINDOW;
    double c = 0.0, r = 0.0;
    for (int32_t i = 0; i < w->count; i++)
        c += w->clean[i], r += w->worst[i];
    return r < (double)tau * c;
}

adapt_status ad_contraction_loss(adapt_tensor **loss, adapt_context *ctx, adapt_model *model,
                                 adapt_tensor *x, const int32_t *labels, int32_t task_classes,
                                 const adapt_train_params *p, ad_contraction_window *w)
{
    ad_interval box, y;
    adapt_tensor *worst;
    const int32_t *within = labels;
    adapt_status st = ad_interval_around(&box, ctx, x, p->ibp_epsilon, p->ibp_input_min,
                                         p->ibp_input_max);
    if (!st)
        st = ad_model_interval(&y, ctx, model, &box, "contraction");
    if (!st)
        st = ad_task_box(&y, &within, ctx, labels, task_classes);
    if (!st)
        st = ad_op_worst_case_logits(&worst, ctx, y.lo, y.hi, within);
    if (st)
        return st;
    if (!lagging(w, accuracy(y.mid, within), accuracy(worst, within), p->interval_tau)) {
        *loss = NULL;
        return ADAPT_OK;
    }
    return ad_op_cross_entropy(loss, ctx, worst, within, 0.0f);
}

adapt_status ad_interval_training_check(adapt_context *ctx, adapt_model *model,
                                        const adapt_dataset *ds, const adapt_train_params *p,
                                        const char *fn)
{
    adapt_context_reset(ctx);
    adapt_tensor *x;
    int32_t *labels;
    ad_interval box, y;
    adapt_status st = ad_batch_assemble(&x, &labels, ctx, ds, (const int64_t[]){0}, 1, fn);
    if (!st)
        st = ad_model_check_input(model, x, fn);
    if (!st)
        st = ad_interval_around(&box, ctx, x, p->ibp_epsilon, p->ibp_input_min,
                                p->ibp_input_max);
    if (!st)
        st = ad_model_interval(&y, ctx, model, &box, fn);
    adapt_context_reset(ctx);
    return st;
}
