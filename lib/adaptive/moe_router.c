/* adapt_moe_train_routers: each router learns, by mean squared error, the L2 norm of every
 * expert's output for each token it will route (D2DMoE's router targets), on recordings of
 * what its module receives, with the experts frozen: a module objective of
 * lib/train/module_objective.h. */
#include <string.h>

#include "lib/adaptive/moe.h"
#include "lib/core/error.h"
#include "lib/core/tensor.h"
#include "lib/ops/ops.h"
#include "lib/train/module_objective.h"

static const char *const fn = "adapt_moe_train_routers";

static adapt_status check(const adapt_model *module, int32_t i, const char *name)
{
    return ad_moe_of(module) ? ADAPT_OK
                          : ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: module %d is not one "
                                    "Mixture-of-Experts layer", name, (int)i);
}

static int32_t router_params(adapt_tensor **out, adapt_model *module)
{
    const ad_moe *m = ad_moe_of(module);
    if (out)
        out[0] = m->router_in.weight, out[1] = m->router_out.weight;
    return 2;
}

/* target[t, e] = ||expert e's output for token t||, every expert run, untaped. */
static adapt_status expert_norms(adapt_tensor *target, adapt_context *ctx, const ad_moe *m,
                                 const adapt_tensor *x, int64_t tokens)
{
    const ad_arena_mark mark = ad_arena_mark_now(&ctx->arena);
    uint8_t *every;
    float *norms;
    ad_grouping g;
    adapt_status st = ad_scratch((void **)&every, ctx, (size_t)(tokens * m->experts), fn);
    if (!st) {
        memset(every, 1, (size_t)(tokens * m->experts));
        st = ad_grouping_build(&g, ctx, every, tokens, m->experts, fn);
    }
    if (!st)
        st = ad_scratch((void **)&norms, ctx, (size_t)g.pairs * sizeof *norms, fn);
    const ad_grouped_weights w = ad_moe_weights(m);
    if (!st)
        st = ad_grouped_ffn_forward(ctx, &g, &w, x->data, &(ad_grouped_outputs){.norms = norms},
                                    fn);
    for (int64_t t = 0; !st && t < tokens; t++) /* token t's pairs: experts 0, 1, ... */
        for (int64_t e = 0; e < m->experts; e++)
            target->data[t * m->experts + e] = norms[g.token_pair[g.token_start[t] + e]];
    ad_arena_rewind(&ctx->arena, mark);
    return st;
}

static adapt_status router_loss(adapt_tensor **loss, adapt_context *ctx, adapt_model *module,
                                adapt_tensor *x, adapt_tensor *outputs, const void *unused)
{
    (void)outputs, (void)unused;
    const ad_moe *m = ad_moe_of(module);
    adapt_tensor *target, *hidden, *predicted;
    adapt_status st = ad_linear_output(&target, ctx, x, m->experts);
    if (!st)
        st = expert_norms(target, ctx, m, x, x->numel / m->in);
    if (!st)
        st = ad_linear_forward_act(&hidden, ctx, &m->router_in, x, AD_ACT_RELU);
    if (!st)
        st = ad_linear_forward(&predicted, ctx, &m->router_out, hidden);
    if (!st)
        st = ad_op_abs(&predicted, ctx, predicted);
    return st ? st : ad_op_mse(loss, ctx, predicted, target);
}

adapt_status adapt_moe_train_routers(adapt_model *const *moes,
                                     const adapt_recording *const *recordings, int32_t n,
                                     const adapt_train_params *params)
{
    static const ad_module_objective routers = {
        .loss = router_loss, .params = router_params, .check = check, .mean = true};
    return ad_train_modules(moes, recordings, n, params, &routers, fn);
}
