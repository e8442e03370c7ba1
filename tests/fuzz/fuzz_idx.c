/* libFuzzer target: the IDX readers on arbitrary bytes. They read a path through zlib, so the
 * input goes to a scratch file (created once, rewritten per input). */
#define _POSIX_C_SOURCE 200809L

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "lib/io/idx.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char scratch_path[64];
static int scratch_fd = -1;

static void remove_scratch(void)
{
    unlink(scratch_path);
}

/* In memory (tmpfs) where there is one: on ext4, truncating and rewriting a file makes close()
 * start writeback, which would hold the target to a few hundred inputs per second. */
static int make_scratch(const char *dir)
{
    snprintf(scratch_path, sizeof scratch_path, "%s/adapt_fuzz_idx_XXXXXX", dir);
    return mkstemp(scratch_path);
}

static void put_input(const uint8_t *data, size_t size)
{
    if (scratch_fd < 0) {
        scratch_fd = make_scratch("/dev/shm");
        if (scratch_fd < 0)
            scratch_fd = make_scratch("/tmp");
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
    /* On success every value is in range; on error the outputs are untouched. */
    float *pixels = NULL;
    int64_t n = -1, h = -1, w = -1;
    if (ad_idx_read_images(&pixels, &n, &h, &w, scratch_path) == ADAPT_OK) {
        for (int64_t i = 0; i < n * h * w; i++)
            if (!(pixels[i] >= 0.0f && pixels[i] <= 1.0f))
                abort();
        free(pixels);
    } else if (pixels || n != -1 || h != -1 || w != -1) {
        abort();
    }
    int32_t *labels = NULL;
    n = -1;
    if (ad_idx_read_labels(&labels, &n, scratch_path) == ADAPT_OK) {
        for (int64_t i = 0; i < n; i++)
            if (labels[i] < 0 || labels[i] > 255)
                abort();
        free(labels);
    } else if (labels || n != -1) {
        abort();
    }
    return 0;
}
