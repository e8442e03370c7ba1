/* Activation checkpointing. With it on, a block of a model's forward runs on its own tape as
 * usual, then keeps its output alone: the output is copied into a tensor made before the
 * block's activations, and their memory and records are handed back. One record stands for
 * the block, with the tensors the block read from outside (its input and parameters) as its
 * inputs. Its backward runs the block's forward again, on the same inputs, random stream and
 * mode (batch norm leaving its running statistics alone the second time), then that tape's
 * backward, and hands the memory back once more. Training then holds one block's
 * activations at a time plus every block's output, for one more forward.
 *
 * The rerun computes the same values in the same order, and the gradients of the outside
 * tensors are allocated before it, zeroed, and accumulated by the same records in the same
 * order: gradients are bit-identical to those of the plain tape. */
#include <string.h>

#include "lib/autograd/tape.h"
#include "lib/core/arena.h"
#include "lib/core/context.h"
#include "lib/core/error.h"
#include "lib/models/recompute.h"
#include "lib/ops/op.h"

typedef struct {
    const ad_block *block;
    uint64_t rng_stream; /* the block's random streams start here */
    bool training;
} block_record;

static bool made_by(const ad_node *tape, const adapt_tensor *t)
{
    for (const ad_node *n = tape; n; n = n->prev)
        if (n->out == t)
            return true;
    return false;
}

static bool listed(adapt_tensor *const *list, int32_t n, const adapt_tensor *t)
{
    for (int32_t i = 0; i < n; i++)
        if (list[i] == t)
            return true;
    return false;
}

/* x, then the other tensors the records of `tape` read that none of them made, into
 * `outside` (room for `capacity`); their count, or -1 if they do not fit. */
static int32_t outside_inputs(adapt_tensor **outside, int32_t capacity, const ad_node *tape,
                              adapt_tensor *x)
{
    int32_t n = 0;
    outside[n++] = x;
    for (const ad_node *node = tape; node; node = node->prev)
        for (int32_t i = 0; i < node->n_in; i++) {
            adapt_tensor *t = node->in[i];
            if (!t || made_by(tape, t) || listed(outside, n, t))
                continue;
            if (n == capacity)
                return -1;
            outside[n++] = t;
        }
    return n;
}

static int32_t count_inputs(const ad_node *tape)
{
    int32_t n = 0;
    for (const ad_node *node = tape; node; node = node->prev)
        n += node->n_in;
    return n;
}

static adapt_status rerun_and_backward(adapt_context *ctx, const ad_node *node)
{
    const block_record *r = node->saved;
    adapt_tensor *y, *x = node->in[0];
    adapt_status st = ad_block_run(&y, ctx, r->block, x);
    if (st)
        return st;
    float *dy = node->out->pass_grad;
    if (y == x) { /* a block that passes its input through (zero dropout) */
        for (int64_t i = 0; x->pass_grad && i < x->numel; i++)
            x->pass_grad[i] += dy[i];
        return ADAPT_OK;
    }
    y->pass_grad = dy; /* the block's output gradient, from outside */
    return ad_tape_run_backward(ctx, ctx->tape);
}

static adapt_status block_backward(adapt_context *ctx, const ad_node *node)
{
    const block_record *r = node->saved;
    for (int32_t i = 0; i < node->n_in; i++) { /* before the mark: they outlive the rerun */
        float *grad;
        adapt_status st = ad_grad(&grad, ctx, node->in[i]);
        if (st)
            return st;
    }
    const ad_arena_mark mark = ad_arena_mark_now(&ctx->arena);
    ad_node *tape = ctx->tape;
    struct ad_spare_grad *spares = ctx->spare_grads;
    int64_t *meter = ctx->meter;
    const uint64_t stream = ctx->rng_stream;
    const bool grad = ctx->grad_enabled, training = ctx->training;
    ctx->tape = NULL, ctx->spare_grads = NULL, ctx->meter = NULL, ctx->rerunning = true;
    ctx->rng_stream = r->rng_stream, ctx->grad_enabled = true, ctx->training = r->training;
    const adapt_status st = rerun_and_backward(ctx, node);
    ctx->tape = tape, ctx->spare_grads = spares, ctx->meter = meter, ctx->rerunning = false;
    ctx->rng_stream = stream, ctx->grad_enabled = grad, ctx->training = training;
    ad_arena_rewind(&ctx->arena, mark);
    return st;
}

/* Runs the block on its own tape, keeps its output in `keep`, and records the block. */
static adapt_status keep_output(adapt_tensor **out, adapt_context *ctx, const ad_block *b,
                                adapt_tensor *x, adapt_tensor *keep)
{
    const block_record r = {b, ctx->rng_stream, ctx->training};
    ad_node *tape = ctx->tape;
    const ad_arena_mark mark = ad_arena_mark_now(&ctx->arena);
    ctx->tape = NULL;
    adapt_tensor *y, **outside = NULL;
    adapt_status st = ad_block_run(&y, ctx, b, x);
    if (!st && y->numel != keep->numel)
        st = ad_fail(ADAPT_ERR_INTERNAL, "recompute: a block's output is not its declared shape");
    const int32_t capacity = st ? 0 : 1 + count_inputs(ctx->tape);
    if (!st)
        st = ad_scratch((void **)&outside, ctx, (size_t)capacity * sizeof *outside, "forward");
    const int32_t n_outside = st ? 0 : outside_inputs(outside, capacity, ctx->tape, x);
    adapt_tensor *in[AD_RECOMPUTE_MAX_INPUTS];
    if (!st && (n_outside < 1 || n_outside > AD_RECOMPUTE_MAX_INPUTS))
        st = ad_fail(ADAPT_ERR_INTERNAL, "recompute: a block reads %d tensors from outside",
                     (int)n_outside);
    if (!st) {
        memcpy(keep->data, y->data, (size_t)y->numel * sizeof(float));
        memcpy(in, outside, (size_t)n_outside * sizeof *in);
    }
    ctx->tape = tape;
    ad_arena_rewind(&ctx->arena, mark);
    if (st)
        return st;
    return ad_op_finish(out, ctx, "forward", block_backward, keep, in, n_outside, &r, sizeof r);
}

adapt_status ad_block_run_recomputed(adapt_tensor **out, adapt_context *ctx, const ad_block *b,
                                     adapt_tensor *x)
{
    int64_t shape[ADAPT_MAX_DIMS] = {x->shape[0]};
    for (int32_t i = 0; i < b->out.ndim; i++)
        shape[i + 1] = b->out.d[i];
    adapt_tensor *keep;
    adapt_status st = ad_tensor_new(&keep, ctx, b->out.ndim + 1, shape);
    return st ? st : keep_output(out, ctx, b, x, keep);
}
