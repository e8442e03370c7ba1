/* The parameters a model shows when modules replace some of its submodules: its own in their
 * order, but where a replaced submodule's would be, the replacement's, named under its path. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/core/error.h"
#include "lib/models/model_impl.h"

/* The replacement whose path (or, for a slice, one of whose layers) holds parameter `name`,
 * or -1. */
static int32_t hider(const adapt_model *m, const char *name)
{
    for (int32_t r = 0; r < m->n_replaced; r++) {
        const ad_replacement *e = &m->replaced[r];
        if (ad_path_inside(name, e->path))
            return r;
        for (int32_t k = 0; k < e->site.span && e->site.span > 1; k++)
            if (ad_path_inside(name, ad_site_covered(m, &e->site, k)->path))
                return r;
    }
    return -1;
}

/* Appends replacement r's parameters to v[*n ...], named "<path>.<name>". */
static adapt_status show_replacement(ad_visible_param *v, int32_t *n, const ad_replacement *r)
{
    for (int32_t k = 0; k < adapt_model_param_count(r->module); k++) {
        const char *name = adapt_model_param_name(r->module, k);
        const size_t size = strlen(r->path) + strlen(name) + 2;
        char *full = malloc(size);
        if (!full)
            return ad_fail(ADAPT_ERR_OUT_OF_MEMORY, "no memory for parameter names");
        snprintf(full, size, "%s.%s", r->path, name);
        v[(*n)++] = (ad_visible_param){full, ad_model_param(r->module, k), full};
    }
    return ADAPT_OK;
}

static int64_t upper_count(const adapt_model *m)
{
    int64_t count = m->params.count;
    for (int32_t r = 0; r < m->n_replaced; r++)
        count += adapt_model_param_count(m->replaced[r].module);
    return count;
}

static adapt_status fill(ad_visible_param *v, int32_t *n, bool *shown, const adapt_model *m)
{
    adapt_status st = ADAPT_OK;
    for (int32_t j = 0; j < m->params.count && !st; j++) {
        const ad_named_param *p = &m->params.items[j];
        const int32_t r = hider(m, p->name);
        if (r < 0)
            v[(*n)++] = (ad_visible_param){p->name, p->tensor, NULL};
        else if (!shown[r])
            st = show_replacement(v, n, &m->replaced[r]), shown[r] = true;
    }
    /* Replacements of submodules without parameters (an activation) come last. */
    for (int32_t r = 0; r < m->n_replaced && !st; r++)
        if (!shown[r])
            st = show_replacement(v, n, &m->replaced[r]);
    return st;
}

adapt_status ad_visible_params(ad_visible_param **out, int32_t *count, const adapt_model *m)
{
    const int64_t upper = upper_count(m);
    if (upper > INT32_MAX)
        return ad_fail(ADAPT_ERR_OVERFLOW, "model with more than 2^31 parameters");
    ad_visible_param *v = calloc((size_t)(upper ? upper : 1), sizeof *v);
    bool *shown = calloc((size_t)m->n_replaced + 1, sizeof *shown);
    int32_t n = 0;
    adapt_status st = v && shown
                          ? fill(v, &n, shown, m)
                          : ad_fail(ADAPT_ERR_OUT_OF_MEMORY, "no memory for the parameter list");
    free(shown);
    if (st) {
        ad_visible_free(v, n);
        return st;
    }
    *out = v, *count = n;
    return ADAPT_OK;
}

void ad_visible_free(ad_visible_param *v, int32_t n)
{
    for (int32_t i = 0; v && i < n; i++)
        free(v[i].owned_name);
    free(v);
}
