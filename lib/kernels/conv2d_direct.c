/* Direct convolution over phase planes.
 *
 * With stride s, output (oh, ow) under tap (kh, kw) reads the padded input at (oh s + kh,
 * ow s + kw). Each padded channel is split into s x s phase planes of wq columns, plane (a, b)
 * holding the padded cells (i s + a, j s + b); the read becomes cell (oh + kh / s, ow + kw / s)
 * of plane (kh % s, kw % s). So output k = oh wq + ow reads, under every tap, the planes at k
 * plus a fixed offset: the outputs run along one axis and each tap is one contiguous vector
 * load for a whole strip of them. A row's last wq - OW outputs read into the next row and are
 * thrown away. A block of output channels is accumulated in registers, all taps in order, then
 * finished (lib/kernels/conv2d_finish.h) on its way into the output tensor, each plane then handed
 * to a sink if the caller gave one. Where one strip is one output row (rows of 17-32 outputs,
 * the planes' rows padded to 32) the strip is finished in registers and stored as the row. A
 * sink may place whole samples itself: an early exit keeping only the samples that go on. */
#include "lib/kernels/conv2d_direct.h"

#include <stdatomic.h>
#include <string.h>
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#endif

#include "lib/core/context.h"
#include "lib/core/tensor.h"
#include "lib/core/threads.h"
#include "lib/kernels/vector_math.h"
#include "lib/kernels/conv2d_finish.h"

#define INLINED static inline __attribute__((always_inline))

typedef float float_x16 __attribute__((vector_size(64)));
#define LANES 16
#define CO_BLOCK 8 /* output channels per register block */
#define VECS 2     /* vectors of outputs per register block */
#define STRIP_FLOATS (LANES * VECS)
#define CLAIM 8    /* samples a thread takes at a time */
/* Inputs larger than this per sample (32 KiB; stage 1's strided convolution reads 50 KiB of
 * the stem's output per image) are bound by reading them; smaller ones gained nothing. */
#define PREFETCH_FLOATS 8192

/* One convolution of the pass: its taps' offsets in the shared phase planes and its weights. */
typedef struct {
    const ad_conv_call *c;
    int64_t taps;     /* Cin * KH * KW */
    int64_t blocks;   /* blocks of CO_BLOCK output channels */
    int64_t *offsets; /* [taps]: where each tap reads in the phase planes */
    float *packed;    /* [blocks][taps][CO_BLOCK] weights, 0 past Cout */
    ad_conv_finish *finish; /* [Cout]: each output channel's bias and epilogue constants */
} conv_set;

typedef struct {
    conv_set sets[2];     /* the call and its passenger, if any */
    int n_sets;
    int64_t s, hq, wq;    /* stride; one phase plane's rows and columns */
    bool row_strips;      /* each strip one output row, finished in registers (strip_row) */
    int64_t span;         /* OH * wq rounded up to whole strips */
    int64_t in_floats;    /* a sample's phase planes and the zeros read past them */
    float *scratch;       /* [slots][slot_floats]: phase planes, then [CO_BLOCK][span] sums */
    int64_t slot_floats;
    _Atomic int64_t next; /* first sample not yet claimed */
} direct_job;

static int64_t ceil_div(int64_t a, int64_t b) { return a <= 0 ? 0 : (a + b - 1) / b; }

static int64_t strip_aligned(int64_t n) { return ceil_div(n, STRIP_FLOATS) * STRIP_FLOATS; }

/* A 1 x 1 kernel of stride 1 is a plain GEMM already; strided ones (projection shortcuts) go
 * direct so that they make the same bits alone as beside a residual block's first convolution
 * (ad_conv_direct_pairs), where they cost little more than their products. At most 1024 taps
 * keep a channel block's packed weights (32 KiB) in the first-level cache; at least half of
 * the computed outputs must be kept (of each row's wq, OW are): 4 x 4 planes from rows of 6
 * keep exactly half and still run faster than through im2col (bench/run_conv.sh). */
bool ad_conv_direct_suits(const ad_conv_geom *g)
{
    if (!ad_has_avx512() || (g->kernel_h * g->kernel_w == 1 && g->stride == 1) ||
        g->stride > 2 || g->channels * g->kernel_h * g->kernel_w > 1024)
        return false;
    const int64_t wq = ceil_div(g->width + 2 * g->padding, g->stride);
    return 2 * g->out_h * g->out_w >= strip_aligned(g->out_h * wq);
}

bool ad_conv_direct_pairs(const ad_conv_geom *first, const ad_conv_geom *second)
{
    return ad_conv_direct_suits(first) && ad_conv_direct_suits(second) &&
           second->channels == first->channels &&
           second->height == first->height && second->width == first->width &&
           second->stride == first->stride && second->out_h == first->out_h &&
           second->out_w == first->out_w && second->padding <= first->padding &&
           first->kernel_h >= first->stride && first->kernel_w >= first->stride;
}

/* dst[0 .. n) = src[0 .. n): rows of 16 or more in vectors, the last overlapping the one
 * before, where a call to memcpy per image row cost more than the copy. */
INLINED void copy_row(float *restrict dst, const float *restrict src, int64_t n)
{
    if (n < LANES) {
        memcpy(dst, src, (size_t)n * sizeof *src);
        return;
    }
    for (int64_t i = 0; i < n; i += LANES) {
        const int64_t at = i + LANES <= n ? i : n - LANES;
        float_x16 v;
        memcpy(&v, src + at, sizeof v);
        memcpy(dst + at, &v, sizeof v);
    }
}

/* The input cells of phase plane (a, b) of each channel, for the phases some tap reads. The
 * padding cells and everything else in the buffer were zeroed once, before the first sample:
 * no sample writes them. */
INLINED void unpack(const direct_job *j, const float *image, float *in)
{
    const ad_conv_geom *g = &j->sets[0].c->g;
    const int64_t s = j->s, p = g->padding, plane = j->hq * j->wq;
    const int64_t read_a = g->kernel_h < s ? g->kernel_h : s; /* phases (a, b) taps read */
    const int64_t read_b = g->kernel_w < s ? g->kernel_w : s;
    for (int64_t ci = 0; ci < g->channels; ci++)
        for (int64_t a = 0; a < read_a; a++)
            for (int64_t b = 0; b < read_b; b++) {
                float *phase = in + ((ci * s + a) * s + b) * plane;
                const int64_t first = ceil_div(p - b, s), end = ceil_div(g->width + p - b, s);
                for (int64_t i = 0; i < j->hq; i++) {
                    const int64_t h = i * s + a - p;
                    if (h < 0 || h >= g->height)
                        continue;
                    const float *row = image + (ci * g->height + h) * g->width;
                    if (s == 1)
                        copy_row(phase + i * j->wq + p, row, g->width);
                    else if (s == 2) /* a constant stride lets the loop vectorise */
                        for (int64_t k = first; k < end; k++)
                            phase[i * j->wq + k] = row[2 * k + b - p];
                    else
                        for (int64_t k = first; k < end; k++)
                            phase[i * j->wq + k] = row[k * s + b - p];
                }
            }
}

/* a x + b: one rounding where the kernel runs (every machine with AVX-512 has fused
 * multiply-add, so the results do not depend on which), two in builds for other machines. */
#if defined(__x86_64__) && defined(__GNUC__)
AD_TARGET_AVX512 INLINED float_x16 mul_add(float a, float_x16 x, float_x16 b)
{
    return (float_x16)_mm512_fmadd_ps(_mm512_set1_ps(a), (__m512)x, (__m512)b);
}

/* dst[0 .. n) = v[0 .. n), n <= 16. */
AD_TARGET_AVX512 INLINED void store_first(float *dst, float_x16 v, int64_t n)
{
    _mm512_mask_storeu_ps(dst, (__mmask16)((1u << n) - 1), (__m512)v);
}
#else
INLINED float_x16 mul_add(float a, float_x16 x, float_x16 b) { return a * x + b; }
INLINED void store_first(float *dst, float_x16 v, int64_t n)
{
    memcpy(dst, &v, (size_t)n * sizeof(float));
}
#endif

/* acc[c] = sum over taps t of w[t][c] in[offsets[t] ..] for a strip of STRIP_FLOATS outputs,
 * in tap order: 16 accumulators of 16 floats, half of AVX-512's vector registers. */
AD_TARGET_AVX512 INLINED void accumulate(const conv_set *set, const float *in, const float *w,
                                         float_x16 acc[CO_BLOCK][VECS])
{
#pragma GCC unroll 16
    for (int c = 0; c < CO_BLOCK; c++)
#pragma GCC unroll 4
        for (int v = 0; v < VECS; v++)
            acc[c][v] = (float_x16){0};
    for (int64_t t = 0; t < set->taps; t++) {
        float_x16 x[VECS];
#pragma GCC unroll 4
        for (int v = 0; v < VECS; v++)
            memcpy(&x[v], in + set->offsets[t] + v * LANES, sizeof x[v]);
#pragma GCC unroll 16
        for (int c = 0; c < CO_BLOCK; c++) {
            const float wc = w[t * CO_BLOCK + c];
#pragma GCC unroll 4
            for (int v = 0; v < VECS; v++)
                acc[c][v] = mul_add(wc, x[v], acc[c][v]);
        }
    }
}

/* sums[c][0 .. STRIP_FLOATS) = the strip's accumulators. */
AD_TARGET_AVX512 INLINED void strip(const conv_set *set, const float *in, const float *w,
                                    float *sums, int64_t span)
{
    float_x16 acc[CO_BLOCK][VECS];
    accumulate(set, in, w, acc);
#pragma GCC unroll 16
    for (int c = 0; c < CO_BLOCK; c++)
#pragma GCC unroll 4
        for (int v = 0; v < VECS; v++)
            memcpy(sums + c * span + v * LANES, &acc[c][v], sizeof acc[c][v]);
}

/* Output row r of channels first .. first + CO_BLOCK (those below Cout), whose planes start
 * at plane[0 ..]: the strip's sums finished in registers and stored straight into the row,
 * its first 16 outputs whole and the rest (out_w - 16, at most 16) under a mask. */
AD_TARGET_AVX512 INLINED void strip_row(const conv_set *set, const float *in, const float *w,
                                        int64_t first, float *const *plane, int64_t r)
{
    float_x16 acc[CO_BLOCK][VECS];
    accumulate(set, in, w, acc);
    const int64_t ow = set->c->g.out_w;
#pragma GCC unroll 8
    for (int c = 0; c < CO_BLOCK; c++) {
        if (first + c >= set->c->out_channels)
            break;
        const ad_conv_finish *f = &set->finish[first + c];
        float *row = plane[c] + r * ow;
        ad_conv_finish_16_value(f, &acc[c][0], NULL);
        ad_conv_finish_16_value(f, &acc[c][1], NULL);
        memcpy(row, &acc[c][0], sizeof acc[c][0]);
        store_first(row + LANES, acc[c][1], ow - LANES);
    }
}

/* How a channel's sums go out: rows of a vector or longer one by one, shorter rows first
 * closed up in place into one run (row by row they would be finished in scalar code), each
 * row's thrown-away tail overwritten by the next row. Returns the length of a run; runs start
 * every *step sums. */
INLINED int64_t runs_of(const direct_job *j, float *rows, int64_t *step)
{
    const int64_t ow = j->sets[0].c->g.out_w, oh = j->sets[0].c->g.out_h;
    if (ow >= AD_FINISH_LANES) {
        *step = j->wq;
        return ow;
    }
    for (int64_t r = 1; r < oh && ow < j->wq; r++)
        for (int64_t i = 0; i < ow; i++) /* forward: the source lies at or after the target */
            rows[r * ow + i] = rows[r * j->wq + i];
    *step = oh * ow;
    return oh * ow;
}

/* A thread's buffers: phase planes, sums, the sink's scratch, and where the sample in hand
 * goes when the sink places samples (else NULL). */
typedef struct {
    float *in, *sums;
    void *sink_scratch;
    float *placed;
} slot_buffers;

/* Where plane (n, co) of the call in set `set` is stored. */
INLINED float *plane_at(const direct_job *j, const conv_set *set, int64_t n, int64_t co,
                        const slot_buffers *b)
{
    const ad_conv_call *c = set->c;
    const int64_t plane = c->g.out_h * c->g.out_w;
    if (set == &j->sets[0] && b->placed)
        return b->placed + co * plane;
    return c->y + (n * c->out_channels + co) * plane;
}

/* Output channels first .. first + CO_BLOCK of sample n, finished from their sums into the
 * output tensor. */
INLINED void finish_block(const direct_job *j, const conv_set *set, int64_t n, int64_t first,
                          const slot_buffers *b)
{
    const ad_conv_call *c = set->c;
    const int64_t plane = c->g.out_h * c->g.out_w;
    const adapt_tensor *res = c->epilogue ? c->epilogue->residual : NULL;
    for (int64_t k = 0; k < CO_BLOCK && first + k < c->out_channels; k++) {
        float *rows = b->sums + k * j->span, *dst = plane_at(j, set, n, first + k, b);
        int64_t step;
        const int64_t run = runs_of(j, rows, &step);
        const int64_t out = (n * c->out_channels + first + k) * plane;
        for (int64_t at = 0, r = 0; at < plane; at += run, r++)
            ad_conv_finish_run(&set->finish[first + k], rows + r * step,
                               res ? res->data + out + at : NULL, dst + at, run);
    }
}

/* Output channels first .. first + CO_BLOCK of sample n, made and stored; each plane then
 * handed to the sink if any. The sink reads the block's planes once all eight are stored:
 * reading each back right after its own stores, whose widths and offsets its loads straddle,
 * made the first exit's path 3-6 % slower. */
AD_TARGET_AVX512 INLINED void channel_block(const direct_job *j, const conv_set *set, int64_t n,
                                            int64_t first, const slot_buffers *b)
{
    const ad_conv_call *c = set->c;
    const float *w = set->packed + first / CO_BLOCK * set->taps * CO_BLOCK;
    if (j->row_strips) {
        float *plane[CO_BLOCK] = {0};
        for (int64_t k = 0; k < CO_BLOCK && first + k < c->out_channels; k++)
            plane[k] = plane_at(j, set, n, first + k, b);
        for (int64_t r = 0; r < c->g.out_h; r++)
            strip_row(set, b->in + r * STRIP_FLOATS, w, first, plane, r);
    } else {
        for (int64_t at = 0; at < j->span; at += STRIP_FLOATS)
            strip(set, b->in + at, w, b->sums + at, j->span);
        finish_block(j, set, n, first, b);
    }
    for (int64_t k = 0; c->sink && k < CO_BLOCK && first + k < c->out_channels; k++)
        c->sink->plane(c->sink->arg, n, first + k, plane_at(j, set, n, first + k, b),
                       b->sink_scratch);
}

/* AVX-512 only: with AVX2's 16 registers the accumulators spill, and the kernel measured no
 * faster than im2col and the GEMM. */
AD_TARGET_AVX512
static void convolve_sample(const direct_job *j, int64_t n, slot_buffers *b)
{
    const ad_conv_geom *g = &j->sets[0].c->g;
    const ad_conv_sink *sink = j->sets[0].c->sink;
    if (sink && sink->place)
        b->placed = sink->place(sink->arg, n, b->sink_scratch);
    const int64_t size = g->channels * g->height * g->width;
    const float *x = j->sets[0].c->x;
    unpack(j, x + n * size, b->in);
    if (size > PREFETCH_FLOATS && n + 1 < j->sets[0].c->batch) /* the next, behind the work */
        for (int64_t i = 0; i < size; i += 16)
            __builtin_prefetch(x + (n + 1) * size + i);
    for (int i = 0; i < j->n_sets; i++)
        for (int64_t k = 0; k < j->sets[i].blocks; k++)
            channel_block(j, &j->sets[i], n, k * CO_BLOCK, b);
    if (b->placed)
        sink->sample(sink->arg, n, b->placed, b->sink_scratch);
}

/* Each slot claims samples until none are left, so a slower core takes fewer. */
static void slot_range(void *arg, int64_t begin, int64_t end)
{
    direct_job *j = arg;
    for (int64_t slot = begin; slot < end; slot++) {
        float *in = j->scratch + slot * j->slot_floats, *sums = in + j->in_floats;
        slot_buffers b = {in, sums, sums + CO_BLOCK * j->span, NULL};
        const int64_t batch = j->sets[0].c->batch;
        for (int64_t n; (n = atomic_fetch_add(&j->next, CLAIM)) < batch;)
            for (int64_t k = n; k < n + CLAIM && k < batch; k++)
                convolve_sample(j, k, &b);
    }
}

/* A set's tap offsets, its weights packed by channel block and its channels' finishing
 * constants; the largest offset. Its
 * padding is the planes' less d: a tap's padded coordinates move by d. */
static adapt_status plan_set(conv_set *set, const direct_job *j, adapt_context *ctx,
                             int64_t *last, const char *fn)
{
    const ad_conv_call *c = set->c;
    const ad_conv_geom *g = &c->g;
    const int64_t s = j->s, d = j->sets[0].c->g.padding - g->padding;
    set->taps = g->channels * g->kernel_h * g->kernel_w;
    set->blocks = ceil_div(c->out_channels, CO_BLOCK);
    adapt_status st = ad_scratch((void **)&set->offsets, ctx,
                                 (size_t)set->taps * sizeof(int64_t), fn);
    if (!st)
        st = ad_scratch((void **)&set->packed, ctx,
                        (size_t)(set->blocks * set->taps * CO_BLOCK) * sizeof(float), fn);
    if (!st)
        st = ad_scratch((void **)&set->finish, ctx,
                        (size_t)c->out_channels * sizeof *set->finish, fn);
    if (st)
        return st;
    for (int64_t co = 0; co < c->out_channels; co++)
        set->finish[co] = ad_conv_finish_of(c->epilogue, co, c->bias);
    for (int64_t t = 0; t < set->taps; t++) {
        const int64_t ci = t / (g->kernel_h * g->kernel_w);
        const int64_t kh = t / g->kernel_w % g->kernel_h + d, kw = t % g->kernel_w + d;
        const int64_t phase = (ci * s + kh % s) * s + kw % s;
        set->offsets[t] = phase * j->hq * j->wq + kh / s * j->wq + kw / s;
        *last = set->offsets[t] > *last ? set->offsets[t] : *last;
    }
    for (int64_t co = 0; co < set->blocks * CO_BLOCK; co++) {
        float *dst = set->packed + co / CO_BLOCK * set->taps * CO_BLOCK + co % CO_BLOCK;
        const float *src = c->weight + co * set->taps;
        if (co < c->out_channels)
            for (int64_t t = 0; t < set->taps; t++)
                dst[t * CO_BLOCK] = src[t];
        else
            for (int64_t t = 0; t < set->taps; t++)
                dst[t * CO_BLOCK] = 0.0f;
    }
    return ADAPT_OK;
}

/* The phase planes' geometry, every set, and the buffers' sizes. */
static adapt_status plan(direct_job *j, adapt_context *ctx, const char *fn)
{
    const ad_conv_call *c = j->sets[0].c;
    const ad_conv_geom *g = &c->g;
    j->s = g->stride;
    j->hq = ceil_div(g->height + 2 * g->padding, j->s);
    j->wq = ceil_div(g->width + 2 * g->padding, j->s);
    /* Rows of 17 to 32 outputs of a stride-1 convolution without a residual or a passenger
     * (a 28 x 28 stem) go one strip per row: the planes' rows padded to a strip's width. */
    j->row_strips = j->s == 1 && g->out_w > LANES && j->wq <= STRIP_FLOATS && !c->passenger &&
                    !(c->epilogue && c->epilogue->residual);
    if (j->row_strips)
        j->wq = STRIP_FLOATS;
    j->span = strip_aligned(g->out_h * j->wq);
    int64_t last = 0;
    adapt_status st = ADAPT_OK;
    for (int i = 0; i < j->n_sets && !st; i++)
        st = plan_set(&j->sets[i], j, ctx, &last, fn);
    const int64_t planes = g->channels * j->s * j->s * j->hq * j->wq;
    j->in_floats = strip_aligned(last + j->span > planes ? last + j->span : planes);
    const int64_t sink_floats = /* whole cache lines, so that slots share none */
        c->sink ? strip_aligned(ceil_div((int64_t)c->sink->scratch_bytes, sizeof(float))) : 0;
    j->slot_floats = j->in_floats + CO_BLOCK * j->span + sink_floats;
    return st;
}

adapt_status ad_conv_direct(adapt_context *ctx, const ad_conv_call *call, const char *fn)
{
    direct_job j = {.sets = {{.c = call}, {.c = call->passenger}},
                    .n_sets = call->passenger ? 2 : 1};
    if (call->batch == 0)
        return ADAPT_OK;
    const ad_arena_mark mark = ad_arena_mark_now(&ctx->arena);
    adapt_status st = plan(&j, ctx, fn);
    const int64_t slots = ad_pool_ranges(ceil_div(call->batch, CLAIM), 1, ctx->n_threads);
    if (!st)
        st = ad_scratch((void **)&j.scratch, ctx,
                        (size_t)(slots * j.slot_floats) * sizeof(float), fn);
    if (!st) {
        memset(j.scratch, 0, (size_t)(slots * j.slot_floats) * sizeof(float));
        atomic_init(&j.next, 0);
        ad_pool_for(ctx->pool, slots, 1, slot_range, &j);
    }
    ad_arena_rewind(&ctx->arena, mark);
    return st;
}
