/* A pipeline saved as a directory: "pipeline.json" describing the stages in order, and
 * "<stage>.safetensors", each stage's model checkpoint. Loading trusts nothing: every field
 * is checked, the stages are added through adapt_pipeline_add's checks (so a source must be
 * an earlier stage: no cycle loads), and checkpoint names are the stages' own. */
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/core/error.h"
#include "lib/io/atomic_file.h"
#include "lib/io/json_guard.h"
#include "lib/io/source.h"
#include "lib/pipeline/pipeline.h"

#define PIPELINE_FORMAT "libadapt-pipeline"
#define PIPELINE_FILE "pipeline.json"
#define PIPELINE_MAX_BYTES (1u << 20)
#define PATH_ROOM 4096

static const char *const inputs[] = {"image", "masked", "crops"};
static const char *const outputs[] = {"segment", "classify"};

/* dir/name into buf (PATH_ROOM bytes), or INVALID_ARGUMENT when it does not fit. */
static adapt_status join_path(char *buf, const char *dir, const char *name, const char *fn)
{
    const int n = snprintf(buf, PATH_ROOM, "%s/%s", dir, name);
    return n > 0 && n < PATH_ROOM ? ADAPT_OK
                                  : ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: the path of %s in "
                                            "%.80s is too long", fn, name, dir);
}

static json_t *stage_json(const adapt_pipeline *p, const ad_stage *s)
{
    char checkpoint[AD_STAGE_NAME_MAX + 16];
    snprintf(checkpoint, sizeof checkpoint, "%s.safetensors", s->name);
    json_t *source = s->source >= 0 ? json_string(p->stages[s->source].name) : json_null();
    return json_pack("{s:s, s:s, s:s, s:o, s:i, s:i, s:s}", "name", s->name, "input",
                     inputs[s->input], "output", outputs[s->output], "source", source,
                     "margin", (json_int_t)s->margin, "min_pixels", (json_int_t)s->min_pixels,
                     "checkpoint", checkpoint);
}

/* The description's text, malloc'd. */
static adapt_status describe(char **text, const adapt_pipeline *p, const char *fn)
{
    json_t *stages = json_array();
    for (int32_t i = 0; stages && i < p->count; i++)
        if (json_array_append_new(stages, stage_json(p, &p->stages[i]))) {
            json_decref(stages);
            stages = NULL;
        }
    json_t *root = stages ? json_pack("{s:s, s:i, s:o}", "format", PIPELINE_FORMAT, "version",
                                      1, "stages", stages)
                          : NULL;
    adapt_status st = root ? ad_json_print(text, root, JSON_INDENT(2)) : ADAPT_ERR_OUT_OF_MEMORY;
    json_decref(root);
    return st ? ad_fail(st, "%s: no memory for the description", fn) : ADAPT_OK;
}

adapt_status adapt_pipeline_save(const adapt_pipeline *pipeline, const char *directory)
{
    static const char *const fn = "adapt_pipeline_save";
    if (!pipeline || !directory)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: %s is NULL", fn,
                       !pipeline ? "pipeline" : "directory");
    char path[PATH_ROOM], *text = NULL;
    adapt_status st = ADAPT_OK;
    for (int32_t i = 0; i < pipeline->count && !st; i++) {
        char file[AD_STAGE_NAME_MAX + 16];
        snprintf(file, sizeof file, "%s.safetensors", pipeline->stages[i].name);
        st = join_path(path, directory, file, fn);
        if (!st)
            st = adapt_model_save(pipeline->stages[i].model, path);
    }
    if (!st)
        st = describe(&text, pipeline, fn);
    if (!st)
        st = join_path(path, directory, PIPELINE_FILE, fn);
    ad_atomic_file af = {0};
    if (!st)
        st = ad_atomic_open(&af, path, fn);
    if (!st && (st = ad_atomic_write(&af, text, strlen(text))))
        ad_atomic_abort(&af);
    else if (!st)
        st = ad_atomic_commit(&af);
    free(text);
    return st;
}

/* The whole file, at most PIPELINE_MAX_BYTES, malloc'd and terminated. */
static adapt_status slurp(char **text, size_t *len, const char *path, const char *fn)
{
    ad_source src = {0};
    adapt_status st = ad_source_open(&src, path, fn);
    if (!st && src.size > PIPELINE_MAX_BYTES)
        st = ad_fail(ADAPT_ERR_FORMAT, "%s: %s is larger than 1 MiB", fn, path);
    if (!st && !(*text = malloc((size_t)src.size + 1)))
        st = ad_fail(ADAPT_ERR_OUT_OF_MEMORY, "%s: no memory for %s", fn, path);
    if (!st && (st = ad_source_read(&src, 0, *text, (size_t)src.size, fn)))
        free(*text);
    ad_source_close(&src);
    if (st)
        return st;
    *len = (size_t)src.size;
    (*text)[*len] = '\0';
    return ADAPT_OK;
}

/* The index of `text` among `names`, or -1. */
static int32_t named(const char *text, const char *const *names, int32_t n)
{
    for (int32_t i = 0; text && i < n; i++)
        if (!strcmp(text, names[i]))
            return i;
    return -1;
}

/* One stage's settings from its object; strings point into the JSON. */
static adapt_status read_stage(adapt_stage_params *s, const char **checkpoint,
                               const json_t *stage, int32_t i, const char *fn)
{
    adapt_stage_params_init(s, sizeof *s);
    const json_t *source = json_object_get(stage, "source");
    const json_t *margin = json_object_get(stage, "margin");
    const json_t *min_pixels = json_object_get(stage, "min_pixels");
    s->name = json_string_value(json_object_get(stage, "name"));
    s->input = named(json_string_value(json_object_get(stage, "input")), inputs, 3);
    s->output = named(json_string_value(json_object_get(stage, "output")), outputs, 2);
    s->source = json_string_value(source);
    *checkpoint = json_string_value(json_object_get(stage, "checkpoint"));
    char want[AD_STAGE_NAME_MAX + 16] = "";
    if (s->name && strlen(s->name) < AD_STAGE_NAME_MAX)
        snprintf(want, sizeof want, "%s.safetensors", s->name);
    const bool ok = json_is_object(stage) && s->name && s->input >= 0 && s->output >= 0 &&
                    (json_is_null(source) || s->source) && json_is_integer(margin) &&
                    json_is_integer(min_pixels) && *checkpoint && !strcmp(*checkpoint, want) &&
                    json_integer_value(margin) >= 0 && json_integer_value(margin) <= INT32_MAX &&
                    json_integer_value(min_pixels) >= 1 &&
                    json_integer_value(min_pixels) <= INT32_MAX;
    if (!ok)
        return ad_fail(ADAPT_ERR_FORMAT, "%s: stage %d is not {\"name\", \"input\": \"image\" | "
                       "\"masked\" | \"crops\", \"output\": \"segment\" | \"classify\", "
                       "\"source\": a name or null, \"margin\" >= 0, \"min_pixels\" >= 1, "
                       "\"checkpoint\": \"<name>.safetensors\"}", fn, (int)i);
    s->margin = (int32_t)json_integer_value(margin);
    s->min_pixels = (int32_t)json_integer_value(min_pixels);
    return ADAPT_OK;
}

/* Stage i: its settings, its model from its checkpoint, added with the pipeline's checks. */
static adapt_status load_stage(adapt_pipeline *p, const json_t *stage, int32_t i,
                               const char *dir, const char *fn)
{
    adapt_stage_params s;
    const char *checkpoint = NULL;
    char path[PATH_ROOM];
    adapt_status st = read_stage(&s, &checkpoint, stage, i, fn);
    if (!st)
        st = ad_stage_name_check(s.name, fn);
    if (!st)
        st = join_path(path, dir, checkpoint, fn);
    adapt_model *model = NULL;
    if (!st)
        st = adapt_model_load(&model, path);
    if (!st && (st = ad_pipeline_add(p, &s, model, fn)))
        adapt_model_free(model);
    if (st == ADAPT_ERR_INVALID_ARGUMENT || st == ADAPT_ERR_SHAPE) {
        char why[256];
        snprintf(why, sizeof why, "%s", adapt_last_error());
        st = ad_fail(ADAPT_ERR_FORMAT, "%s: stage %d: %s", fn, (int)i, why);
    }
    return st;
}

static adapt_status load(adapt_pipeline *p, const json_t *root, const char *dir, const char *fn)
{
    const json_t *stages = json_object_get(root, "stages");
    const char *format = json_string_value(json_object_get(root, "format"));
    if (!json_is_object(root) || !format || strcmp(format, PIPELINE_FORMAT) ||
        json_integer_value(json_object_get(root, "version")) != 1 || !json_is_array(stages))
        return ad_fail(ADAPT_ERR_FORMAT, "%s: %s/" PIPELINE_FILE " is not {\"format\": \""
                       PIPELINE_FORMAT "\", \"version\": 1, \"stages\": [...]}", fn, dir);
    adapt_status st = ADAPT_OK;
    for (size_t i = 0; i < json_array_size(stages) && !st; i++)
        st = load_stage(p, json_array_get(stages, i), (int32_t)i, dir, fn);
    return st;
}

adapt_status adapt_pipeline_load(adapt_pipeline **out, const char *directory)
{
    static const char *const fn = "adapt_pipeline_load";
    if (!out || !directory)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: %s is NULL", fn,
                       !out ? "out" : "directory");
    char path[PATH_ROOM], *text = NULL;
    size_t len = 0;
    adapt_status st = join_path(path, directory, PIPELINE_FILE, fn);
    if (!st)
        st = slurp(&text, &len, path, fn);
    json_t *root = NULL;
    json_error_t error;
    if (!st && (st = ad_json_parse(&root, text, len, JSON_REJECT_DUPLICATES, &error)))
        st = ad_fail(st, "%s: %s: %s", fn, path, st == ADAPT_ERR_FORMAT ? error.text
                                                                          : "out of memory");
    free(text);
    adapt_pipeline *p = NULL;
    if (!st)
        st = adapt_pipeline_create(&p);
    if (!st)
        st = load(p, root, directory, fn);
    json_decref(root);
    if (st) {
        adapt_pipeline_free(p);
        return st;
    }
    *out = p;
    return ADAPT_OK;
}
