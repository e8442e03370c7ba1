/* The workflows the out-of-memory sweep runs with allocation k refused: each
 * is a sequence of public calls whose result can be compared bit for bit with
 * an undisturbed run. */
#ifndef TESTS_OOM_WORKFLOWS_H
#define TESTS_OOM_WORKFLOWS_H

#include <stdbool.h>
#include <stddef.h>

#include "adapt.h"
#include "tests/oom/oom_models.h"

/* Everything a workflow needs, made before allocations are refused. */
typedef struct oom_fixture {
    const char *files;  /* the shared input files (oom_prepare_files) */
    char dir[512];      /* a directory of the child's own, for what it writes */
    adapt_model *models[3];
    adapt_dataset *data;
    float *x;
    int32_t *labels;
    adapt_context *ctx; /* made by a run, freed after it */
    adapt_tensor *logits[3];
    int32_t predictions[OOM_SAMPLES], exits[OOM_SAMPLES];
    float confidences[OOM_SAMPLES];
    int64_t flops[OOM_SAMPLES];
    float exit_logits[3 * OOM_SAMPLES * 10];
    int32_t moe_layers; /* MoE layers whose routing a run set */
    int32_t expert_counts[OOM_MOE_SAMPLES * OOM_MOE_TOKENS];
    float probe_scores[OOM_SAMPLES];
    int32_t label_maps[2 * OOM_MOE_SAMPLE_VALUES]; /* a U-Net's map and a pipeline's */
    int32_t routed[OOM_SAMPLES];
    adapt_model *made; /* a model a run made, kept for collect */
    float *read;   /* what a run read from files */
    unsigned char *snapshot; /* what a failed run must leave as it was */
    size_t snapshot_bytes;
    unsigned char *out; /* the result, filled by collect */
    size_t out_bytes;
} oom_fixture;

typedef struct oom_workflow {
    const char *name;
    adapt_status (*setup)(oom_fixture *f);
    /* The calls under test. */
    adapt_status (*run)(oom_fixture *f);
    /* Writes what the run produced into f->out (allocations already allowed). */
    adapt_status (*collect)(oom_fixture *f);
    /* False when a run changes what the next run starts from (training), so only
     * a first, successful run can be compared with the reference. */
    bool repeatable;
    /* NULL, or records in f->snapshot what a failed run must leave unchanged
     * (called just before the run under test)... */
    adapt_status (*snapshot)(oom_fixture *f);
    /* ...and checks that a failed run left it so (0 if so; else writes why into `why`). */
    int (*after_failure)(oom_fixture *f, char *why, size_t size);
} oom_workflow;

/* The workflow called `name`, or NULL. */
const oom_workflow *oom_find(const char *name);

/* Writes the input files of every workflow into `dir`: a checkpoint, an older
 * checkpoint to be overwritten, gzip-compressed IDX images and labels, an NPY file. */
adapt_status oom_prepare_files(const char *dir);

/* Frees what a run made and left for collect. */
void oom_end_run(oom_fixture *f);

void oom_fixture_free(oom_fixture *f);

#endif
