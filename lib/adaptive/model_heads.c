/* A model's list of heads: adding, removing, listing, and the cost of each exit. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "lib/adaptive/head.h"
#include "lib/core/error.h"
#include "lib/models/model_impl.h"

/* Position a head reading `block` takes in the block-ordered list. */
static int32_t position_for(const adapt_model *model, int32_t block)
{
    int32_t k = 0;
    while (k < model->n_heads && model->heads[k]->params.block < block)
        k++;
    return k;
}

/* Renames heads [from, n_heads) for their positions; on failure the list is as it was. */
static adapt_status rename_from(adapt_model *model, int32_t from)
{
    for (int32_t k = from; k < model->n_heads; k++) {
        adapt_status st = ad_head_set_position(model->heads[k], k);
        if (st)
            return st;
    }
    return ADAPT_OK;
}

static bool same_dims(const ad_dims *a, const ad_dims *b)
{
    bool same = a->ndim == b->ndim;
    for (int32_t i = 0; same && i < a->ndim; i++)
        same = a->d[i] == b->d[i];
    return same;
}

static adapt_status check_add(const adapt_model *model, const adapt_head *head, const char *fn)
{
    if (!model || !head)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: %s is NULL", fn, model ? "head" : "model");
    if (head->owner)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: the head belongs to a model already", fn);
    const int32_t block = head->params.block;
    if (block >= model->n_blocks - 1 || head->classes != adapt_model_classes(model) ||
        !same_dims(&head->in, &model->blocks[block].out))
        return ad_fail(ADAPT_ERR_SHAPE, "%s: the head was made for another model's block %d", fn,
                       (int)block);
    const int32_t k = position_for(model, block);
    if (k < model->n_heads && model->heads[k]->params.block == block)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: block %d has a head already", fn,
                       (int)block);
    return ADAPT_OK;
}

adapt_status adapt_model_add_head(adapt_model *model, adapt_head *head, int32_t *index)
{
    const char *fn = "adapt_model_add_head";
    adapt_status st = check_add(model, head, fn);
    if (st)
        return st;
    adapt_head **heads = realloc(model->heads, ((size_t)model->n_heads + 1) * sizeof *heads);
    if (!heads)
        return ad_fail(ADAPT_ERR_OUT_OF_MEMORY, "%s: head list", fn);
    model->heads = heads;
    const int32_t k = position_for(model, head->params.block);
    memmove(heads + k + 1, heads + k, (size_t)(model->n_heads - k) * sizeof *heads);
    heads[k] = head;
    model->n_heads++;
    st = rename_from(model, k);
    if (!st)
        st = ad_describe_heads(model);
    if (st) { /* back out: the names of heads before k were not touched */
        memmove(heads + k, heads + k + 1, (size_t)(model->n_heads - k - 1) * sizeof *heads);
        model->n_heads--;
        rename_from(model, k);
        return st;
    }
    head->owner = model;
    if (index)
        *index = k;
    return ADAPT_OK;
}

adapt_status adapt_model_remove_head(adapt_head **out, adapt_model *model, int32_t index)
{
    const char *fn = "adapt_model_remove_head";
    if (!model || index < 0 || index >= model->n_heads)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: %s", fn,
                       model ? "no head at that index" : "model is NULL");
    adapt_head *head = model->heads[index];
    memmove(model->heads + index, model->heads + index + 1,
            (size_t)(model->n_heads - index - 1) * sizeof *model->heads);
    model->n_heads--;
    adapt_status st = rename_from(model, index);
    if (!st)
        st = ad_describe_heads(model);
    if (st) {
        memmove(model->heads + index + 1, model->heads + index,
                (size_t)(model->n_heads - index) * sizeof *model->heads);
        model->heads[index] = head;
        model->n_heads++;
        rename_from(model, index);
        return st;
    }
    head->owner = NULL;
    if (out)
        *out = head;
    else
        ad_head_destroy(head);
    return ADAPT_OK;
}

int32_t adapt_model_head_count(const adapt_model *model)
{
    return model ? model->n_heads : 0;
}

adapt_head *adapt_model_head(const adapt_model *model, int32_t index)
{
    return model && index >= 0 && index < model->n_heads ? model->heads[index] : NULL;
}

adapt_status adapt_model_exit_flops(int64_t *flops, int32_t capacity, const adapt_model *model)
{
    const char *fn = "adapt_model_exit_flops";
    if (!flops || !model)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: %s is NULL", fn, flops ? "model" : "flops");
    if (!model->n_blocks)
        return ad_fail(ADAPT_ERR_STATE, "%s: the model has no blocks", fn);
    if (capacity < model->n_heads + 1)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: capacity %d below the %d exits", fn,
                       (int)capacity, (int)model->n_heads + 1);
    ad_exit_costs(flops, model);
    return ADAPT_OK;
}

void ad_exit_costs(int64_t *flops, const adapt_model *model)
{
    int64_t spent = 0;
    int32_t b = 0;
    for (int32_t k = 0; k <= model->n_heads; k++) {
        const int32_t last = k < model->n_heads ? model->heads[k]->params.block : model->n_blocks - 1;
        for (; b <= last; b++)
            spent = ad_add_sat(spent, model->blocks[b].flops);
        if (k < model->n_heads)
            spent = ad_add_sat(spent, model->heads[k]->flops);
        flops[k] = spent;
    }
}
