/* A linear layer without a tape. Nothing reads the product before its bias and activation
 * are applied, so the output is finished in place, in the pass that produced it, instead of
 * three tensors and three passes. Two strategies, by shape:
 *  - at most 16 outputs (classifiers, early-exit heads): the narrow kernel over blocks of
 *    rows, each block finished while warm (gemm_narrow.h; not for the reference backend);
 *  - otherwise the product split over the pool, each part finished by the thread that
 *    made it (gemm_split.c). */
#include "lib/nn/linear.h"

#include "lib/core/context.h"
#include "lib/core/error.h"
#include "lib/core/tensor.h"
#include "lib/kernels/gemm.h"
#include "lib/kernels/gemm_narrow.h"

typedef struct {
    const float *bias;
    ad_act act;
} linear_finish;

static void finish_part(void *arg, int64_t row, int64_t col, const ad_gemm_args *part)
{
    (void)row;
    const linear_finish *f = arg;
    ad_bias_act_rows(part->m, part->n, part->ldc, f->bias ? f->bias + col : NULL, f->act,
                     part->c);
}

adapt_status ad_linear_product(adapt_context *ctx, const adapt_tensor *weight,
                               const adapt_tensor *bias, const adapt_tensor *x, ad_act act,
                               float *y)
{
    const int64_t in = weight->shape[1], rows = x->numel / in, cols = weight->shape[0];
    ad_gemm_args g = {.trans_b = true, .m = rows, .n = cols, .k = in, .alpha = 1.0f,
                      .a = x->data, .lda = in, .b = weight->data, .ldb = in, .c = y,
                      .ldc = cols};
    linear_finish f = {bias ? bias->data : NULL, act};
    adapt_status st = ad_gemm_check_sizes(&g, "adapt_op_matmul");
    if (st)
        return st;
    if (ad_gemm_narrow_suits(ctx->backend, &g)) {
        ad_gemm_narrow(ctx, &(ad_narrow_product){rows, cols, in, x->data, weight->data, f.bias,
                                                 act, y, cols});
        return ADAPT_OK;
    }
    const bool finishes = f.bias || act != AD_ACT_NONE;
    return ad_gemm_pooled(ctx->pool, ctx->backend, &g, finishes ? finish_part : NULL, &f);
}

adapt_status ad_linear_output(adapt_tensor **y, adapt_context *ctx, const adapt_tensor *x,
                              int64_t out_features)
{
    int64_t shape[ADAPT_MAX_DIMS];
    for (int32_t i = 0; i < x->ndim - 1; i++)
        shape[i] = x->shape[i];
    shape[x->ndim - 1] = out_features;
    return ad_tensor_new(y, ctx, x->ndim, shape);
}

adapt_status ad_linear_forward_untaped(adapt_tensor **out, adapt_context *ctx,
                                       const ad_linear *l, adapt_tensor *x, ad_act act)
{
    adapt_tensor *y = NULL;
    adapt_status st = ad_linear_output(&y, ctx, x, l->out_features);
    if (!st)
        st = ad_linear_product(ctx, l->weight, l->bias, x, act, y->data);
    if (!st)
        *out = y;
    return st;
}
