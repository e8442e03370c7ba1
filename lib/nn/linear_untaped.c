/* A linear layer without a tape. Nothing reads the product before its bias and activation
 * are applied, so the output is finished in place, in the pass that produced it where the
 * strategy allows, instead of three tensors and three passes. Four strategies, by shape,
 * from measurements on two cores (docs/benchmarks.md):
 *  - at most 16 outputs (classifiers, early-exit heads): the narrow kernel over blocks of
 *    rows, each block finished while warm (gemm_narrow.h; not for the reference backend);
 *  - 16-512 rows and large weights: a oneDNN matmul primitive with bias and activation
 *    fused (linear_onednn.h);
 *  - up to 256 rows otherwise: the output columns split over the threads, each block one
 *    single-threaded GEMM over its own weight rows followed by its epilogue while warm —
 *    at these shapes a threaded sgemm leaves a core idle much of the time;
 *  - more rows: one threaded GEMM, then the epilogue over ranges of rows. */
#include "lib/nn/linear.h"

#include <stdatomic.h>

#include "lib/core/context.h"
#include "lib/core/error.h"
#include "lib/core/tensor.h"
#include "lib/kernels/gemm.h"
#include "lib/kernels/gemm_narrow.h"
#include "lib/kernels/linear_onednn.h"

#define COLUMN_SPLIT_MAX_ROWS 256
#define COLUMN_BLOCK 16 /* columns per unit of work: whole vector registers */

typedef struct {
    adapt_backend backend;
    ad_gemm_args g; /* the whole product */
    const float *bias;
    ad_act act;
    atomic_int status;
} linear_job;

static void epilogue_rows(void *arg, int64_t begin, int64_t end)
{
    const linear_job *j = arg;
    ad_bias_act_rows(end - begin, j->g.n, j->g.ldc, j->bias, j->act, j->g.c + begin * j->g.ldc);
}

static void column_blocks(void *arg, int64_t begin, int64_t end)
{
    linear_job *j = arg;
    const int64_t first = begin * COLUMN_BLOCK;
    const int64_t last = end * COLUMN_BLOCK < j->g.n ? end * COLUMN_BLOCK : j->g.n;
    ad_gemm_args g = j->g;
    g.n = last - first, g.b += first * g.ldb, g.c += first;
    adapt_status st = ad_gemm(j->backend, 1, &g);
    if (st)
        atomic_store(&j->status, st);
    else if (j->bias || j->act != AD_ACT_NONE)
        ad_bias_act_rows(g.m, g.n, g.ldc, j->bias ? j->bias + first : NULL, j->act, g.c);
}

static bool splits_columns(const adapt_context *ctx, const ad_gemm_args *g)
{
    return ctx->pool && ad_gemm_concurrent(ctx->backend) && g->m <= COLUMN_SPLIT_MAX_ROWS &&
           g->n >= 2 * COLUMN_BLOCK * ctx->n_threads && ad_gemm_threads(g, ctx->n_threads) > 1;
}

static adapt_status run(adapt_context *ctx, linear_job *j)
{
    const ad_gemm_args *g = &j->g;
    if (splits_columns(ctx, g)) {
        ad_pool_for(ctx->pool, (g->n + COLUMN_BLOCK - 1) / COLUMN_BLOCK, 1, column_blocks, j);
        const adapt_status st = atomic_load(&j->status);
        return st ? ad_fail(st, "linear layer: a GEMM of a column block failed (%s)",
                            adapt_status_string(st))
                  : ADAPT_OK;
    }
    adapt_status st = ad_gemm(ctx->backend, ctx->n_threads, g);
    if (!st && (j->bias || j->act != AD_ACT_NONE)) {
        const int64_t grain = (32768 + g->n - 1) / g->n; /* rows worth a thread */
        ad_pool_for(ctx->pool, g->m, grain, epilogue_rows, j);
    }
    return st;
}

adapt_status ad_linear_forward_untaped(adapt_tensor **out, adapt_context *ctx,
                                       const ad_linear *l, adapt_tensor *x, ad_act act)
{
    const int64_t rows = x->numel / l->in_features, cols = l->out_features;
    linear_job j = {ctx->backend,
                    {.trans_b = true, .m = rows, .n = cols, .k = l->in_features,
                     .alpha = 1.0f, .a = x->data, .lda = l->in_features,
                     .b = l->weight->data, .ldb = l->in_features, .ldc = cols},
                    l->bias ? l->bias->data : NULL, act, ADAPT_OK};
    int64_t shape[ADAPT_MAX_DIMS];
    for (int32_t i = 0; i < x->ndim - 1; i++)
        shape[i] = x->shape[i];
    shape[x->ndim - 1] = cols;
    adapt_tensor *y = NULL;
    adapt_status st = ad_gemm_check_sizes(&j.g, "adapt_op_matmul");
    if (!st)
        st = ad_tensor_new(&y, ctx, x->ndim, shape);
    if (st)
        return st;
    j.g.c = y->data;
    st = ADAPT_ERR_UNSUPPORTED;
    if (ad_gemm_narrow_suits(ctx->backend, &j.g)) {
        const ad_narrow_product p = {rows, cols, j.g.k, x->data, l->weight->data, j.bias, act,
                                     y->data, cols};
        ad_gemm_narrow(ctx, &p);
        st = ADAPT_OK;
    } else if (ad_onednn_linear_suits(ctx->backend, rows, cols, j.g.k)) {
        const ad_linear_args a = {rows, cols, j.g.k, x->data, l->weight->data, j.bias, act,
                                  y->data};
        st = ad_onednn_linear(ctx->n_threads, &a, &ctx->arena);
    }
    if (st == ADAPT_ERR_UNSUPPORTED) /* not taken, or no oneDNN kernel for it */
        st = run(ctx, &j);
    if (!st)
        *out = y;
    return st;
}
