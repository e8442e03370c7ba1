/* adapt_pipeline_run: every stage in order on one image, each on the image, on the image
 * masked by its source's map, or on crops of its source's components, leaving a map of the
 * whole image per stage, the crops, and the stage's time and executed FLOPs. */
#include <stdlib.h>
#include <string.h>

#include "lib/core/error.h"
#include "lib/core/tensor.h"
#include "lib/models/model_impl.h"
#include "lib/pipeline/components.h"
#include "lib/pipeline/crops.h"
#include "lib/pipeline/pipeline_result.h"
#include "lib/segment/segment.h"
#include "lib/train/progress.h"

static const char *const fn = "adapt_pipeline_run";

enum { RUN_BATCH = 64 };

/* The model's scores of inputs x [n, in...] into a malloc'd *scores [n, out...], its executed
 * FLOPs added to the report. */
static adapt_status run_model(float **scores, adapt_stage_report *report, adapt_context *ctx,
                              const ad_stage *s, const float *x, int64_t n)
{
    const int64_t in = ad_dims_numel(&s->in), out = ad_dims_numel(&s->out);
    *scores = malloc((size_t)(n * out + 1) * sizeof **scores);
    adapt_status st = *scores ? ADAPT_OK : ad_fail(ADAPT_ERR_OUT_OF_MEMORY, "%s: scores", fn);
    int64_t flops[RUN_BATCH];
    for (int64_t start = 0; start < n && !st; start += RUN_BATCH) {
        const int64_t m = n - start < RUN_BATCH ? n - start : RUN_BATCH;
        int64_t shape[ADAPT_MAX_DIMS] = {m};
        memcpy(shape + 1, s->in.d, (size_t)s->in.ndim * sizeof *shape);
        adapt_tensor *t = NULL, *y = NULL;
        adapt_context_reset(ctx);
        st = adapt_tensor_input(&t, ctx, s->in.ndim + 1, shape, x + start * in);
        if (!st)
            st = adapt_model_forward_flops(&y, flops, ctx, s->model, t);
        if (!st)
            memcpy(*scores + start * out, adapt_tensor_data(y), (size_t)(m * out) * sizeof(float));
        for (int64_t i = 0; i < m && !st; i++)
            report->flops += flops[i];
    }
    report->inputs += n;
    return st;
}

/* The image with the pixels its source labels 0 (background) set to 0, malloc'd. */
static float *masked(const float *image, const ad_dims *dims, const int32_t *map)
{
    const int64_t pixels = dims->d[1] * dims->d[2];
    float *x = malloc((size_t)(dims->d[0] * pixels) * sizeof *x);
    for (int64_t c = 0; x && c < dims->d[0]; c++)
        for (int64_t j = 0; j < pixels; j++)
            x[c * pixels + j] = map[j] ? image[c * pixels + j] : 0.0f;
    return x;
}

/* A stage on the whole image: its map is the model's, or its class + 1 everywhere. */
static adapt_status run_whole(ad_stage_result *res, adapt_context *ctx, const adapt_pipeline *p,
                              const ad_stage *s, const float *image,
                              const adapt_pipeline_result *r)
{
    float *x = s->input == ADAPT_STAGE_MASKED ? masked(image, &p->image,
                                                       r->stages[s->source].map)
                                              : NULL, *scores = NULL;
    const int64_t pixels = r->height * r->width;
    adapt_status st = s->input == ADAPT_STAGE_MASKED && !x
                          ? ad_fail(ADAPT_ERR_OUT_OF_MEMORY, "%s: masked image", fn)
                          : run_model(&scores, &res->report, ctx, s, x ? x : image, 1);
    if (!st && s->output == ADAPT_STAGE_SEGMENT)
        ad_argmax_pixels(res->map, scores, 1, s->out.d[0], pixels);
    if (!st && s->output == ADAPT_STAGE_CLASSIFY) {
        int32_t k = 0;
        ad_argmax_pixels(&k, scores, 1, s->out.d[0], 1);
        for (int64_t j = 0; j < pixels; j++)
            res->map[j] = k + 1;
        res->crops = malloc(sizeof *res->crops);
        if (!res->crops)
            st = ad_fail(ADAPT_ERR_OUT_OF_MEMORY, "%s: crops", fn);
        else
            res->crops[res->n_crops++] = (adapt_pipeline_crop){
                .struct_size = sizeof *res->crops, .row1 = r->height, .col1 = r->width,
                .class_id = k, .pixels = pixels};
    }
    free(x);
    free(scores);
    return st;
}

/* The crops of the components: their boxes grown by the margin, and the model's inputs. */
static adapt_status cut(ad_stage_result *res, float **batch, const adapt_pipeline *p,
                        const ad_stage *s, const float *image, const ad_component *comps,
                        int64_t n)
{
    const int64_t in = ad_dims_numel(&s->in);
    res->crops = malloc((size_t)(n ? n : 1) * sizeof *res->crops);
    *batch = malloc((size_t)(n * in + 1) * sizeof **batch);
    if (!res->crops || !*batch)
        return ad_fail(ADAPT_ERR_OUT_OF_MEMORY, "%s: %lld crops", fn, (long long)n);
    for (int64_t k = 0; k < n; k++) {
        int64_t box[4] = {comps[k].row0, comps[k].col0, comps[k].row1, comps[k].col1};
        ad_box_grow(box, s->margin, p->image.d[1], p->image.d[2]);
        res->crops[k] = (adapt_pipeline_crop){
            .struct_size = sizeof *res->crops, .row0 = box[0], .col0 = box[1], .row1 = box[2],
            .col1 = box[3], .label = comps[k].label, .class_id = -1,
            .pixels = comps[k].pixels};
        ad_crop_resize(*batch + k * in, s->in.d[1], s->in.d[2], image, p->image.d[0],
                       p->image.d[1], p->image.d[2], box);
    }
    res->n_crops = n;
    return ADAPT_OK;
}

/* Crop k's result onto the map of h x w, over its component's own pixels: the crop's label
 * map pasted (segmentation; `small` is room for it) or its class + 1 (classification). */
static void paste(ad_stage_result *res, uint8_t *keep, const int64_t *ids, int64_t k,
                  const ad_stage *s, const float *scores, int64_t h, int64_t w, int32_t *small)
{
    adapt_pipeline_crop *c = &res->crops[k];
    const int64_t box[4] = {c->row0, c->col0, c->row1, c->col1};
    const int64_t out = ad_dims_numel(&s->out);
    if (s->output == ADAPT_STAGE_CLASSIFY)
        ad_argmax_pixels(&c->class_id, scores + k * out, 1, out, 1);
    for (int64_t i = box[0]; i < box[2]; i++)
        for (int64_t j = box[1]; j < box[3]; j++) {
            keep[i * w + j] = ids[i * w + j] == k;
            if (keep[i * w + j] && s->output == ADAPT_STAGE_CLASSIFY)
                res->map[i * w + j] = c->class_id + 1;
        }
    if (s->output == ADAPT_STAGE_SEGMENT) {
        ad_argmax_pixels(small, scores + k * out, 1, s->out.d[0], s->out.d[1] * s->out.d[2]);
        ad_map_paste(res->map, h, w, box, small, s->out.d[1], s->out.d[2], keep);
    }
}

/* A stage on crops of its source's components. */
static adapt_status run_crops(ad_stage_result *res, adapt_context *ctx, const adapt_pipeline *p,
                              const ad_stage *s, const float *image,
                              const adapt_pipeline_result *r)
{
    const int64_t h = r->height, w = r->width;
    int64_t *ids = malloc((size_t)(h * w) * sizeof *ids), n = 0;
    uint8_t *keep = calloc((size_t)(h * w), 1);
    int32_t *small = s->output == ADAPT_STAGE_SEGMENT
                         ? malloc((size_t)(s->out.d[1] * s->out.d[2]) * sizeof *small)
                         : NULL;
    ad_component *comps = NULL;
    float *batch = NULL, *scores = NULL;
    adapt_status st = ids && keep && (small || s->output != ADAPT_STAGE_SEGMENT)
                          ? ad_components_find(&comps, &n, ids, r->stages[s->source].map, h, w,
                                               s->min_pixels, fn)
                          : ad_fail(ADAPT_ERR_OUT_OF_MEMORY, "%s: %lld pixels", fn,
                                    (long long)(h * w));
    if (!st)
        st = cut(res, &batch, p, s, image, comps, n);
    if (!st && n)
        st = run_model(&scores, &res->report, ctx, s, batch, n);
    for (int64_t k = 0; k < n && !st; k++)
        paste(res, keep, ids, k, s, scores, h, w, small);
    free(ids), free(keep), free(small), free(comps), free(batch), free(scores);
    return st;
}

static adapt_status check_image(const adapt_pipeline *p, const float *image,
                                const int64_t *shape)
{
    if (!p->count)
        return ad_fail(ADAPT_ERR_STATE, "%s: the pipeline has no stages", fn);
    if (!image || !shape)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: %s is NULL", fn,
                       !image ? "image" : "shape");
    const ad_dims given = ad_dims3(shape[0], shape[1], shape[2]);
    if (!ad_dims_equal(&given, &p->image)) {
        char a[160], b[160];
        return ad_fail(ADAPT_ERR_SHAPE, "%s: the image is %s; the pipeline takes %s", fn,
                       ad_dims_str(&given, a, sizeof a), ad_dims_str(&p->image, b, sizeof b));
    }
    if (!ad_all_finite(image, ad_dims_numel(&p->image)))
        return ad_fail(ADAPT_ERR_NONFINITE, "%s: the image holds NaN or infinity", fn);
    return ADAPT_OK;
}

static adapt_status run(adapt_pipeline_result *r, const adapt_pipeline *p, const float *image,
                        int32_t n_threads)
{
    adapt_context_params cp;
    adapt_context_params_init(&cp, sizeof cp);
    cp.n_threads = n_threads;
    adapt_context *ctx = NULL;
    adapt_status st = adapt_context_create(&ctx, &cp);
    for (int32_t i = 0; i < p->count && !st; i++) {
        const ad_stage *s = &p->stages[i];
        const ad_dims out = ad_model_tail(s->model);
        if (!ad_dims_equal(&s->model->input, &s->in) || !ad_dims_equal(&out, &s->out)) {
            st = ad_fail(ADAPT_ERR_STATE, "%s: stage \"%s\"'s model was changed since it was "
                         "added: it no longer has the stage's signature", fn, s->name);
            break;
        }
        const double start = ad_clock_seconds();
        st = s->input == ADAPT_STAGE_CROPS ? run_crops(&r->stages[i], ctx, p, s, image, r)
                                           : run_whole(&r->stages[i], ctx, p, s, image, r);
        r->stages[i].report.seconds = ad_clock_seconds() - start;
    }
    adapt_context_free(ctx);
    return st;
}

adapt_status adapt_pipeline_run(adapt_pipeline_result **out, adapt_pipeline *pipeline,
                                const float *image, const int64_t *shape, int32_t n_threads)
{
    if (!out || !pipeline || n_threads < 0)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: %s", fn,
                       n_threads < 0 ? "n_threads < 0" : "out or pipeline is NULL");
    adapt_status st = check_image(pipeline, image, shape);
    adapt_pipeline_result *r = NULL;
    if (!st)
        st = ad_pipeline_result_new(&r, pipeline, shape[1], shape[2], fn);
    if (!st)
        st = run(r, pipeline, image, n_threads);
    if (st) {
        adapt_pipeline_result_free(r);
        return ad_prefix(st, fn);
    }
    *out = r;
    return ADAPT_OK;
}
