/* The last step of every convolution kernel: bias, then the epilogue (lib/ops/conv2d.h), applied
 * to a run of one output channel's values on their way to the output tensor. Shared so that
 * the GEMM and the direct kernels finish their outputs with the same operations. */
#ifndef AD_KERNELS_CONV2D_FINISH_H
#define AD_KERNELS_CONV2D_FINISH_H

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "lib/ops/conv2d.h"

/* One output channel's constants. */
typedef struct {
    float bias, scale, shift;
    bool bn, relu;
} ad_conv_finish;

/* Channel co's constants; e NULL: the bias alone. */
static inline ad_conv_finish ad_conv_finish_of(const ad_conv_epilogue *e, int64_t co,
                                               const float *bias)
{
    ad_conv_finish f = {bias ? bias[co] : 0.0f, 1.0f, 0.0f, false, e && e->relu};
    if (e && e->weight) {
        const float rstd = (float)(1.0 / sqrt((double)e->var[co] + e->eps));
        f.bn = true;
        f.scale = rstd * e->weight[co];
        f.shift = e->bias[co] - e->mean[co] * f.scale;
    }
    return f;
}

/* Runs of at least this many values go in vectors; shorter ones in scalar code. */
#define AD_FINISH_LANES 8

/* Defines the vector type vec of `lanes` floats, name##_value(f, v, res): the finish of
 * ad_conv_finish_run on *v in a register, lane for lane the scalar operations (res the
 * residual's values or NULL; vectors by pointer, which by value would cross a call in the
 * baseline build's ABI), and name(f, src, res, dst): the same from src into dst. A macro, so
 * that one text serves both vector widths and the kernels that finish in registers. */
#define AD_DEFINE_FINISH_LANES(name, vec, lanes)                                              \
    typedef float vec __attribute__((vector_size(4 * (lanes))));                             \
    static inline __attribute__((always_inline)) void name##_value(const ad_conv_finish *f, \
                                                                   vec *v, const float *res) \
    {                                                                                        \
        typedef int32_t mask __attribute__((vector_size(4 * (lanes))));                      \
        *v = *v + f->bias;                                                                   \
        if (f->bn)                                                                           \
            *v = *v * f->scale + f->shift;                                                   \
        if (res) {                                                                           \
            vec r;                                                                           \
            memcpy(&r, res, sizeof r);                                                       \
            *v = *v + r;                                                                     \
        }                                                                                    \
        if (f->relu) /* v < 0 ? 0 : v, which keeps NaN and -0 as the scalar form does */    \
            *v = (vec)((mask)*v & ~(*v < 0.0f));                                             \
    }                                                                                        \
    static inline __attribute__((always_inline)) void name(                                 \
        const ad_conv_finish *f, const float *src, const float *res, float *dst)            \
    {                                                                                        \
        vec v;                                                                               \
        memcpy(&v, src, sizeof v);                                                           \
        name##_value(f, &v, res);                                                            \
        memcpy(dst, &v, sizeof v);                                                           \
    }

AD_DEFINE_FINISH_LANES(ad_conv_finish_8, ad_finish_x8, 8)
AD_DEFINE_FINISH_LANES(ad_conv_finish_16, ad_finish_x16, 16)

/* dst = finish(src) for n values, res the residual's matching values or NULL: the same
 * operations, in the same order, as the bias add, the batch-norm op's eval map, the add op
 * and the ReLU op applied one after the other. Runs of 16 and more go 16 at a time, of 8 and
 * more 8 at a time, the last group overlapping the one before: rewriting a value writes the
 * same bits, and where the output's rows are short (a 28-wide image) this keeps their ends
 * out of scalar code. */
static inline void ad_conv_finish_run(const ad_conv_finish *f, const float *restrict src,
                                      const float *restrict res, float *restrict dst, int64_t n)
{
    if (n >= 16) {
        for (int64_t i = 0; i < n; i += 16) {
            const int64_t at = i + 16 <= n ? i : n - 16;
            ad_conv_finish_16(f, src + at, res ? res + at : NULL, dst + at);
        }
        return;
    }
    if (n >= AD_FINISH_LANES) {
        for (int64_t i = 0; i < n; i += AD_FINISH_LANES) {
            const int64_t at = i + AD_FINISH_LANES <= n ? i : n - AD_FINISH_LANES;
            ad_conv_finish_8(f, src + at, res ? res + at : NULL, dst + at);
        }
        return;
    }
    for (int64_t i = 0; i < n; i++) {
        float v = src[i] + f->bias;
        if (f->bn)
            v = v * f->scale + f->shift;
        if (res)
            v = v + res[i];
        dst[i] = f->relu && v < 0.0f ? 0.0f : v;
    }
}

#endif
