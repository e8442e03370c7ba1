/* adapt_moe_expert_counts: how many experts each token ran, reported by the layer itself
 * during a forward pass of its module, so that the counts are those of what really ran. */
#include <stdlib.h>
#include <string.h>

#include "lib/adaptive/moe.h"
#include "lib/core/error.h"
#include "lib/models/model_impl.h"

static const char *const fn = "adapt_moe_expert_counts";

static adapt_status check_module(adapt_model *moe)
{
    ad_hold hold;
    adapt_status st = ad_model_enter(&hold, moe, AD_READ, fn);
    if (st)
        return st;
    if (!ad_moe_of(moe))
        st = ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: moe is not one Mixture-of-Experts layer",
                     fn);
    ad_busy_leave(&hold);
    return st;
}

adapt_status adapt_moe_expert_counts(int32_t *counts, adapt_context *ctx, adapt_model *moe,
                                     adapt_tensor *x)
{
    if (!counts || !ctx || !moe)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: counts, ctx or moe is NULL", fn);
    adapt_status st = check_module(moe);
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
    st = adapt_model_forward_blocks(&y, ctx, moe, x, 0, 1);
    ctx->expert_counts = NULL;
    for (int64_t t = 0; !st && t < tokens; t++)
        if (ran[t] < 0)
            st = ad_fail(ADAPT_ERR_STATE, "%s: the module changed during the pass", fn);
    if (!st)
        memcpy(counts, ran, (size_t)tokens * sizeof *ran);
    free(ran);
    return ad_prefix(st, fn);
}
