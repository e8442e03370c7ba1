/* Direct convolution: each sample's outputs accumulated in vector registers, tap by tap, and
 * finished (bias, epilogue) on their way to the output tensor. For few input channels this
 * beats unfolding into a column matrix and multiplying, which makes three extra passes over
 * activations that hold only a few values per pixel (lib/ops/conv2d.c). */
#ifndef AD_KERNELS_CONV2D_DIRECT_H
#define AD_KERNELS_CONV2D_DIRECT_H

#include <stdbool.h>

#include "adapt.h"
#include "lib/kernels/im2col.h"
#include "lib/ops/conv2d.h"

/* Where a convolution hands its output over as it goes, on the thread that made it, with
 * scratch_bytes of scratch that thread alone uses: each plane (n, co), finished and stored,
 * while in cache. A sink may also place whole samples: `place` says where sample n's planes
 * [Cout][OH][OW] go (y is then unused), asked before the first is made, and `sample` is
 * handed them once all are stored. */
typedef struct ad_conv_sink {
    void (*plane)(void *arg, int64_t n, int64_t co, const float *values, void *scratch);
    float *(*place)(void *arg, int64_t n, void *scratch);
    void (*sample)(void *arg, int64_t n, const float *planes, void *scratch);
    void *arg;
    size_t scratch_bytes;
} ad_conv_sink;

/* One forward convolution, checked and planned: geometry with the output size, NCHW input,
 * weight [Cout, Cin, KH, KW], NCHW output. */
typedef struct ad_conv_call ad_conv_call;
struct ad_conv_call {
    ad_conv_geom g;
    int64_t batch, out_channels;
    const float *x, *weight;
    const float *bias;                /* [Cout] or NULL */
    const ad_conv_epilogue *epilogue; /* or NULL */
    float *y;
    const ad_conv_sink *sink;         /* or NULL */
    /* A second convolution of the same x made in the same pass (ad_conv_direct_pairs), or
     * NULL; its own sink and passenger are ignored. */
    const ad_conv_call *passenger;
};

/* Whether the direct kernel runs this convolution: on a machine with AVX-512, for a kernel
 * larger than 1 x 1 or strided, stride 1 or 2, not too many taps per output and little work
 * thrown away at rows' ends. */
bool ad_conv_direct_suits(const ad_conv_geom *g);

/* Whether a convolution of geometry `second` can ride along with one of `first`, both suiting
 * the direct kernel, reading the phase planes unpacked for the first: the same input, stride
 * and output size, padding no larger, and a first kernel at least as large as the stride (so
 * that every phase is unpacked). A residual block's projection shortcut beside its first
 * convolution. Each makes the bits it makes alone. */
bool ad_conv_direct_pairs(const ad_conv_geom *first, const ad_conv_geom *second);

/* y = finish(conv(x)), the result independent of the thread count. Scratch from the context's
 * arena, handed back before returning. */
adapt_status ad_conv_direct(adapt_context *ctx, const ad_conv_call *call, const char *fn);

#endif
