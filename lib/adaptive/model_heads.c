/* A model's heads, kept among its attachments in block order: adding, removing, listing,
 * and the cost of each exit. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "lib/adaptive/head.h"
#include "lib/core/error.h"
#include "lib/models/model_impl.h"

/* Index in the attachment list of head k (the list's length for k == heads). */
static int32_t slot_of(const adapt_model *model, int32_t k)
{
    int32_t i = 0;
    for (int32_t seen = 0; i < model->n_attached; i++)
        if (model->attached[i].type == &ad_exit_head_type && seen++ == k)
            break;
    return i;
}

int32_t ad_head_count(const adapt_model *model)
{
    int32_t n = 0;
    for (int32_t i = 0; i < model->n_attached; i++)
        n += model->attached[i].type == &ad_exit_head_type;
    return n;
}

adapt_head *ad_head_at(const adapt_model *model, int32_t k)
{
    return model->attached[slot_of(model, k)].self;
}

/* Position a head reading `block` takes in the block-ordered list. */
static int32_t position_for(const adapt_model *model, int32_t block)
{
    int32_t k = 0;
    while (k < ad_head_count(model) && ad_head_at(model, k)->params.block < block)
        k++;
    return k;
}

/* Renames heads [from, heads) for their positions; on failure the list is as it was. */
static adapt_status rename_from(adapt_model *model, int32_t from)
{
    for (int32_t k = from; k < ad_head_count(model); k++) {
        adapt_status st = ad_head_set_position(ad_head_at(model, k), k);
        if (st)
            return st;
    }
    return ADAPT_OK;
}

static adapt_status check_add(const adapt_model *model, const adapt_head *head, const char *fn)
{
    if (!model || !head)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: %s is NULL", fn, model ? "head" : "model");
    if (head->owner)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: the head belongs to a model already", fn);
    const int32_t block = head->params.block;
    if (block >= model->n_blocks - 1 || head->classes != adapt_model_classes(model) ||
        !ad_dims_equal(&head->in, &model->blocks[block].out))
        return ad_fail(ADAPT_ERR_SHAPE, "%s: the head was made for another model's block %d", fn,
                       (int)block);
    if (ad_layer_passed_over(&model->blocks[block + 1].layers[0]))
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: block %d ends inside a replaced slice "
                       "of layers", fn, (int)block);
    const int32_t k = position_for(model, block);
    if (k < ad_head_count(model) && ad_head_at(model, k)->params.block == block)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: block %d has a head already", fn,
                       (int)block);
    return ADAPT_OK;
}

/* Inserts `a` at index i of the attachment list, which has room for it. */
static void insert_at(adapt_model *model, int32_t i, ad_attachment a)
{
    memmove(model->attached + i + 1, model->attached + i,
            (size_t)(model->n_attached - i) * sizeof a);
    model->attached[i] = a;
    model->n_attached++;
}

static ad_attachment take_at(adapt_model *model, int32_t i)
{
    const ad_attachment a = model->attached[i];
    memmove(model->attached + i, model->attached + i + 1,
            (size_t)(model->n_attached - i - 1) * sizeof a);
    model->n_attached--;
    return a;
}

static adapt_status add_head(adapt_model *model, adapt_head *head, int32_t *index,
                             const char *fn)
{
    adapt_status st = check_add(model, head, fn);
    if (st)
        return st;
    ad_attachment *list =
        realloc(model->attached, ((size_t)model->n_attached + 1) * sizeof *list);
    if (!list)
        return ad_fail(ADAPT_ERR_OUT_OF_MEMORY, "%s: head list", fn);
    model->attached = list;
    const int32_t k = position_for(model, head->params.block), slot = slot_of(model, k);
    insert_at(model, slot, (ad_attachment){&ad_exit_head_type, head});
    st = rename_from(model, k);
    if (!st)
        st = ad_describe_attachments(model);
    if (st) { /* back out: the names of heads before k were not touched */
        take_at(model, slot);
        rename_from(model, k);
        return st;
    }
    head->owner = model;
    ad_params_hold(&head->list, &model->busy);
    ad_exit_plan(model);
    if (index)
        *index = k;
    return ADAPT_OK;
}

adapt_status adapt_model_add_head(adapt_model *model, adapt_head *head, int32_t *index)
{
    const char *fn = "adapt_model_add_head";
    ad_hold hold;
    adapt_status st = ad_model_enter(&hold, model, AD_WRITE, fn);
    if (!st)
        st = add_head(model, head, index, fn);
    ad_busy_leave(&hold);
    return ad_prefix(st, fn); /* the model builders cannot name the caller */
}

static adapt_status remove_head(adapt_head **out, adapt_model *model, int32_t index,
                                const char *fn)
{
    if (!model || index < 0 || index >= ad_head_count(model))
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: %s", fn,
                       model ? "no head at that index" : "model is NULL");
    const int32_t slot = slot_of(model, index);
    const ad_attachment taken = take_at(model, slot);
    adapt_status st = rename_from(model, index);
    if (!st)
        st = ad_describe_attachments(model);
    if (st) {
        insert_at(model, slot, taken);
        rename_from(model, index);
        return st;
    }
    adapt_head *head = taken.self;
    head->owner = NULL;
    ad_params_hold(&head->list, NULL);
    head->fusion = AD_FUSE_NONE;
    ad_exit_plan(model);
    if (out)
        *out = head;
    else
        ad_head_destroy(head);
    return ADAPT_OK;
}

adapt_status adapt_model_remove_head(adapt_head **out, adapt_model *model, int32_t index)
{
    const char *fn = "adapt_model_remove_head";
    ad_hold hold;
    adapt_status st = ad_model_enter(&hold, model, AD_WRITE, fn);
    if (!st)
        st = remove_head(out, model, index, fn);
    ad_busy_leave(&hold);
    return ad_prefix(st, fn); /* the model builders cannot name the caller */
}

int32_t adapt_model_head_count(const adapt_model *model)
{
    return model ? ad_head_count(model) : 0;
}

adapt_head *adapt_model_head(const adapt_model *model, int32_t index)
{
    return model && index >= 0 && index < ad_head_count(model) ? ad_head_at(model, index) : NULL;
}

/* Cost of each exit into flops[0 .. heads]: its blocks and every head up to it. */
static void exit_costs(int64_t *flops, const adapt_model *model)
{
    int64_t spent = 0;
    int32_t b = 0;
    const int32_t heads = ad_head_count(model);
    for (int32_t k = 0; k <= heads; k++) {
        const adapt_head *h = k < heads ? ad_head_at(model, k) : NULL;
        const int32_t last = h ? h->params.block : model->n_blocks - 1;
        for (; b <= last; b++)
            spent = ad_add_sat(spent, model->blocks[b].flops);
        if (h)
            spent = ad_add_sat(spent, h->flops);
        flops[k] = spent;
    }
}

adapt_status adapt_model_exit_flops(int64_t *flops, int32_t capacity, const adapt_model *model)
{
    const char *fn = "adapt_model_exit_flops";
    if (!flops || !model)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: %s is NULL", fn, flops ? "model" : "flops");
    if (!model->n_blocks)
        return ad_fail(ADAPT_ERR_STATE, "%s: the model has no blocks", fn);
    if (capacity < ad_head_count(model) + 1)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: capacity %d below the %d exits", fn,
                       (int)capacity, (int)ad_head_count(model) + 1);
    exit_costs(flops, model);
    return ADAPT_OK;
}
