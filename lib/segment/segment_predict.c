/* adapt_segmentation_predict: each pixel's class, the argmax of the model's scores, batch by
 * batch in an inference context. */
#include <string.h>

#include "lib/core/context.h"
#include "lib/core/error.h"
#include "lib/core/tensor.h"
#include "lib/models/model_impl.h"
#include "lib/segment/segment.h"

static const char *const fn = "adapt_segmentation_predict";

enum { PREDICT_BATCH = 32 };

static adapt_status predict(int32_t *masks, adapt_model *model, const float *images, int64_t n,
                            int32_t n_threads)
{
    ad_dims in, out;
    adapt_status st = ad_segmenter_shapes(&in, &out, model, fn);
    if (!st && (!masks || !images || n < 0 || n_threads < 0))
        st = ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: NULL masks or images, n < 0 or "
                     "n_threads < 0", fn);
    const int64_t image = st ? 0 : ad_dims_numel(&in), pixels = st ? 0 : out.d[1] * out.d[2];
    if (!st && (n > INT64_MAX / image || n > INT64_MAX / pixels))
        st = ad_fail(ADAPT_ERR_OVERFLOW, "%s: %lld images", fn, (long long)n);
    adapt_context_params cp;
    adapt_context_params_init(&cp, sizeof cp);
    cp.n_threads = n_threads;
    adapt_context *ctx = NULL;
    if (!st && n > 0)
        st = adapt_context_create(&ctx, &cp);
    for (int64_t start = 0; !st && start < n; start += PREDICT_BATCH) {
        const int64_t m = n - start < PREDICT_BATCH ? n - start : PREDICT_BATCH;
        const int64_t shape[] = {m, in.d[0], in.d[1], in.d[2]};
        adapt_tensor *x = NULL, *y = NULL;
        adapt_context_reset(ctx);
        st = ad_tensor_new(&x, ctx, 4, shape);
        if (!st) {
            memcpy(x->data, images + start * image, (size_t)(m * image) * sizeof(float));
            if (!ad_all_finite(x->data, x->numel))
                st = ad_fail(ADAPT_ERR_NONFINITE, "%s: the images hold NaN or infinity", fn);
        }
        if (!st)
            st = ad_model_forward(&y, ctx, model, x);
        if (!st)
            ad_argmax_pixels(masks + start * pixels, y->data, m, out.d[0], pixels);
    }
    adapt_context_free(ctx);
    return st;
}

adapt_status adapt_segmentation_predict(int32_t *masks, adapt_model *model, const float *images,
                                        int64_t n, int32_t n_threads)
{
    ad_hold hold;
    adapt_status st = ad_model_enter(&hold, model, AD_READ, fn);
    if (!st)
        st = predict(masks, model, images, n, n_threads);
    ad_busy_leave(&hold);
    return ad_prefix(st, fn);
}
