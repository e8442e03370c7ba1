/* A linear layer on the tape as one record: y = act(x W^T + b). Taped as three
 * operations (product, bias, activation) it kept three tensors of the output's
 * size; as one it keeps y alone, and for GELU also the pre-activation z, whose
 * derivative needs it. Forward values are those of the three operations: the
 * same product and the same epilogue arithmetic (epilogue.h). */
#include <string.h>

#include "lib/core/arena.h"
#include "lib/kernels/elementwise.h"
#include "lib/kernels/gemm.h"
#include "lib/nn/linear.h"
#include "lib/ops/op.h"

typedef struct {
    ad_act act;
    adapt_tensor *z; /* GELU's pre-activation, else NULL */
    int64_t rows, in, out;
} linear_record;

/* Below this many elements a pass runs on the calling thread. */
#define ELEMENTWISE_GRAIN 16384
#define BIAS_COLUMNS 64 /* columns of the bias gradient per range */

typedef struct {
    const linear_record *r;
    const float *y, *dy;
    float *dz, *db;
} backward_job;

/* dz = dy * act'(.) over elements [begin, end). */
static void act_grad_range(void *arg, int64_t begin, int64_t end)
{
    const backward_job *j = arg;
    memset(j->dz + begin, 0, (size_t)(end - begin) * sizeof(float));
    if (j->r->act == AD_ACT_RELU) /* y > 0 exactly where z > 0 */
        ad_relu_backward(end - begin, j->y + begin, j->dy + begin, j->dz + begin);
    else
        ad_gelu_backward(end - begin, j->r->z->data + begin, j->dy + begin, j->dz + begin);
}

/* db[c] += sum over rows of dz[., c] for column blocks [begin, end), rows in order. */
static void bias_grad_range(void *arg, int64_t begin, int64_t end)
{
    const backward_job *j = arg;
    const int64_t first = begin * BIAS_COLUMNS, out = j->r->out;
    const int64_t last = end * BIAS_COLUMNS < out ? end * BIAS_COLUMNS : out;
    for (int64_t r = 0; r < j->r->rows; r++)
        for (int64_t c = first; c < last; c++)
            j->db[c] += j->dz[r * out + c];
}

/* dx += dz W and dW += dz^T x. */
static adapt_status weight_and_input_grads(adapt_context *ctx, const linear_record *r,
                                           const float *dz, const adapt_tensor *x,
                                           const adapt_tensor *w, float *dx, float *dw)
{
    adapt_status st = ADAPT_OK;
    if (dx)
        st = ad_gemm_pooled(ctx->pool, ctx->backend,
                            &(ad_gemm_args){.m = r->rows, .n = r->in, .k = r->out,
                                            .alpha = 1.0f, .a = dz, .lda = r->out,
                                            .b = w->data, .ldb = r->in, .beta = 1.0f,
                                            .c = dx, .ldc = r->in},
                            NULL, NULL);
    if (!st && dw)
        st = ad_gemm_pooled(ctx->pool, ctx->backend,
                            &(ad_gemm_args){.trans_a = true, .m = r->out, .n = r->in,
                                            .k = r->rows, .alpha = 1.0f, .a = dz,
                                            .lda = r->out, .b = x->data, .ldb = r->in,
                                            .beta = 1.0f, .c = dw, .ldc = r->in},
                            NULL, NULL);
    return st;
}

static adapt_status linear_backward(adapt_context *ctx, const ad_node *node)
{
    const linear_record *r = node->saved;
    adapt_tensor *x = node->in[0], *w = node->in[1], *b = node->in[2];
    float *dx, *dw, *db;
    adapt_status st = ad_grad(&dx, ctx, x);
    if (!st)
        st = ad_grad(&dw, ctx, w);
    if (!st)
        st = ad_grad(&db, ctx, b);
    if (st)
        return st;
    const int64_t n = r->rows * r->out;
    backward_job j = {r, node->out->data, node->out->pass_grad, node->out->pass_grad, db};
    const ad_arena_mark mark = ad_arena_mark_now(&ctx->arena);
    if (r->act != AD_ACT_NONE) {
        st = ad_scratch((void **)&j.dz, ctx, (size_t)n * sizeof(float), "adapt_backward");
        if (!st)
            ad_pool_for(ctx->pool, n, ELEMENTWISE_GRAIN, act_grad_range, &j);
    }
    if (!st && db)
        ad_pool_for(ctx->pool, (r->out + BIAS_COLUMNS - 1) / BIAS_COLUMNS, 1, bias_grad_range,
                    &j);
    if (!st)
        st = weight_and_input_grads(ctx, r, j.dz, x, w, dx, dw);
    ad_arena_rewind(&ctx->arena, mark);
    return st;
}

typedef struct {
    const float *z;
    float *y;
} gelu_job;

static void gelu_range(void *arg, int64_t begin, int64_t end)
{
    const gelu_job *j = arg;
    ad_gelu_forward(end - begin, j->z + begin, j->y + begin);
}

adapt_status ad_linear_forward_taped(adapt_tensor **out, adapt_context *ctx,
                                     const ad_linear *l, adapt_tensor *x, ad_act act)
{
    linear_record r = {act, NULL, x->numel / l->in_features, l->in_features,
                       l->out_features};
    adapt_tensor *y = NULL;
    adapt_status st = ad_linear_output(&y, ctx, x, l->out_features);
    if (!st && act == AD_ACT_GELU)
        st = ad_linear_output(&r.z, ctx, x, l->out_features);
    if (!st)
        st = ad_linear_product(ctx, l->weight, l->bias, x, r.z ? AD_ACT_NONE : act,
                               r.z ? r.z->data : y->data);
    if (!st && r.z)
        ad_pool_for(ctx->pool, y->numel, ELEMENTWISE_GRAIN, gelu_range,
                    &(gelu_job){r.z->data, y->data});
    if (st)
        return st;
    adapt_tensor *in[] = {x, l->weight, l->bias};
    return ad_op_finish(out, ctx, "adapt_op_matmul", linear_backward, y, in, 3, &r, sizeof r);
}
