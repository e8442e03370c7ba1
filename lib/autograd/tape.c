#include "lib/autograd/tape.h"

#include <string.h>

#include "lib/core/error.h"
#include "lib/core/handle.h"

bool ad_tape_wants(const adapt_context *ctx, adapt_tensor *const *in, int32_t n_in)
{
    if (!ctx->grad_enabled)
        return false;
    for (int32_t i = 0; i < n_in; i++)
        if (in[i] && ad_requires_grad(in[i]))
            return true;
    return false;
}

adapt_status ad_tape_record(adapt_context *ctx, const char *name, ad_backward_fn backward,
                            adapt_tensor *out, adapt_tensor *const *in, int32_t n_in,
                            void **saved, size_t saved_size)
{
    ad_node *node;
    adapt_tensor **inputs;
    adapt_status st = ad_scratch((void **)&node, ctx, sizeof *node, name);
    if (!st)
        st = ad_scratch((void **)&inputs, ctx, (size_t)n_in * sizeof *inputs, name);
    if (!st && saved_size)
        st = ad_scratch(saved, ctx, saved_size, name);
    if (st)
        return st;
    memcpy(inputs, in, (size_t)n_in * sizeof *inputs);
    *node = (ad_node){.prev = ctx->tape, .backward = backward, .name = name, .out = out,
                      .in = inputs, .n_in = n_in, .saved = saved_size ? *saved : NULL,
                      .arena_used = ctx->arena.used};
    ctx->tape = node;
    out->flags |= AD_TENSOR_REQUIRES_GRAD;
    return ADAPT_OK;
}

/* The gradient of an intermediate activation is dead once the operation that
 * made it has run its backward: nothing recorded before that operation reads
 * it. Its block then waits on a list, and the next gradient of the same size
 * takes it. The blocks of a network repeat their shapes, so a pass holds the
 * gradients of about one block at a time instead of all of them. Gradients of
 * parameters and of activations a caller holds are kept. */
struct ad_spare_grad {
    size_t bytes;
    struct ad_spare_grad *next;
};

static size_t grad_bytes(const adapt_tensor *t)
{
    const size_t bytes = (size_t)t->numel * sizeof(float);
    return (bytes + AD_ARENA_ALIGN - 1) / AD_ARENA_ALIGN * AD_ARENA_ALIGN;
}

static float *reuse_grad(adapt_context *ctx, size_t bytes)
{
    for (struct ad_spare_grad **at = &ctx->spare_grads; *at; at = &(*at)->next) {
        struct ad_spare_grad *spare = *at;
        if (spare->bytes == bytes) {
            *at = spare->next;
            memset(spare, 0, bytes);
            return (float *)(void *)spare;
        }
    }
    return ad_arena_calloc(&ctx->arena, bytes / sizeof(float), sizeof(float));
}

static void retire_grad(adapt_context *ctx, adapt_tensor *t)
{
    if (!t->pass_grad || ad_is_param(t) || (t->flags & AD_TENSOR_HANDED_OUT))
        return;
    struct ad_spare_grad *spare = (struct ad_spare_grad *)(void *)t->pass_grad;
    *spare = (struct ad_spare_grad){grad_bytes(t), ctx->spare_grads};
    ctx->spare_grads = spare;
    t->pass_grad = NULL;
}

adapt_status ad_grad(float **grad, adapt_context *ctx, adapt_tensor *t)
{
    if (!t || !ad_requires_grad(t)) {
        *grad = NULL;
        return ADAPT_OK;
    }
    if (!t->pass_grad) {
        float *g = reuse_grad(ctx, grad_bytes(t));
        if (!g)
            return ad_fail(ADAPT_ERR_OUT_OF_MEMORY, "adapt_backward: no arena memory for a gradient");
        t->pass_grad = g;
    }
    *grad = t->pass_grad;
    return ADAPT_OK;
}

/* Ends a pass over the tape: on success adds each parameter's pass gradient
 * into its persistent gradient; either way drops the arena pointers from the
 * parameters, which outlive this step. */
static void finish_pass(adapt_context *ctx, bool commit)
{
    for (ad_node *node = ctx->tape; node; node = node->prev) {
        for (int32_t i = 0; i < node->n_in; i++) {
            adapt_tensor *p = node->in[i];
            if (!p || !ad_is_param(p) || !p->pass_grad)
                continue;
            if (commit)
                for (int64_t j = 0; j < p->numel; j++)
                    p->grad[j] += p->pass_grad[j];
            p->pass_grad = NULL;
        }
    }
    ctx->tape = NULL;
    ctx->spare_grads = NULL; /* arena memory, which the next reset takes back */
}

adapt_status ad_tape_run_backward(adapt_context *ctx, const ad_node *newest)
{
    adapt_status st = ADAPT_OK;
    for (const ad_node *node = newest; node && !st; node = node->prev) {
        if (node->out->pass_grad)
            st = node->backward(ctx, node);
        retire_grad(ctx, node->out);
    }
    return st;
}

adapt_status ad_backward(adapt_context *ctx, adapt_tensor *loss)
{
    const char *fn = "adapt_backward";
    adapt_status st = ad_check_context(ctx, fn);
    if (!st)
        st = ad_check_tensor(ctx, loss, fn, "loss");
    if (st)
        return st;
    if (loss->numel != 1)
        return ad_fail(ADAPT_ERR_SHAPE, "%s: loss has %lld elements, expected 1", fn,
                       (long long)loss->numel);
    if (!ad_all_finite(loss->data, 1))
        return ad_fail(ADAPT_ERR_NONFINITE, "%s: loss is %f", fn, (double)loss->data[0]);
    if (!ad_requires_grad(loss) || ad_is_param(loss) || !ctx->tape)
        return ad_fail(ADAPT_ERR_STATE,
                       "%s: nothing to differentiate (was gradient recording on, and does the "
                       "loss depend on a parameter that requires gradients?)", fn);
    float *seed = NULL;
    st = ad_grad(&seed, ctx, loss);
    if (st) {
        finish_pass(ctx, false);
        return st;
    }
    seed[0] += 1.0f;
    st = ad_tape_run_backward(ctx, ctx->tape);
    finish_pass(ctx, st == ADAPT_OK);
    return st;
}

adapt_status adapt_backward(adapt_context *ctx, adapt_tensor *loss)
{
    const char *fn = "adapt_backward";
    adapt_tensor *t = NULL;
    adapt_status st = ad_check_context(ctx, fn);
    if (!st)
        st = ad_tensor_from_handle(&t, loss, fn, "loss");
    /* The backward kernels are shared and cannot name the caller. */
    return st ? st : ad_prefix(ad_backward(ctx, t), fn);
}
