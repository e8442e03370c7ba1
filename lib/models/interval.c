/* A model's interval forward: bounds on its output over a box of inputs (docs/intervals.md). */
#include "lib/core/context.h"
#include "lib/core/error.h"
#include "lib/core/handle.h"
#include "lib/core/tensor.h"
#include "lib/models/model_impl.h"

static adapt_status layer_interval(ad_interval *out, adapt_context *ctx, const ad_layer *l,
                                   const ad_interval *x, const char *fn)
{
    const char *path = l->path[0] ? l->path : "(the model)";
    if (!ad_layer_is_builtin(l))
        return ad_fail(ADAPT_ERR_UNSUPPORTED, "%s: '%s' is replaced by a module, which has no "
                       "interval forward", fn, path);
    if (!l->kind->interval)
        return ad_fail(ADAPT_ERR_UNSUPPORTED, "%s: '%s' is a %s layer, which has no interval "
                       "forward", fn, path, l->kind->name);
    return ad_prefix(l->kind->interval(out, ctx, l, x), fn);
}

adapt_status ad_model_interval(ad_interval *out, adapt_context *ctx, const adapt_model *model,
                               const ad_interval *in, const char *fn)
{
    ad_interval x = *in;
    adapt_status st = ADAPT_OK;
    for (int32_t b = 0; b < model->n_blocks && !st; b++)
        for (int32_t i = 0; i < model->blocks[b].n_layers && !st; i++)
            st = layer_interval(&x, ctx, &model->blocks[b].layers[i], &x, fn);
    /* an overflow to infinity can meet its opposite and make NaN, which minimum and maximum
     * would pass over: bounds that are not finite bound nothing */
    if (!st && !(ad_all_finite(x.lo->data, x.lo->numel) && ad_all_finite(x.hi->data, x.hi->numel)))
        st = ad_fail(ADAPT_ERR_NONFINITE, "%s: the bounds overflowed to NaN or infinity", fn);
    if (!st)
        *out = x;
    return st;
}

/* The caller's box as records: lo and hi required, mid when mid_out asks for it. */
static adapt_status box_from_handles(ad_interval *box, adapt_context *ctx, adapt_tensor *lo,
                                     adapt_tensor *mid, adapt_tensor *hi, bool want_mid,
                                     const char *fn)
{
    if (want_mid && !mid)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: mid_out asks for a mid input, which is "
                       "NULL", fn);
    adapt_status st = ad_tensor_from_handle(&box->lo, lo, fn, "lo");
    if (!st)
        st = ad_tensor_from_handle(&box->hi, hi, fn, "hi");
    box->mid = NULL;
    if (!st && want_mid)
        st = ad_tensor_from_handle(&box->mid, mid, fn, "mid");
    return st ? st : ad_interval_check(ctx, box, fn);
}

adapt_status adapt_model_forward_interval(adapt_tensor **lo_out, adapt_tensor **mid_out,
                                          adapt_tensor **hi_out, adapt_context *ctx,
                                          adapt_model *model, adapt_tensor *lo,
                                          adapt_tensor *mid, adapt_tensor *hi)
{
    const char *fn = "adapt_model_forward_interval";
    adapt_tensor *x;
    ad_hold hold;
    ad_interval box, y;
    adapt_status st = !hi_out ? ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: hi_out is NULL", fn)
                              : ad_forward_enter(&x, &hold, lo_out, ctx, model, lo, fn);
    if (st)
        return st;
    if (!model->n_blocks)
        st = ad_fail(ADAPT_ERR_STATE, "%s: the model has no blocks yet", fn);
    if (!st)
        st = box_from_handles(&box, ctx, lo, mid, hi, mid_out != NULL, fn);
    if (!st)
        st = ad_model_check_input(model, box.lo, fn);
    if (!st)
        st = ad_model_interval(&y, ctx, model, &box, fn);
    ad_busy_leave(&hold);
    if (st)
        return st;
    *lo_out = ad_tensor_hand_out(y.lo);
    *hi_out = ad_tensor_hand_out(y.hi);
    if (mid_out)
        *mid_out = ad_tensor_hand_out(y.mid);
    return ADAPT_OK;
}
