/* The object behind adapt_recording: a submodule's inputs and outputs, one row per sample, in
 * memory or in mapped spool files. */
#ifndef AD_TRAIN_RECORDING_H
#define AD_TRAIN_RECORDING_H

#include "adapt.h"
#include "lib/io/npy_spool.h"
#include "lib/nn/dims.h"

enum { AD_REC_INPUTS, AD_REC_OUTPUTS };

struct adapt_recording {
    ad_dims shape[2];    /* per sample: inputs, outputs */
    int64_t count;       /* rows */
    int64_t filled;      /* rows written while recording */
    float *memory[2];    /* in-memory rows, or NULL when spooled */
    ad_npy_spool spool[2];
    char *spool_path[2];  /* the spool files' names, while spooling */
    const float *data[2]; /* the rows to read */
};

/* Storage for r->count rows of r->shape: in memory (prefix NULL) or in spool files named after
 * prefix. Errors name `caller`. */
adapt_status ad_recording_open(adapt_recording *r, const char *prefix, const char *caller);

#endif
