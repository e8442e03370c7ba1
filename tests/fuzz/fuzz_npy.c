/* libFuzzer target: the NPY reader (the code behind adapt_npy_read) on arbitrary bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/io/npy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ad_source src;
    ad_source_memory(&src, data, size);
    float *values = NULL;
    int32_t ndim = -1;
    int64_t shape[ADAPT_MAX_DIMS];
    if (ad_npy_read_source(&values, &ndim, shape, &src, "fuzz") != ADAPT_OK) {
        if (values || ndim != -1) /* outputs must be untouched on error */
            abort();
        return 0;
    }
    /* A success returns exactly the bytes that end the input. */
    int64_t numel = 1;
    for (int32_t d = 0; d < ndim; d++)
        numel *= shape[d];
    size_t bytes = (size_t)numel * sizeof(float);
    if (ndim < 0 || ndim > ADAPT_MAX_DIMS || bytes > size ||
        memcmp(values, data + size - bytes, bytes) != 0)
        abort();
    free(values);
    return 0;
}
