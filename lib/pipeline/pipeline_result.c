/* The result of a pipeline run and its accessors, stage by name. */
#include "lib/pipeline/pipeline_result.h"

#include <stdlib.h>
#include <string.h>

#include "lib/core/error.h"
#include "lib/core/struct_io.h"

void adapt_pipeline_result_free(adapt_pipeline_result *result)
{
    if (!result)
        return;
    for (int32_t i = 0; i < result->count; i++) {
        free(result->stages[i].map);
        free(result->stages[i].crops);
    }
    free(result->stages);
    free(result);
}

adapt_status ad_pipeline_result_new(adapt_pipeline_result **out, const adapt_pipeline *p,
                                    int64_t height, int64_t width, const char *fn)
{
    adapt_pipeline_result *r = calloc(1, sizeof *r);
    if (r)
        r->stages = calloc((size_t)(p->count ? p->count : 1), sizeof *r->stages);
    bool ok = r && r->stages;
    for (int32_t i = 0; ok && i < p->count; i++) {
        ad_stage_result *s = &r->stages[i];
        strcpy(s->name, p->stages[i].name);
        s->report = (adapt_stage_report){.struct_size = sizeof s->report};
        ok = (s->map = calloc((size_t)(height * width), sizeof *s->map)) != NULL;
        r->count = i + 1;
    }
    if (!ok) {
        adapt_pipeline_result_free(r);
        return ad_fail(ADAPT_ERR_OUT_OF_MEMORY, "%s: no memory for the maps of %d stages", fn,
                       (int)p->count);
    }
    r->height = height, r->width = width;
    *out = r;
    return ADAPT_OK;
}

/* The stage called `name`, or INVALID_ARGUMENT naming `fn`. */
static adapt_status stage_of(const ad_stage_result **out, const adapt_pipeline_result *r,
                             const char *name, const char *fn)
{
    for (int32_t i = 0; r && name && i < r->count; i++)
        if (!strcmp(r->stages[i].name, name)) {
            *out = &r->stages[i];
            return ADAPT_OK;
        }
    return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: %s", fn,
                   !r ? "result is NULL" : "no stage of the run is called that");
}

const int32_t *adapt_pipeline_result_map(const adapt_pipeline_result *result, const char *stage,
                                         int64_t *height, int64_t *width)
{
    const ad_stage_result *s = NULL;
    if (stage_of(&s, result, stage, "adapt_pipeline_result_map"))
        return NULL;
    if (height)
        *height = result->height;
    if (width)
        *width = result->width;
    return s->map;
}

int64_t adapt_pipeline_result_crop_count(const adapt_pipeline_result *result,
                                         const char *stage)
{
    const ad_stage_result *s = NULL;
    return stage_of(&s, result, stage, "adapt_pipeline_result_crop_count") ? -1 : s->n_crops;
}

adapt_status adapt_pipeline_result_crop(const adapt_pipeline_result *result, const char *stage,
                                        int64_t index, adapt_pipeline_crop *out)
{
    static const char *const fn = "adapt_pipeline_result_crop";
    const ad_stage_result *s = NULL;
    adapt_status st = ad_struct_check_out(out, "out", "adapt_pipeline_crop", fn);
    if (!st)
        st = stage_of(&s, result, stage, fn);
    if (!st && (index < 0 || index >= s->n_crops))
        st = ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: crop %lld of %lld", fn, (long long)index,
                     (long long)s->n_crops);
    if (!st)
        ad_struct_write(out, &s->crops[index], sizeof s->crops[index]);
    return st;
}

adapt_status adapt_pipeline_result_report(const adapt_pipeline_result *result, const char *stage,
                                          adapt_stage_report *out)
{
    static const char *const fn = "adapt_pipeline_result_report";
    const ad_stage_result *s = NULL;
    adapt_status st = ad_struct_check_out(out, "out", "adapt_stage_report", fn);
    if (!st)
        st = stage_of(&s, result, stage, fn);
    if (!st)
        ad_struct_write(out, &s->report, sizeof s->report);
    return st;
}
