/* SDN pooling without a tape: max and average of each window in one pass over the input,
 * mixed as avg + alpha (max - avg) with the very operations, in the same order, that the taped
 * chain of ops in head_forward.c performs, so both paths give the same bits. In inference this
 * pooling reads the largest activation a head sees; done as six ops it cost more time than
 * the rest of the head. */
#include "lib/adaptive/head.h"

#include <math.h>

#include "lib/core/context.h"
#include "lib/core/tensor.h"
#include "lib/core/threads.h"

typedef struct {
    const float *x;
    float *y;
    int64_t height, width, out_h, out_w, window;
    float alpha;
} sdn_job;

#define COLUMNS 32 /* output columns pooled side by side */

/* Output columns [first, first + n) of one row of windows whose top input row is `x`. Each
 * window sums its cells in double in row-major order, as pool.c does, and takes the first
 * maximum with NaN propagating; the windows advance together, cell by cell, so that their
 * independent sums overlap instead of waiting on each other. */
static void window_row(const sdn_job *j, const float *x, float *y, int64_t first, int64_t n)
{
    double sum[COLUMNS] = {0};
    float best[COLUMNS];
    for (int64_t c = 0; c < n; c++)
        best[c] = -INFINITY;
    for (int64_t iy = 0; iy < j->window; iy++)
        for (int64_t ix = 0; ix < j->window; ix++) {
            const float *cell = x + iy * j->width + first * j->window + ix;
            for (int64_t c = 0; c < n; c++) {
                const float v = cell[c * j->window];
                sum[c] += v;
                best[c] = v > best[c] || v != v ? v : best[c];
            }
        }
    const double area = (double)j->window * (double)j->window;
    for (int64_t c = 0; c < n; c++) {
        const float avg = (float)(sum[c] / area);
        const float diff = best[c] + -avg;
        y[first + c] = avg + diff * j->alpha;
    }
}

/* A window of one cell is its own max and average: the same operations reduce to
 * v + (v + -v) alpha, which keeps inf and NaN as the general path does and vectorises. */
static void single_cells(const sdn_job *j, const float *restrict x, float *restrict y,
                         int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        y[i] = x[i] + (x[i] + -x[i]) * j->alpha;
}

static void planes(void *arg, int64_t begin, int64_t end)
{
    const sdn_job *j = arg;
    if (j->window == 1) {
        const int64_t plane = j->height * j->width;
        single_cells(j, j->x + begin * plane, j->y + begin * plane, (end - begin) * plane);
        return;
    }
    for (int64_t p = begin; p < end; p++) {
        const float *x = j->x + p * j->height * j->width;
        float *y = j->y + p * j->out_h * j->out_w;
        for (int64_t oh = 0; oh < j->out_h; oh++)
            for (int64_t first = 0; first < j->out_w; first += COLUMNS)
                window_row(j, x + oh * j->window * j->width, y + oh * j->out_w, first,
                           j->out_w - first < COLUMNS ? j->out_w - first : COLUMNS);
    }
}

adapt_status ad_sdn_pool_untaped(adapt_tensor **out, adapt_context *ctx, const adapt_head *h,
                                 adapt_tensor *x)
{
    const int64_t n = x->shape[0], c = x->shape[1];
    sdn_job j = {x->data, NULL, x->shape[2], x->shape[3], x->shape[2] / h->window,
                 x->shape[3] / h->window, h->window, h->alpha->data[0]};
    adapt_tensor *y;
    adapt_status st = ad_tensor_new(&y, ctx, 2, (int64_t[]){n, c * j.out_h * j.out_w});
    if (st)
        return st;
    j.y = y->data;
    const int64_t grain = 1 + 16384 / (j.height * j.width); /* planes worth a thread */
    ad_pool_for(ctx->pool, n * c, grain, planes, &j);
    *out = y;
    return ADAPT_OK;
}
