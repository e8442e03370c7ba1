/* Rebuilding a model from its architecture text. The text may come from a hostile file, so
 * every field is type- and range-checked, arrays and parameter counts are bounded, and any
 * value the builders reject is reported as FORMAT. */
#include <errno.h>
#include <float.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/core/error.h"
#include "lib/io/json_guard.h"
#include "lib/models/json_fields.h"
#include "lib/models/model_impl.h"

static adapt_status read_mlp(adapt_model **out, const json_t *root,
                             int64_t max_values)
{
    adapt_mlp_params p;
    adapt_mlp_params_init(&p, sizeof p);
    int64_t *sizes = NULL;
    size_t n = 0;
    const char *activation = "";
    adapt_status st = ad_json_int_array(&sizes, &n, root, "sizes", INT64_MIN, INT64_MAX);
    if (!st)
        st = ad_json_string(&activation, root, "activation");
    if (!st)
        st = ad_json_float(&p.dropout, root, "dropout");
    if (!st)
        st = ad_json_seed(&p.seed, root);
    if (!st && strcmp(activation, "relu") && strcmp(activation, "gelu"))
        st = ad_json_bad_field("activation", "is neither \"relu\" nor \"gelu\"");
    if (!st) {
        p.n_sizes = (int32_t)n;
        p.sizes = sizes;
        p.activation = strcmp(activation, "gelu") ? ADAPT_ACTIVATION_RELU : ADAPT_ACTIVATION_GELU;
        st = ad_json_as_format(ad_build_mlp(out, &p, max_values));
    }
    free(sizes);
    return st;
}

static adapt_status read_stages(adapt_cnn_params *p, int32_t **arrays, const json_t *root)
{
    static const char *const keys[] = {"stage_channels", "stage_blocks", "stage_strides"};
    size_t len[3] = {0, 0, 0};
    adapt_status st = ADAPT_OK;
    for (int i = 0; i < 3 && !st; i++)
        st = ad_json_int32_array(&arrays[i], &len[i], root, keys[i]);
    if (!st && (len[1] != len[0] || len[2] != len[0]))
        st = ad_json_bad_field("stage_blocks", "and the other stage arrays differ in length");
    p->n_stages = (int32_t)len[0];
    p->stage_channels = arrays[0];
    p->stage_blocks = arrays[1];
    p->stage_strides = arrays[2];
    return st;
}

static adapt_status read_cnn(adapt_model **out, const json_t *root,
                             int64_t max_values)
{
    adapt_cnn_params p;
    adapt_cnn_params_init(&p, sizeof p);
    int32_t *arrays[3] = {NULL, NULL, NULL};
    adapt_status st = ad_json_int32(&p.in_channels, root, "in_channels");
    if (!st)
        st = ad_json_int32(&p.image_size, root, "image_size");
    if (!st)
        st = ad_json_int32(&p.n_classes, root, "n_classes");
    if (!st)
        st = ad_json_int32(&p.stem_channels, root, "stem_channels");
    if (!st)
        st = ad_json_seed(&p.seed, root);
    if (!st)
        st = read_stages(&p, arrays, root);
    if (!st)
        st = ad_json_as_format(ad_build_cnn(out, &p, max_values));
    for (int i = 0; i < 3; i++)
        free(arrays[i]);
    return st;
}

static adapt_status read_vit(adapt_model **out, const json_t *root,
                             int64_t max_values)
{
    adapt_vit_params p;
    adapt_vit_params_init(&p, sizeof p);
    adapt_status st = ad_json_int32(&p.image_size, root, "image_size");
    if (!st)
        st = ad_json_int32(&p.in_channels, root, "in_channels");
    if (!st)
        st = ad_json_int32(&p.patch, root, "patch");
    if (!st)
        st = ad_json_int32(&p.dim, root, "dim");
    if (!st)
        st = ad_json_int32(&p.depth, root, "depth");
    if (!st)
        st = ad_json_int32(&p.heads, root, "heads");
    if (!st)
        st = ad_json_float(&p.mlp_ratio, root, "mlp_ratio");
    if (!st)
        st = ad_json_int32(&p.n_classes, root, "n_classes");
    if (!st)
        st = ad_json_float(&p.dropout, root, "dropout");
    if (!st)
        st = ad_json_seed(&p.seed, root);
    return st ? st : ad_json_as_format(ad_build_vit(out, &p, max_values));
}

/* Field f of a layer object into p: its JSON type and the range of its C type checked here,
 * the kind's own rules by the builder. A field the object lacks takes its fallback. */
static adapt_status read_field(adapt_layer_params *p, const ad_layer_field *f, const json_t *o)
{
    if (!json_object_get(o, f->name)) {
        if (f->flags & AD_FIELD_REQUIRED)
            return ad_json_bad_field(f->name, "is missing");
        ad_field_set(p, f, f->fallback);
        return ADAPT_OK;
    }
    void *at = (char *)p + f->offset;
    switch (f->type) {
    case AD_FIELD_INT32: return ad_json_int32(at, o, f->name);
    case AD_FIELD_INT64: return ad_json_int(at, o, f->name, INT64_MIN, INT64_MAX);
    default: return ad_json_float(at, o, f->name);
    }
}

/* {"kind": name, and the fields of that kind}. */
static adapt_status read_layer(adapt_layer_params *p, const json_t *o)
{
    adapt_layer_params_init(p, sizeof *p);
    const char *kind = "";
    if (!json_is_object(o))
        return ad_json_bad_field("layers", "holds an entry that is not an object");
    adapt_status st = ad_json_string(&kind, o, "kind");
    if (!st && (p->kind = ad_layer_kind_from_name(kind)) < 0)
        st = ad_json_bad_field("kind", "names no layer kind");
    const ad_layer_kind *k = st ? NULL : ad_layer_kind_of(p->kind);
    for (int32_t i = 0; k && i < k->n_fields && !st; i++)
        st = read_field(p, &k->fields[i], o);
    return st;
}

static adapt_status append_layers(adapt_model *m, const json_t *layers, size_t n)
{
    adapt_status st = ADAPT_OK;
    for (size_t i = 0; i < n && !st; i++) {
        adapt_layer_params p;
        st = read_layer(&p, json_array_get(layers, i));
        if (!st)
            st = ad_json_as_format(adapt_model_append(m, &p));
    }
    return st;
}

static adapt_status read_sequential(adapt_model **out, const json_t *root,
                                    int64_t max_values)
{
    int64_t *shape = NULL;
    size_t ndim = 0, n_layers = 0;
    uint64_t seed = 0;
    const json_t *layers = NULL;
    adapt_model *m = NULL;
    adapt_status st = ad_json_int_array(&shape, &ndim, root, "input_shape", INT64_MIN, INT64_MAX);
    if (!st)
        st = ad_json_seed(&seed, root);
    if (!st)
        st = ad_json_array(&layers, &n_layers, root, "layers");
    if (!st)
        st = ad_json_as_format(ad_build_sequential(&m, (int32_t)ndim, shape, seed, max_values));
    if (!st)
        st = append_layers(m, layers, n_layers);
    free(shape);
    if (st) {
        adapt_model_free(m);
        return st;
    }
    *out = m;
    return ADAPT_OK;
}

/* One entry of "replaced": {"path": "blocks.3.mlp", "module": {a model's architecture}},
 * built within what is left of the parameter budget and put in place. */
static adapt_status read_replacement(adapt_model *m, const json_t *o, int64_t max_values)
{
    const char *path = "";
    const json_t *module = json_object_get(o, "module");
    adapt_status st = json_is_object(o) ? ad_json_string(&path, o, "path")
                                        : ad_json_bad_field("replaced", "holds an entry that is not an object");
    if (!st && !json_is_object(module))
        st = ad_json_bad_field("module", "is missing or not an object");
    char *text = NULL;
    if (!st && ad_json_print(&text, module, JSON_COMPACT))
        st = ad_fail(ADAPT_ERR_OUT_OF_MEMORY, "model architecture: out of memory");
    adapt_model *r = NULL;
    const int64_t room = max_values - ad_param_values(m);
    if (!st)
        st = ad_model_from_architecture(&r, text, room > 0 ? room : 0);
    free(text);
    if (!st && (st = ad_json_as_format(adapt_model_replace(m, path, r, NULL))))
        adapt_model_free(r);
    return st;
}

/* The optional "replaced" array (absent: none). */
static adapt_status read_replacements(adapt_model *m, const json_t *root, int64_t max_values)
{
    if (!json_object_get(root, "replaced"))
        return ADAPT_OK;
    const json_t *list = NULL;
    size_t n = 0;
    adapt_status st = ad_json_array(&list, &n, root, "replaced");
    for (size_t i = 0; i < n && !st; i++)
        st = read_replacement(m, json_array_get(list, i), max_values);
    return st;
}

/* The members that list attachments, one per attachment type (absent: none). */
static adapt_status read_attachments(adapt_model *m, const json_t *root, int64_t max_values)
{
    int32_t n_types = 0;
    const ad_attachment_type *const *types = ad_attachment_types(&n_types);
    adapt_status st = ADAPT_OK;
    for (int32_t t = 0; t < n_types && !st; t++) {
        if (!json_object_get(root, types[t]->member))
            continue;
        const json_t *list = NULL;
        size_t n = 0;
        st = ad_json_array(&list, &n, root, types[t]->member);
        for (size_t i = 0; i < n && !st; i++)
            st = types[t]->read(m, json_array_get(list, i), max_values);
    }
    return st;
}

static adapt_status read_backbone(adapt_model **out, const json_t *root,
                                  int64_t max_values)
{
    int64_t format = 0;
    const char *kind = "";
    if (!json_is_object(root))
        return ad_fail(ADAPT_ERR_FORMAT, "model architecture is not a JSON object");
    adapt_status st = ad_json_int(&format, root, "format", 1, 1);
    if (!st)
        st = ad_json_string(&kind, root, "kind");
    if (st)
        return st;
    if (strcmp(kind, "mlp") == 0)
        return read_mlp(out, root, max_values);
    if (strcmp(kind, "cnn") == 0)
        return read_cnn(out, root, max_values);
    if (strcmp(kind, "vit") == 0)
        return read_vit(out, root, max_values);
    if (strcmp(kind, "sequential") == 0)
        return read_sequential(out, root, max_values);
    return ad_json_bad_field("kind", "names no model kind");
}

adapt_status ad_model_from_architecture(adapt_model **out, const char *json,
                                        int64_t max_values)
{
    if (!out || !json)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "ad_model_from_architecture: %s is NULL",
                       out ? "json" : "out");
    json_error_t error;
    json_t *root = NULL;
    const adapt_status parsed = ad_json_parse(&root, json, strlen(json), JSON_REJECT_DUPLICATES,
                                              &error);
    if (parsed == ADAPT_ERR_OUT_OF_MEMORY)
        return ad_fail(parsed, "model architecture: out of memory while parsing it");
    if (parsed)
        return ad_fail(ADAPT_ERR_FORMAT, "model architecture is not JSON: %s (line %d)",
                       error.text, error.line);
    if (max_values > AD_MODEL_MAX_ARCH_PARAMS)
        max_values = AD_MODEL_MAX_ARCH_PARAMS;
    adapt_model *m = NULL;
    adapt_status st = read_backbone(&m, root, max_values);
    if (!st && ((st = read_replacements(m, root, max_values)) ||
                (st = read_attachments(m, root, max_values))))
        adapt_model_free(m);
    json_decref(root);
    if (!st)
        *out = m;
    return st;
}
