/* Batches of whole identities for the identity loss (docs/flows.md): the training loop shuffles
 * units, and a unit is one identity with all its rows (a row of no identity is a unit of its
 * own), so the rows of an identity always meet in a batch, as a video's frames do in the
 * paper's. */
#ifndef AD_FLOW_FLOW_IDENTITIES_H
#define AD_FLOW_FLOW_IDENTITIES_H

#include "adapt.h"

typedef struct {
    int64_t count;  /* units */
    int64_t *start; /* count + 1 offsets into rows */
    int64_t *rows;  /* the n row indices, identity by identity */
} ad_identity_units;

/* The units of identities[n] (ids >= 0; -1 for none). */
adapt_status ad_identity_units_make(ad_identity_units *u, const int32_t *identities, int64_t n,
                                    const char *fn);

void ad_identity_units_free(ad_identity_units *u);

/* The rows of units[0 .. m), in ctx's scratch, and their number. */
adapt_status ad_identity_units_rows(const int64_t **rows, int64_t *n_rows, adapt_context *ctx,
                                    const ad_identity_units *u, const int64_t *units, int64_t m,
                                    const char *fn);

#endif
