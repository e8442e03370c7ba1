/* Making a router: its settings checked against the two models and the probe. */
#include <stdlib.h>
#include <string.h>

#include "lib/core/error.h"
#include "lib/core/struct_io.h"
#include "lib/core/tensor.h"
#include "lib/models/model.h"
#include "lib/models/model_impl.h"
#include "lib/probe/router.h"

static const char *const fn = "adapt_router_create";

void adapt_router_params_init(adapt_router_params *params, size_t size)
{
    static const adapt_router_params defaults = {0};
    ad_struct_init(params, size, &defaults, sizeof defaults);
}

void adapt_router_free(adapt_router *router)
{
    if (!router)
        return;
    free(router->blocks);
    free(router->widths);
    free(router);
}

/* The probed blocks: increasing, inside A, each output as wide as its probe layer. */
static adapt_status check_blocks(const adapt_router_params *p, const adapt_model *a,
                                 const adapt_probe *probe)
{
    if (p->n_blocks < 1 || !p->blocks)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: the probe reads no blocks", fn);
    if (p->n_blocks != probe->n_layers)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: %d blocks for a probe of %d layers", fn,
                       (int)p->n_blocks, (int)probe->n_layers);
    for (int32_t l = 0; l < p->n_blocks; l++) {
        const int32_t b = p->blocks[l];
        if (b < 0 || b >= a->n_blocks || (l > 0 && b <= p->blocks[l - 1]))
            return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: blocks[%d] = %d; blocks must be "
                           "increasing and in [0, %d)", fn, (int)l, (int)b, (int)a->n_blocks);
    }
    for (int32_t l = 0; l < p->n_blocks; l++) {
        const int32_t b = p->blocks[l];
        const int64_t width = ad_dims_numel(&a->blocks[b].out);
        if (width != probe->layers[l].width)
            return ad_fail(ADAPT_ERR_SHAPE, "%s: block %d gives %lld values per input; probe "
                           "layer %d reads %lld", fn, (int)b, (long long)width, (int)l,
                           (long long)probe->layers[l].width);
    }
    return ADAPT_OK;
}

/* Parameter `name` of model m, or NULL. */
static const adapt_tensor *param_named(const adapt_model *m, const char *name)
{
    for (int32_t i = 0; i < adapt_model_param_count(m); i++)
        if (!strcmp(adapt_model_param_name(m, i), name))
            return ad_model_param(m, i);
    return NULL;
}

/* Whether parameter `name` belongs to one of A's first k blocks (its layers' paths). */
static bool in_prefix(const adapt_model *a, int32_t k, const char *name)
{
    for (int32_t b = 0; b < k; b++)
        for (int32_t l = 0; l < a->blocks[b].n_layers; l++) {
            const char *path = a->blocks[b].layers[l].path;
            const size_t len = strlen(path);
            if (len && !strncmp(name, path, len) && name[len] == '.')
                return true;
        }
    return false;
}

/* Whether model m holds a replacement inside its first k blocks. */
static bool replaced_within(const adapt_model *m, int32_t k)
{
    for (int32_t i = 0; i < m->n_replaced; i++)
        if (m->replaced[i].site.block < k)
            return true;
    return false;
}

static bool same_layers(const ad_block *x, const ad_block *y)
{
    if (x->kind != y->kind || x->n_layers != y->n_layers || !ad_dims_equal(&x->in, &y->in)
        || !ad_dims_equal(&x->out, &y->out))
        return false;
    for (int32_t l = 0; l < x->n_layers; l++) {
        const ad_layer *u = &x->layers[l], *v = &y->layers[l];
        if (u->kind != v->kind || strcmp(u->path, v->path) || !ad_dims_equal(&u->out, &v->out)
            || memcmp(&u->params, &v->params, sizeof u->params))
            return false;
    }
    return true;
}

/* A's and B's first k blocks: the same layers with the same settings, none replaced. Checked
 * at every run too, since either model may change its layers after the router is made. */
static adapt_status check_prefix_layers(const adapt_model *a, const adapt_model *b, int32_t k,
                                        const char *caller)
{
    if (replaced_within(a, k) || replaced_within(b, k))
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: a submodule of the first %d blocks is "
                       "replaced; shared blocks must be the built-in layers", caller, (int)k);
    for (int32_t i = 0; i < k; i++)
        if (!same_layers(&a->blocks[i], &b->blocks[i]))
            return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: block %d of the two models "
                           "differs, so they share no %d blocks", caller, (int)i, (int)k);
    return ADAPT_OK;
}

/* ... and the same parameter values, checked when the router is made. */
static adapt_status check_prefix_values(const adapt_model *a, const adapt_model *b, int32_t k)
{
    for (int32_t i = 0; i < adapt_model_param_count(a); i++) {
        const char *name = adapt_model_param_name(a, i);
        if (!in_prefix(a, k, name))
            continue;
        const adapt_tensor *x = ad_model_param(a, i), *y = param_named(b, name);
        if (!y || x->numel != y->numel
            || memcmp(x->data, y->data, (size_t)x->numel * sizeof(float)))
            return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: parameter '%s' differs between "
                           "the models, so they share no %d blocks", fn, name, (int)k);
    }
    return ADAPT_OK;
}

static adapt_status check_models(const adapt_router_params *p, const adapt_model *a,
                                 const adapt_model *b)
{
    if (!a->n_blocks || !b->n_blocks)
        return ad_fail(ADAPT_ERR_STATE, "%s: model %s has no blocks", fn, a->n_blocks ? "b"
                                                                                      : "a");
    if (!ad_dims_equal(&a->input, &b->input)
        || adapt_model_classes(a) != adapt_model_classes(b) || adapt_model_classes(a) < 1)
        return ad_fail(ADAPT_ERR_SHAPE, "%s: the models take other inputs or give other "
                       "classes", fn);
    if (p->shared_blocks < 0 || p->shared_blocks > a->n_blocks
        || p->shared_blocks >= b->n_blocks)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: shared_blocks = %d; must be >= 0, at "
                       "most A's %d blocks and fewer than B's %d", fn, (int)p->shared_blocks,
                       (int)a->n_blocks, (int)b->n_blocks);
    adapt_status st = check_prefix_layers(a, b, p->shared_blocks, fn);
    return st ? st : check_prefix_values(a, b, p->shared_blocks);
}

static adapt_status build(adapt_router *r, const adapt_router_params *p)
{
    r->blocks = malloc((size_t)p->n_blocks * sizeof *r->blocks);
    r->widths = malloc((size_t)p->n_blocks * sizeof *r->widths);
    if (!r->blocks || !r->widths)
        return ad_fail(ADAPT_ERR_OUT_OF_MEMORY, "%s: no memory for %d blocks", fn,
                       (int)p->n_blocks);
    r->n_blocks = p->n_blocks;
    for (int32_t l = 0; l < p->n_blocks; l++) {
        r->blocks[l] = p->blocks[l];
        r->widths[l] = r->probe->layers[l].width;
    }
    r->shared = p->shared_blocks;
    const int32_t last = p->blocks[p->n_blocks - 1] + 1;
    r->common = last > r->shared ? last : r->shared;
    r->probe_flops = adapt_probe_flops(r->probe);
    return ADAPT_OK;
}

static adapt_status create(adapt_router **out, adapt_model *a, adapt_model *b,
                           const adapt_probe *probe, const adapt_router_params *params)
{
    adapt_router_params p;
    adapt_router_params_init(&p, sizeof p);
    adapt_status st = ad_struct_read(&p, sizeof p, params, "adapt_router_params", fn);
    if (!st)
        st = check_models(&p, a, b);
    if (!st)
        st = check_blocks(&p, a, probe);
    if (st)
        return st;
    adapt_router *r = calloc(1, sizeof *r);
    if (!r)
        return ad_fail(ADAPT_ERR_OUT_OF_MEMORY, "%s: no memory for the router", fn);
    *r = (adapt_router){.a = a, .b = b, .probe = probe};
    st = build(r, &p);
    if (st) {
        adapt_router_free(r);
        return st;
    }
    *out = r;
    return ADAPT_OK;
}

adapt_status adapt_router_create(adapt_router **out, adapt_model *a, adapt_model *b,
                                 const adapt_probe *probe, const adapt_router_params *params)
{
    if (!out || !a || !b || !probe)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: %s is NULL", fn,
                       !out ? "out" : !a ? "a" : !b ? "b" : "probe");
    ad_hold hold_a = {0}, hold_b = {0};
    adapt_status st = ad_model_enter(&hold_a, a, AD_READ, fn);
    if (!st)
        st = ad_model_enter(&hold_b, b, AD_READ, fn);
    if (!st)
        st = create(out, a, b, probe, params);
    ad_busy_leave(&hold_b);
    ad_busy_leave(&hold_a);
    return st;
}

adapt_status ad_router_check_models(const adapt_router *r, const char *caller)
{
    bool fits = r->shared < r->b->n_blocks && r->common <= r->a->n_blocks;
    for (int32_t l = 0; l < r->n_blocks && fits; l++)
        fits = ad_dims_numel(&r->a->blocks[r->blocks[l]].out) == r->widths[l];
    if (!fits || check_prefix_layers(r->a, r->b, r->shared, caller))
        return ad_fail(ADAPT_ERR_STATE, "%s: a model changed its blocks since the router was "
                       "made; make it again", caller);
    return ADAPT_OK;
}
