/* Heads: creation against a model's block, description, naming, release. */
#include "lib/adaptive/head.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/core/error.h"
#include "lib/core/struct_io.h"
#include "lib/models/model_impl.h"

static const char *const fn_create = "adapt_head_create";

static const char *const kind_names[] = {"pooled_linear", "sdn", "cls_linear", "cls_mlp"};
#define N_KINDS ((int32_t)(sizeof kind_names / sizeof *kind_names))

const char *ad_head_kind_name(int32_t kind)
{
    return kind >= 0 && kind < N_KINDS ? kind_names[kind] : NULL;
}

int32_t ad_head_kind_from_name(const char *name)
{
    for (int32_t k = 0; k < N_KINDS; k++)
        if (strcmp(name, kind_names[k]) == 0)
            return k;
    return -1;
}

void adapt_head_params_init(adapt_head_params *params, size_t size)
{
    static const adapt_head_params defaults = {.kind = ADAPT_HEAD_POOLED_LINEAR};
    ad_struct_init(params, size, &defaults, sizeof defaults);
}

static adapt_status check_params(const adapt_head_params *p, const adapt_model *model)
{
    if (p->kind < ADAPT_HEAD_POOLED_LINEAR || p->kind > ADAPT_HEAD_CLS_MLP)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: unknown head kind %d", fn_create,
                       (int)p->kind);
    if (adapt_model_classes(model) < 1)
        return ad_fail(ADAPT_ERR_STATE, "%s: the model does not end in class logits", fn_create);
    if (p->block < 0 || p->block >= model->n_blocks - 1)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT,
                       "%s: block %d outside [0, %d): the last block is the final exit",
                       fn_create, (int)p->block, (int)model->n_blocks - 1);
    if (p->hidden < 0)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: hidden width %d is negative", fn_create,
                       (int)p->hidden);
    return ADAPT_OK;
}

/* Width of the vector the kind makes of one sample of `in`, or -1 when it cannot read it. */
static int64_t feature_width(adapt_head *h)
{
    const ad_dims *in = &h->in;
    switch (h->params.kind) {
    case ADAPT_HEAD_POOLED_LINEAR:
        return in->ndim == 1 ? in->d[0] : in->ndim == 2 ? in->d[1] : in->ndim == 3 ? in->d[0] : -1;
    case ADAPT_HEAD_SDN: {
        if (in->ndim != 3)
            return -1;
        h->window = in->d[1] >= 4 ? (int32_t)(in->d[1] / 4) : 1;
        const int64_t rows = ad_window_out(in->d[1], h->window, h->window, 0);
        const int64_t cols = ad_window_out(in->d[2], h->window, h->window, 0);
        return cols < 1 ? -1 : ad_mul_sat(in->d[0], ad_mul_sat(rows, cols));
    }
    default:
        return in->ndim == 2 ? in->d[1] : -1;
    }
}

static adapt_status add_params(adapt_head *h, int64_t features)
{
    const char *prefix = "exits.0.";
    ad_param_list *list = &h->list;
    adapt_status st = ADAPT_OK;
    if (h->params.kind == ADAPT_HEAD_SDN)
        st = ad_params_add(&h->alpha, list, prefix, "alpha", 1, (int64_t[]){1},
                           (ad_init){AD_INIT_CONSTANT, 0.5f, false});
    if (!st && h->params.cascade) {
        const int64_t c = h->classes;
        st = ad_params_add(&h->norm_weight, list, prefix, "norm.weight", 1, &c,
                           (ad_init){AD_INIT_CONSTANT, 1.0f, false});
        if (!st)
            st = ad_params_add(&h->norm_bias, list, prefix, "norm.bias", 1, &c,
                               (ad_init){AD_INIT_CONSTANT, 0.0f, false});
        features = ad_add_sat(features, c);
    }
    if (st)
        return st;
    if (h->params.kind != ADAPT_HEAD_CLS_MLP)
        return ad_linear_init(&h->fc1, list, "exits.0.fc.", features, h->classes, true);
    st = ad_linear_init(&h->fc1, list, "exits.0.fc1.", features, h->params.hidden, true);
    return st ? st : ad_linear_init(&h->fc2, list, "exits.0.fc2.", h->params.hidden,
                                    h->classes, true);
}

static adapt_status build(adapt_head *h)
{
    const int64_t features = feature_width(h);
    if (features < 1) {
        char s[160];
        return ad_fail(ADAPT_ERR_SHAPE, "%s: a head of kind %d cannot read block %d's output %s",
                       fn_create, (int)h->params.kind, (int)h->params.block,
                       ad_dims_str(&h->in, s, sizeof s));
    }
    if (h->params.kind == ADAPT_HEAD_CLS_MLP && h->params.hidden == 0)
        h->params.hidden = (int32_t)(features < INT32_MAX ? features : INT32_MAX);
    if (h->params.kind != ADAPT_HEAD_CLS_MLP)
        h->params.hidden = 0;
    h->params.cascade = h->params.cascade != 0;
    adapt_status st = add_params(h, features);
    if (st)
        return st;
    h->flops = ad_add_sat(ad_linear_flops(&h->fc1, 1),
                          h->fc2.weight ? ad_linear_flops(&h->fc2, 1) : 0);
    h->n_params = h->list.values;
    return h->flops == INT64_MAX ? ad_fail(ADAPT_ERR_OVERFLOW, "%s: head too large", fn_create)
                                 : ADAPT_OK;
}

adapt_status ad_head_new(adapt_head **out, const adapt_model *model,
                         const adapt_head_params *params, int64_t max_values)
{
    adapt_head_params p;
    adapt_head_params_init(&p, sizeof p);
    if (!out || !model)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: %s is NULL", fn_create,
                       out ? "model" : "out");
    adapt_status st = ad_struct_read(&p, sizeof p, params, "adapt_head_params", fn_create);
    if (!st)
        st = check_params(&p, model);
    if (st)
        return st;
    adapt_head *h = calloc(1, sizeof *h);
    if (!h)
        return ad_fail(ADAPT_ERR_OUT_OF_MEMORY, "%s: head", fn_create);
    h->params = p;
    h->in = model->blocks[p.block].out;
    h->classes = adapt_model_classes(model);
    ad_params_init(&h->list, p.seed, max_values);
    st = build(h);
    if (st) {
        ad_head_destroy(h);
        return st;
    }
    *out = h;
    return ADAPT_OK;
}

adapt_status adapt_head_create(adapt_head **out, const adapt_model *model,
                               const adapt_head_params *params)
{
    const char *fn = "adapt_head_create";
    ad_hold hold; /* the hold is all the creation changes of the model */
    adapt_status st = ad_model_enter(&hold, (adapt_model *)model, AD_READ, fn);
    if (!st)
        st = ad_head_new(out, model, params, INT64_MAX);
    ad_busy_leave(&hold);
    return ad_prefix(st, fn); /* the model builders cannot name the caller */
}

void ad_head_destroy(adapt_head *head)
{
    if (!head)
        return;
    ad_params_free(&head->list);
    free(head);
}

void adapt_head_free(adapt_head *head)
{
    if (head && !head->owner)
        ad_head_destroy(head);
}

adapt_status adapt_head_info_get(adapt_head_info *info, const adapt_head *head)
{
    const char *fn = "adapt_head_info_get";
    adapt_status st = ad_struct_check_out(info, "info", "adapt_head_info", fn);
    if (st)
        return st;
    if (!head)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: head is NULL", fn);
    const adapt_head_info full = {.struct_size = info->struct_size, .kind = head->params.kind,
                                  .block = head->params.block, .hidden = head->params.hidden,
                                  .cascade = head->params.cascade, .classes = head->classes,
                                  .flops = head->flops, .n_params = head->n_params};
    ad_struct_write(info, &full, sizeof full);
    return ADAPT_OK;
}

/* Every new name is made before any old one goes, so a failure leaves the names as they were. */
adapt_status ad_head_set_position(adapt_head *head, int32_t position)
{
    const int32_t n = head->list.count;
    char **names = calloc((size_t)n + 1, sizeof *names);
    for (int32_t i = 0; names && i < n; i++) {
        const char *old = head->list.items[i].name;
        const char *local = strchr(old + strlen("exits."), '.') + 1;
        const int len = snprintf(NULL, 0, "exits.%d.%s", (int)position, local);
        if (!(names[i] = malloc((size_t)len + 1)))
            break;
        snprintf(names[i], (size_t)len + 1, "exits.%d.%s", (int)position, local);
    }
    const bool complete = names && (n == 0 || names[n - 1]);
    for (int32_t i = 0; names && i < n; i++) {
        char **keep = complete ? &head->list.items[i].name : &names[i];
        free(*keep);
        if (complete)
            *keep = names[i];
    }
    free(names);
    return complete ? ADAPT_OK
                    : ad_fail(ADAPT_ERR_OUT_OF_MEMORY, "no memory for the head's parameter names");
}
