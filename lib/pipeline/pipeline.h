/* The pipeline object behind adapt_pipeline (docs/pipeline.md): named stages, each a model
 * it owns, run in order on one image, each taking the image, the image masked by an earlier
 * stage's label map, or crops of that map's components. */
#ifndef AD_PIPELINE_PIPELINE_H
#define AD_PIPELINE_PIPELINE_H

#include "adapt.h"
#include "lib/nn/dims.h"

#define AD_STAGE_NAME_MAX 64 /* bytes, terminator included */

typedef struct {
    char name[AD_STAGE_NAME_MAX];
    int32_t input;    /* adapt_stage_input */
    int32_t output;   /* adapt_stage_output */
    int32_t source;   /* the stage whose map routes the input, or -1 */
    int32_t margin, min_pixels;
    adapt_model *model; /* owned */
    ad_dims in, out;    /* the model's per-sample signature */
} ad_stage;

struct adapt_pipeline {
    ad_stage *stages;
    int32_t count, capacity;
    ad_dims image; /* [C, H, W] of the whole-image stages; ndim 0 before the first */
};

/* The stage called `name`, or -1. */
int32_t ad_pipeline_find(const adapt_pipeline *p, const char *name);

/* INVALID_ARGUMENT naming `fn` unless `name` is 1 to 63 of [A-Za-z0-9_-] (it names the
 * stage's checkpoint file). */
adapt_status ad_stage_name_check(const char *name, const char *fn);

/* adapt_pipeline_add with the messages of `fn` (pipeline_load reuses it). */
adapt_status ad_pipeline_add(adapt_pipeline *p, const adapt_stage_params *params,
                             adapt_model *model, const char *fn);

#endif
