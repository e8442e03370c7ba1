/* The ACM layer's forward. Untaped, one pass over token blocks (token_blocks.h): each block's
 * gate picks every token's learner count c (the argmax of its logits) and the grouped kernel
 * runs learners 0 .. c - 1 on each token, so a token runs exactly the learners it is charged
 * for. Taped, the gate's choice is a straight-through one-hot (sampled with Gumbel noise in
 * training), turned into a mask over the learners, and every learner runs: their masked sum
 * is the output, and the mask's gradient trains the gate through the task's loss. */
#include <math.h>
#include <string.h>

#include "lib/adaptive/acm.h"
#include "lib/adaptive/acm_budget.h"
#include "lib/adaptive/token_blocks.h"
#include "lib/core/error.h"
#include "lib/core/tensor.h"
#include "lib/autograd/tape.h"
#include "lib/kernels/gemm.h"
#include "lib/ops/ops.h"

static const char *const fn = "ACM forward";

/* The gate's width (its hidden layers') and choices: the floats of one token's scratch. */
static int64_t gate_floats(const void *layer, int64_t rows)
{
    const ad_acm *a = AD_LAYER_STATE((const ad_layer *)layer, const ad_acm);
    return rows * (2 * a->gate[0].out_features + ad_acm_choices(a));
}

/* out[rows, l.out] = act(x l^T + b), on the calling thread. */
static adapt_status gate_layer(float *out, adapt_backend backend, const ad_linear *l,
                               const float *x, int64_t rows, ad_act act)
{
    const int64_t in = l->in_features, cols = l->out_features;
    adapt_status st = ad_gemm(backend, &(ad_gemm_args){.trans_b = true, .m = rows, .n = cols,
                                                       .k = in, .alpha = 1.0f, .a = x,
                                                       .lda = in, .b = l->weight->data,
                                                       .ldb = in, .c = out, .ldc = cols});
    if (!st)
        ad_bias_act_rows(rows, cols, cols, l->bias->data, act, out);
    return st;
}

/* Token t runs learners 0 .. c_t - 1. */
static void select_first(uint8_t *row, int64_t learners, int64_t c)
{
    for (int64_t n = 0; n < learners; n++)
        row[n] = n < c;
}

static adapt_status choose_block(uint8_t *selected, int64_t *bad_row, adapt_backend backend,
                                 const void *layer, const float *x, int64_t rows,
                                 float *scratch)
{
    const ad_layer *l = layer;
    const ad_acm *a = AD_LAYER_STATE(l, const ad_acm);
    if (a->fixed >= 0) {
        for (int64_t t = 0; t < rows; t++)
            select_first(selected + t * a->learners, a->learners, a->fixed);
        return ADAPT_OK;
    }
    const int64_t width = a->gate[0].out_features, choices = ad_acm_choices(a);
    float *h1 = scratch, *h2 = h1 + rows * width, *logits = h2 + rows * width;
    adapt_status st = gate_layer(h1, backend, &a->gate[0], x, rows, AD_ACT_RELU);
    if (!st)
        st = gate_layer(h2, backend, &a->gate[1], h1, rows, AD_ACT_RELU);
    if (!st)
        st = gate_layer(logits, backend, &a->gate[2], h2, rows, AD_ACT_NONE);
    for (int64_t t = 0; !st && t < rows; t++) {
        const float *z = logits + t * choices;
        int64_t best = 0;
        for (int64_t c = 0; c < choices; c++) {
            if (!isfinite(z[c])) {
                *bad_row = t;
                return ADAPT_ERR_NONFINITE;
            }
            best = z[c] > z[best] ? c : best;
        }
        select_first(selected + t * a->learners, a->learners, a->min_learners + best);
    }
    return st;
}

/* Each sample's gate (when it ran) and the learners its tokens ran. */
static adapt_status charge(adapt_context *ctx, const ad_acm *a, const uint8_t *selected,
                           int64_t tokens, int64_t samples)
{
    return ad_token_blocks_charge(ctx, selected, tokens, a->learners, samples,
                                  ad_acm_learner_flops(a),
                                  a->fixed < 0 ? ad_acm_gate_flops(a) : 0);
}

/* mask [..., learners] from the choices' one-hot [..., choices]: learner n runs under choice
 * c (min_learners + c learners) when n < min_learners + c, so mask = onehot U with
 * U[c, n] = (n < min_learners + c). */
static adapt_status mask_of(adapt_tensor **mask, adapt_context *ctx, const ad_acm *a,
                            adapt_tensor *onehot)
{
    const int64_t choices = ad_acm_choices(a);
    adapt_tensor *u;
    adapt_status st = ad_tensor_new(&u, ctx, 2, (int64_t[]){choices, a->learners});
    for (int64_t c = 0; !st && c < choices; c++)
        for (int64_t n = 0; n < a->learners; n++)
            u->data[c * a->learners + n] = n < a->min_learners + c ? 1.0f : 0.0f;
    return st ? st : ad_op_matmul(mask, ctx, onehot, u, 0);
}

/* mask [..., learners] of every token running the layer's fixed count: a constant. */
static adapt_status fixed_mask(adapt_tensor **mask, adapt_context *ctx, const ad_acm *a,
                               const adapt_tensor *x)
{
    int64_t shape[ADAPT_MAX_DIMS];
    memcpy(shape, x->shape, (size_t)x->ndim * sizeof *shape);
    shape[x->ndim - 1] = a->learners;
    adapt_status st = ad_tensor_new(mask, ctx, x->ndim, shape);
    for (int64_t k = 0; !st && k < (*mask)->numel; k++)
        (*mask)->data[k] = k % a->learners < a->fixed ? 1.0f : 0.0f;
    return st;
}

/* mask [..., learners] of the gate's straight-through choices, which the budget terms may
 * note. */
static adapt_status gated_mask(adapt_tensor **mask, adapt_context *ctx, const ad_acm *a,
                               adapt_tensor *x)
{
    adapt_tensor *logits, *onehot;
    adapt_status st = ad_acm_gate_logits(&logits, ctx, a, x);
    if (!st)
        st = ad_op_straight_through(&onehot, ctx, logits, AD_ACM_GATE_TAU, ctx->training);
    if (!st)
        st = ad_acm_note_choices(ctx, a, onehot);
    return st ? st : mask_of(mask, ctx, a, onehot);
}

/* The taped forward; selected[tokens, learners] gets what the forward value ran. */
static adapt_status run_taped(adapt_tensor **out, adapt_context *ctx, const ad_acm *a,
                              adapt_tensor *x, uint8_t *selected)
{
    adapt_tensor *mask, *h;
    adapt_status st = a->fixed >= 0 ? fixed_mask(&mask, ctx, a, x)
                                    : gated_mask(&mask, ctx, a, x);
    for (int64_t k = 0; !st && k < mask->numel; k++)
        selected[k] = mask->data[k] != 0.0f;
    if (!st)
        st = ad_acm_learner_outputs(&h, ctx, a, x);
    return st ? st : ad_acm_combine(out, ctx, h, mask);
}

static adapt_status forward_taped(adapt_tensor **out, adapt_context *ctx, const ad_layer *l,
                                  adapt_tensor *x, int64_t tokens)
{
    const ad_acm *a = AD_LAYER_STATE(l, const ad_acm);
    uint8_t *selected;
    adapt_status st = ad_scratch((void **)&selected, ctx, (size_t)(tokens * a->learners + 1),
                                 fn);
    if (!st)
        st = run_taped(out, ctx, a, x, selected);
    return st ? st : charge(ctx, a, selected, tokens, x->shape[0]);
}

static adapt_status forward_untaped(adapt_tensor **out, adapt_context *ctx, const ad_layer *l,
                                    adapt_tensor *x, int64_t tokens)
{
    const ad_acm *a = AD_LAYER_STATE(l, const ad_acm);
    const ad_token_chooser gate = {choose_block, gate_floats, l, ad_acm_weights(a),
                                   a->learners};
    adapt_tensor *y;
    uint8_t *selected;
    int64_t bad;
    adapt_status st = ad_linear_output(&y, ctx, x, a->out);
    const ad_arena_mark scratch = ad_arena_mark_now(&ctx->arena);
    if (!st)
        st = ad_scratch((void **)&selected, ctx, (size_t)(tokens * a->learners + 1), fn);
    if (!st)
        st = ad_token_blocks_run(ctx, &gate, x->data, y->data, selected, tokens, &bad);
    if (st == ADAPT_ERR_NONFINITE)
        return ad_fail(st, "the gate of an ACM layer gave NaN or infinity for token %lld",
                       (long long)bad);
    if (!st)
        st = charge(ctx, a, selected, tokens, x->shape[0]);
    if (st)
        return st;
    ad_arena_rewind(&ctx->arena, scratch); /* only y stays (leaves_only_output) */
    *out = y;
    return ADAPT_OK;
}

adapt_status ad_acm_forward(adapt_tensor **out, adapt_context *ctx, const ad_layer *l,
                            adapt_tensor *x)
{
    const ad_acm *a = AD_LAYER_STATE(l, const ad_acm);
    const int64_t tokens = x->numel / a->in;
    adapt_tensor *in[] = {x, a->w1, a->b1, a->w2, a->gate[0].weight, a->gate[0].bias,
                          a->gate[1].weight, a->gate[1].bias, a->gate[2].weight,
                          a->gate[2].bias};
    const adapt_status st = ad_tape_wants(ctx, in, 10) ? forward_taped(out, ctx, l, x, tokens)
                                                       : forward_untaped(out, ctx, l, x, tokens);
    return ad_prefix(st, fn);
}
