/* Modules that replace modules: a submodule addressed by its PyTorch path ("blocks.3.mlp",
 * "layers.2" as "2" in a sequential model) runs another model of the same per-sample input
 * and output shapes instead. The replaced parameters stay allocated but hidden; the
 * replacement's show under the path, where the replaced ones were, as PyTorch's state_dict
 * shows a module assigned to an attribute. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/core/error.h"
#include "lib/core/struct_io.h"
#include "lib/core/tensor.h"
#include "lib/models/model_impl.h"
#include "lib/nn/linear.h"

/* Index of the replacement at `path`, or -1. */
static int32_t replacement_at(const adapt_model *m, const char *path)
{
    for (int32_t r = 0; r < m->n_replaced; r++)
        if (strcmp(m->replaced[r].path, path) == 0)
            return r;
    return -1;
}

/* A replacement inside the submodule at `path`, around it or sharing a layer with it (a
 * slice) would be cut off. */
static adapt_status check_nesting(const adapt_model *m, const char *path, const ad_site *site,
                                  const char *fn)
{
    for (int32_t r = 0; r < m->n_replaced; r++) {
        const char *other = m->replaced[r].path;
        const ad_site *at = &m->replaced[r].site;
        const bool shares = strcmp(other, path) && (site->span > 1 || at->span > 1) &&
                            ad_sites_overlap(m, site, at);
        if (ad_path_inside(other, path) || ad_path_inside(path, other) || shares)
            return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: \"%s\" %s the replaced \"%s\"; put "
                           "that replacement back first", fn, path,
                           shares ? "shares layers with" : ad_path_inside(other, path)
                                                              ? "holds" : "lies inside", other);
    }
    return ADAPT_OK;
}

static adapt_status check_module(adapt_model *m, const ad_site *site, const adapt_model *module,
                                 const char *fn)
{
    for (const adapt_model *o = m; o; o = o->owner)
        if (o == module)
            return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: a model cannot hold itself", fn);
    if (module->owner || module->in_pipeline)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: the module %s already", fn,
                       module->owner ? "replaces a submodule of another model"
                                     : "is a pipeline's stage");
    if (module->n_attached)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: a module with attachments (exit "
                       "heads) cannot replace a submodule", fn);
    ad_dims in, out;
    ad_site_shapes(&in, &out, m, site);
    const ad_dims module_out = ad_model_tail(module);
    if (module->n_blocks && ad_dims_equal(&module->input, &in) && ad_dims_equal(&module_out, &out))
        return ADAPT_OK;
    char si[160], so[160], mi[160], mo[160];
    return ad_fail(ADAPT_ERR_SHAPE, "%s: the submodule maps %s to %s per sample, the module "
                   "%s to %s", fn, ad_dims_str(&in, si, sizeof si), ad_dims_str(&out, so, sizeof so),
                   ad_dims_str(&module->input, mi, sizeof mi),
                   module->n_blocks ? ad_dims_str(&module_out, mo, sizeof mo) : "nothing");
}

/* An override runs the replacing model's blocks; forward passes do not change a model. A
 * layer that flattens (an MLP's first) takes [N, ...] of its width, so its replacement gets
 * that as [N, width]. */
static adapt_status run_module(adapt_tensor **out, adapt_context *ctx, const void *module,
                               adapt_tensor *x)
{
    adapt_model *m = (adapt_model *)module;
    adapt_status st = m->input.ndim == 1 && x->ndim > 2 ? ad_flatten_rows(&x, ctx, x) : ADAPT_OK;
    return st ? st : ad_model_forward_blocks(out, ctx, m, x, 0, m->n_blocks);
}

/* What the layers of a replaced slice after its first do: its module, in the first layer's
 * place, has made their output already. */
static adapt_status pass_over(adapt_tensor **out, adapt_context *ctx, const void *module,
                              adapt_tensor *x)
{
    (void)ctx, (void)module;
    *out = x;
    return ADAPT_OK;
}

bool ad_layer_passed_over(const ad_layer *l)
{
    return l->replaced.forward == pass_over;
}

/* FLOPs per sample of layer l's own work, its replacements' left out, into *own; the
 * replacements' into *theirs. */
static void layer_flops(const ad_layer *l, int64_t *own, int64_t *theirs)
{
    *own = 0, *theirs = 0;
    if (ad_layer_passed_over(l))
        return;
    if (l->replaced.module) {
        *theirs = adapt_model_flops(l->replaced.module);
        return;
    }
    *own = l->kind->flops ? l->kind->flops(l) : 0;
    for (int32_t k = 0; k < l->kind->n_parts; k++) {
        const ad_override *slot = ad_layer_part_slot((ad_layer *)l, &l->kind->parts[k]);
        if (slot->module) {
            *own -= l->kind->parts[k].flops(l);
            *theirs = ad_add_sat(*theirs, adapt_model_flops(slot->module));
        }
    }
}

void ad_model_refresh_block(adapt_model *m, int32_t b)
{
    ad_block *block = &m->blocks[b];
    block->flops = block->own_flops = 0;
    for (int32_t i = 0; i < block->n_layers; i++) {
        ad_layer *l = &block->layers[i];
        int64_t own, theirs;
        layer_flops(l, &own, &theirs);
        l->flops = ad_add_sat(own, theirs);
        block->flops = ad_add_sat(block->flops, l->flops);
        if (!l->kind->meters_itself)
            block->own_flops = ad_add_sat(block->own_flops, own);
    }
    ad_chain_plan_make(&block->plan, block->layers, block->n_layers);
}

/* The model's parameter list and description for its current replacements, computed before
 * anything is committed so that a failure leaves the model as it was. */
typedef struct {
    ad_visible_param *visible;
    int32_t n_visible;
    char *architecture;
} shown_state;

static adapt_status compute_shown(shown_state *s, const adapt_model *m)
{
    *s = (shown_state){0};
    if (m->n_replaced) {
        adapt_status st = ad_visible_params(&s->visible, &s->n_visible, m);
        if (st)
            return st;
    }
    adapt_status st = ad_describe_replacements(&s->architecture, m);
    if (st)
        ad_visible_free(s->visible, s->n_visible);
    return st;
}

static void commit_shown(adapt_model *m, const shown_state *s)
{
    ad_visible_free(m->visible, m->n_visible);
    m->visible = s->visible, m->n_visible = s->n_visible;
    free(m->architecture);
    m->architecture = s->architecture;
}

/* Makes `owner` (NULL: no model) the model `module` runs in; the owner's lock then stands for
 * the module's (busy.h). */
static void set_owner(adapt_model *module, adapt_model *owner)
{
    module->owner = owner;
    ad_busy_defer(&module->busy, owner ? &owner->busy : NULL);
}

/* Sets (or with NULL clears) the module at `site`, entry r of the list; a slice's later
 * layers pass over. */
static void install(adapt_model *m, const ad_site *site, int32_t r, adapt_model *module)
{
    *ad_site_slot(m, site) = (ad_override){module ? run_module : NULL, module};
    for (int32_t k = 1; k < site->span; k++)
        ((ad_layer *)ad_site_covered(m, site, k))->replaced =
            (ad_override){module ? pass_over : NULL, module};
    if (module) {
        m->replaced[r].module = module;
        set_owner(module, m);
    }
    for (int32_t b = site->block; b <= ad_site_last_block(m, site); b++)
        ad_model_refresh_block(m, b);
}

/* A slice across blocks runs as one module: a skip connection may enter it only at its first
 * block and leave it only from its last, whose output the module's is. */
static adapt_status check_joins(const adapt_model *model, const ad_site *site, const char *path,
                                const char *fn)
{
    const int32_t first = site->block, last = ad_site_last_block(model, site);
    for (int32_t b = first + 1; b < model->n_blocks; b++) {
        const int32_t source = model->blocks[b].join;
        if ((b <= last && source >= 0) || (b > last && source >= first && source < last))
            return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: the slice \"%s\" would hide the "
                           "skip connection from block %d to block %d", fn, path, (int)source,
                           (int)b);
    }
    return ADAPT_OK;
}

static adapt_status check_call(adapt_model *model, const char *path, adapt_model *module,
                               ad_site *site, const char *fn)
{
    if (!model || !path)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: %s is NULL", fn, model ? "path" : "model");
    adapt_status st = ad_model_site(site, model, path, fn);
    if (!st)
        st = check_nesting(model, path, site, fn);
    if (!st && module)
        st = check_module(model, site, module, fn);
    if (!st && module && model->n_attached && ad_site_last_block(model, site) != site->block)
        st = ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: the slice \"%s\" runs across blocks, "
                     "whose exit heads would see its output: detach them first", fn, path);
    if (!st && module)
        st = check_joins(model, site, path, fn);
    if (!st && !module && replacement_at(model, path) < 0)
        st = ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: nothing replaces \"%s\"", fn, path);
    return st;
}

/* A new entry at the end of the list, not yet counted. */
static adapt_status new_entry(adapt_model *m, const char *path, const ad_site *site,
                              const char *fn)
{
    char *copy = malloc(strlen(path) + 1);
    ad_replacement *list = copy ? realloc(m->replaced, ((size_t)m->n_replaced + 1) * sizeof *list)
                                : NULL;
    if (!list) {
        free(copy);
        return ad_fail(ADAPT_ERR_OUT_OF_MEMORY, "%s: replacement list", fn);
    }
    m->replaced = list;
    list[m->n_replaced] = (ad_replacement){strcpy(copy, path), NULL, *site};
    return ADAPT_OK;
}

/* Moves entry r out of the count, to the end of the list; take_back() undoes it. */
static void set_aside(adapt_model *m, int32_t r)
{
    const ad_replacement e = m->replaced[r];
    memmove(m->replaced + r, m->replaced + r + 1,
            (size_t)(m->n_replaced - r - 1) * sizeof e);
    m->replaced[--m->n_replaced] = e;
}

static void take_back(adapt_model *m, int32_t r)
{
    const ad_replacement e = m->replaced[m->n_replaced];
    memmove(m->replaced + r + 1, m->replaced + r, (size_t)(m->n_replaced - r) * sizeof e);
    m->replaced[r] = e;
    m->n_replaced++;
}

static adapt_status replace(adapt_model *model, const char *path, adapt_model *module,
                            adapt_model **previous, const char *fn)
{
    ad_site site;
    adapt_status st = check_call(model, path, module, &site, fn);
    int32_t r = st ? -1 : replacement_at(model, path);
    const bool added = !st && r < 0;
    if (added && !(st = new_entry(model, path, &site, fn)))
        r = model->n_replaced++;
    if (st)
        return st;
    adapt_model *old = model->replaced[r].module;
    install(model, &site, r, module);
    if (!module)
        set_aside(model, r);
    shown_state shown;
    st = compute_shown(&shown, model);
    if (st) { /* back to what it was */
        if (!module)
            take_back(model, r);
        else
            set_owner(module, NULL);
        install(model, &site, r, old);
        if (added)
            free(model->replaced[--model->n_replaced].path);
        return st;
    }
    commit_shown(model, &shown);
    for (int32_t i = 0; i < model->n_attached; i++)
        model->attached[i].type->refresh(model->attached[i].self, model);
    if (!module)
        free(model->replaced[model->n_replaced].path);
    if (old)
        set_owner(old, NULL);
    if (previous)
        *previous = old;
    else
        adapt_model_free(old);
    return ADAPT_OK;
}

adapt_status adapt_model_replace(adapt_model *model, const char *path, adapt_model *module,
                                 adapt_model **previous)
{
    const char *fn = "adapt_model_replace";
    ad_hold outer, inner = {0}; /* both models change */
    adapt_status st = ad_model_enter(&outer, model, AD_WRITE, fn);
    if (!st)
        st = ad_model_enter(&inner, module, AD_WRITE, fn);
    if (!st)
        st = replace(model, path, module, previous, fn);
    ad_busy_leave(&inner);
    ad_busy_leave(&outer);
    return ad_prefix(st, fn); /* the model builders cannot name the caller */
}

adapt_status adapt_model_submodule(adapt_submodule_info *info, const adapt_model *model,
                                   const char *path)
{
    const char *fn = "adapt_model_submodule";
    adapt_status st = ad_struct_check_out(info, "info", "adapt_submodule_info", fn);
    ad_site site;
    if (!st && (!model || !path))
        st = ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: %s is NULL", fn, model ? "path" : "model");
    if (!st)
        st = ad_model_site(&site, model, path, fn);
    if (st)
        return st;
    adapt_model *m = (adapt_model *)model; /* only read */
    const ad_layer *l = ad_site_layer(m, &site);
    const ad_override *slot = ad_site_slot(m, &site);
    adapt_submodule_info full = {.struct_size = info->struct_size,
                                 .replaced = slot->module != NULL};
    ad_dims in, out;
    ad_site_shapes(&in, &out, m, &site);
    full.in_ndim = in.ndim, full.out_ndim = out.ndim;
    memcpy(full.in_shape, in.d, sizeof full.in_shape);
    memcpy(full.out_shape, out.d, sizeof full.out_shape);
    if (slot->module)
        full.flops = adapt_model_flops(slot->module);
    else
        full.flops = site.part ? site.part->flops(l) : l->flops;
    for (int32_t k = 1; k < site.span && !slot->module; k++)
        full.flops = ad_add_sat(full.flops, ad_site_covered(m, &site, k)->flops);
    ad_struct_write(info, &full, sizeof full);
    return ADAPT_OK;
}

void ad_model_free_replacements(adapt_model *model)
{
    for (int32_t r = 0; r < model->n_replaced; r++) {
        set_owner(model->replaced[r].module, NULL);
        adapt_model_free(model->replaced[r].module);
        free(model->replaced[r].path);
    }
    free(model->replaced);
    ad_visible_free(model->visible, model->n_visible);
}
