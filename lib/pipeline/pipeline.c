/* Making a pipeline: stages checked as they are added (names, routes, the model's signature),
 * replaced by models of the same signature, freed. */
#include "lib/pipeline/pipeline.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "lib/core/error.h"
#include "lib/core/struct_io.h"
#include "lib/models/model_impl.h"

void adapt_stage_params_init(adapt_stage_params *params, size_t size)
{
    static const adapt_stage_params defaults = {.source = NULL, .margin = 2, .min_pixels = 1};
    ad_struct_init(params, size, &defaults, sizeof defaults);
}

adapt_status adapt_pipeline_create(adapt_pipeline **out)
{
    if (!out)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "adapt_pipeline_create: out is NULL");
    adapt_pipeline *p = calloc(1, sizeof *p);
    if (!p)
        return ad_fail(ADAPT_ERR_OUT_OF_MEMORY, "adapt_pipeline_create: no memory");
    *out = p;
    return ADAPT_OK;
}

void adapt_pipeline_free(adapt_pipeline *pipeline)
{
    if (!pipeline)
        return;
    for (int32_t i = 0; i < pipeline->count; i++) {
        pipeline->stages[i].model->in_pipeline = false;
        adapt_model_free(pipeline->stages[i].model);
    }
    free(pipeline->stages);
    free(pipeline);
}

int32_t ad_pipeline_find(const adapt_pipeline *p, const char *name)
{
    for (int32_t i = 0; name && i < p->count; i++)
        if (!strcmp(p->stages[i].name, name))
            return i;
    return -1;
}

adapt_status ad_stage_name_check(const char *name, const char *fn)
{
    size_t n = name ? strlen(name) : 0;
    bool ok = n >= 1 && n < AD_STAGE_NAME_MAX;
    for (size_t i = 0; ok && i < n; i++) {
        const char c = name[i];
        ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
             c == '_' || c == '-';
    }
    return ok ? ADAPT_OK
              : ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: a stage name is 1 to %d of "
                        "[A-Za-z0-9_-], not \"%.80s\"", fn, AD_STAGE_NAME_MAX - 1,
                        name ? name : "(NULL)");
}

/* The route: a known input and output, and for masks and crops an earlier source. */
static adapt_status check_route(const adapt_pipeline *p, const adapt_stage_params *s,
                                int32_t *source, const char *fn)
{
    if (s->input < ADAPT_STAGE_IMAGE || s->input > ADAPT_STAGE_CROPS ||
        s->output < ADAPT_STAGE_SEGMENT || s->output > ADAPT_STAGE_CLASSIFY ||
        s->margin < 0 || s->min_pixels < 1)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: stage \"%s\": input %d, output %d, "
                       "margin %d (>= 0) or min_pixels %d (>= 1) is out of range", fn, s->name,
                       (int)s->input, (int)s->output, (int)s->margin, (int)s->min_pixels);
    *source = ad_pipeline_find(p, s->source);
    if (s->input == ADAPT_STAGE_IMAGE)
        return s->source ? ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: stage \"%s\" takes the "
                                   "image: it has no source", fn, s->name)
                         : ADAPT_OK;
    if (*source < 0) /* only earlier stages can be found: no cycle can form */
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: stage \"%s\"'s source \"%.80s\" is "
                       "not an earlier stage", fn, s->name, s->source ? s->source : "(NULL)");
    return ADAPT_OK;
}

/* The model's signature against the route: whole-image stages take the pipeline's image and
 * segment it at its size; crop stages take the image's channels; classifiers give [K]. */
static adapt_status check_model(const adapt_pipeline *p, const adapt_stage_params *s,
                                const ad_dims *in, const ad_dims *out, const char *fn)
{
    const bool whole = s->input != ADAPT_STAGE_CROPS;
    const bool segments = s->output == ADAPT_STAGE_SEGMENT;
    bool ok = in->ndim == 3 && (segments ? out->ndim == 3 : out->ndim == 1);
    if (ok && whole && p->image.ndim)
        ok = ad_dims_equal(in, &p->image);
    if (ok && !whole)
        ok = p->image.ndim && in->d[0] == p->image.d[0];
    if (ok && whole && segments)
        ok = out->d[1] == in->d[1] && out->d[2] == in->d[2];
    if (ok)
        return ADAPT_OK;
    char a[160], b[160], c[160] = "images [C, H, W]";
    if (whole && p->image.ndim)
        ad_dims_str(&p->image, c, sizeof c);
    return ad_fail(ADAPT_ERR_SHAPE, "%s: stage \"%s\"'s model maps %s to %s per sample; it "
                   "must take %s%s and give %s", fn, s->name, ad_dims_str(in, a, sizeof a),
                   ad_dims_str(out, b, sizeof b), whole ? "" : "crops [C, h, w] with the "
                   "channels of ", whole ? c : "the pipeline's images",
                   segments ? (whole ? "scores [K, H, W] of the image's H and W"
                                     : "scores [K, h, w]")
                            : "scores [K]");
}

/* A model the pipeline would own must be nobody else's: not a replacement inside another
 * model, not a stage of any pipeline. */
static adapt_status check_owner(const adapt_model *model, const char *fn)
{
    return model->owner || model->in_pipeline
               ? ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: the model belongs to %s already", fn,
                         model->owner ? "another model" : "a pipeline")
               : ADAPT_OK;
}

static adapt_status grow(adapt_pipeline *p, const char *fn)
{
    if (p->count < p->capacity)
        return ADAPT_OK;
    const int32_t capacity = p->capacity ? 2 * p->capacity : 4;
    ad_stage *more = realloc(p->stages, (size_t)capacity * sizeof *more);
    if (!more)
        return ad_fail(ADAPT_ERR_OUT_OF_MEMORY, "%s: no memory for %d stages", fn,
                       (int)capacity);
    p->stages = more, p->capacity = capacity;
    return ADAPT_OK;
}

adapt_status ad_pipeline_add(adapt_pipeline *p, const adapt_stage_params *params,
                             adapt_model *model, const char *fn)
{
    adapt_stage_params s;
    adapt_stage_params_init(&s, sizeof s);
    adapt_status st = !p || !model ? ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: %s is NULL", fn,
                                             !p ? "pipeline" : "model")
                                   : ad_struct_read(&s, sizeof s, params, "adapt_stage_params",
                                                    fn);
    if (!st)
        st = ad_stage_name_check(s.name, fn);
    if (!st && ad_pipeline_find(p, s.name) >= 0)
        st = ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: a stage is called \"%s\" already", fn,
                     s.name);
    int32_t source = -1;
    if (!st)
        st = check_route(p, &s, &source, fn);
    if (!st && !model->n_blocks)
        st = ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: stage \"%s\"'s model has no blocks", fn,
                     s.name);
    if (!st)
        st = check_owner(model, fn);
    const ad_dims in = st ? (ad_dims){0} : model->input, out = st ? in : ad_model_tail(model);
    if (!st)
        st = check_model(p, &s, &in, &out, fn);
    if (!st)
        st = grow(p, fn);
    if (st)
        return st;
    ad_stage *stage = &p->stages[p->count++];
    *stage = (ad_stage){.input = s.input, .output = s.output, .source = source,
                        .margin = s.margin, .min_pixels = s.min_pixels, .model = model,
                        .in = in, .out = out};
    strcpy(stage->name, s.name);
    model->in_pipeline = true;
    if (s.input != ADAPT_STAGE_CROPS && !p->image.ndim)
        p->image = in;
    return ADAPT_OK;
}

adapt_status adapt_pipeline_add(adapt_pipeline *pipeline, const adapt_stage_params *params,
                                adapt_model *model)
{
    return ad_pipeline_add(pipeline, params, model, "adapt_pipeline_add");
}

adapt_status adapt_pipeline_replace(adapt_pipeline *pipeline, const char *name,
                                    adapt_model *model, adapt_model **previous)
{
    static const char *const fn = "adapt_pipeline_replace";
    if (!pipeline || !model)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: %s is NULL", fn,
                       !pipeline ? "pipeline" : "model");
    const int32_t i = ad_pipeline_find(pipeline, name);
    if (i < 0)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: no stage is called \"%.80s\"", fn,
                       name ? name : "(NULL)");
    ad_stage *s = &pipeline->stages[i];
    if (model == s->model) { /* already there: nothing to hand back */
        if (previous)
            *previous = NULL;
        return ADAPT_OK;
    }
    adapt_status st = check_owner(model, fn);
    if (st)
        return st;
    const ad_dims out = model->n_blocks ? ad_model_tail(model) : (ad_dims){0};
    if (!model->n_blocks || !ad_dims_equal(&model->input, &s->in) ||
        !ad_dims_equal(&out, &s->out)) {
        char a[160], b[160], c[160], d[160];
        return ad_fail(ADAPT_ERR_SHAPE, "%s: stage \"%s\" maps %s to %s per sample; the new "
                       "model maps %s to %s", fn, s->name, ad_dims_str(&s->in, a, sizeof a),
                       ad_dims_str(&s->out, b, sizeof b),
                       ad_dims_str(&model->input, c, sizeof c), ad_dims_str(&out, d, sizeof d));
    }
    s->model->in_pipeline = false;
    if (previous)
        *previous = s->model;
    else
        adapt_model_free(s->model);
    s->model = model;
    model->in_pipeline = true;
    return ADAPT_OK;
}

int32_t adapt_pipeline_stage_count(const adapt_pipeline *pipeline)
{
    return pipeline ? pipeline->count : 0;
}

const char *adapt_pipeline_stage_name(const adapt_pipeline *pipeline, int32_t index)
{
    return pipeline && index >= 0 && index < pipeline->count ? pipeline->stages[index].name
                                                             : NULL;
}

adapt_model *adapt_pipeline_stage_model(const adapt_pipeline *pipeline, const char *name)
{
    const int32_t i = pipeline ? ad_pipeline_find(pipeline, name) : -1;
    return i < 0 ? NULL : pipeline->stages[i].model;
}
