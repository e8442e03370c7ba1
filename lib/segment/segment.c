/* The checks every segmentation call shares (segment.h). */
#include "lib/segment/segment.h"

#include "lib/core/error.h"
#include "lib/models/model_impl.h"

adapt_status ad_segmenter_shapes(ad_dims *in, ad_dims *out, const adapt_model *model,
                                 const char *caller)
{
    if (!model || !model->n_blocks)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: %s", caller,
                       model ? "the model has no blocks yet" : "model is NULL");
    *in = model->input, *out = ad_model_tail(model);
    if (in->ndim == 3 && out->ndim == 3)
        return ADAPT_OK;
    char a[160], b[160];
    return ad_fail(ADAPT_ERR_SHAPE, "%s: the model maps %s to %s per sample, not images "
                   "[C, H, W] to class scores [K, H', W']", caller,
                   ad_dims_str(in, a, sizeof a), ad_dims_str(out, b, sizeof b));
}

void ad_argmax_pixels(int32_t *labels, const float *scores, int64_t m, int64_t k, int64_t p)
{
    for (int64_t i = 0; i < m; i++) {
        const float *s = scores + i * k * p;
        for (int64_t j = 0; j < p; j++) {
            int32_t best = 0;
            for (int64_t c = 1; c < k; c++)
                if (s[c * p + j] > s[best * p + j])
                    best = (int32_t)c;
            labels[i * p + j] = best;
        }
    }
}
