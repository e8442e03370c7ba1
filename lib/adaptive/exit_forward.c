/* Forward passes through every exit: what training and the recording of exit outputs use.
 * Early-stopping inference is exit_infer.c. */
#include "lib/adaptive/exit_forward.h"

#include <string.h>

#include "lib/adaptive/head.h"
#include "lib/core/context.h"
#include "lib/core/error.h"
#include "lib/core/handle.h"
#include "lib/core/meter.h"
#include "lib/core/tensor.h"
#include "lib/models/model_impl.h"

/* Blocks [first, last); a frozen backbone runs as in inference, untaped. */
static adapt_status backbone(adapt_tensor **x, adapt_context *ctx, adapt_model *model,
                             int32_t first, int32_t last, bool frozen)
{
    const bool grad = ctx->grad_enabled, training = ctx->training;
    if (frozen)
        ctx->grad_enabled = ctx->training = false;
    adapt_status st = ad_model_forward_blocks(x, ctx, model, *x, first, last);
    ctx->grad_enabled = grad, ctx->training = training;
    return st;
}

adapt_status ad_exits_forward(adapt_tensor **logits, adapt_context *ctx, adapt_model *model,
                              adapt_tensor *input, bool frozen_backbone)
{
    adapt_tensor *x = input, *previous = NULL;
    int32_t first = 0;
    for (int32_t k = 0; k <= ad_head_count(model); k++) {
        const adapt_head *h = k < ad_head_count(model) ? ad_head_at(model, k) : NULL;
        const int32_t last = h ? h->params.block + 1 : model->n_blocks;
        adapt_status st = backbone(&x, ctx, model, first, last, frozen_backbone);
        if (!st && h) {
            ad_meter_charge(ctx, x->shape[0], h->flops);
            st = ad_head_forward(&logits[k], ctx, h, x, previous);
        }
        if (st)
            return st;
        if (!h)
            logits[k] = x;
        previous = logits[k];
        first = last;
    }
    return ADAPT_OK;
}

/* `capacity` logits for the exits of a model that ends in class logits. */
static adapt_status check_model(const adapt_model *model, int32_t capacity, const char *fn)
{
    if (adapt_model_classes(model) < 1)
        return ad_fail(ADAPT_ERR_STATE, "%s: the model does not end in class logits", fn);
    if (capacity < ad_head_count(model) + 1)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: capacity %d below the %d exits", fn,
                       (int)capacity, (int)ad_head_count(model) + 1);
    return ADAPT_OK;
}

/* The exits' logits of `input` into *logits, as handles. */
static adapt_status forward_exits(adapt_tensor **logits, adapt_context *ctx, adapt_model *model,
                                  adapt_tensor *input, const char *fn)
{
    const int32_t exits = ad_head_count(model) + 1;
    adapt_tensor **out = NULL; /* *logits stays untouched on error */
    adapt_status st = ad_scratch((void **)&out, ctx, (size_t)exits * sizeof *out, fn);
    if (!st)
        st = ad_exits_forward(out, ctx, model, input, false);
    for (int32_t k = 0; k < exits && !st; k++)
        logits[k] = ad_tensor_hand_out(out[k]);
    return st;
}

adapt_status adapt_model_forward_exits(adapt_tensor **logits, int32_t capacity,
                                       adapt_context *ctx, adapt_model *model,
                                       adapt_tensor *input)
{
    const char *fn = "adapt_model_forward_exits";
    adapt_tensor *x = NULL;
    ad_hold hold; /* before anything reads the model */
    adapt_status st = ad_forward_enter(&x, &hold, logits, ctx, model, input, fn);
    if (!st)
        st = check_model(model, capacity, fn);
    if (!st)
        st = forward_exits(logits, ctx, model, x, fn);
    ad_busy_leave(&hold);
    return ad_prefix(st, fn); /* layers and kernels cannot name the caller */
}
