/* libFuzzer target: the IDX readers on arbitrary bytes. They read through zlib's gzopen, so
 * the input goes to a scratch file (created once, rewritten per input). */
#define _POSIX_C_SOURCE 200809L

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "lib/io/idx.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char scratch_path[] = "/tmp/adapt_fuzz_idx_XXXXXX";
static int scratch_fd = -1;

static void remove_scratch(void)
{
    unlink(scratch_path);
}

static void put_input(const uint8_t *data, size_t size)
{
    if (scratch_fd < 0) {
        scratch_fd = mkstemp(scratch_path);
        if (scratch_fd < 0)
            abort();
        atexit(remove_scratch);
    }
    if (ftruncate(scratch_fd, 0) != 0 || (size && pwrite(scratch_fd, data, size, 0) !=
                                                      (ssize_t)size))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    put_input(data, size);
    float *pixels;
    int64_t n, h, w;
    if (ad_idx_read_images(&pixels, &n, &h, &w, scratch_path) == ADAPT_OK) {
        for (int64_t i = 0; i < n * h * w; i++)
            if (!(pixels[i] >= 0.0f && pixels[i] <= 1.0f))
                abort();
        free(pixels);
    }
    int32_t *labels;
    if (ad_idx_read_labels(&labels, &n, scratch_path) == ADAPT_OK) {
        for (int64_t i = 0; i < n; i++)
            if (labels[i] < 0 || labels[i] > 255)
                abort();
        free(labels);
    }
    return 0;
}
