/* The router handle (docs/probes.md, "Routing"): two models and a probe on the first's blocks. */
#ifndef AD_PROBE_ROUTER_H
#define AD_PROBE_ROUTER_H

#include <stdint.h>

#include "adapt.h"
#include "lib/probe/probe.h"

struct adapt_router {
    adapt_model *a, *b;         /* borrowed */
    const adapt_probe *probe;   /* borrowed */
    int32_t n_blocks;
    int32_t *blocks;            /* the probed blocks of A, increasing */
    int64_t *widths;            /* their outputs' values per input: the probe's widths */
    int32_t shared;             /* B continues from A's output of block shared - 1 */
    int32_t common;             /* A's blocks every input runs: to the last probed or shared */
    int64_t probe_flops;
};

/* STATE when A or B no longer has the blocks the router was made for (a submodule replaced
 * since, layers that no longer match in the shared blocks), naming `caller`. The models are
 * held. The shared blocks' parameter values are compared only when the router is made. */
adapt_status ad_router_check_models(const adapt_router *r, const char *caller);

#endif
