/* conv2d and pooling: values against naive direct loops in double on both kernels (direct and
 * im2col), every GEMM backend against the reference one, gradients against finite
 * differences, the 1x1 path that skips im2col, the fused epilogue, thread independence and
 * error paths. */
#include <math.h>
#include <stdlib.h>

#include "check_util.h"
#include "lib/ops/conv2d.h"
#include "lib/kernels/vector_math.h"
#include "lib/kernels/conv2d_direct.h"

/* ---- conv2d ------------------------------------------------------------- */

typedef struct {
    int64_t n, cin, cout, h, w, kh, kw;
    int32_t stride, padding;
    int has_bias;
    int direct; /* with AVX-512 the forward pass takes the direct kernel (conv2d_direct.c) */
} conv_case;

static const conv_case conv_cases[] = {
    {2, 3, 4, 7, 6, 3, 3, 1, 1, 1, 1}, /* "same" 3x3 */
    {2, 2, 3, 8, 9, 3, 3, 2, 0, 0, 0}, /* strided, no padding */
    {1, 3, 2, 9, 7, 5, 5, 1, 2, 1, 0}, /* 5x5 */
    {2, 2, 5, 9, 9, 5, 5, 3, 1, 0, 0}, /* stride 3 */
    {2, 4, 3, 5, 6, 1, 1, 1, 0, 1, 0}, /* 1x1 fast path */
    {1, 3, 2, 5, 5, 1, 1, 2, 1, 1, 1}, /* 1x1 but strided and padded: direct */
    {2, 2, 3, 6, 8, 3, 5, 2, 2, 1, 1}, /* rectangular kernel */
    {1, 1, 1, 3, 3, 3, 3, 1, 0, 1, 0}, /* kernel fills the input */
    {2, 1, 16, 20, 20, 3, 3, 1, 1, 1, 1}, /* two channel blocks, rows longer than a vector */
    {2, 3, 11, 14, 13, 3, 3, 2, 1, 0, 1}, /* stride 2, short rows, a partial channel block */
    {2, 2, 5, 11, 11, 3, 3, 2, 0, 1, 1},  /* stride 2 without padding */
    {1, 3, 4, 10, 10, 5, 5, 1, 2, 1, 1},  /* 5x5 */
};
#define N_CONV_CASES ((int)(sizeof conv_cases / sizeof conv_cases[0]))

static int64_t out_dim(int64_t in, int64_t k, int32_t stride, int32_t padding)
{
    return (in + 2 * padding - k) / stride + 1;
}

/* params: x, weight, then bias when present. */
static adapt_status conv_forward(adapt_tensor **out, adapt_context *ctx, adapt_tensor **p,
                                 void *arg)
{
    const conv_case *c = arg;
    return adapt_op_conv2d(out, ctx, p[0], p[1], c->has_bias ? p[2] : NULL, c->stride,
                           c->padding);
}

static int32_t make_conv(adapt_tensor **p, const conv_case *c, uint64_t seed)
{
    p[0] = tu_param(4, (int64_t[]){c->n, c->cin, c->h, c->w}, seed, -1.0f, 1.0f);
    p[1] = tu_param(4, (int64_t[]){c->cout, c->cin, c->kh, c->kw}, seed + 1, -1.0f, 1.0f);
    if (!c->has_bias)
        return 2;
    p[2] = tu_param(1, &c->cout, seed + 2, -1.0f, 1.0f);
    return 3;
}

static void free_params(adapt_tensor **p, int32_t n)
{
    for (int32_t i = 0; i < n; i++)
        adapt_tensor_free(p[i]);
}

/* The case takes the kernel it says it does. */
static void expect_kernel(const conv_case *c)
{
    const ad_conv_geom g = {.channels = c->cin, .height = c->h, .width = c->w,
                            .kernel_h = c->kh, .kernel_w = c->kw, .stride = c->stride,
                            .padding = c->padding,
                            .out_h = out_dim(c->h, c->kh, c->stride, c->padding),
                            .out_w = out_dim(c->w, c->kw, c->stride, c->padding)};
    ck_assert_int_eq(ad_conv_direct_suits(&g), c->direct && ad_has_avx512());
}

/* The direct seven-loop convolution in double at output (b, co, oh, ow). */
static double naive_conv_at(const conv_case *c, adapt_tensor **p, int64_t b, int64_t co,
                            int64_t oh, int64_t ow)
{
    const float *x = adapt_tensor_data(p[0]), *w = adapt_tensor_data(p[1]);
    double acc = c->has_bias ? adapt_tensor_data(p[2])[co] : 0.0;
    for (int64_t ci = 0; ci < c->cin; ci++)
        for (int64_t ky = 0; ky < c->kh; ky++)
            for (int64_t kx = 0; kx < c->kw; kx++) {
                int64_t iy = oh * c->stride - c->padding + ky;
                int64_t ix = ow * c->stride - c->padding + kx;
                if (iy < 0 || iy >= c->h || ix < 0 || ix >= c->w)
                    continue;
                acc += (double)x[((b * c->cin + ci) * c->h + iy) * c->w + ix] *
                       w[((co * c->cin + ci) * c->kh + ky) * c->kw + kx];
            }
    return acc;
}

START_TEST(conv_matches_naive_loops)
{
    const conv_case *c = &conv_cases[_i];
    adapt_tensor *p[3];
    int32_t np = make_conv(p, c, 100 + (uint64_t)_i);
    const int64_t oh_n = out_dim(c->h, c->kh, c->stride, c->padding);
    const int64_t ow_n = out_dim(c->w, c->kw, c->stride, c->padding);
    for (int b = ADAPT_BACKEND_REFERENCE; b >= ADAPT_BACKEND_DEFAULT; b--) {
        adapt_context *ctx = tu_context((adapt_backend)b);
        adapt_tensor *y;
        TU_OK(conv_forward(&y, ctx, p, (void *)c));
        ck_assert_int_eq(adapt_tensor_dim(y, 0), c->n);
        ck_assert_int_eq(adapt_tensor_dim(y, 1), c->cout);
        ck_assert_int_eq(adapt_tensor_dim(y, 2), oh_n);
        ck_assert_int_eq(adapt_tensor_dim(y, 3), ow_n);
        const float *got = adapt_tensor_data(y);
        for (int64_t bi = 0; bi < c->n; bi++)
            for (int64_t co = 0; co < c->cout; co++)
                for (int64_t oh = 0; oh < oh_n; oh++)
                    for (int64_t ow = 0; ow < ow_n; ow++)
                        ck_assert_double_eq_tol(*got++, naive_conv_at(c, p, bi, co, oh, ow),
                                                1e-4);
        adapt_context_free(ctx);
    }
    free_params(p, np);
}
END_TEST

START_TEST(conv_gradients)
{
    const conv_case *c = &conv_cases[_i];
    adapt_tensor *p[3];
    int32_t np = make_conv(p, c, 200 + (uint64_t)_i);
    tu_gradcheck(conv_forward, p, np, (void *)c, 1e-2, 2e-3, 200);
    free_params(p, np);
}
END_TEST

/* Output and the gradients of every parameter for sum(y * r) on `backend`;
 * returns the output's element count. */
static int64_t conv_pass(const conv_case *c, adapt_tensor **p, int32_t np,
                         adapt_backend backend, float *y_out, float **grads_out)
{
    adapt_context *ctx = tu_context(backend);
    adapt_tensor *y, *r, *prod, *loss;
    for (int32_t i = 0; i < np; i++)
        TU_OK(adapt_param_zero_grad(p[i]));
    TU_OK(conv_forward(&y, ctx, p, (void *)c));
    int64_t n = adapt_tensor_numel(y), shape[4];
    for (int32_t d = 0; d < 4; d++)
        shape[d] = adapt_tensor_dim(y, d);
    float *weights = malloc((size_t)n * sizeof *weights);
    tu_fill(weights, n, 5, -1.0f, 1.0f);
    TU_OK(adapt_tensor_input(&r, ctx, 4, shape, weights));
    TU_OK(adapt_op_mul(&prod, ctx, y, r));
    TU_OK(adapt_op_sum(&loss, ctx, prod, ADAPT_AXIS_ALL));
    TU_OK(adapt_tensor_read(y, y_out, n));
    TU_OK(adapt_backward(ctx, loss));
    for (int32_t i = 0; i < np; i++)
        for (int64_t j = 0; j < adapt_tensor_numel(p[i]); j++)
            grads_out[i][j] = adapt_tensor_grad(p[i])[j];
    free(weights);
    adapt_context_free(ctx);
    return n;
}

START_TEST(conv_backends_match_reference)
{
    const conv_case *c = &conv_cases[_i];
    adapt_tensor *p[3];
    int32_t np = make_conv(p, c, 300 + (uint64_t)_i);
    float *want[4], *got[4];
    for (int32_t i = 0; i < 4; i++) {
        int64_t n = i < np ? adapt_tensor_numel(p[i])
                           : c->n * c->cout * out_dim(c->h, c->kh, c->stride, c->padding) *
                                 out_dim(c->w, c->kw, c->stride, c->padding);
        want[i] = malloc((size_t)n * sizeof(float));
        got[i] = malloc((size_t)n * sizeof(float));
    }
    int64_t ny = conv_pass(c, p, np, ADAPT_BACKEND_REFERENCE, want[3], want);
    for (int b = ADAPT_BACKEND_OPENBLAS; b <= ADAPT_BACKEND_ONEDNN; b++) {
        if (!adapt_backend_available((adapt_backend)b))
            continue;
        conv_pass(c, p, np, (adapt_backend)b, got[3], got);
        for (int64_t j = 0; j < ny; j++)
            ck_assert_float_eq_tol(got[3][j], want[3][j], 1e-4);
        for (int32_t i = 0; i < np; i++)
            for (int64_t j = 0; j < adapt_tensor_numel(p[i]); j++)
                ck_assert_float_eq_tol(got[i][j], want[i][j], 1e-4);
    }
    for (int32_t i = 0; i < 4; i++)
        free(want[i]), free(got[i]);
    free_params(p, np);
}
END_TEST

START_TEST(conv_on_threads_matches_one_thread)
{
    /* The direct kernel's samples, claimed by whichever thread is free; and im2col's groups of
     * samples, unfolded and folded in parallel (the backward pass of both). Threaded GEMMs may
     * sum in another order, hence the tolerance. */
    const conv_case cases[] = {{40, 16, 8, 32, 32, 3, 3, 1, 1, 1, 1},
                               {40, 16, 8, 9, 9, 3, 3, 3, 1, 1, 0}};
    for (int k = 0; k < 2; k++) {
        adapt_tensor *p[3];
        expect_kernel(&cases[k]);
        int32_t np = make_conv(p, &cases[k], 402);
        tu_check_threads(conv_forward, p, np, (void *)&cases[k], ADAPT_BACKEND_DEFAULT, 2, 1e-5);
        tu_check_threads(conv_forward, p, np, (void *)&cases[k], ADAPT_BACKEND_REFERENCE, 3, 0.0);
        free_params(p, np);
    }
}
END_TEST

START_TEST(conv_scratch_is_bounded_by_the_group)
{
    /* In the backward pass each sample unfolds to 144 x 1024 floats (576 KiB); 64 samples
     * would need 36 MiB of columns at once. Samples share GEMMs in groups whose columns stay
     * within 2 MiB, handed back after each pass; the rest of the peak is y, its gradient and
     * the 4 MiB input gradient. */
    conv_case c = {64, 16, 2, 32, 32, 3, 3, 1, 1, 1, 1};
    adapt_tensor *p[3];
    make_conv(p, &c, 401);
    adapt_context *ctx = tu_context(ADAPT_BACKEND_DEFAULT);
    adapt_tensor *y, *loss;
    TU_OK(conv_forward(&y, ctx, p, &c));
    TU_OK(adapt_op_sum(&loss, ctx, y, ADAPT_AXIS_ALL));
    TU_OK(adapt_backward(ctx, loss));
    ck_assert_uint_lt(adapt_context_peak_bytes(ctx), 8u << 20);
    for (int64_t n = 0; n < c.n; n += 21)
        ck_assert_double_eq_tol(adapt_tensor_data(y)[n * 2048 + 1024 + 33],
                                naive_conv_at(&c, p, n, 1, 1, 1), 1e-3);
    adapt_context_free(ctx);
    free_params(p, 3);
}
END_TEST

START_TEST(conv_cases_take_the_expected_kernel)
{
    expect_kernel(&conv_cases[_i]);
}
END_TEST

/* Batch norm, residual and ReLU finished in the convolution's own pass give the bits of
 * the ops applied one after the other, on either kernel. */
static const conv_case epilogue_cases[] = {
    {3, 4, 11, 14, 13, 3, 3, 1, 1, 1, 1},
    {3, 4, 11, 9, 9, 3, 3, 3, 1, 1, 0},
};

START_TEST(conv_epilogue_gives_the_ops_bits)
{
    const conv_case *c = &epilogue_cases[_i];
    adapt_tensor *p[3], *bn[4], *res, *fused, *h;
    expect_kernel(c);
    make_conv(p, c, 500 + (uint64_t)_i);
    const float lo[] = {0.5f, -1.0f, -1.0f, 0.5f}, hi[] = {1.5f, 1.0f, 1.0f, 2.0f};
    for (int k = 0; k < 4; k++)
        bn[k] = tu_param(1, &c->cout, 510 + (uint64_t)k, lo[k], hi[k]);
    const int64_t oh = out_dim(c->h, c->kh, c->stride, c->padding);
    const int64_t ow = out_dim(c->w, c->kw, c->stride, c->padding);
    res = tu_param(4, (int64_t[]){c->n, c->cout, oh, ow}, 520, -1.0f, 1.0f);
    adapt_context *ctx = tu_context(ADAPT_BACKEND_REFERENCE);
    TU_OK(adapt_context_set_grad(ctx, 0));
    const ad_conv_epilogue e = {adapt_tensor_data(bn[0]), adapt_tensor_data(bn[1]),
                                adapt_tensor_data(bn[2]), adapt_tensor_data(bn[3]), 1e-5f, res,
                                true, NULL};
    TU_OK(ad_conv2d_untaped(&fused, ctx, p[0], p[1], p[2], c->stride, c->padding, &e));
    fused = tu_handle(fused);
    TU_OK(adapt_op_conv2d(&h, ctx, p[0], p[1], p[2], c->stride, c->padding));
    TU_OK(adapt_op_batchnorm(&h, ctx, h, bn[0], bn[1], bn[2], bn[3], 0.1f, 1e-5f));
    TU_OK(adapt_op_add(&h, ctx, h, res));
    TU_OK(adapt_op_relu(&h, ctx, h));
    ck_assert_int_eq(adapt_tensor_numel(fused), adapt_tensor_numel(h));
    ck_assert_mem_eq(adapt_tensor_data(fused), adapt_tensor_data(h),
                     (size_t)adapt_tensor_numel(h) * sizeof(float));
    adapt_context_free(ctx);
    free_params(p, 3);
    free_params(bn, 4);
    adapt_tensor_free(res);
}
END_TEST

/* A convolution whose buffers do not fit under the arena's cap fails with OUT_OF_MEMORY and
 * leaves the context usable for one that fits. */
/* Two convolutions of one input in one pass (a residual block's first convolution and its
 * projection shortcut) give each the bits it gives alone; a pair that cannot share a pass
 * (here: other output sizes) is made one after the other, with the same results. */
START_TEST(conv_pairs_give_each_its_own_bits)
{
    const int32_t first_stride = _i ? 1 : 2;
    adapt_tensor *x = tu_param(4, (int64_t[]){3, 5, 12, 12}, 700, -1.0f, 1.0f);
    adapt_tensor *w1 = tu_param(4, (int64_t[]){9, 5, 3, 3}, 701, -1.0f, 1.0f);
    adapt_tensor *w2 = tu_param(4, (int64_t[]){9, 5, 1, 1}, 702, -1.0f, 1.0f);
    adapt_tensor *b1 = tu_param(1, (int64_t[]){9}, 703, -1.0f, 1.0f), *bn[4];
    const float lo[] = {0.5f, -1.0f, -1.0f, 0.5f}, hi[] = {1.5f, 1.0f, 1.0f, 2.0f};
    for (int k = 0; k < 4; k++)
        bn[k] = tu_param(1, (int64_t[]){9}, 710 + (uint64_t)k, lo[k], hi[k]);
    const ad_conv_epilogue e = {adapt_tensor_data(bn[0]), adapt_tensor_data(bn[1]),
                                adapt_tensor_data(bn[2]), adapt_tensor_data(bn[3]), 1e-5f, NULL,
                                true, NULL};
    const ad_conv_spec first = {w1, b1, first_stride, 1, &e}, second = {w2, NULL, 2, 0, NULL};
    const ad_conv_geom g1 = {5, 12, 12, 3, 3, first_stride, 1, 12 / first_stride,
                             12 / first_stride};
    const ad_conv_geom g2 = {5, 12, 12, 1, 1, 2, 0, 6, 6};
    ck_assert_int_eq(ad_conv_direct_pairs(&g1, &g2), !_i && ad_has_avx512());
    adapt_context *ctx = tu_context(ADAPT_BACKEND_REFERENCE);
    TU_OK(adapt_context_set_grad(ctx, 0));
    adapt_tensor *pair[2], *alone[2];
    TU_OK(ad_conv2d_pair_untaped(&pair[0], &pair[1], ctx, x, &first, &second));
    TU_OK(ad_conv2d_untaped(&alone[0], ctx, x, w1, b1, first_stride, 1, &e));
    TU_OK(ad_conv2d_untaped(&alone[1], ctx, x, w2, NULL, 2, 0, NULL));
    for (int k = 0; k < 2; k++) {
        pair[k] = tu_handle(pair[k]);
        alone[k] = tu_handle(alone[k]);
        ck_assert_int_eq(adapt_tensor_numel(pair[k]), adapt_tensor_numel(alone[k]));
        ck_assert_mem_eq(adapt_tensor_data(pair[k]), adapt_tensor_data(alone[k]),
                         (size_t)adapt_tensor_numel(alone[k]) * sizeof(float));
    }
    adapt_context_free(ctx);
    free_params(bn, 4);
    free_params((adapt_tensor *[]){x, w1, w2, b1}, 4);
}
END_TEST

START_TEST(conv_out_of_arena_fails_cleanly)
{
    const conv_case big = {2, 1, 16, 20, 20, 3, 3, 1, 1, 1, 1};
    const conv_case small = {1, 1, 2, 6, 6, 3, 3, 1, 1, 1, 1};
    adapt_tensor *p[3], *q[3], *y;
    make_conv(p, &big, 600);
    make_conv(q, &small, 610);
    adapt_context_params cp;
    adapt_context_params_init(&cp, sizeof cp);
    cp.arena_limit_bytes = 64 << 10; /* the big output (50 KiB) fits, its kernel's buffers not */
    adapt_context *ctx = NULL;
    TU_OK(adapt_context_create(&ctx, &cp));
    TU_OK(adapt_context_set_grad(ctx, 0));
    TU_FAILS(conv_forward(&y, ctx, p, (void *)&big), ADAPT_ERR_OUT_OF_MEMORY);
    adapt_context_reset(ctx);
    TU_OK(conv_forward(&y, ctx, q, (void *)&small));
    for (int64_t co = 0; co < 2; co++)
        ck_assert_double_eq_tol(adapt_tensor_data(y)[co * 36 + 7],
                                naive_conv_at(&small, q, 0, co, 1, 1), 1e-4);
    adapt_context_free(ctx);
    free_params(p, 3);
    free_params(q, 3);
}
END_TEST

START_TEST(conv_rejects_bad_arguments)
{
    adapt_context *ctx = tu_context(ADAPT_BACKEND_DEFAULT);
    adapt_tensor *x = tu_param(4, (int64_t[]){1, 2, 5, 5}, 1, -1, 1);
    adapt_tensor *w = tu_param(4, (int64_t[]){3, 2, 3, 3}, 2, -1, 1);
    adapt_tensor *b = tu_param(1, (int64_t[]){3}, 3, -1, 1);
    adapt_tensor *x3 = tu_param(3, (int64_t[]){2, 5, 5}, 4, -1, 1);
    adapt_tensor *w_cin = tu_param(4, (int64_t[]){3, 1, 3, 3}, 5, -1, 1);
    adapt_tensor *w_big = tu_param(4, (int64_t[]){3, 2, 7, 3}, 6, -1, 1);
    adapt_tensor *w_empty = tu_param(4, (int64_t[]){0, 2, 3, 3}, 7, -1, 1);
    adapt_tensor *b_bad = tu_param(1, (int64_t[]){2}, 8, -1, 1);
    adapt_tensor *out = (adapt_tensor *)0x1;
    TU_FAILS(adapt_op_conv2d(&out, NULL, x, w, b, 1, 0), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_op_conv2d(NULL, ctx, x, w, b, 1, 0), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_op_conv2d(&out, ctx, NULL, w, b, 1, 0), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_op_conv2d(&out, ctx, x, NULL, b, 1, 0), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_op_conv2d(&out, ctx, x3, w, b, 1, 0), ADAPT_ERR_SHAPE);
    TU_FAILS(adapt_op_conv2d(&out, ctx, x, x3, b, 1, 0), ADAPT_ERR_SHAPE);
    TU_FAILS(adapt_op_conv2d(&out, ctx, x, w_cin, b, 1, 0), ADAPT_ERR_SHAPE);
    TU_FAILS(adapt_op_conv2d(&out, ctx, x, w_empty, NULL, 1, 0), ADAPT_ERR_SHAPE);
    TU_FAILS(adapt_op_conv2d(&out, ctx, x, w, b_bad, 1, 0), ADAPT_ERR_SHAPE);
    TU_FAILS(adapt_op_conv2d(&out, ctx, x, w_big, b, 1, 0), ADAPT_ERR_SHAPE);
    TU_FAILS(adapt_op_conv2d(&out, ctx, x, w, b, 0, 0), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_op_conv2d(&out, ctx, x, w, b, -2, 0), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_op_conv2d(&out, ctx, x, w, b, 1, -1), ADAPT_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_eq(out, (adapt_tensor *)0x1);
    /* Padding can make room for a kernel taller than the input: 5 + 2 - 7 = 0. */
    TU_OK(adapt_op_conv2d(&out, ctx, x, w_big, b, 1, 1));
    ck_assert_int_eq(adapt_tensor_dim(out, 2), 1);
    ck_assert_int_eq(adapt_tensor_dim(out, 3), 5);
    free_params((adapt_tensor *[]){x, w, b, x3, w_cin, w_big, w_empty, b_bad}, 8);
    adapt_context_free(ctx);
}
END_TEST

/* ---- pooling ------------------------------------------------------------ */

typedef struct {
    int max;
    int32_t kernel, stride, padding;
} pool_case;

static const pool_case pool_cases[] = {
    {1, 2, 2, 0}, {1, 3, 1, 1}, {1, 3, 2, 1}, {1, 5, 2, 2}, {1, 1, 1, 0}, {1, 4, 3, 2},
    {0, 2, 2, 0}, {0, 3, 1, 1}, {0, 3, 2, 1}, {0, 5, 2, 2}, {0, 1, 1, 0}, {0, 4, 3, 2},
};
#define N_POOL_CASES ((int)(sizeof pool_cases / sizeof pool_cases[0]))

static adapt_status pool_forward(adapt_tensor **out, adapt_context *ctx, adapt_tensor **p,
                                 void *arg)
{
    const pool_case *c = arg;
    return c->max ? adapt_op_maxpool2d(out, ctx, p[0], c->kernel, c->stride, c->padding)
                  : adapt_op_avgpool2d(out, ctx, p[0], c->kernel, c->stride, c->padding);
}

/* x filled with distinct values 0.05 apart in shuffled order, so that no
 * window has a tie and a finite-difference step of 0.01 never moves a maximum. */
static adapt_tensor *distinct_input(int32_t ndim, const int64_t *shape, uint64_t seed)
{
    adapt_tensor *x = tu_param(ndim, shape, seed, 0.0f, 1.0f);
    int64_t n = adapt_tensor_numel(x);
    float *v = adapt_tensor_data(x), *key = malloc((size_t)n * sizeof *key);
    tu_fill(key, n, seed + 1, 0.0f, 1.0f);
    for (int64_t i = 0; i < n; i++)
        v[i] = 0.05f * (float)(i - n / 2);
    for (int64_t i = n - 1; i > 0; i--) { /* Fisher-Yates with the random keys */
        int64_t j = (int64_t)(key[i] * (float)(i + 1)) % (i + 1);
        float t = v[i];
        v[i] = v[j], v[j] = t;
    }
    free(key);
    return x;
}

/* The pooled value of window (oh, ow) of plane `plane` in double. */
static double naive_pool_at(const pool_case *c, const float *x, int64_t h, int64_t w,
                            int64_t plane, int64_t oh, int64_t ow)
{
    double best = -INFINITY, sum = 0.0;
    for (int64_t ky = 0; ky < c->kernel; ky++)
        for (int64_t kx = 0; kx < c->kernel; kx++) {
            int64_t iy = oh * c->stride - c->padding + ky;
            int64_t ix = ow * c->stride - c->padding + kx;
            if (iy < 0 || iy >= h || ix < 0 || ix >= w)
                continue;
            double v = x[(plane * h + iy) * w + ix];
            best = v > best ? v : best;
            sum += v;
        }
    return c->max ? best : sum / (c->kernel * c->kernel);
}

START_TEST(pool_matches_naive_loops)
{
    const pool_case *c = &pool_cases[_i];
    const int64_t h = 9, w = 8;
    adapt_tensor *x = tu_param(4, (int64_t[]){2, 3, h, w}, 500 + (uint64_t)_i, -2.0f, 2.0f);
    adapt_context *ctx = tu_context(ADAPT_BACKEND_DEFAULT);
    adapt_tensor *y;
    TU_OK(pool_forward(&y, ctx, &x, (void *)c));
    const int64_t oh_n = out_dim(h, c->kernel, c->stride, c->padding);
    const int64_t ow_n = out_dim(w, c->kernel, c->stride, c->padding);
    ck_assert_int_eq(adapt_tensor_dim(y, 2), oh_n);
    ck_assert_int_eq(adapt_tensor_dim(y, 3), ow_n);
    const float *got = adapt_tensor_data(y);
    for (int64_t plane = 0; plane < 6; plane++)
        for (int64_t oh = 0; oh < oh_n; oh++)
            for (int64_t ow = 0; ow < ow_n; ow++)
                ck_assert_double_eq_tol(*got++, naive_pool_at(c, adapt_tensor_data(x), h, w,
                                                              plane, oh, ow), 1e-6);
    adapt_context_free(ctx);
    adapt_tensor_free(x);
}
END_TEST

START_TEST(pool_gradients)
{
    const pool_case *c = &pool_cases[_i];
    adapt_tensor *x = distinct_input(4, (int64_t[]){2, 2, 7, 6}, 600 + (uint64_t)_i);
    tu_gradcheck(pool_forward, &x, 1, (void *)c, 1e-2, 2e-3, 1000);
    adapt_tensor_free(x);
}
END_TEST

START_TEST(pool_padding_rules)
{
    /* 3x3 windows with padding 1 over a 3x3 plane. */
    adapt_context *ctx = tu_context(ADAPT_BACKEND_DEFAULT);
    float neg[9], ones[9];
    for (int i = 0; i < 9; i++)
        neg[i] = -1.0f - (float)i, ones[i] = 1.0f;
    adapt_tensor *xn, *xo, *y;
    TU_OK(adapt_tensor_input(&xn, ctx, 4, (int64_t[]){1, 1, 3, 3}, neg));
    TU_OK(adapt_tensor_input(&xo, ctx, 4, (int64_t[]){1, 1, 3, 3}, ones));
    /* Max ignores padding: the corner window sees -1, -2, -4, -5, never 0. */
    TU_OK(adapt_op_maxpool2d(&y, ctx, xn, 3, 1, 1));
    ck_assert_float_eq(adapt_tensor_data(y)[0], -1.0f);
    ck_assert_float_eq(adapt_tensor_data(y)[8], -5.0f);
    /* Average counts padding as zeros: corner 4/9, edge 6/9, centre 1. */
    TU_OK(adapt_op_avgpool2d(&y, ctx, xo, 3, 1, 1));
    ck_assert_float_eq_tol(adapt_tensor_data(y)[0], 4.0f / 9.0f, 1e-6f);
    ck_assert_float_eq_tol(adapt_tensor_data(y)[1], 6.0f / 9.0f, 1e-6f);
    ck_assert_float_eq_tol(adapt_tensor_data(y)[4], 1.0f, 1e-6f);
    adapt_context_free(ctx);
}
END_TEST

START_TEST(maxpool_routes_gradient_to_the_maximum)
{
    /* 2x2 windows, stride 1, overlapping on the middle column: the 9 at the
     * centre is the maximum of all four windows and gets all four gradients. */
    adapt_context *ctx = tu_context(ADAPT_BACKEND_DEFAULT);
    adapt_tensor *x = tu_param(4, (int64_t[]){1, 1, 3, 3}, 1, 0, 0);
    TU_OK(adapt_param_write(x, (float[]){1, 2, 3, 4, 9, 5, 6, 7, 8}, 9));
    adapt_tensor *y, *loss;
    TU_OK(adapt_op_maxpool2d(&y, ctx, x, 2, 1, 0));
    TU_OK(adapt_op_sum(&loss, ctx, y, ADAPT_AXIS_ALL));
    TU_OK(adapt_backward(ctx, loss));
    for (int i = 0; i < 9; i++)
        ck_assert_float_eq(adapt_tensor_grad(x)[i], i == 4 ? 4.0f : 0.0f);
    adapt_tensor_free(x);
    adapt_context_free(ctx);
}
END_TEST

START_TEST(pool_rejects_bad_arguments)
{
    adapt_context *ctx = tu_context(ADAPT_BACKEND_DEFAULT);
    adapt_tensor *x = tu_param(4, (int64_t[]){1, 2, 4, 4}, 1, -1, 1);
    adapt_tensor *x3 = tu_param(3, (int64_t[]){2, 4, 4}, 2, -1, 1);
    adapt_tensor *out = (adapt_tensor *)0x1;
    typedef adapt_status (*pool_fn)(adapt_tensor **, adapt_context *, adapt_tensor *, int32_t,
                                    int32_t, int32_t);
    pool_fn fns[] = {adapt_op_maxpool2d, adapt_op_avgpool2d};
    for (int i = 0; i < 2; i++) {
        pool_fn f = fns[i];
        TU_FAILS(f(&out, NULL, x, 2, 2, 0), ADAPT_ERR_INVALID_ARGUMENT);
        TU_FAILS(f(NULL, ctx, x, 2, 2, 0), ADAPT_ERR_INVALID_ARGUMENT);
        TU_FAILS(f(&out, ctx, NULL, 2, 2, 0), ADAPT_ERR_INVALID_ARGUMENT);
        TU_FAILS(f(&out, ctx, x3, 2, 2, 0), ADAPT_ERR_SHAPE);
        TU_FAILS(f(&out, ctx, x, 5, 1, 0), ADAPT_ERR_SHAPE);
        TU_FAILS(f(&out, ctx, x, 0, 1, 0), ADAPT_ERR_INVALID_ARGUMENT);
        TU_FAILS(f(&out, ctx, x, 2, 0, 0), ADAPT_ERR_INVALID_ARGUMENT);
        TU_FAILS(f(&out, ctx, x, 2, 2, -1), ADAPT_ERR_INVALID_ARGUMENT);
        TU_FAILS(f(&out, ctx, x, 3, 1, 2), ADAPT_ERR_INVALID_ARGUMENT); /* 2 > 3 / 2 */
        ck_assert_ptr_eq(out, (adapt_tensor *)0x1);
        TU_OK(f(&out, ctx, x, 5, 1, 2)); /* padding makes room: (4 + 4 - 5) + 1 */
        ck_assert_int_eq(adapt_tensor_dim(out, 2), 4);
        out = (adapt_tensor *)0x1;
    }
    adapt_tensor_free(x);
    adapt_tensor_free(x3);
    adapt_context_free(ctx);
}
END_TEST

START_TEST(pool_threads_do_not_change_results)
{
    /* Enough planes to be split over the pool; results must match one thread. */
    const pool_case *c = &pool_cases[_i ? 2 : 8];
    adapt_tensor *x = distinct_input(4, (int64_t[]){8, 16, 32, 32}, 700);
    const int64_t n = adapt_tensor_numel(x);
    float *first = NULL;
    for (int32_t threads = 1; threads <= 4; threads += 3) {
        adapt_context *ctx = tu_context(ADAPT_BACKEND_DEFAULT);
        TU_OK(adapt_context_set_threads(ctx, threads));
        TU_OK(adapt_param_zero_grad(x));
        adapt_tensor *y, *loss;
        TU_OK(pool_forward(&y, ctx, &x, (void *)c));
        TU_OK(adapt_op_sum(&loss, ctx, y, ADAPT_AXIS_ALL));
        TU_OK(adapt_backward(ctx, loss));
        if (!first) {
            first = malloc((size_t)n * sizeof *first);
            for (int64_t i = 0; i < n; i++)
                first[i] = adapt_tensor_grad(x)[i];
        } else {
            for (int64_t i = 0; i < n; i++)
                ck_assert_float_eq(adapt_tensor_grad(x)[i], first[i]);
        }
        adapt_context_free(ctx);
    }
    free(first);
    adapt_tensor_free(x);
}
END_TEST

static Suite *conv_pool_suite(void)
{
    Suite *s = suite_create("conv_pool");
    TCase *tc = tcase_create("conv_pool");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, conv_matches_naive_loops, 0, N_CONV_CASES);
    tcase_add_loop_test(tc, conv_gradients, 0, N_CONV_CASES);
    tcase_add_loop_test(tc, conv_backends_match_reference, 0, N_CONV_CASES);
    tcase_add_loop_test(tc, conv_cases_take_the_expected_kernel, 0, N_CONV_CASES);
    tcase_add_loop_test(tc, conv_epilogue_gives_the_ops_bits, 0, 2);
    tcase_add_test(tc, conv_scratch_is_bounded_by_the_group);
    tcase_add_test(tc, conv_on_threads_matches_one_thread);
    tcase_add_loop_test(tc, conv_pairs_give_each_its_own_bits, 0, 2);
    tcase_add_test(tc, conv_out_of_arena_fails_cleanly);
    tcase_add_test(tc, conv_rejects_bad_arguments);
    tcase_add_loop_test(tc, pool_matches_naive_loops, 0, N_POOL_CASES);
    tcase_add_loop_test(tc, pool_gradients, 0, N_POOL_CASES);
    tcase_add_test(tc, pool_padding_rules);
    tcase_add_test(tc, maxpool_routes_gradient_to_the_maximum);
    tcase_add_test(tc, pool_rejects_bad_arguments);
    tcase_add_loop_test(tc, pool_threads_do_not_change_results, 0, 2);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run(conv_pool_suite());
}
