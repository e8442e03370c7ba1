/* The model object shared by every architecture: creation, release, and the queries on its
 * blocks and parameters. */
#include <stdlib.h>
#include <string.h>

#include "lib/core/context.h"
#include "lib/core/error.h"
#include "lib/core/handle.h"
#include "lib/core/struct_io.h"
#include "lib/models/model_impl.h"

ad_dims ad_model_tail(const adapt_model *model)
{
    return model->n_blocks ? model->blocks[model->n_blocks - 1].out : model->input;
}

adapt_status ad_model_new(adapt_model **out, ad_arch arch, const ad_dims *input, uint64_t seed,
                          int64_t max_values)
{
    adapt_model *m = calloc(1, sizeof *m);
    if (!m)
        return ad_fail(ADAPT_ERR_OUT_OF_MEMORY, "no memory for a model");
    m->arch = arch;
    m->input = *input;
    m->block_limit = max_values < INT64_MAX ? AD_MODEL_MAX_ARCH_ENTRIES : INT32_MAX;
    ad_busy_init(&m->busy);
    ad_params_init(&m->params, seed, max_values);
    ad_params_hold(&m->params, &m->busy);
    *out = m;
    return ADAPT_OK;
}

adapt_status ad_model_enter(ad_hold *hold, adapt_model *model, ad_access access,
                            const char *fn)
{
    if (!model) { /* nothing to hold: the call reports the NULL itself */
        *hold = (ad_hold){0};
        return ADAPT_OK;
    }
    return ad_busy_enter(hold, &model->busy, access, fn);
}

ad_access ad_forward_access(const adapt_context *ctx)
{
    return ctx->training ? AD_WRITE : AD_READ;
}

void adapt_model_free(adapt_model *model)
{
    if (!model || model->owner || model->in_pipeline) /* its holder frees it */
        return;
    ad_model_free_replacements(model);
    ad_params_free(&model->params);
    for (int32_t i = 0; i < model->n_attached; i++)
        model->attached[i].type->destroy(model->attached[i].self);
    free(model->attached);
    free(model->blocks);
    free(model->architecture);
    free(model);
}

const char *ad_model_architecture(const adapt_model *model)
{
    return model ? model->architecture : NULL;
}

int32_t adapt_model_block_count(const adapt_model *model)
{
    return model ? model->n_blocks : 0;
}

adapt_status adapt_model_block_info(adapt_block_info *info, const adapt_model *model,
                                    int32_t block)
{
    const char *fn = "adapt_model_block_info";
    adapt_status st = ad_struct_check_out(info, "info", "adapt_block_info", fn);
    if (st)
        return st;
    if (!model)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: model is NULL", fn);
    if (block < 0 || block >= model->n_blocks)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: block %d outside [0, %d)", fn,
                       (int)block, (int)model->n_blocks);
    const ad_block *b = &model->blocks[block];
    adapt_block_info full = {.struct_size = info->struct_size, .kind = b->kind,
                             .out_ndim = b->out.ndim, .flops = b->flops,
                             .n_params = b->n_params};
    memcpy(full.out_shape, b->out.d, sizeof full.out_shape);
    ad_struct_write(info, &full, sizeof full);
    return ADAPT_OK;
}

int64_t adapt_model_flops(const adapt_model *model)
{
    int64_t flops = 0;
    for (int32_t i = 0; model && i < model->n_blocks; i++)
        flops = ad_add_sat(flops, model->blocks[i].flops);
    return flops;
}

static const ad_param_list *attached_params(const adapt_model *model, int32_t i)
{
    return model->attached[i].type->params(model->attached[i].self);
}

int32_t ad_backbone_param_count(const adapt_model *model)
{
    return model->n_replaced ? model->n_visible : model->params.count;
}

int64_t ad_param_values(const adapt_model *model)
{
    int64_t values = model->params.values;
    for (int32_t r = 0; r < model->n_replaced; r++)
        values += ad_param_values(model->replaced[r].module);
    for (int32_t i = 0; i < model->n_attached; i++)
        values += attached_params(model, i)->values;
    return values;
}

int32_t adapt_model_param_count(const adapt_model *model)
{
    int32_t count = model ? ad_backbone_param_count(model) : 0;
    for (int32_t i = 0; model && i < model->n_attached; i++)
        count += attached_params(model, i)->count;
    return count;
}

/* Parameter `index` among those the backbone shows, then in each attachment's list. */
static ad_visible_param find_param(const adapt_model *model, int32_t index)
{
    const int32_t backbone = model ? ad_backbone_param_count(model) : 0;
    if (!model || index < 0)
        return (ad_visible_param){0};
    if (index < backbone && model->n_replaced)
        return model->visible[index];
    if (index < backbone)
        return (ad_visible_param){model->params.items[index].name,
                                  model->params.items[index].tensor, NULL};
    index -= backbone;
    for (int32_t i = 0; i < model->n_attached; i++) {
        const ad_param_list *list = attached_params(model, i);
        if (index < list->count)
            return (ad_visible_param){list->items[index].name, list->items[index].tensor, NULL};
        index -= list->count;
    }
    return (ad_visible_param){0};
}

adapt_tensor *ad_model_param(const adapt_model *model, int32_t index)
{
    return find_param(model, index).tensor;
}

adapt_tensor *adapt_model_param(const adapt_model *model, int32_t index)
{
    return ad_tensor_handle(ad_model_param(model, index));
}

const char *adapt_model_param_name(const adapt_model *model, int32_t index)
{
    return find_param(model, index).name;
}

int32_t adapt_model_classes(const adapt_model *model)
{
    if (!model || !model->n_blocks)
        return 0;
    ad_dims out = ad_model_tail(model);
    return out.ndim == 1 && out.d[0] <= INT32_MAX ? (int32_t)out.d[0] : 0;
}
