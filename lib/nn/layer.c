#include "lib/nn/layer.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "lib/core/error.h"

int64_t ad_mlp_hidden(float mlp_ratio, int64_t dim)
{
    double hidden = floor((double)mlp_ratio * (double)dim);
    return hidden >= 0.0 && hidden < 0x1p62 ? (int64_t)hidden : -1;
}

/* The kind's checks and output shape, into l. */
static adapt_status describe(ad_layer *l, const char *fn)
{
    if (!l->kind)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: unknown layer kind %d", fn,
                       (int)l->params.kind);
    adapt_status st = ad_layer_kind_check(l->kind, &l->params, fn);
    if (!st)
        st = l->kind->shape(&l->out, &l->params, &l->in, fn);
    if (!st && ad_dims_numel(&l->out) == INT64_MAX)
        st = ad_fail(ADAPT_ERR_OVERFLOW, "%s: the layer's output size does not fit", fn);
    return st;
}

adapt_status ad_layer_init(ad_layer *layer, const adapt_layer_params *params, const ad_dims *in,
                           ad_param_list *list, const ad_layer_names *names, const char *fn)
{
    ad_layer l = {.kind = ad_layer_kind_of(params->kind), .params = *params, .in = *in};
    const size_t len = strlen(names->prefix); /* the path is the prefix without its dot */
    const int path_len = (int)(len && names->prefix[len - 1] == '.' ? len - 1 : len);
    snprintf(l.path, sizeof l.path, "%.*s", path_len, names->prefix);
    adapt_status st = describe(&l, fn);
    if (st)
        return st;
    const int32_t first = list->count;
    const int64_t values = list->values;
    if (l.kind->init)
        st = l.kind->init(&l, list, names);
    if (!st)
        l.flops = l.kind->flops ? l.kind->flops(&l) : 0;
    if (!st && l.flops == INT64_MAX)
        st = ad_fail(ADAPT_ERR_OVERFLOW, "%s: the layer's FLOP count does not fit", fn);
    if (st) {
        ad_params_truncate(list, first);
        return st;
    }
    l.n_params = list->values - values;
    *layer = l;
    return ADAPT_OK;
}

adapt_status ad_layer_forward(adapt_tensor **out, adapt_context *ctx, const ad_layer *layer,
                              adapt_tensor *x)
{
    const ad_override *r = &layer->replaced;
    return r->module ? r->forward(out, ctx, r->module, x) : layer->kind->forward(out, ctx, layer, x);
}

static adapt_status kind_forward(adapt_tensor **y, adapt_context *ctx, adapt_tensor *x,
                                 const void *layer)
{
    const ad_layer *l = layer;
    return l->kind->forward(y, ctx, l, x);
}

adapt_status ad_layer_interval_monotone(ad_interval *out, adapt_context *ctx, const ad_layer *l,
                                        const ad_interval *x)
{
    return ad_interval_monotone(out, ctx, x, kind_forward, l);
}

ad_override *ad_layer_part_slot(ad_layer *l, const ad_layer_part *part)
{
    return (ad_override *)(void *)(l->state + part->offset);
}

bool ad_layer_is_builtin(const ad_layer *l)
{
    bool builtin = !l->replaced.module;
    for (int32_t i = 0; builtin && i < l->kind->n_parts; i++)
        builtin = !ad_layer_part_slot((ad_layer *)l, &l->kind->parts[i])->module;
    return builtin;
}
