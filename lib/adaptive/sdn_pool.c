/* SDN pooling without a tape for a head: its window and mixing weight handed to the kernel
 * (lib/kernels/sdn_pool.c), over a whole batch or plane by plane as a convolution makes them. */
#include "lib/adaptive/head.h"

#include "lib/core/context.h"
#include "lib/core/tensor.h"
#include "lib/core/threads.h"

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
    const size_t row = (size_t)(j.out_h * j.stride * j.slots);
    adapt_tensor *y;
    adapt_status st = ad_tensor_new(&y, ctx, 2, (int64_t[]){n, c * j.out_h * j.out_w});
    const ad_arena_mark mark = ad_arena_mark_now(&ctx->arena);
    if (!st)
        st = ad_scratch((void **)&j.sums, ctx, row * sizeof *j.sums, "adapt_head");
    if (!st)
        st = ad_scratch((void **)&j.maxima, ctx, row * sizeof *j.maxima, "adapt_head");
    if (!st) {
        j.y = y->data;
        ad_pool_for(ctx->pool, j.slots, 1, ad_sdn_pool_slots, &j);
        *out = y;
    }
    ad_arena_rewind(&ctx->arena, mark);
    return st;
}

void ad_sdn_plane_pool_init(ad_sdn_plane_pool *p, const adapt_head *h, int64_t channels,
                            int64_t height, int64_t width, float *y)
{
    p->job = job_of(h, NULL, 0, channels, height, width, y);
    p->channels = channels;
    p->sink = (ad_conv_sink){
        .plane = ad_sdn_pool_plane, .arg = p,
        .scratch_bytes = (size_t)(p->job.out_h * p->job.stride) * 2 * sizeof(float)};
}
