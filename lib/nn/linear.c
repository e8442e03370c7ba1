#include "lib/nn/linear.h"

#include "lib/autograd/tape.h"
#include "lib/core/context.h"
#include "lib/core/error.h"
#include "lib/kernels/gemm.h"
#include "lib/kernels/linear_onednn.h"
#include "lib/nn/dims.h"

adapt_status ad_linear_init(ad_linear *l, ad_param_list *params, const char *prefix,
                            int64_t in_features, int64_t out_features, bool bias)
{
    *l = (ad_linear){.in_features = in_features, .out_features = out_features};
    ad_init init = ad_init_fan_in(in_features);
    adapt_status st = ad_params_add(&l->weight, params, prefix, "weight", 2,
                                    (int64_t[]){out_features, in_features}, init);
    if (!st && bias)
        st = ad_params_add(&l->bias, params, prefix, "bias", 1, &out_features, init);
    return st;
}

/* The taped path: one op each, so that the backward pass sees them. */
static adapt_status forward_ops(adapt_tensor **out, adapt_context *ctx, const ad_linear *l,
                                adapt_tensor *x, ad_act act)
{
    adapt_tensor *y;
    adapt_status st = adapt_op_matmul(&y, ctx, x, l->weight, ADAPT_MATMUL_TRANS_B);
    if (!st && l->bias)
        st = adapt_op_add(&y, ctx, y, l->bias);
    if (!st && act == AD_ACT_RELU)
        st = adapt_op_relu(&y, ctx, y);
    if (!st && act == AD_ACT_GELU)
        st = adapt_op_gelu(&y, ctx, y);
    if (!st)
        *out = y;
    return st;
}

typedef struct {
    const float *bias;
    ad_act act;
    int64_t cols;
    float *y;
} epilogue_job;

static void epilogue_range(void *arg, int64_t begin, int64_t end)
{
    const epilogue_job *j = arg;
    ad_bias_act_rows(end - begin, j->cols, j->bias, j->act, j->y + begin * j->cols);
}

/* Without a tape the output can be finished in place: one GEMM, then bias
 * and activation in one pass, instead of three tensors and three passes. */
static adapt_status forward_fused(adapt_tensor **out, adapt_context *ctx, const ad_linear *l,
                                  adapt_tensor *x, ad_act act)
{
    const char *fn = "adapt_op_matmul";
    if (x->ndim < 1 || x->shape[x->ndim - 1] != l->in_features)
        return forward_ops(out, ctx, l, x, act); /* let the op report the shape */
    const int64_t rows = x->numel / l->in_features, cols = l->out_features;
    ad_gemm_args g = {.trans_b = true, .m = rows, .n = cols, .k = l->in_features,
                      .alpha = 1.0f, .a = x->data, .lda = l->in_features,
                      .b = l->weight->data, .ldb = l->in_features, .ldc = cols};
    int64_t shape[ADAPT_MAX_DIMS];
    for (int32_t i = 0; i < x->ndim - 1; i++)
        shape[i] = x->shape[i];
    shape[x->ndim - 1] = cols;
    adapt_tensor *y = NULL;
    adapt_status st = ad_gemm_check_sizes(&g, fn);
    if (!st)
        st = ad_tensor_new(&y, ctx, x->ndim, shape);
    if (!st && ad_onednn_linear_suits(ctx->backend, rows, cols, g.k)) {
        const ad_linear_args a = {rows, cols, g.k, x->data, l->weight->data,
                                  l->bias ? l->bias->data : NULL, act, y->data};
        st = ad_onednn_linear(ctx->n_threads, &a, &ctx->arena);
        if (st != ADAPT_ERR_UNSUPPORTED) {
            *out = st ? *out : y;
            return st;
        }
        st = ADAPT_OK;
    }
    if (!st)
        g.c = y->data, st = ad_gemm(ctx->backend, ctx->n_threads, &g);
    if (st)
        return st;
    if (l->bias || act != AD_ACT_NONE) {
        epilogue_job job = {l->bias ? l->bias->data : NULL, act, cols, y->data};
        const int64_t grain = (32768 + cols - 1) / cols; /* rows worth a thread */
        ad_pool_for(ctx->pool, rows, grain, epilogue_range, &job);
    }
    *out = y;
    return ADAPT_OK;
}

adapt_status ad_linear_forward_act(adapt_tensor **out, adapt_context *ctx, const ad_linear *l,
                                   adapt_tensor *x, ad_act act)
{
    adapt_tensor *in[] = {x, l->weight, l->bias};
    if (ad_tape_wants(ctx, in, 3))
        return forward_ops(out, ctx, l, x, act);
    adapt_status st = ad_check_tensor(ctx, x, "adapt_op_matmul", "a");
    return st ? st : forward_fused(out, ctx, l, x, act);
}

adapt_status ad_linear_forward(adapt_tensor **out, adapt_context *ctx, const ad_linear *l,
                               adapt_tensor *x)
{
    return ad_linear_forward_act(out, ctx, l, x, AD_ACT_NONE);
}

int64_t ad_linear_flops(const ad_linear *l, int64_t rows)
{
    return ad_mul_sat(ad_mul_sat(ad_mul_sat(2, rows), l->in_features), l->out_features);
}
