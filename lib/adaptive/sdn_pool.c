/* SDN pooling without a tape: max and average of each window in one pass over the input,
 * mixed as avg + alpha (max - avg) with the operations of the taped chain of ops in
 * head_forward.c. In inference this pooling reads the largest activation a head sees; done
 * as six ops it cost more time than the rest of the head. Window sums are taken in float in
 * the avg-pool op's order (pool.c): down each column, then across the columns, so the bits
 * are the op's; the columns go side by side in vector registers. */
#include "lib/adaptive/head.h"

#include <math.h>
#include <string.h>

#include "lib/core/context.h"
#include "lib/core/tensor.h"
#include "lib/core/threads.h"
#include "lib/kernels/vector_math.h"

/* Helpers of the dispatched function below go into each of its builds. */
#define INLINED static inline __attribute__((always_inline))

typedef float float_x16 __attribute__((vector_size(64)));
typedef int32_t mask_x16 __attribute__((vector_size(64)));
typedef float float_x8 __attribute__((vector_size(32)));
typedef int32_t mask_x8 __attribute__((vector_size(32)));

/* Columns [i, i + lanes) of `rows` rows: their sums and maxima (lane by lane v > high ? v :
 * high, as the scalar loop below takes it), kept in registers down the rows instead of
 * stored and reloaded at every row. A macro, so that one text serves both widths. */
#define REDUCE_LANES(float_xn, mask_xn, x, stride, rows, i, sum, top)                          \
    do {                                                                                     \
        float_xn total_, high_, v_;                                                          \
        memcpy(&high_, (x) + (i), sizeof high_);                                             \
        total_ = high_;                                                                      \
        for (int64_t r_ = 1; r_ < (rows); r_++) {                                            \
            memcpy(&v_, (x) + r_ * (stride) + (i), sizeof v_);                               \
            total_ += v_;                                                                    \
            const mask_xn wins_ = v_ > high_;                                                \
            high_ = (float_xn)(((mask_xn)v_ & wins_) | ((mask_xn)high_ & ~wins_));           \
        }                                                                                    \
        memcpy((sum) + (i), &total_, sizeof total_);                                         \
        memcpy((top) + (i), &high_, sizeof high_);                                           \
    } while (0)

/* Down each of n columns of `rows` rows: the sum and the maximum, 16 or 8 columns at a time.
 * The last block of columns overlaps the one before rather than leaving a scalar tail; a
 * column's sum does not depend on its neighbours. The maximum may miss a NaN, but a NaN
 * anywhere in a window makes its sum, and so its output, NaN. */
INLINED void reduce_columns(const float *x, int64_t stride, int64_t rows, int64_t n,
                            float *restrict sum, float *restrict top)
{
    if (n >= 16) {
        for (int64_t i = 0; i < n; i += 16) {
            const int64_t at = i + 16 <= n ? i : n - 16;
            REDUCE_LANES(float_x16, mask_x16, x, stride, rows, at, sum, top);
        }
        return;
    }
    if (n >= 8) {
        for (int64_t i = 0; i < n; i += 8) {
            const int64_t at = i + 8 <= n ? i : n - 8;
            REDUCE_LANES(float_x8, mask_x8, x, stride, rows, at, sum, top);
        }
        return;
    }
    for (int64_t i = 0; i < n; i++) {
        float total = x[i], high = x[i];
        for (int64_t r = 1; r < rows; r++) {
            const float v = x[r * stride + i];
            total += v;
            high = v > high ? v : high;
        }
        sum[i] = total, top[i] = high;
    }
}

/* One output row from the band of `window` input rows starting at x: reduced down the
 * columns along the whole row, then across each window's columns. */
INLINED void band(const ad_sdn_job *j, const float *x, float *y, float *sum, float *top)
{
    const float area = (float)(j->window * j->window);
    reduce_columns(x, j->width, j->window, j->out_w * j->window, sum, top);
    for (int64_t ow = 0; ow < j->out_w; ow++) {
        const float *s = sum + ow * j->window, *t = top + ow * j->window;
        float total = s[0], best = t[0];
        for (int64_t i = 1; i < j->window; i++) {
            total += s[i];
            best = t[i] > best ? t[i] : best;
        }
        const float avg = total / area;
        const float diff = best + -avg;
        y[ow] = avg + diff * j->alpha;
    }
}

/* A window of one cell is its own max and average: the same operations reduce to
 * v + (v + -v) alpha, which keeps inf and NaN as the general path does and vectorises. */
INLINED void single_cells(const ad_sdn_job *j, const float *restrict x, float *restrict y,
                          int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        y[i] = x[i] + (x[i] + -x[i]) * j->alpha;
}

/* One plane x [height][width] into y [out_h][out_w]. */
INLINED void pool_plane(const ad_sdn_job *j, const float *x, float *y, float *sums,
                        float *maxima)
{
    if (j->window == 1) {
        single_cells(j, x, y, j->height * j->width);
        return;
    }
    for (int64_t oh = 0; oh < j->out_h; oh++)
        band(j, x + oh * j->window * j->width, y + oh * j->out_w, sums, maxima);
}

/* The planes of slots [begin, end), each slot with its own column buffers. */
AD_VECTOR_CLONES
static void pool_slots(void *arg, int64_t begin, int64_t end)
{
    const ad_sdn_job *j = arg;
    const int64_t first = begin * j->planes / j->slots, last = end * j->planes / j->slots;
    for (int64_t p = first; p < last; p++)
        pool_plane(j, j->x + p * j->height * j->width, j->y + p * j->out_h * j->out_w,
                   j->sums + begin * j->stride, j->maxima + begin * j->stride);
}

/* The job for x [n, c, height, width] into y [n, c * out_h * out_w]; slots, buffers to come. */
static ad_sdn_job job_of(const adapt_head *h, const float *x, int64_t n, int64_t c,
                      int64_t height, int64_t width, float *y)
{
    ad_sdn_job j = {x, y, height, width, height / h->window, width / h->window, h->window,
                 h->alpha->data[0], n * c, 0, 0, NULL, NULL};
    j.stride = (j.out_w * j.window + 15) / 16 * 16;
    return j;
}

adapt_status ad_sdn_pool_untaped(adapt_tensor **out, adapt_context *ctx, const adapt_head *h,
                                 adapt_tensor *x)
{
    const int64_t n = x->shape[0], c = x->shape[1];
    ad_sdn_job j = job_of(h, x->data, n, c, x->shape[2], x->shape[3], NULL);
    const int64_t grain = 1 + 16384 / (j.height * j.width); /* planes worth a thread */
    j.slots = ad_pool_ranges(j.planes, grain, ctx->n_threads);
    const size_t row = (size_t)(j.stride * j.slots);
    adapt_tensor *y;
    adapt_status st = ad_tensor_new(&y, ctx, 2, (int64_t[]){n, c * j.out_h * j.out_w});
    const ad_arena_mark mark = ad_arena_mark_now(&ctx->arena);
    if (!st)
        st = ad_scratch((void **)&j.sums, ctx, row * sizeof *j.sums, "adapt_head");
    if (!st)
        st = ad_scratch((void **)&j.maxima, ctx, row * sizeof *j.maxima, "adapt_head");
    if (!st) {
        j.y = y->data;
        ad_pool_for(ctx->pool, j.slots, 1, pool_slots, &j);
        *out = y;
    }
    ad_arena_rewind(&ctx->arena, mark);
    return st;
}

/* The sink's scratch: one slot's column sums, then its maxima. */
AD_VECTOR_CLONES
static void pool_handed_plane(void *arg, int64_t n, int64_t c, const float *plane,
                              void *scratch)
{
    const ad_sdn_plane_pool *p = arg;
    const ad_sdn_job *j = &p->job;
    float *sums = scratch;
    pool_plane(j, plane, j->y + (n * p->channels + c) * j->out_h * j->out_w, sums,
               sums + j->stride);
}

void ad_sdn_plane_pool_init(ad_sdn_plane_pool *p, const adapt_head *h, int64_t channels,
                            int64_t height, int64_t width, float *y)
{
    p->job = job_of(h, NULL, 0, channels, height, width, y);
    p->channels = channels;
    p->sink = (ad_conv_sink){pool_handed_plane, p,
                             (size_t)p->job.stride * 2 * sizeof(float)};
}
