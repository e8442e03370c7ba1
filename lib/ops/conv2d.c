/* 2-D convolution as one GEMM per sample over the im2col column matrix:
 *   y[n] (Cout x OH*OW) = weight (Cout x Cin*KH*KW) * columns(x[n]).
 * A 1x1 kernel with stride 1 and no padding needs no unfolding: x[n] already
 * is its column matrix. Samples run one after another so that results do not
 * depend on the thread count; the GEMM is what uses the threads. */
#include "lib/kernels/gemm.h"
#include "lib/kernels/im2col.h"
#include "lib/ops/op.h"

typedef struct {
    ad_conv_geom g;
    int64_t batch, out_channels;
    int64_t rows; /* Cin * KH * KW: the GEMM's inner dimension */
    bool direct;  /* 1x1, stride 1, no padding: x[n] is used as the columns */
} conv_plan;

static int64_t out_plane(const conv_plan *p) { return p->g.out_h * p->g.out_w; }
static int64_t in_size(const conv_plan *p) { return p->g.channels * p->g.height * p->g.width; }
static int64_t out_size(const conv_plan *p) { return p->out_channels * out_plane(p); }

static adapt_status plan_geometry(conv_plan *p, const adapt_tensor *x, int32_t stride,
                                  int32_t padding, const char *fn)
{
    ad_conv_geom *g = &p->g;
    int64_t span_h = g->height + 2 * (int64_t)padding - g->kernel_h;
    int64_t span_w = g->width + 2 * (int64_t)padding - g->kernel_w;
    if (span_h < 0 || span_w < 0) {
        char sx[96];
        return ad_fail(ADAPT_ERR_SHAPE,
                       "%s: input %s padded by %d is smaller than the %lldx%lld kernel", fn,
                       ad_shape_str(x, sx, sizeof sx), (int)padding, (long long)g->kernel_h,
                       (long long)g->kernel_w);
    }
    g->out_h = span_h / stride + 1;
    g->out_w = span_w / stride + 1;
    p->direct = g->kernel_h == 1 && g->kernel_w == 1 && stride == 1 && padding == 0;
    if (g->out_h > INT64_MAX / g->out_w ||
        p->rows > INT64_MAX / (int64_t)sizeof(float) / out_plane(p))
        return ad_fail(ADAPT_ERR_OVERFLOW,
                       "%s: column matrix of %lld rows by %lld x %lld outputs does not fit", fn,
                       (long long)p->rows, (long long)g->out_h, (long long)g->out_w);
    ad_gemm_args sizes = {.m = p->out_channels, .n = out_plane(p), .k = p->rows,
                          .lda = p->rows, .ldb = out_plane(p), .ldc = out_plane(p)};
    return ad_gemm_check_sizes(&sizes, fn);
}

static adapt_status plan_conv(conv_plan *p, const adapt_tensor *x, const adapt_tensor *w,
                              const adapt_tensor *bias, int32_t stride, int32_t padding,
                              const char *fn)
{
    char sx[96], sw[96], sb[96];
    if (stride < 1 || padding < 0)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT,
                       "%s: stride %d must be >= 1 and padding %d must be >= 0", fn,
                       (int)stride, (int)padding);
    bool ok = x->ndim == 4 && w->ndim == 4 && x->shape[1] == w->shape[1];
    for (int32_t i = 0; ok && i < 4; i++)
        ok = w->shape[i] >= 1;
    if (!ok)
        return ad_fail(ADAPT_ERR_SHAPE,
                       "%s: cannot convolve x %s with weight %s (expected x[N, Cin, H, W] and "
                       "weight[Cout, Cin, KH, KW], all weight dims >= 1)", fn,
                       ad_shape_str(x, sx, sizeof sx), ad_shape_str(w, sw, sizeof sw));
    if (bias && (bias->ndim != 1 || bias->shape[0] != w->shape[0]))
        return ad_fail(ADAPT_ERR_SHAPE, "%s: bias %s does not match weight %s", fn,
                       ad_shape_str(bias, sb, sizeof sb), ad_shape_str(w, sw, sizeof sw));
    p->g = (ad_conv_geom){.channels = x->shape[1], .height = x->shape[2], .width = x->shape[3],
                          .kernel_h = w->shape[2], .kernel_w = w->shape[3], .stride = stride,
                          .padding = padding};
    p->batch = x->shape[0];
    p->out_channels = w->shape[0];
    p->rows = w->shape[1] * w->shape[2] * w->shape[3];
    return plan_geometry(p, x, stride, padding, fn);
}

/* Arena block for one sample's column matrix; NULL (and OK) on the direct path. */
static adapt_status column_buffer(float **cols, adapt_context *ctx, const conv_plan *p,
                                  const char *fn)
{
    *cols = NULL;
    if (p->direct)
        return ADAPT_OK;
    size_t bytes = (size_t)(p->rows * out_plane(p)) * sizeof(float);
    return ad_scratch((void **)cols, ctx, bytes, fn);
}

/* The columns of sample xn: xn itself on the direct path, else unfolded into cols. */
static const float *columns_of(const conv_plan *p, const float *xn, float *cols)
{
    if (p->direct)
        return xn;
    ad_im2col(&p->g, xn, cols);
    return cols;
}

/* Adds bias[co] to every position of output channel co of one sample. */
static void add_bias(const conv_plan *p, const float *bias, float *yn)
{
    const int64_t plane = out_plane(p);
    for (int64_t co = 0; co < p->out_channels; co++) {
        float *restrict yr = yn + co * plane;
        for (int64_t i = 0; i < plane; i++)
            yr[i] += bias[co];
    }
}

static adapt_status conv_forward(adapt_context *ctx, const conv_plan *p, const float *x,
                                 const float *w, const float *bias, float *y, const char *fn)
{
    float *cols;
    adapt_status st = column_buffer(&cols, ctx, p, fn);
    const int64_t plane = out_plane(p);
    ad_gemm_args g = {.m = p->out_channels, .n = plane, .k = p->rows, .alpha = 1.0f, .a = w,
                      .lda = p->rows, .ldb = plane, .ldc = plane};
    for (int64_t n = 0; n < p->batch && !st; n++) {
        g.b = columns_of(p, x + n * in_size(p), cols);
        g.c = y + n * out_size(p);
        st = ad_gemm(ctx->backend, ctx->n_threads, &g);
        if (!st && bias)
            add_bias(p, bias, g.c);
    }
    return st;
}

static void bias_backward(const conv_plan *p, const float *dy, float *db)
{
    const int64_t plane = out_plane(p);
    for (int64_t n = 0; n < p->batch; n++)
        for (int64_t co = 0; co < p->out_channels; co++) {
            const float *dyr = dy + n * out_size(p) + co * plane;
            double acc = 0.0;
            for (int64_t i = 0; i < plane; i++)
                acc += dyr[i];
            db[co] += (float)acc;
        }
}

/* dW += dy[n] columns(x[n])^T. */
static adapt_status weight_grad_sample(adapt_context *ctx, const conv_plan *p, const float *dyn,
                                       const float *xn, float *cols, float *dw)
{
    const int64_t plane = out_plane(p);
    ad_gemm_args g = {.trans_b = true, .m = p->out_channels, .n = p->rows, .k = plane,
                      .alpha = 1.0f, .a = dyn, .lda = plane, .b = columns_of(p, xn, cols),
                      .ldb = plane, .beta = 1.0f, .c = dw, .ldc = p->rows};
    return ad_gemm(ctx->backend, ctx->n_threads, &g);
}

/* dx[n] += fold(W^T dy[n]); on the direct path the GEMM adds into dx[n] itself. */
static adapt_status input_grad_sample(adapt_context *ctx, const conv_plan *p, const float *dyn,
                                      const float *w, float *cols, float *dxn)
{
    const int64_t plane = out_plane(p);
    ad_gemm_args g = {.trans_a = true, .m = p->rows, .n = plane, .k = p->out_channels,
                      .alpha = 1.0f, .a = w, .lda = p->rows, .b = dyn, .ldb = plane,
                      .beta = p->direct ? 1.0f : 0.0f, .c = p->direct ? dxn : cols,
                      .ldc = plane};
    adapt_status st = ad_gemm(ctx->backend, ctx->n_threads, &g);
    if (!st && !p->direct)
        ad_col2im_add(&p->g, cols, dxn);
    return st;
}

static adapt_status conv_backward(adapt_context *ctx, const ad_node *node)
{
    const conv_plan *p = node->saved;
    adapt_tensor *x = node->in[0], *w = node->in[1];
    float *dx, *dw, *db, *cols = NULL;
    adapt_status st = ad_grad(&dx, ctx, x);
    if (!st)
        st = ad_grad(&dw, ctx, w);
    if (!st)
        st = ad_grad(&db, ctx, node->n_in > 2 ? node->in[2] : NULL);
    if (!st && (dx || dw))
        st = column_buffer(&cols, ctx, p, node->name);
    if (st)
        return st;
    const float *dy = node->out->pass_grad;
    if (db)
        bias_backward(p, dy, db);
    for (int64_t n = 0; n < p->batch && !st; n++) {
        const float *dyn = dy + n * out_size(p);
        if (dw)
            st = weight_grad_sample(ctx, p, dyn, x->data + n * in_size(p), cols, dw);
        if (!st && dx)
            st = input_grad_sample(ctx, p, dyn, w->data, cols, dx + n * in_size(p));
    }
    return st;
}

adapt_status adapt_op_conv2d(adapt_tensor **out, adapt_context *ctx, adapt_tensor *x,
                             adapt_tensor *weight, adapt_tensor *bias, int32_t stride,
                             int32_t padding)
{
    const char *fn = "adapt_op_conv2d";
    adapt_tensor *in[] = {x, weight, bias};
    adapt_status st = ad_op_check(ctx, out, fn, in, (const char *[]){"x", "weight"}, 2);
    if (!st && bias)
        st = ad_check_tensor(ctx, bias, fn, "bias");
    conv_plan p = {0};
    if (!st)
        st = plan_conv(&p, x, weight, bias, stride, padding, fn);
    adapt_tensor *y = NULL;
    if (!st)
        st = ad_tensor_new(&y, ctx, 4,
                           (int64_t[]){p.batch, p.out_channels, p.g.out_h, p.g.out_w});
    if (!st)
        st = conv_forward(ctx, &p, x->data, weight->data, bias ? bias->data : NULL, y->data, fn);
    if (st)
        return st;
    return ad_op_finish(out, ctx, fn, conv_backward, y, in, bias ? 3 : 2, &p, sizeof p);
}
