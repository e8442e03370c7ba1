/* The router: model A through its probed blocks, the probe on their outputs, then A's other
 * blocks for the inputs the probe passes and model B for those it flags, each group as one
 * smaller batch (gather -> blocks -> scatter), with every input's FLOPs metered. */
#include <stdlib.h>
#include <string.h>

#include "lib/core/context.h"
#include "lib/core/error.h"
#include "lib/core/meter.h"
#include "lib/core/struct_io.h"
#include "lib/core/tensor.h"
#include "lib/models/model.h"
#include "lib/models/model_impl.h"
#include "lib/ops/ops.h"
#include "lib/probe/router.h"

static const char *const run_fn = "adapt_router_run";

/* Arena state of one run. */
typedef struct {
    adapt_tensor *shared;  /* A's output of block shared - 1 (the input when shared == 0) */
    const float **probed;  /* each probed block's output rows */
    float *scores, *per_layer;
    float *logits;         /* [n, classes], handed to the caller only once all is done */
    int64_t classes;
    double threshold;      /* the probe's, read once */
    int64_t *flops;        /* A's common blocks and the probe, then each group's blocks */
    int64_t *group[2];     /* rows passed (0) and flagged (1) */
    int64_t count[2];
} route_state;

/* Opens the arena arrays for n rows. */
static adapt_status open_state(route_state *s, adapt_context *ctx, const adapt_router *r,
                               int64_t n)
{
    const size_t rows = (size_t)(n ? n : 1), layers = (size_t)r->n_blocks;
    adapt_status st = ad_scratch((void **)&s->probed, ctx, layers * sizeof *s->probed, run_fn);
    if (!st)
        st = ad_scratch((void **)&s->scores, ctx, rows * sizeof *s->scores, run_fn);
    if (!st)
        st = ad_scratch((void **)&s->per_layer, ctx, rows * layers * sizeof(float), run_fn);
    if (!st)
        st = ad_scratch((void **)&s->flops, ctx, rows * sizeof *s->flops, run_fn);
    s->classes = adapt_model_classes(r->a);
    if (!st)
        st = ad_scratch((void **)&s->logits, ctx, rows * (size_t)s->classes * sizeof(float),
                        run_fn);
    s->threshold = r->probe->threshold;
    for (int g = 0; g < 2 && !st; g++)
        st = ad_scratch((void **)&s->group[g], ctx, rows * sizeof(int64_t), run_fn);
    return st;
}

/* A's blocks [0, r->common) on every row, metered, stopping at each probed block's end to
 * keep its output and at the shared activation; *x becomes the last output. */
static adapt_status run_common(route_state *s, adapt_context *ctx, const adapt_router *r,
                               adapt_tensor **x)
{
    const int64_t n = (*x)->shape[0];
    adapt_status st = ad_meter_start(ctx, n, run_fn);
    s->shared = *x;
    int32_t done = 0, l = 0;
    while (!st && done < r->common) {
        int32_t stop = r->common;
        if (l < r->n_blocks && r->blocks[l] + 1 < stop)
            stop = r->blocks[l] + 1;
        if (r->shared > done && r->shared < stop)
            stop = r->shared;
        st = ad_model_forward_blocks(x, ctx, r->a, *x, done, stop);
        done = stop;
        if (!st && done == r->shared)
            s->shared = *x;
        for (; !st && l < r->n_blocks && r->blocks[l] + 1 == done; l++)
            s->probed[l] = (*x)->data;
    }
    for (int64_t i = 0; i < n && !st; i++)
        s->flops[i] = ctx->meter[i] + r->probe_flops;
    ad_meter_stop(ctx);
    return st;
}

/* Splits the rows by the probe's scores: passed (not above the threshold) and flagged. */
static adapt_status split(route_state *s, const adapt_router *r, int64_t n)
{
    const ad_probe_rows rows = {s->probed, r->widths, r->n_blocks, n};
    adapt_status st = ad_probe_rows_check(&rows, run_fn); /* NaN would pass silently */
    if (!st)
        st = ad_probe_score_rows(r->probe, s->scores, s->per_layer, &rows, run_fn);
    s->count[0] = s->count[1] = 0;
    for (int64_t i = 0; i < n && !st; i++) {
        const int g = s->scores[i] > s->threshold;
        s->group[g][s->count[g]++] = i;
    }
    return st;
}

/* One group's rows of `from` through `model`'s blocks [first, end), metered; their logits
 * and FLOPs go to the rows' places. */
static adapt_status finish_group(route_state *s, adapt_context *ctx, adapt_model *model,
                                 adapt_tensor *from, int32_t first, int g)
{
    const int64_t m = s->count[g];
    if (m == 0)
        return ADAPT_OK;
    adapt_tensor *x = NULL, *y = NULL;
    adapt_status st = ad_op_gather_rows(&x, ctx, from, s->group[g], m);
    if (!st)
        st = ad_meter_start(ctx, m, run_fn);
    if (!st)
        st = ad_model_forward_blocks(&y, ctx, model, x, first, model->n_blocks);
    if (!st && !ad_all_finite(y->data, y->numel))
        st = ad_fail(ADAPT_ERR_NONFINITE, "%s: model %s gave NaN or infinity", run_fn,
                     g ? "B" : "A");
    for (int64_t j = 0; j < m && !st; j++) {
        const int64_t i = s->group[g][j];
        s->flops[i] += ctx->meter[j];
        memcpy(s->logits + i * s->classes, y->data + j * s->classes,
               (size_t)s->classes * sizeof(float));
    }
    ad_meter_stop(ctx);
    return st;
}

static void hand_over(const adapt_route_outputs *out, const route_state *s, int64_t n)
{
    if (out->logits)
        memcpy(out->logits, s->logits, (size_t)(n * s->classes) * sizeof(float));
    for (int64_t i = 0; i < n; i++) {
        if (out->scores)
            out->scores[i] = s->scores[i];
        if (out->routed)
            out->routed[i] = 0;
        if (out->flops)
            out->flops[i] = s->flops[i];
    }
    for (int64_t j = 0; j < s->count[1] && out->routed; j++)
        out->routed[s->group[1][j]] = 1;
}

/* Inference mode whatever the context's, so the models are only read. */
static adapt_status route(const adapt_route_outputs *out, adapt_context *ctx,
                          const adapt_router *r, adapt_tensor *x)
{
    const int64_t n = x->shape[0];
    route_state s = {0};
    const bool training = ctx->training;
    ctx->training = false;
    adapt_status st = open_state(&s, ctx, r, n);
    if (!st)
        st = run_common(&s, ctx, r, &x);
    if (!st)
        st = split(&s, r, n);
    if (!st)
        st = finish_group(&s, ctx, r->a, x, r->common, 0);
    if (!st)
        st = finish_group(&s, ctx, r->b, s.shared, r->shared, 1);
    ctx->training = training;
    if (!st)
        hand_over(out, &s, n);
    return st;
}

static adapt_status check_run(adapt_route_outputs *out, adapt_tensor **x,
                              const adapt_route_outputs *outputs, adapt_context *ctx,
                              const adapt_router *router, adapt_tensor *input)
{
    adapt_status st = ad_check_context(ctx, run_fn);
    if (!st)
        st = ad_struct_check_out(outputs, "outputs", "adapt_route_outputs", run_fn);
    if (!st)
        st = ad_struct_read(out, sizeof *out, outputs, "adapt_route_outputs", run_fn);
    if (!st && (!router || !input))
        st = ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: %s is NULL", run_fn,
                     router ? "input" : "router");
    return st ? st : ad_inference_input(x, ctx, input, run_fn);
}

adapt_status adapt_router_run(const adapt_route_outputs *outputs, adapt_context *ctx,
                              adapt_router *router, adapt_tensor *input)
{
    adapt_route_outputs out = {0};
    adapt_tensor *x = NULL;
    ad_hold hold_a = {0}, hold_b = {0};
    adapt_status st = check_run(&out, &x, outputs, ctx, router, input);
    if (!st)
        st = ad_model_enter(&hold_a, router->a, AD_READ, run_fn);
    if (!st)
        st = ad_model_enter(&hold_b, router->b, AD_READ, run_fn);
    if (!st)
        st = ad_router_check_models(router, run_fn);
    if (!st)
        st = ad_model_check_input(router->a, x, run_fn);
    if (!st)
        st = route(&out, ctx, router, x);
    ad_busy_leave(&hold_b);
    ad_busy_leave(&hold_a);
    return ad_prefix(st, run_fn); /* layers and kernels cannot name the caller */
}
