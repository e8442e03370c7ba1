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

/* One window: first maximum wins and NaN propagates, the sum is in double (as pool.c). */
static float mix_window(const sdn_job *j, const float *x)
{
    float best = -INFINITY;
    double sum = 0.0;
    for (int64_t iy = 0; iy < j->window; iy++)
        for (int64_t ix = 0; ix < j->window; ix++) {
            const float v = x[iy * j->width + ix];
            if (v > best || isnan(v))
                best = v;
            sum += v;
        }
    const float avg = (float)(sum / ((double)j->window * (double)j->window));
    const float diff = best + -avg;
    return avg + diff * j->alpha;
}

static void planes(void *arg, int64_t begin, int64_t end)
{
    const sdn_job *j = arg;
    for (int64_t p = begin; p < end; p++) {
        const float *x = j->x + p * j->height * j->width;
        float *y = j->y + p * j->out_h * j->out_w;
        for (int64_t oh = 0; oh < j->out_h; oh++)
            for (int64_t ow = 0; ow < j->out_w; ow++)
                y[oh * j->out_w + ow] =
                    mix_window(j, x + oh * j->window * j->width + ow * j->window);
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
