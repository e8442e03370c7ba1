/* Skip connections between blocks (join.h). */
#include "lib/models/join.h"

#include "lib/core/error.h"
#include "lib/nn/layer_kind.h"
#include "lib/ops/ops.h"

adapt_status ad_join_input(ad_dims *in, int32_t *join, const adapt_model *model,
                           const adapt_layer_params *p, const char *fn)
{
    const ad_layer_kind *kind = ad_layer_kind_of(p->kind);
    *in = ad_model_tail(model);
    *join = -1;
    if (!kind || !kind->joins_block)
        return ADAPT_OK;
    if (p->source < 0 || p->source >= model->n_blocks)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: %s: source %d is not one of the %d "
                       "blocks before it", fn, kind->name, (int)p->source, (int)model->n_blocks);
    const ad_dims *skip = &model->blocks[p->source].out;
    if (in->ndim != 3 || skip->ndim != 3 || in->d[1] != skip->d[1] || in->d[2] != skip->d[2]) {
        char a[160], b[160];
        return ad_fail(ADAPT_ERR_SHAPE, "%s: %s: the input %s and block %d's output %s are not "
                       "[C, H, W] of the same H and W", fn, kind->name,
                       ad_dims_str(in, a, sizeof a), (int)p->source,
                       ad_dims_str(skip, b, sizeof b));
    }
    in->d[0] = ad_add_sat(in->d[0], skip->d[0]);
    if (in->d[0] == INT64_MAX || ad_dims_numel(in) == INT64_MAX)
        return ad_fail(ADAPT_ERR_OVERFLOW, "%s: %s: the joined input is too large", fn,
                       kind->name);
    *join = p->source;
    return ADAPT_OK;
}

bool ad_joins_within(const adapt_model *model, int32_t first, int32_t last)
{
    for (int32_t b = first; b < last; b++)
        if (model->blocks[b].join >= 0)
            return true;
    return false;
}

adapt_status ad_join_run(adapt_tensor **x, adapt_context *ctx, const adapt_model *model,
                         int32_t b, int32_t first, adapt_tensor *const *outputs, const char *fn)
{
    const int32_t source = model->blocks[b].join;
    if (source < 0)
        return ADAPT_OK;
    if (source < first)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: block %d joins the output of block %d, "
                       "which a pass from block %d does not compute", fn, (int)b, (int)source,
                       (int)first);
    adapt_tensor *parts[2] = {*x, outputs[source]};
    return ad_op_concat(x, ctx, parts, 2, 1);
}
