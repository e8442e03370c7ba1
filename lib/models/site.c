/* Where a path leads in a model: a layer ("blocks.3", "2"), a part of one ("blocks.3.mlp"), or
 * a slice of consecutive layers ("0:3", Python's half-open slice of an nn.Sequential: layers
 * "0", "1" and "2"), such as the linear, ReLU, linear of an MLP that D2DMoE turns into experts.
 * A slice may run across blocks; it maps the first layer's input to the last one's output. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/core/error.h"
#include "lib/models/model_impl.h"

bool ad_path_inside(const char *path, const char *prefix)
{
    const size_t n = strlen(prefix);
    return strncmp(path, prefix, n) == 0 && path[n] == '.';
}

/* The layer at `path` and its parts. */
static bool find_layer(ad_site *site, const adapt_model *m, const char *path)
{
    for (int32_t b = 0; b < m->n_blocks; b++)
        for (int32_t i = 0; i < m->blocks[b].n_layers; i++) {
            const ad_layer *l = &m->blocks[b].layers[i];
            if (strcmp(l->path, path) == 0) {
                *site = (ad_site){b, i, NULL, 1};
                return true;
            }
            for (int32_t k = 0; ad_path_inside(path, l->path) && k < l->kind->n_parts; k++)
                if (strcmp(path + strlen(l->path) + 1, l->kind->parts[k].name) == 0) {
                    *site = (ad_site){b, i, &l->kind->parts[k], 1};
                    return true;
                }
        }
    return false;
}

/* "<prefix>a:b" into its prefix's length and the indices; false for anything else. */
static bool parse_slice(const char *path, size_t *prefix, long *first, long *end)
{
    const char *colon = strchr(path, ':');
    if (!colon)
        return false;
    const char *digits = colon;
    while (digits > path && digits[-1] >= '0' && digits[-1] <= '9')
        digits--;
    if (digits == colon || (digits > path && digits[-1] != '.') || colon[1] < '0' ||
        colon[1] > '9')
        return false;
    char *rest;
    *first = strtol(digits, NULL, 10), *end = strtol(colon + 1, &rest, 10);
    *prefix = (size_t)(digits - path);
    return *rest == '\0';
}

/* Block and index of the k-th layer from the site's first; false past the model's end. */
static bool locate(int32_t *block, int32_t *layer, const adapt_model *m, const ad_site *s,
                   int32_t k)
{
    int32_t b = s->block, i = s->layer + k;
    while (b < m->n_blocks && i >= m->blocks[b].n_layers)
        i -= m->blocks[b++].n_layers;
    *block = b, *layer = i;
    return b < m->n_blocks;
}

const ad_layer *ad_site_covered(const adapt_model *m, const ad_site *s, int32_t k)
{
    int32_t b, i;
    return locate(&b, &i, m, s, k) ? &m->blocks[b].layers[i] : NULL;
}

int32_t ad_site_last_block(const adapt_model *m, const ad_site *s)
{
    int32_t b, i;
    locate(&b, &i, m, s, s->span - 1);
    return b;
}

/* Layers "<prefix>first" ... "<prefix>(end - 1)", one after the other. */
static adapt_status find_slice(ad_site *site, const adapt_model *m, const char *path,
                               size_t prefix, long first, long end, const char *fn)
{
    if (end - first < 2)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: the slice \"%s\" must cover at least "
                       "two layers", fn, path);
    char name[AD_PREFIX_MAX + 24];
    snprintf(name, sizeof name, "%.*s%ld", (int)prefix, path, first);
    if (!find_layer(site, m, name) || site->part)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: the slice \"%s\" starts at no layer",
                       fn, path);
    for (long i = first + 1; i < end; i++) {
        const ad_layer *l = ad_site_covered(m, site, (int32_t)(i - first));
        snprintf(name, sizeof name, "%.*s%ld", (int)prefix, path, i);
        if (!l || strcmp(l->path, name))
            return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: no layer \"%s\" follows in the "
                           "slice \"%s\"", fn, name, path);
    }
    site->span = (int32_t)(end - first);
    return ADAPT_OK;
}

adapt_status ad_model_site(ad_site *site, const adapt_model *m, const char *path,
                           const char *fn)
{
    size_t prefix;
    long first, end;
    if (find_layer(site, m, path))
        return ADAPT_OK;
    if (parse_slice(path, &prefix, &first, &end))
        return find_slice(site, m, path, prefix, first, end, fn);
    return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: \"%s\" names no submodule of the model", fn,
                   path);
}

ad_layer *ad_site_layer(adapt_model *m, const ad_site *s)
{
    return &m->blocks[s->block].layers[s->layer];
}

ad_override *ad_site_slot(adapt_model *m, const ad_site *s)
{
    ad_layer *l = ad_site_layer(m, s);
    return s->part ? ad_layer_part_slot(l, s->part) : &l->replaced;
}

void ad_site_shapes(ad_dims *in, ad_dims *out, const adapt_model *m, const ad_site *s)
{
    const ad_layer *l = &m->blocks[s->block].layers[s->layer];
    *in = l->in;
    if (s->span > 1)
        *out = ad_site_covered(m, s, s->span - 1)->out;
    else
        *out = !s->part ? l->out : s->part->out_shape ? s->part->out_shape(l) : l->in;
}

/* Position of the site's first layer among all the model's layers. */
static int64_t flat_index(const adapt_model *m, const ad_site *s)
{
    int64_t index = s->layer;
    for (int32_t b = 0; b < s->block; b++)
        index += m->blocks[b].n_layers;
    return index;
}

bool ad_sites_overlap(const adapt_model *m, const ad_site *a, const ad_site *b)
{
    const int64_t first_a = flat_index(m, a), first_b = flat_index(m, b);
    return first_a < first_b + b->span && first_b < first_a + a->span;
}
