/* SDN pooling without a tape: max and average of each window in one pass over the input,
 * mixed as avg + alpha (max - avg) with the operations of the taped chain of ops in
 * lib/adaptive/head_forward.c. In inference this pooling reads the largest activation a head
 * sees; done as six ops it cost more time than the rest of the head. Window sums are taken in
 * float in the avg-pool op's order (lib/ops/pool.c): down each column, then across the
 * columns, so the bits are the op's; the columns go side by side in vector registers. */
#include "lib/kernels/sdn_pool.h"

#include <math.h>
#include <string.h>

#include "lib/kernels/vector_math.h"

/* Helpers of the dispatched function below go into each of its builds. */
#define INLINED static inline __attribute__((always_inline))

typedef float float_x16 __attribute__((vector_size(64)));
typedef float float_x8 __attribute__((vector_size(32)));

#define BANDS 4 /* bands reduced side by side, so that their chains of operations overlap */

/* Defines name(j, x, first, at, sum, top): columns [at, at + lanes) of bands first ..
 * first + BANDS of plane x, each band's columns summed and maxed down its rows (lane by lane
 * v > high ? v : high, as the scalar loop below takes it) into row `band` of sum and top
 * [out_h][stride]. Past the last band the last is repeated and stores what it stored. A
 * macro, so that one text serves both vector widths. */
#define DEFINE_BAND_COLUMNS(name, float_xn)                                                   \
    INLINED void name(const ad_sdn_job *j, const float *x, int64_t first, int64_t at,        \
                      float *sum, float *top)                                                \
    {                                                                                        \
        float_xn total[BANDS], high[BANDS];                                                  \
        int64_t band[BANDS];                                                                 \
        for (int b = 0; b < BANDS; b++) {                                                    \
            band[b] = first + b < j->out_h ? first + b : j->out_h - 1;                       \
            memcpy(&high[b], x + band[b] * j->window * j->width + at, sizeof high[b]);      \
            total[b] = high[b];                                                              \
        }                                                                                    \
        for (int64_t r = 1; r < j->window; r++)                                              \
            for (int b = 0; b < BANDS; b++) {                                                \
                float_xn v;                                                                  \
                memcpy(&v, x + (band[b] * j->window + r) * j->width + at, sizeof v);         \
                total[b] += v;                                                               \
                for (int l = 0; l < (int)(sizeof v / sizeof(float)); l++) /* one maxps */   \
                    high[b][l] = v[l] > high[b][l] ? v[l] : high[b][l];                      \
            }                                                                                \
        for (int b = 0; b < BANDS; b++) {                                                    \
            memcpy(sum + band[b] * j->stride + at, &total[b], sizeof total[b]);              \
            memcpy(top + band[b] * j->stride + at, &high[b], sizeof high[b]);                \
        }                                                                                    \
    }

DEFINE_BAND_COLUMNS(band_columns16, float_x16)
DEFINE_BAND_COLUMNS(band_columns8, float_x8)

/* Column i of band `band`, one cell at a time, for bands narrower than a vector. */
INLINED void band_column(const ad_sdn_job *j, const float *x, int64_t band, int64_t i,
                         float *sum, float *top)
{
    const float *cell = x + band * j->window * j->width + i;
    float total = cell[0], high = cell[0];
    for (int64_t r = 1; r < j->window; r++) {
        const float v = cell[r * j->width];
        total += v;
        high = v > high ? v : high;
    }
    sum[band * j->stride + i] = total, top[band * j->stride + i] = high;
}

/* Down the columns of every band of plane x: sums and maxima into sum and top [out_h][stride],
 * 16 or 8 columns at a time. The last block of columns overlaps the one before rather than
 * leaving a scalar tail; a column's sum does not depend on its neighbours. The maximum may
 * miss a NaN, but a NaN anywhere in a window makes its sum, and so its output, NaN. */
INLINED void reduce_columns(const ad_sdn_job *j, const float *x, float *restrict sum,
                            float *restrict top)
{
    const int64_t n = j->out_w * j->window;
    for (int64_t first = 0; first < j->out_h; first += BANDS) {
        if (n >= 16)
            for (int64_t i = 0; i < n; i += 16)
                band_columns16(j, x, first, i + 16 <= n ? i : n - 16, sum, top);
        else if (n >= 8)
            for (int64_t i = 0; i < n; i += 8)
                band_columns8(j, x, first, i + 8 <= n ? i : n - 8, sum, top);
        else
            for (int64_t b = first; b < first + BANDS && b < j->out_h; b++)
                for (int64_t i = 0; i < n; i++)
                    band_column(j, x, b, i, sum, top);
    }
}

#define WINDOWS 4 /* windows summed side by side, so that their chains of additions overlap */

/* Outputs first .. first + WINDOWS of a band from its column sums and maxima: across each
 * window's columns, left to right. Past the band's last window the last one is repeated
 * and not stored. */
INLINED void across(const ad_sdn_job *j, const float *sum, const float *top, int64_t first,
                    float *y)
{
    const float area = (float)(j->window * j->window);
    float total[WINDOWS], best[WINDOWS];
    int64_t col[WINDOWS];
    for (int o = 0; o < WINDOWS; o++) {
        col[o] = (first + o < j->out_w ? first + o : j->out_w - 1) * j->window;
        total[o] = sum[col[o]], best[o] = top[col[o]];
    }
    for (int64_t i = 1; i < j->window; i++)
        for (int o = 0; o < WINDOWS; o++) {
            total[o] += sum[col[o] + i];
            best[o] = top[col[o] + i] > best[o] ? top[col[o] + i] : best[o];
        }
    for (int o = 0; o < WINDOWS && first + o < j->out_w; o++) {
        const float avg = total[o] / area;
        const float diff = best[o] + -avg;
        y[first + o] = avg + diff * j->alpha;
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
    reduce_columns(j, x, sums, maxima);
    for (int64_t oh = 0; oh < j->out_h; oh++)
        for (int64_t first = 0; first < j->out_w; first += WINDOWS)
            across(j, sums + oh * j->stride, maxima + oh * j->stride, first, y + oh * j->out_w);
}

AD_VECTOR_CLONES
static void pool_slots(void *arg, int64_t begin, int64_t end)
{
    const ad_sdn_job *j = arg;
    const int64_t first = begin * j->planes / j->slots, last = end * j->planes / j->slots;
    for (int64_t p = first; p < last; p++)
        pool_plane(j, j->x + p * j->height * j->width, j->y + p * j->out_h * j->out_w,
                   j->sums + begin * j->out_h * j->stride,
                   j->maxima + begin * j->out_h * j->stride);
}

AD_VECTOR_CLONES
static void pool_handed_plane(void *arg, int64_t n, int64_t c, const float *plane,
                              void *scratch)
{
    const ad_sdn_plane_pool *p = arg;
    const ad_sdn_job *j = &p->job;
    float *sums = scratch;
    pool_plane(j, plane, j->y + (n * p->channels + c) * j->out_h * j->out_w, sums,
               sums + j->out_h * j->stride);
}

/* Plain functions around the cloned ones: GCC exports the dispatcher of an external clone. */
void ad_sdn_pool_slots(void *arg, int64_t begin, int64_t end)
{
    pool_slots(arg, begin, end);
}

void ad_sdn_pool_plane(void *arg, int64_t n, int64_t c, const float *plane, void *scratch)
{
    pool_handed_plane(arg, n, c, plane, scratch);
}
