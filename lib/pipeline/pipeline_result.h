/* What a pipeline run leaves (adapt_pipeline_result): per stage a label map of the whole
 * image, the crops it ran on, and its time and cost. */
#ifndef AD_PIPELINE_PIPELINE_RESULT_H
#define AD_PIPELINE_PIPELINE_RESULT_H

#include "adapt.h"
#include "lib/pipeline/pipeline.h"

typedef struct {
    char name[AD_STAGE_NAME_MAX];
    int32_t *map;               /* [height, width] */
    adapt_pipeline_crop *crops; /* malloc'd, n_crops of them */
    int64_t n_crops;
    adapt_stage_report report;
} ad_stage_result;

struct adapt_pipeline_result {
    int64_t height, width;
    ad_stage_result *stages;
    int32_t count;
};

/* An empty result for the pipeline's stages on an image of height x width: maps zeroed. */
adapt_status ad_pipeline_result_new(adapt_pipeline_result **out, const adapt_pipeline *p,
                                    int64_t height, int64_t width, const char *fn);

#endif
