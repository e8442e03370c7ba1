/* SDN pooling's kernel: a * max + (1 - a) * average of square windows, one plane at a time,
 * in one pass over the input, with the operations of the taped chain of ops (head_forward.c)
 * so that the bits are the same. */
#ifndef AD_KERNELS_SDN_POOL_H
#define AD_KERNELS_SDN_POOL_H

#include <stdint.h>

#include "lib/kernels/conv2d_direct.h"

/* The pooling's geometry and buffers. */
typedef struct {
    const float *x;
    float *y;
    int64_t height, width, out_h, out_w, window;
    float alpha;
    int64_t planes, slots;
    int64_t stride; /* out_w * window rounded up to whole cache lines: slots share none */
    float *sums;    /* [slots][out_h][stride]: a band's column sums per row */
    float *maxima;  /* [slots][out_h][stride] */
} ad_sdn_job;

typedef struct {
    ad_sdn_job job;
    int64_t channels;
    ad_conv_sink sink; /* plane (n, c) into y[n][c * h * w ...] */
} ad_sdn_plane_pool;

/* Planes of slots [begin, end) of job `arg` (an ad_sdn_job), each slot with its own column
 * buffers: a task of ad_pool_for. */
void ad_sdn_pool_slots(void *arg, int64_t begin, int64_t end);

/* ad_conv_sink.plane for `arg` an ad_sdn_plane_pool: plane (n, c) into its row of y; the
 * scratch holds one slot's column sums of every band, then their maxima. */
void ad_sdn_pool_plane(void *arg, int64_t n, int64_t c, const float *plane, void *scratch);

#endif
