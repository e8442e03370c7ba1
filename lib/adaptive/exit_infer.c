/* adapt_model_infer_exits: inference that stops early. The batch shrinks as samples leave:
 * the rows that stay are gathered into a compact batch before the next blocks run, so every
 * GEMM after an exit works on the samples still running and time follows the FLOPs spent. A
 * CNN's SDN exits pool what they read as it is made, and its first exit may be decided in
 * the stem's own pass, which stores only the samples that go on (exit_first.c). */
#include <string.h>

#include "lib/adaptive/exit_infer.h"
#include "lib/adaptive/exit_policy.h"
#include "lib/adaptive/head.h"
#include "lib/core/context.h"
#include "lib/core/error.h"
#include "lib/core/meter.h"
#include "lib/core/struct_io.h"
#include "lib/core/tensor.h"
#include "lib/eval/calibrator.h"
#include "lib/eval/score_rows.h"
#include "lib/models/model_impl.h"
#include "lib/ops/ops.h"

static const char *const fn = "adapt_model_infer_exits";

static adapt_status open_state(ad_infer_state *s, adapt_context *ctx, const adapt_model *model,
                               int64_t n)
{
    s->classes = adapt_model_classes(model);
    s->active = n;
    const size_t rows = (size_t)n, c = (size_t)s->classes;
    adapt_status st = ad_meter_start(ctx, n, fn);
    if (!st)
        st = ad_scratch((void **)&s->sample, ctx, rows * sizeof *s->sample, fn);
    if (!st)
        st = ad_scratch((void **)&s->streak, ctx, rows * sizeof *s->streak, fn);
    if (!st)
        st = ad_scratch((void **)&s->last, ctx, rows * sizeof *s->last, fn);
    if (!st)
        st = ad_scratch((void **)&s->p, ctx, c * sizeof *s->p, fn);
    if (!st)
        st = ad_scratch((void **)&s->prediction, ctx, rows * sizeof *s->prediction, fn);
    if (!st)
        st = ad_scratch((void **)&s->exit, ctx, rows * sizeof *s->exit, fn);
    if (!st)
        st = ad_scratch((void **)&s->confidence, ctx, rows * sizeof *s->confidence, fn);
    if (!st)
        st = ad_scratch((void **)&s->flops, ctx, rows * sizeof *s->flops, fn);
    if (st)
        return st;
    for (int64_t i = 0; i < n; i++)
        s->sample[i] = i, s->streak[i] = 0, s->last[i] = -1;
    return ADAPT_OK;
}

/* Row i's probabilities at exit k into s->p: calibrated, or its logits read as the policy
 * says (a softmax, or SLOVA's q) and computed as the evaluation code computes them, so
 * recorded outputs decide alike. */
static void row_probabilities(ad_infer_state *s, const adapt_tensor *logits, int64_t i)
{
    const int32_t c = s->classes;
    const float *src = s->probs ? s->probs + i * c : logits->data + i * c;
    for (int32_t j = 0; j < c; j++)
        s->p[j] = src[j];
    if (!s->probs)
        ad_probabilities_in_place(s->p, c, (adapt_score_kind)s->policy.scores);
}

bool ad_infer_settle(ad_infer_state *s, int32_t k, bool final, const double *p, int64_t at,
                     int64_t spent, int32_t *streak, int32_t *last)
{
    const ad_exit_view v = ad_exit_view_of(p, s->classes, s->policy.rule == ADAPT_EXIT_ENTROPY);
    *streak = v.prediction == *last ? *streak + 1 : 1;
    *last = v.prediction;
    if (!final && !ad_exit_leaves(&s->policy, k, &v, *streak))
        return true;
    s->prediction[at] = v.prediction, s->exit[at] = k;
    s->confidence[at] = (float)v.top, s->flops[at] = spent;
    return false;
}

/* Decides every row at exit k; keep[0 .. *kept) receives the rows that go on. */
static adapt_status decide(ad_infer_state *s, adapt_context *ctx, const adapt_tensor *logits,
                           int32_t k, bool final, int64_t *keep, int64_t *kept)
{
    const adapt_calibrator *cal = s->policy.calibrators ? s->policy.calibrators[k] : NULL;
    s->probs = NULL;
    if (cal) {
        adapt_status st = ad_scratch((void **)&s->probs, ctx,
                                     (size_t)logits->numel * sizeof *s->probs, fn);
        if (!st)
            st = adapt_calibrator_apply(s->probs, cal, logits->data, s->active, s->classes);
        if (st)
            return st;
    }
    *kept = 0;
    for (int64_t i = 0; i < s->active; i++) {
        row_probabilities(s, logits, i);
        if (ad_infer_settle(s, k, final, s->p, s->sample[i], ctx->meter[i], &s->streak[i],
                            &s->last[i]))
            keep[(*kept)++] = i;
    }
    return ADAPT_OK;
}

/* Keeps rows keep[0 .. kept) of the batch, its bookkeeping and the logits a cascading head
 * reads next. Rows only move up (keep is increasing), so the arrays compact in place. */
static adapt_status compact(ad_infer_state *s, adapt_context *ctx, adapt_tensor **x,
                            adapt_tensor **logits, const int64_t *keep, int64_t kept)
{
    for (int64_t j = 0; j < kept; j++) {
        s->sample[j] = s->sample[keep[j]];
        s->streak[j] = s->streak[keep[j]];
        s->last[j] = s->last[keep[j]];
    }
    s->active = kept;
    ad_meter_keep_rows(ctx, keep, kept);
    adapt_status st = ad_op_gather_rows(x, ctx, *x, keep, kept);
    return st ? st : ad_op_gather_rows(logits, ctx, *logits, keep, kept);
}

/* Exit k's logits (the model's at the final exit) into *logits, running the blocks before it
 * from `first` on *x, which becomes their output. */
static adapt_status exit_logits(adapt_tensor **logits, adapt_tensor **x, adapt_context *ctx,
                                adapt_model *model, int32_t k, int32_t first)
{
    const adapt_head *h = k < ad_head_count(model) ? ad_head_at(model, k) : NULL;
    const int32_t last = h ? h->params.block + 1 : model->n_blocks;
    adapt_tensor *previous = *logits, *f = NULL;
    adapt_status st = ADAPT_OK;
    if (h && k == 0) {
        st = ad_first_head_features(&f, x, ctx, model, *x);
    } else if (h && first < last) { /* its block apart, to pool its output as it is made */
        st = ad_model_forward_blocks(x, ctx, model, *x, first, last - 1);
        if (!st)
            st = ad_head_features_in_block(&f, x, ctx, model, k);
        first = last - 1;
    }
    if (!st && !f)
        st = ad_model_forward_blocks(x, ctx, model, *x, first, last);
    if (st || !h) {
        *logits = *x;
        return st;
    }
    ad_meter_charge(ctx, (*x)->shape[0], h->flops);
    return f ? ad_head_logits(logits, ctx, h, f, previous)
             : ad_head_forward(logits, ctx, h, *x, previous);
}

static adapt_status run(ad_infer_state *s, adapt_context *ctx, adapt_model *model,
                        adapt_tensor *x)
{
    int64_t *keep = NULL;
    adapt_status st = ad_scratch((void **)&keep, ctx, (size_t)s->active * sizeof *keep, fn);
    adapt_tensor *logits = NULL;
    bool decided = false;
    if (!st)
        st = ad_first_exit_decided(&decided, &x, &logits, ctx, model, s, x);
    const int32_t heads = ad_head_count(model);
    for (int32_t k = decided ? 1 : 0; k <= heads && !st && s->active > 0; k++) {
        const int32_t first = k > 0 ? ad_head_at(model, k - 1)->params.block + 1 : 0;
        int64_t kept = 0;
        st = exit_logits(&logits, &x, ctx, model, k, first);
        if (!st)
            st = decide(s, ctx, logits, k, k == heads, keep, &kept);
        if (st || kept == s->active)
            continue;
        if (kept > 0)
            st = compact(s, ctx, &x, &logits, keep, kept);
        else
            s->active = 0;
    }
    return st;
}

/* The arguments, but the model itself: it is read only once held. */
static adapt_status check_call(adapt_exit_outputs *out, adapt_tensor **x,
                               const adapt_exit_outputs *outputs, adapt_context *ctx,
                               const adapt_model *model, adapt_tensor *input)
{
    adapt_status st = ad_check_context(ctx, fn);
    if (!st)
        st = ad_struct_check_out(outputs, "outputs", "adapt_exit_outputs", fn);
    if (st)
        return st;
    *out = (adapt_exit_outputs){0};
    st = ad_struct_read(out, sizeof *out, outputs, "adapt_exit_outputs", fn);
    if (st)
        return st;
    if (!model || !input)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: %s is NULL", fn,
                       model ? "input" : "model");
    return ad_inference_input(x, ctx, input, fn);
}

static void hand_over(const adapt_exit_outputs *out, const ad_infer_state *s, int64_t n)
{
    if (out->predictions)
        memcpy(out->predictions, s->prediction, (size_t)n * sizeof *s->prediction);
    if (out->exits)
        memcpy(out->exits, s->exit, (size_t)n * sizeof *s->exit);
    if (out->confidences)
        memcpy(out->confidences, s->confidence, (size_t)n * sizeof *s->confidence);
    if (out->flops)
        memcpy(out->flops, s->flops, (size_t)n * sizeof *s->flops);
}

/* Each exit's calibrator reads the logits as the policy does: exponential calibration is
 * SLOVA's, the other methods a softmax's. */
static adapt_status check_calibrators(const adapt_exit_policy *p, int32_t exits)
{
    const bool one_vs_all = p->scores == ADAPT_SCORES_ONE_VS_ALL;
    for (int32_t k = 0; p->calibrators && k < exits; k++) {
        const adapt_calibrator *cal = p->calibrators[k];
        if (cal && (cal->method == ADAPT_CALIBRATION_EXPONENTIAL) != one_vs_all)
            return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: calibrators[%d] (method %d) does "
                           "not read %s logits", fn, (int)k, (int)cal->method,
                           one_vs_all ? "one-vs-all" : "softmax");
    }
    return ADAPT_OK;
}

/* Inference mode whatever the context's, so the model is only read. */
static adapt_status infer(const adapt_exit_outputs *out, adapt_context *ctx, adapt_model *model,
                          adapt_tensor *input, const adapt_exit_policy *policy)
{
    if (adapt_model_classes(model) < 1)
        return ad_fail(ADAPT_ERR_STATE, "%s: the model does not end in class logits", fn);
    ad_infer_state s = {0};
    adapt_status st = ad_exit_policy_read(&s.policy, policy, ad_head_count(model), fn);
    if (!st)
        st = check_calibrators(&s.policy, ad_head_count(model) + 1);
    if (st)
        return st;
    const int64_t n = input->ndim >= 1 ? input->shape[0] : 0;
    const bool training = ctx->training;
    ctx->training = false;
    st = open_state(&s, ctx, model, n);
    if (!st)
        st = run(&s, ctx, model, input);
    ad_meter_stop(ctx);
    ctx->training = training;
    if (!st)
        hand_over(out, &s, n);
    return st;
}

adapt_status adapt_model_infer_exits(const adapt_exit_outputs *outputs, adapt_context *ctx,
                                     adapt_model *model, adapt_tensor *input,
                                     const adapt_exit_policy *policy)
{
    adapt_exit_outputs out;
    adapt_tensor *x = NULL;
    ad_hold hold = {0};
    adapt_status st = check_call(&out, &x, outputs, ctx, model, input);
    if (!st)
        st = ad_model_enter(&hold, model, AD_READ, fn);
    if (!st)
        st = infer(&out, ctx, model, x, policy);
    ad_busy_leave(&hold);
    return ad_prefix(st, fn); /* layers and kernels cannot name the caller */
}
