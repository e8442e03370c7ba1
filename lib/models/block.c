/* Blocks: chains of layers that the API exposes as one unit, and the model's block list. */
#include <stdlib.h>
#include <string.h>

#include "lib/core/error.h"
#include "lib/models/model_impl.h"

void ad_block_start(ad_block *b, int32_t kind, const ad_dims *in)
{
    memset(b, 0, sizeof *b);
    b->kind = kind;
    b->in = b->out = *in;
    b->join = -1;
}

adapt_status ad_block_add(ad_block *b, const adapt_layer_params *p, ad_param_list *list,
                          const ad_layer_names *names, const char *fn)
{
    if (b->n_layers == AD_CHAIN_MAX_LAYERS)
        return ad_fail(ADAPT_ERR_INTERNAL, "%s: block holds more than %d layers", fn,
                       AD_CHAIN_MAX_LAYERS);
    ad_layer *l = &b->layers[b->n_layers];
    adapt_status st = ad_layer_init(l, p, &b->out, list, names, fn);
    if (st)
        return st;
    b->n_layers++;
    ad_chain_plan_make(&b->plan, b->layers, b->n_layers);
    b->out = l->out;
    b->flops = ad_add_sat(b->flops, l->flops);
    if (!l->kind->meters_itself)
        b->own_flops = ad_add_sat(b->own_flops, l->flops);
    b->n_params += l->n_params;
    return ADAPT_OK;
}

adapt_status ad_model_check_blocks(const adapt_model *model, int64_t blocks)
{
    if (blocks > model->block_limit)
        return ad_fail(ADAPT_ERR_FORMAT, "model architecture has more than %d blocks",
                       (int)model->block_limit);
    return ADAPT_OK;
}

adapt_status ad_model_push_block(adapt_model *model, const ad_block *b)
{
    adapt_status st = ad_model_check_blocks(model, (int64_t)model->n_blocks + 1);
    if (st)
        return st;
    if (model->n_blocks == model->block_capacity) {
        if (model->block_capacity > INT32_MAX / 2)
            return ad_fail(ADAPT_ERR_OVERFLOW, "model has too many blocks");
        int32_t capacity = model->block_capacity ? 2 * model->block_capacity : 8;
        ad_block *blocks = realloc(model->blocks, (size_t)capacity * sizeof *blocks);
        if (!blocks)
            return ad_fail(ADAPT_ERR_OUT_OF_MEMORY, "no memory for a block list of %d entries",
                           (int)capacity);
        model->blocks = blocks;
        model->block_capacity = capacity;
    }
    model->blocks[model->n_blocks++] = *b;
    return ADAPT_OK;
}
