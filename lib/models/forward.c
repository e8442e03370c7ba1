/* Forward passes over a range of blocks. They read the model and write only activations of the
 * caller's context, so several contexts may run one model at once. */
#include "lib/core/context.h"
#include "lib/core/error.h"
#include "lib/core/handle.h"
#include "lib/core/meter.h"
#include "lib/core/tensor.h"
#include "lib/models/join.h"
#include "lib/models/model_impl.h"
#include "lib/models/recompute.h"

#include <string.h>

/* x must be [N >= 1, in...]; a block starting with a flattening layer also takes any
 * [N, ...] with the same number of values per sample. */
static adapt_status check_input(const adapt_tensor *x, const ad_dims *in, bool flattens,
                                const char *fn)
{
    bool ok = x->ndim >= 1 && x->shape[0] >= 1;
    if (ok && flattens) {
        ok = x->ndim >= 2 && x->numel / x->shape[0] == ad_dims_numel(in);
    } else {
        ok = ok && x->ndim == in->ndim + 1;
        for (int32_t i = 0; ok && i < in->ndim; i++)
            ok = x->shape[i + 1] == in->d[i];
    }
    if (!ok) {
        char sx[160], si[160];
        return ad_fail(ADAPT_ERR_SHAPE,
                       "%s: input %s is not N >= 1 samples of shape %s%s", fn,
                       ad_shape_str(x, sx, sizeof sx), ad_dims_str(in, si, sizeof si),
                       flattens ? " (or of that many values)" : "");
    }
    return ADAPT_OK;
}

adapt_status ad_model_check_input(const adapt_model *model, const adapt_tensor *x, const char *fn)
{
    const ad_block *b = &model->blocks[0];
    return check_input(x, &b->in, b->layers[0].kind->flattens, fn);
}

static adapt_status check_call(adapt_tensor **out, adapt_context *ctx, const adapt_model *model,
                               adapt_tensor *input, const char *fn)
{
    adapt_status st = ad_check_context(ctx, fn);
    if (st)
        return st;
    if (!out || !model)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: %s is NULL", fn, out ? "model" : "out");
    if (!input)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: input is NULL", fn);
    return ad_check_tensor(ctx, input, fn, "input");
}

adapt_status ad_block_run(adapt_tensor **out, adapt_context *ctx, const ad_block *b,
                          adapt_tensor *x)
{
    return ad_chain_forward(out, ctx, &b->plan, b->layers, x);
}

/* Without a tape nothing reads a block's intermediate activations once it has ended, so its
 * output is copied into a tensor made before them and their memory is handed back: inference
 * holds one block's activations at a time instead of the whole model's. A block that leaves
 * nothing else needs no copy. With a tape, recomputation does the same (recompute.c). */
static adapt_status block_forward_compact(adapt_tensor **out, adapt_context *ctx,
                                          const ad_block *b, adapt_tensor *x)
{
    if (ctx->grad_enabled && ctx->recompute)
        return ad_block_run_recomputed(out, ctx, b, x);
    if (ctx->grad_enabled || b->plan.leaves_only_output)
        return ad_block_run(out, ctx, b, x);
    int64_t shape[ADAPT_MAX_DIMS] = {x->shape[0]};
    for (int32_t i = 0; i < b->out.ndim; i++)
        shape[i + 1] = b->out.d[i];
    adapt_tensor *keep, *y;
    adapt_status st = ad_tensor_new(&keep, ctx, b->out.ndim + 1, shape);
    const ad_arena_mark mark = ad_arena_mark_now(&ctx->arena);
    if (!st)
        st = ad_block_run(&y, ctx, b, x);
    if (st)
        return st;
    if (y->numel != keep->numel) { /* not the block's declared shape: keep it as it is */
        *out = y;
        return ADAPT_OK;
    }
    memcpy(keep->data, y->data, (size_t)y->numel * sizeof(float));
    ad_arena_rewind(&ctx->arena, mark);
    *out = keep;
    return ADAPT_OK;
}

static adapt_status run_blocks(adapt_tensor **out, adapt_context *ctx, adapt_model *model,
                               adapt_tensor *input, int32_t first, int32_t last, const char *fn)
{
    adapt_status st = check_call(out, ctx, model, input, fn);
    if (st)
        return st;
    if (first < 0 || first > last || last > model->n_blocks)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: blocks [%d, %d) are not within [0, %d]",
                       fn, (int)first, (int)last, (int)model->n_blocks);
    const ad_block *b = first < model->n_blocks ? &model->blocks[first] : NULL;
    ad_dims in = b ? b->in : ad_model_tail(model);
    st = check_input(input, &in, b && b->layers[0].kind->flattens, fn);
    adapt_tensor *x = input, **outputs = NULL; /* kept for the blocks that join them */
    if (!st && ad_joins_within(model, first, last))
        st = ad_scratch((void **)&outputs, ctx, (size_t)model->n_blocks * sizeof *outputs, fn);
    for (int32_t i = first; i < last && !st; i++) {
        if (outputs)
            st = ad_join_run(&x, ctx, model, i, first, outputs, fn);
        if (!st)
            st = block_forward_compact(&x, ctx, &model->blocks[i], x);
        ad_meter_charge(ctx, input->shape[0], model->blocks[i].own_flops);
        if (outputs)
            outputs[i] = x;
    }
    if (!st)
        *out = x;
    return st;
}

adapt_status ad_model_forward_blocks(adapt_tensor **out, adapt_context *ctx, adapt_model *model,
                                     adapt_tensor *input, int32_t first, int32_t last)
{
    return run_blocks(out, ctx, model, input, first, last, "adapt_model_forward_blocks");
}

/* NONFINITE for logits with NaN or infinity, naming a parameter that holds one: the inputs
 * are finite (tensors are checked when made), so the weights, or an overflow, made them. The
 * parameters are scanned only then, off the path of every call. */
static adapt_status check_logits(const adapt_tensor *y, const adapt_model *model,
                                 const char *fn)
{
    if (ad_all_finite(y->data, y->numel))
        return ADAPT_OK;
    for (int32_t i = 0; i < adapt_model_param_count(model); i++) {
        const adapt_tensor *p = ad_model_param(model, i);
        if (!ad_all_finite(p->data, p->numel))
            return ad_fail(ADAPT_ERR_NONFINITE, "%s: parameter '%s' holds NaN or infinity", fn,
                           adapt_model_param_name(model, i));
    }
    return ad_fail(ADAPT_ERR_NONFINITE, "%s: the output overflowed to NaN or infinity", fn);
}

adapt_status ad_model_forward(adapt_tensor **logits, adapt_context *ctx, adapt_model *model,
                              adapt_tensor *input)
{
    const char *fn = "adapt_model_forward";
    if (!logits)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: out is NULL", fn);
    if (model && !model->n_blocks)
        return ad_fail(ADAPT_ERR_STATE, "%s: the model has no blocks yet", fn);
    adapt_tensor *y = NULL;
    adapt_status st = run_blocks(&y, ctx, model, input, 0, model ? model->n_blocks : 0, fn);
    if (!st)
        st = check_logits(y, model, fn);
    if (!st)
        *logits = y;
    return st;
}

static adapt_status forward_flops(adapt_tensor **logits, int64_t *flops, adapt_context *ctx,
                                  adapt_model *model, adapt_tensor *input, const char *fn)
{
    adapt_status st = flops ? ADAPT_OK
                            : ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: flops is NULL", fn);
    const int64_t n = !st && input->ndim >= 1 ? input->shape[0] : 0;
    if (!st)
        st = ad_meter_start(ctx, n, fn);
    if (st)
        return st;
    const int64_t *meter = ctx->meter;
    adapt_tensor *y = NULL;
    st = ad_model_forward(&y, ctx, model, input);
    ad_meter_stop(ctx);
    if (st)
        return st;
    memcpy(flops, meter, (size_t)n * sizeof *flops);
    *logits = y;
    return ADAPT_OK;
}

adapt_status ad_forward_enter(adapt_tensor **x, ad_hold *hold, adapt_tensor **out,
                              adapt_context *ctx, adapt_model *model, adapt_tensor *input,
                              const char *fn)
{
    *hold = (ad_hold){0};
    adapt_status st = ad_check_context(ctx, fn);
    if (!st && (!out || !model))
        st = ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: %s is NULL", fn, out ? "model" : "out");
    if (!st)
        st = ad_tensor_from_handle(x, input, fn, "input");
    return st ? st : ad_model_enter(hold, model, ad_forward_access(ctx), fn);
}

/* Ends a public forward pass: the hold goes, the result becomes the caller's handle, and a
 * failure's message names `fn`, which the layers and kernels beneath cannot. */
static adapt_status forward_leave(adapt_tensor **out, adapt_tensor *y, ad_hold *hold,
                                  adapt_status st, const char *fn)
{
    ad_busy_leave(hold);
    if (!st)
        *out = ad_tensor_hand_out(y);
    return ad_prefix(st, fn);
}

adapt_status adapt_model_forward_blocks(adapt_tensor **out, adapt_context *ctx,
                                        adapt_model *model, adapt_tensor *input, int32_t first,
                                        int32_t last)
{
    const char *fn = "adapt_model_forward_blocks";
    adapt_tensor *x = NULL, *y = NULL;
    ad_hold hold;
    adapt_status st = ad_forward_enter(&x, &hold, out, ctx, model, input, fn);
    if (!st)
        st = run_blocks(&y, ctx, model, x, first, last, fn);
    return forward_leave(out, y, &hold, st, fn);
}

adapt_status adapt_model_forward(adapt_tensor **logits, adapt_context *ctx, adapt_model *model,
                                 adapt_tensor *input)
{
    const char *fn = "adapt_model_forward";
    adapt_tensor *x = NULL, *y = NULL;
    ad_hold hold;
    adapt_status st = ad_forward_enter(&x, &hold, logits, ctx, model, input, fn);
    if (!st)
        st = ad_model_forward(&y, ctx, model, x);
    return forward_leave(logits, y, &hold, st, fn);
}

adapt_status adapt_model_forward_flops(adapt_tensor **logits, int64_t *flops,
                                       adapt_context *ctx, adapt_model *model,
                                       adapt_tensor *input)
{
    const char *fn = "adapt_model_forward_flops";
    adapt_tensor *x = NULL, *y = NULL;
    ad_hold hold;
    adapt_status st = ad_forward_enter(&x, &hold, logits, ctx, model, input, fn);
    if (!st)
        st = forward_flops(&y, flops, ctx, model, x, fn);
    return forward_leave(logits, y, &hold, st, fn);
}
