/* adapt_moe_expert_counts, adapt_acm_learner_counts: how many experts or learners each token
 * ran, reported by the layer itself during a forward pass of its module, so that the counts
 * are those of what really ran. */
#include <stdlib.h>
#include <string.h>

#include "lib/adaptive/acm.h"
#include "lib/adaptive/moe.h"
#include "lib/core/error.h"
#include "lib/models/model_impl.h"

static adapt_status check_module(adapt_model *module, bool (*is)(const adapt_model *),
                                 const char *what, const char *fn)
{
    ad_hold hold;
    adapt_status st = ad_model_enter(&hold, module, AD_READ, fn);
    if (st)
        return st;
    if (!is(module))
        st = ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: the module is not one %s layer", fn, what);
    ad_busy_leave(&hold);
    return st;
}

static adapt_status token_counts(int32_t *counts, adapt_context *ctx, adapt_model *module,
                                 adapt_tensor *x, bool (*is)(const adapt_model *),
                                 const char *what, const char *fn)
{
    if (!counts || !ctx || !module)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: counts, ctx or the module is NULL", fn);
    adapt_status st = check_module(module, is, what, fn);
    if (st)
        return st;
    const int64_t width = adapt_tensor_dim(x, -1);
    const int64_t tokens = width > 0 ? adapt_tensor_numel(x) / width : 0;
    int32_t *ran = malloc((size_t)(tokens ? tokens : 1) * sizeof *ran);
    if (!ran)
        return ad_fail(ADAPT_ERR_OUT_OF_MEMORY, "%s: %lld counts", fn, (long long)tokens);
    memset(ran, 0xff, (size_t)tokens * sizeof *ran); /* -1: no layer wrote it */
    adapt_tensor *y = NULL;
    ctx->expert_counts = ran; /* the caller's array only once the pass succeeded */
    st = adapt_model_forward_blocks(&y, ctx, module, x, 0, 1);
    ctx->expert_counts = NULL;
    for (int64_t t = 0; !st && t < tokens; t++)
        if (ran[t] < 0)
            st = ad_fail(ADAPT_ERR_STATE, "%s: the module changed during the pass", fn);
    if (!st)
        memcpy(counts, ran, (size_t)tokens * sizeof *ran);
    free(ran);
    return ad_prefix(st, fn);
}

static bool is_moe(const adapt_model *m)
{
    return ad_moe_of(m) != NULL;
}

static bool is_acm(const adapt_model *m)
{
    return ad_acm_of(m) != NULL;
}

adapt_status adapt_moe_expert_counts(int32_t *counts, adapt_context *ctx, adapt_model *moe,
                                     adapt_tensor *x)
{
    return token_counts(counts, ctx, moe, x, is_moe, "Mixture-of-Experts",
                        "adapt_moe_expert_counts");
}

adapt_status adapt_acm_learner_counts(int32_t *counts, adapt_context *ctx, adapt_model *acm,
                                      adapt_tensor *x)
{
    return token_counts(counts, ctx, acm, x, is_acm, "ACM", "adapt_acm_learner_counts");
}
