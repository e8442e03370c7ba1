/* Direct convolution: each sample's outputs accumulated in vector registers, tap by tap, and
 * finished (bias, epilogue) on their way to the output tensor. For few input channels this
 * beats unfolding into a column matrix and multiplying, which makes three extra passes over
 * activations that hold only a few values per pixel (lib/ops/conv2d.c). */
#ifndef AD_OPS_CONV2D_DIRECT_H
#define AD_OPS_CONV2D_DIRECT_H

#include <stdbool.h>

#include "adapt.h"
#include "lib/kernels/im2col.h"
#include "lib/ops/conv2d.h"

/* Where a convolution hands its output over as it goes: plane (n, co), finished and stored, on
 * the thread that made it, while in cache, with scratch_bytes of scratch that thread alone
 * uses. */
typedef struct {
    void (*plane)(void *arg, int64_t n, int64_t co, const float *values, void *scratch);
    void *arg;
    size_t scratch_bytes;
} ad_conv_sink;

/* One forward convolution, checked and planned: geometry with the output size, NCHW input,
 * weight [Cout, Cin, KH, KW], NCHW output. */
typedef struct {
    ad_conv_geom g;
    int64_t batch, out_channels;
    const float *x, *weight;
    const float *bias;                /* [Cout] or NULL */
    const ad_conv_epilogue *epilogue; /* or NULL */
    float *y;
    const ad_conv_sink *sink;         /* or NULL */
} ad_conv_call;

/* Whether the direct kernel is the faster one here: on a machine with AVX-512, for a kernel
 * larger than 1 x 1, stride 1 or 2, not too many taps per output and little work thrown away
 * at rows' ends. */
bool ad_conv_direct_suits(const ad_conv_geom *g);

/* y = finish(conv(x)), the result independent of the thread count. Scratch from the context's
 * arena, handed back before returning. */
adapt_status ad_conv_direct(adapt_context *ctx, const ad_conv_call *call, const char *fn);

#endif
