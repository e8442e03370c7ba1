/* libFuzzer target: adapt_flow_load (through its in-memory twin) on arbitrary bytes. A flow
 * it accepts must be usable: inverted and run forward on a row of zeros. */
#include <stdint.h>
#include <stdlib.h>

#include "adapt.h"
#include "lib/flow/flow_checkpoint.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Runs the flow one way and back on one row; the flows of the corpus are small. */
static void exercise(adapt_flow *flow)
{
    adapt_flow_params p;
    adapt_flow_params_init(&p, sizeof p);
    if (adapt_flow_settings(flow, &p) != ADAPT_OK)
        abort();
    if (p.dim > 4096 || p.cond_dim > 4096)
        return;
    float *row = calloc((size_t)(p.dim + p.cond_dim), sizeof *row);
    if (!row)
        return;
    const float *cond = p.cond_dim ? row + p.dim : NULL;
    if (adapt_flow_inverse(row, flow, row, cond, 1) == ADAPT_ERR_INVALID_ARGUMENT)
        abort(); /* a loaded flow is invertible and takes what its settings say */
    free(row);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    adapt_flow *flow = NULL;
    if (ad_flow_load_memory(&flow, data, size) == ADAPT_OK) {
        exercise(flow);
        adapt_flow_free(flow);
    } else if (flow) { /* untouched on error */
        abort();
    }
    return 0;
}
