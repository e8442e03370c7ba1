/* The architecture of a model as JSON text (format described in lib/models/model.h), written
 * once when the model is built and again after each sequential append. */
#include <stdbool.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/core/error.h"
#include "lib/io/json_guard.h"
#include "lib/models/json_fields.h"
#include "lib/models/model_impl.h"

/* Reals with 9 significant digits: enough for every float to read back exactly. */
#define AD_JSON_FLAGS (JSON_COMPACT | JSON_REAL_PRECISION(9))

/* Replaces model->architecture with the text of `root` (consumed; NULL means allocation
 * failure while building it). */
static adapt_status publish(adapt_model *model, json_t *root)
{
    char *text = NULL;
    const adapt_status st = root ? ad_json_print(&text, root, AD_JSON_FLAGS)
                                 : ADAPT_ERR_OUT_OF_MEMORY;
    json_decref(root);
    if (st)
        return ad_fail(st, "model architecture text: out of memory");
    free(model->architecture);
    model->architecture = text;
    return ADAPT_OK;
}

static json_t *int64_array(const int64_t *v, int32_t n)
{
    json_t *a = json_array();
    for (int32_t i = 0; a && i < n; i++)
        if (json_array_append_new(a, json_integer(v[i]))) {
            json_decref(a);
            a = NULL;
        }
    return a;
}

static json_t *int32_array(const int32_t *v, int32_t n)
{
    json_t *a = json_array();
    for (int32_t i = 0; a && i < n; i++)
        if (json_array_append_new(a, json_integer(v[i]))) {
            json_decref(a);
            a = NULL;
        }
    return a;
}

adapt_status ad_describe_mlp(adapt_model *model, const adapt_mlp_params *p)
{
    const char *activation = p->activation == ADAPT_ACTIVATION_GELU ? "gelu" : "relu";
    return publish(model, json_pack("{s:i, s:s, s:o, s:s, s:f, s:o}", "format", 1, "kind",
                                    "mlp", "sizes", int64_array(p->sizes, p->n_sizes),
                                    "activation", activation, "dropout", (double)p->dropout,
                                    "seed", ad_json_seed_value(p->seed)));
}

adapt_status ad_describe_cnn(adapt_model *model, const adapt_cnn_params *p)
{
    return publish(model, json_pack("{s:i, s:s, s:i, s:i, s:i, s:i, s:o, s:o, s:o, s:o}",
                                    "format", 1, "kind", "cnn", "in_channels", p->in_channels,
                                    "image_size", p->image_size, "n_classes", p->n_classes,
                                    "stem_channels", p->stem_channels, "stage_channels",
                                    int32_array(p->stage_channels, p->n_stages),
                                    "stage_blocks", int32_array(p->stage_blocks, p->n_stages),
                                    "stage_strides", int32_array(p->stage_strides, p->n_stages),
                                    "seed", ad_json_seed_value(p->seed)));
}

adapt_status ad_describe_vit(adapt_model *model, const adapt_vit_params *p)
{
    return publish(model,
                   json_pack("{s:i, s:s, s:i, s:i, s:i, s:i, s:i, s:i, s:f, s:i, s:f, s:o}",
                             "format", 1, "kind", "vit", "image_size", p->image_size,
                             "in_channels", p->in_channels, "patch", p->patch, "dim", p->dim,
                             "depth", p->depth, "heads", p->heads, "mlp_ratio",
                             (double)p->mlp_ratio, "n_classes", p->n_classes, "dropout",
                             (double)p->dropout, "seed", ad_json_seed_value(p->seed)));
}

static json_t *field_value(const adapt_layer_params *p, const ad_layer_field *f)
{
    const void *at = (const char *)p + f->offset;
    switch (f->type) {
    case AD_FIELD_INT32: return json_integer(*(const int32_t *)at);
    case AD_FIELD_INT64: return json_integer(*(const int64_t *)at);
    default: return json_real(*(const float *)at);
    }
}

/* {"kind": ..., and the fields the kind reads}. */
static json_t *layer_object(const ad_layer *l)
{
    json_t *o = json_pack("{s:s}", "kind", l->kind->name);
    for (int32_t i = 0; o && i < l->kind->n_fields; i++) {
        const ad_layer_field *f = &l->kind->fields[i];
        if (json_object_set_new(o, f->name, field_value(&l->params, f))) {
            json_decref(o);
            o = NULL;
        }
    }
    return o;
}

adapt_status ad_describe_sequential(adapt_model *model)
{
    json_t *layers = json_array();
    for (int32_t i = 0; layers && i < model->n_blocks; i++)
        if (json_array_append_new(layers, layer_object(&model->blocks[i].layers[0]))) {
            json_decref(layers);
            layers = NULL;
        }
    return publish(model, json_pack("{s:i, s:s, s:o, s:o, s:o}", "format", 1, "kind",
                                    "sequential", "input_shape",
                                    int64_array(model->input.d, model->input.ndim), "seed",
                                    ad_json_seed_value(model->params.seed), "layers", layers));
}

/* The array of the attachments of `type`, or NULL when there are none or memory ran out
 * (*failed then says which). */
static json_t *attachment_array(const adapt_model *model, const ad_attachment_type *type,
                                bool *failed)
{
    json_t *list = NULL;
    *failed = false;
    for (int32_t i = 0; i < model->n_attached && !*failed; i++) {
        if (model->attached[i].type != type)
            continue;
        if (!list && !(list = json_array()))
            *failed = true;
        else if (json_array_append_new(list, type->describe(model->attached[i].self)))
            *failed = true;
    }
    if (*failed)
        json_decref(list);
    return *failed ? NULL : list;
}

/* The document of a text this library wrote; NULL only when memory ran out. */
static json_t *own_document(const char *text)
{
    json_t *root = NULL;
    return ad_json_parse(&root, text, strlen(text), 0, NULL) ? NULL : root;
}

/* The backbone's text is kept as it is; only the attachments' members change. */
adapt_status ad_describe_attachments(adapt_model *model)
{
    json_t *root = own_document(model->architecture);
    int32_t n_types = 0;
    const ad_attachment_type *const *types = ad_attachment_types(&n_types);
    for (int32_t t = 0; root && t < n_types; t++) {
        bool failed;
        json_t *list = attachment_array(model, types[t], &failed);
        if (failed || (list && json_object_set_new(root, types[t]->member, list))) {
            json_decref(root);
            root = NULL;
        } else if (!list) {
            json_object_del(root, types[t]->member);
        }
    }
    return publish(model, root);
}

static json_t *replacement_object(const ad_replacement *r)
{
    json_t *module = own_document(r->module->architecture);
    return module ? json_pack("{s:s, s:o}", "path", r->path, "module", module) : NULL;
}

/* The backbone's text is kept as it is; only its "replaced" member changes. */
adapt_status ad_describe_replacements(char **text, const adapt_model *model)
{
    json_t *root = own_document(model->architecture);
    json_t *list = model->n_replaced ? json_array() : NULL;
    for (int32_t r = 0; list && r < model->n_replaced; r++)
        if (json_array_append_new(list, replacement_object(&model->replaced[r]))) {
            json_decref(list);
            list = NULL;
        }
    if (!root)
        json_decref(list); /* nothing took it */
    else if (model->n_replaced && (!list || json_object_set_new(root, "replaced", list))) {
        json_decref(root);
        root = NULL;
    }
    if (root && !model->n_replaced)
        json_object_del(root, "replaced");
    *text = NULL;
    const adapt_status st = root ? ad_json_print(text, root, AD_JSON_FLAGS)
                                 : ADAPT_ERR_OUT_OF_MEMORY;
    json_decref(root);
    return st ? ad_fail(st, "model architecture text: out of memory") : ADAPT_OK;
}
