/* adapt_recording_create: a recording of the caller's arrays, so that module-wise training
 * (adapt_modules_distill) fits a module to any regression data, not only to a submodule's. */
#include <stdlib.h>
#include <string.h>

#include "lib/core/error.h"
#include "lib/core/tensor.h"
#include "lib/train/recording.h"

static const char *const fn = "adapt_recording_create";

static adapt_status read_shape(ad_dims *d, int32_t ndim, const int64_t *shape, const char *side)
{
    if (!shape || ndim < 1 || ndim >= ADAPT_MAX_DIMS)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: the %s' shape must have 1 to %d dims, "
                       "not %s%d", fn, side, ADAPT_MAX_DIMS - 1, shape ? "" : "NULL with ",
                       (int)ndim);
    d->ndim = ndim;
    for (int32_t i = 0; i < ndim; i++)
        if ((d->d[i] = shape[i]) < 1)
            return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: the %s' dim %d is %lld, not >= 1",
                           fn, side, (int)i, (long long)shape[i]);
    return ADAPT_OK;
}

static adapt_status copy_side(adapt_recording *r, int k, const float *values, const char *side)
{
    const int64_t total = ad_dims_numel(&r->shape[k]) * r->count; /* sized by ad_recording_open */
    if (!ad_all_finite(values, total))
        return ad_fail(ADAPT_ERR_NONFINITE, "%s: the %s hold a NaN or infinite value", fn, side);
    memcpy(r->memory[k], values, (size_t)total * sizeof(float));
    return ADAPT_OK;
}

adapt_status adapt_recording_create(adapt_recording **out, const float *inputs, int32_t in_ndim,
                                    const int64_t *in_shape, const float *outputs,
                                    int32_t out_ndim, const int64_t *out_shape, int64_t n)
{
    if (!out || !inputs || !outputs)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: %s is NULL", fn,
                       !out ? "out" : !inputs ? "inputs" : "outputs");
    if (n < 1)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: n is %lld, not >= 1", fn, (long long)n);
    adapt_recording made = {.count = n};
    adapt_status st = read_shape(&made.shape[AD_REC_INPUTS], in_ndim, in_shape, "inputs");
    if (!st)
        st = read_shape(&made.shape[AD_REC_OUTPUTS], out_ndim, out_shape, "outputs");
    if (st)
        return st;
    adapt_recording *r = malloc(sizeof *r);
    if (!r)
        return ad_fail(ADAPT_ERR_OUT_OF_MEMORY, "%s: recording", fn);
    *r = made;
    st = ad_recording_open(r, NULL, fn);
    if (!st)
        st = copy_side(r, AD_REC_INPUTS, inputs, "inputs");
    if (!st)
        st = copy_side(r, AD_REC_OUTPUTS, outputs, "outputs");
    if (st) {
        adapt_recording_free(r);
        return st;
    }
    r->filled = n;
    *out = r;
    return ADAPT_OK;
}
