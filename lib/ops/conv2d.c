/* 2-D convolution as GEMMs over im2col column matrices:
 *   y[n] (Cout x OH*OW) = weight (Cout x Cin*KH*KW) * columns(x[n]).
 * Groups of samples unfold side by side into one wide column matrix, so that
 * each GEMM is large enough to run near the machine's peak; the group size
 * depends only on the shapes, so results are reproducible. The forward pass
 * gives each thread whole groups when there are enough, else all threads
 * share each group's steps. Forward passes of geometries that suit it run the
 * direct kernel instead (conv2d_direct.c); the backward pass always unfolds. */
#include "lib/ops/conv2d.h"

#include "lib/kernels/gemm.h"
#include "lib/kernels/im2col.h"
#include "lib/kernels/vector_math.h"
#include "lib/kernels/conv2d_direct.h"
#include "lib/kernels/conv2d_finish.h"
#include "lib/ops/op.h"

#include <stdatomic.h>
#include <string.h>

typedef struct {
    ad_conv_geom g;
    int64_t batch, out_channels;
    int64_t rows;  /* Cin * KH * KW: the GEMM's inner dimension */
    int64_t group; /* samples per GEMM */
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
    if (g->out_h > INT64_MAX / g->out_w ||
        p->rows > INT64_MAX / (int64_t)sizeof(float) / out_plane(p))
        return ad_fail(ADAPT_ERR_OVERFLOW,
                       "%s: column matrix of %lld rows by %lld x %lld outputs does not fit", fn,
                       (long long)p->rows, (long long)g->out_h, (long long)g->out_w);
    ad_gemm_args sizes = {.m = p->out_channels, .n = out_plane(p), .k = p->rows,
                          .lda = p->rows, .ldb = out_plane(p), .ldc = out_plane(p)};
    return ad_gemm_check_sizes(&sizes, fn);
}

/* Samples per GEMM: enough to make its N dimension wide and to unfold on
 * every thread, few enough that their column matrix (at most this many
 * floats, 2 MiB, unless one sample needs more) stays in cache for the GEMM. */
#define COLUMN_BUDGET_FLOATS ((int64_t)512 << 10)

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
    adapt_status st = plan_geometry(p, x, stride, padding, fn);
    if (!st) {
        const int64_t g = COLUMN_BUDGET_FLOATS / (p->rows * out_plane(p));
        p->group = g < 1 ? 1 : g > p->batch ? p->batch : g;
    }
    return st;
}

/* One group of `count` samples starting at `first`. Its column matrix `cols`
 * [rows, count * plane] and its output matrix `mat` [Cout, count * plane]
 * hold sample g in columns g * plane .. (g + 1) * plane. */
typedef struct {
    const conv_plan *p;
    int64_t first, count;
    float *cols, *mat;
    const ad_conv_finish *finish;     /* forward only: [Cout] bias and epilogue constants */
    const ad_conv_epilogue *epilogue; /* forward only, for its residual; may be NULL */
    float *image;      /* forward: x (read); backward: dx (added to) */
    float *tensor;     /* forward: y (written); backward: dy (read) */
} conv_group;

static int64_t group_ld(const conv_group *j) { return j->count * out_plane(j->p); }

static void unfold_range(void *arg, int64_t begin, int64_t end)
{
    const conv_group *j = arg;
    for (int64_t g = begin; g < end; g++)
        ad_im2col(&j->p->g, j->image + (j->first + g) * in_size(j->p),
                  j->cols + g * out_plane(j->p), group_ld(j));
}

static void fold_range(void *arg, int64_t begin, int64_t end)
{
    const conv_group *j = arg;
    for (int64_t g = begin; g < end; g++)
        ad_col2im_add(&j->p->g, j->cols + g * out_plane(j->p), group_ld(j),
                      j->image + (j->first + g) * in_size(j->p));
}

/* y[first + g][co] = finish(mat[co][sample g]): the bias, then the epilogue if any. */
AD_VECTOR_CLONES
static void scatter_range(void *arg, int64_t begin, int64_t end)
{
    const conv_group *j = arg;
    const int64_t plane = out_plane(j->p);
    const adapt_tensor *res = j->epilogue ? j->epilogue->residual : NULL;
    for (int64_t g = begin; g < end; g++)
        for (int64_t co = 0; co < j->p->out_channels; co++) {
            const int64_t at = (j->first + g) * out_size(j->p) + co * plane;
            ad_conv_finish_run(&j->finish[co], j->mat + co * group_ld(j) + g * plane,
                               res ? res->data + at : NULL, j->tensor + at, plane);
        }
}

/* mat[co][sample g] = dy[first + g][co]. */
static void gather_range(void *arg, int64_t begin, int64_t end)
{
    const conv_group *j = arg;
    const int64_t plane = out_plane(j->p);
    for (int64_t g = begin; g < end; g++)
        for (int64_t co = 0; co < j->p->out_channels; co++)
            memcpy(j->mat + co * group_ld(j) + g * plane,
                   j->tensor + (j->first + g) * out_size(j->p) + co * plane,
                   (size_t)plane * sizeof(float));
}

/* Floats of one group's column and output matrices, rounded to whole cache lines so that
 * the buffers of groups run side by side share none. */
static size_t group_floats(const conv_plan *p)
{
    return (size_t)((p->rows + p->out_channels) * p->group * out_plane(p) + 15) / 16 * 16;
}

/* j's column matrix, then its output matrix, from `block`. */
static void place_buffers(conv_group *j, float *block)
{
    j->cols = block;
    j->mat = block + j->p->rows * j->p->group * out_plane(j->p);
}

/* An arena block for one group's buffers. */
static adapt_status group_buffers(conv_group *j, adapt_context *ctx, const char *fn)
{
    float *block;
    adapt_status st = ad_scratch((void **)&block, ctx, group_floats(j->p) * sizeof(float), fn);
    if (!st)
        place_buffers(j, block);
    return st;
}

static void next_group(conv_group *j, int64_t first)
{
    const int64_t left = j->p->batch - first, group = j->p->group;
    j->first = first;
    j->count = left < group ? left : group;
}

/* One group: unfold, multiply on `pool` (NULL: this thread alone), scatter with the
 * epilogue. */
static adapt_status forward_group(adapt_context *ctx, conv_group *j, const float *w,
                                  ad_pool *pool)
{
    ad_pool_for(pool, j->count, 1, unfold_range, j);
    const conv_plan *p = j->p;
    ad_gemm_args g = {.m = p->out_channels, .n = group_ld(j), .k = p->rows, .alpha = 1.0f,
                      .a = w, .lda = p->rows, .b = j->cols, .ldb = group_ld(j), .c = j->mat,
                      .ldc = group_ld(j)};
    adapt_status st = ad_gemm_pooled(pool, ctx->backend, &g, NULL, NULL);
    if (!st)
        ad_pool_for(pool, j->count, 1, scatter_range, j);
    return st;
}

/* Whole groups per thread: each slot claims the next group, runs it start to end in its own
 * buffers on one thread, and claims another, so that no thread waits on another inside the
 * convolution (with the threads sharing every step, the unfolds, small GEMMs and scatters of
 * a group left one of two cores idle about half the time), and a slower core simply takes
 * fewer groups. Which slot runs a group does not change its result. */
typedef struct {
    adapt_context *ctx;
    conv_group group; /* all but the position and buffers */
    const float *w;
    int64_t groups;
    float *buffers; /* [slots][group_floats] */
    _Atomic int64_t next;
    _Atomic adapt_status status;
} slot_job;

static void slot_range(void *arg, int64_t begin, int64_t end)
{
    slot_job *s = arg;
    for (int64_t slot = begin; slot < end; slot++) {
        conv_group j = s->group;
        place_buffers(&j, s->buffers + (size_t)slot * group_floats(j.p));
        for (int64_t i; (i = atomic_fetch_add(&s->next, 1)) < s->groups;) {
            next_group(&j, i * j.p->group);
            adapt_status st = forward_group(s->ctx, &j, s->w, NULL);
            if (st) {
                atomic_store(&s->status, st);
                return;
            }
        }
    }
}

static adapt_status forward_slots(adapt_context *ctx, const conv_group *j, const float *w,
                                  int64_t groups, int64_t slots, const char *fn)
{
    slot_job s = {.ctx = ctx, .group = *j, .w = w, .groups = groups, .next = 0,
                  .status = ADAPT_OK};
    adapt_status st = ad_scratch((void **)&s.buffers, ctx,
                                 group_floats(j->p) * (size_t)slots * sizeof(float), fn);
    if (st)
        return st;
    ad_pool_for(ctx->pool, slots, 1, slot_range, &s);
    st = atomic_load(&s.status);
    return st ? ad_fail(st, "%s: a GEMM failed (%s)", fn, adapt_status_string(st)) : ADAPT_OK;
}

/* Samples per group when threads run whole groups: at least GROUPS_PER_THREAD groups for
 * each thread, so that claiming them evens out cores of unequal speed, none larger than
 * planned, all as even as the batch allows. */
#define GROUPS_PER_THREAD 4

static int64_t claimed_group_size(const conv_plan *p, int32_t threads)
{
    const int64_t planned = (p->batch + p->group - 1) / p->group;
    int64_t groups = GROUPS_PER_THREAD * (int64_t)threads;
    if (groups < planned)
        groups = planned;
    return (p->batch + groups - 1) / groups;
}

/* Group j's forward over the whole batch: whole groups per thread when they can run side by
 * side, else one group after another with all threads on each. */
static adapt_status run_groups(adapt_context *ctx, conv_group *j, const float *w,
                               const char *fn)
{
    const conv_plan *p = j->p;
    conv_plan claimed = *p;
    claimed.group = claimed_group_size(p, ctx->n_threads);
    const int64_t groups = (p->batch + claimed.group - 1) / claimed.group;
    const int64_t slots = ad_pool_ranges(groups, 1, ctx->n_threads);
    if (ctx->pool && slots > 1) {
        j->p = &claimed;
        return forward_slots(ctx, j, w, groups, slots, fn);
    }
    adapt_status st = group_buffers(j, ctx, fn);
    for (int64_t first = 0; first < p->batch && !st; first += j->count) {
        next_group(j, first);
        st = forward_group(ctx, j, w, ctx->pool);
    }
    return st;
}

static adapt_status conv_forward(adapt_context *ctx, const conv_plan *p, const float *x,
                                 const float *w, const float *bias,
                                 const ad_conv_epilogue *epilogue, float *y, const char *fn)
{
    const ad_conv_sink *sink = epilogue ? epilogue->sink : NULL;
    if (ad_conv_direct_suits(&p->g)) {
        const ad_conv_call call = {.g = p->g, .batch = p->batch, .out_channels = p->out_channels,
                                   .x = x, .weight = w, .bias = bias, .epilogue = epilogue, .y = y,
                                   .sink = sink};
        return ad_conv_direct(ctx, &call, fn);
    }
    if (sink)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: a plane sink needs the direct kernel", fn);
    const ad_arena_mark mark = ad_arena_mark_now(&ctx->arena);
    ad_conv_finish *finish;
    adapt_status st = ad_scratch((void **)&finish, ctx,
                                 (size_t)p->out_channels * sizeof *finish, fn);
    if (!st) {
        for (int64_t co = 0; co < p->out_channels; co++)
            finish[co] = ad_conv_finish_of(epilogue, co, bias);
        conv_group j = {.p = p, .finish = finish, .epilogue = epilogue, .image = (float *)x,
                        .tensor = y};
        st = run_groups(ctx, &j, w, fn);
    }
    ad_arena_rewind(&ctx->arena, mark);
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

/* dW += dY_group columns_group^T: unfolds the group's inputs into j->cols. */
static adapt_status weight_grad_group(adapt_context *ctx, conv_group *j, const float *x,
                                      float *dw)
{
    const conv_plan *p = j->p;
    conv_group unfold = *j;
    unfold.image = (float *)x;
    ad_pool_for(ctx->pool, j->count, 1, unfold_range, &unfold);
    ad_gemm_args g = {.trans_b = true, .m = p->out_channels, .n = p->rows, .k = group_ld(j),
                      .alpha = 1.0f, .a = j->mat, .lda = group_ld(j), .b = j->cols,
                      .ldb = group_ld(j), .beta = 1.0f, .c = dw, .ldc = p->rows};
    return ad_gemm_pooled(ctx->pool, ctx->backend, &g, NULL, NULL);
}

/* dx += fold(W^T dY_group), through j->cols. */
static adapt_status input_grad_group(adapt_context *ctx, conv_group *j, const float *w)
{
    const conv_plan *p = j->p;
    ad_gemm_args g = {.trans_a = true, .m = p->rows, .n = group_ld(j), .k = p->out_channels,
                      .alpha = 1.0f, .a = w, .lda = p->rows, .b = j->mat, .ldb = group_ld(j),
                      .c = j->cols, .ldc = group_ld(j)};
    adapt_status st = ad_gemm_pooled(ctx->pool, ctx->backend, &g, NULL, NULL);
    if (!st)
        ad_pool_for(ctx->pool, j->count, 1, fold_range, j);
    return st;
}

static adapt_status conv_backward(adapt_context *ctx, const ad_node *node)
{
    const conv_plan *p = node->saved;
    adapt_tensor *x = node->in[0], *w = node->in[1];
    float *dx, *dw, *db;
    adapt_status st = ad_grad(&dx, ctx, x);
    if (!st)
        st = ad_grad(&dw, ctx, w);
    if (!st)
        st = ad_grad(&db, ctx, node->n_in > 2 ? node->in[2] : NULL);
    if (st)
        return st;
    conv_group j = {.p = p, .image = dx, .tensor = node->out->pass_grad};
    if (db)
        bias_backward(p, j.tensor, db);
    if (!dx && !dw)
        return ADAPT_OK;
    const ad_arena_mark mark = ad_arena_mark_now(&ctx->arena);
    st = group_buffers(&j, ctx, node->name);
    for (int64_t first = 0; first < p->batch && !st; first += j.count) {
        next_group(&j, first);
        ad_pool_for(ctx->pool, j.count, 1, gather_range, &j);
        if (dw)
            st = weight_grad_group(ctx, &j, x->data, dw);
        if (!st && dx)
            st = input_grad_group(ctx, &j, w->data);
    }
    ad_arena_rewind(&ctx->arena, mark);
    return st;
}

/* SHAPE unless the epilogue's residual, if any, is shaped like y. */
static adapt_status check_residual(const ad_conv_epilogue *e, const conv_plan *p)
{
    const adapt_tensor *r = e ? e->residual : NULL;
    if (!r || (r->ndim == 4 && r->shape[0] == p->batch && r->shape[1] == p->out_channels &&
               r->shape[2] == p->g.out_h && r->shape[3] == p->g.out_w))
        return ADAPT_OK;
    char sr[96];
    return ad_fail(ADAPT_ERR_SHAPE,
                   "adapt_op_conv2d: residual %s does not match the output [%lld, %lld, %lld, "
                   "%lld]", ad_shape_str(r, sr, sizeof sr), (long long)p->batch,
                   (long long)p->out_channels, (long long)p->g.out_h, (long long)p->g.out_w);
}

/* Plans the convolution into *p, makes its output and computes it. */
static adapt_status convolve(adapt_tensor **y, conv_plan *p, adapt_context *ctx,
                             adapt_tensor *x, adapt_tensor *weight, adapt_tensor *bias,
                             int32_t stride, int32_t padding, const ad_conv_epilogue *epilogue)
{
    const char *fn = "adapt_op_conv2d";
    adapt_status st = plan_conv(p, x, weight, bias, stride, padding, fn);
    if (!st)
        st = check_residual(epilogue, p);
    if (!st)
        st = ad_tensor_new(y, ctx, 4,
                           (int64_t[]){p->batch, p->out_channels, p->g.out_h, p->g.out_w});
    return st ? st : conv_forward(ctx, p, x->data, weight->data, bias ? bias->data : NULL,
                                  epilogue, (*y)->data, fn);
}

adapt_status ad_op_conv2d(adapt_tensor **out, adapt_context *ctx, adapt_tensor *x,
                          adapt_tensor *weight, adapt_tensor *bias, int32_t stride,
                          int32_t padding)
{
    const char *fn = "adapt_op_conv2d";
    adapt_tensor *in[] = {x, weight, bias};
    adapt_status st = ad_op_check(ctx, out, fn, in, (const char *[]){"x", "weight"}, 2);
    if (!st && bias)
        st = ad_check_tensor(ctx, bias, fn, "bias");
    conv_plan p = {0};
    adapt_tensor *y = NULL;
    if (!st)
        st = convolve(&y, &p, ctx, x, weight, bias, stride, padding, NULL);
    if (st)
        return st;
    return ad_op_finish(out, ctx, fn, conv_backward, y, in, bias ? 3 : 2, &p, sizeof p);
}

adapt_status ad_conv2d_untaped(adapt_tensor **out, adapt_context *ctx, adapt_tensor *x,
                               adapt_tensor *weight, adapt_tensor *bias, int32_t stride,
                               int32_t padding, const ad_conv_epilogue *epilogue)
{
    conv_plan p = {0};
    adapt_tensor *y = NULL;
    adapt_status st = convolve(&y, &p, ctx, x, weight, bias, stride, padding, epilogue);
    if (!st)
        *out = y;
    return st;
}

/* The call for plan p of x into y. */
static ad_conv_call call_of(const conv_plan *p, const adapt_tensor *x, const ad_conv_spec *spec,
                            adapt_tensor *y)
{
    return (ad_conv_call){.g = p->g, .batch = p->batch, .out_channels = p->out_channels,
                          .x = x->data, .weight = spec->weight->data,
                          .bias = spec->bias ? spec->bias->data : NULL,
                          .epilogue = spec->epilogue, .y = y->data};
}

adapt_status ad_conv2d_pair_untaped(adapt_tensor **out1, adapt_tensor **out2,
                                    adapt_context *ctx, adapt_tensor *x,
                                    const ad_conv_spec *first, const ad_conv_spec *second)
{
    const char *fn = "adapt_op_conv2d";
    conv_plan p1 = {0}, p2 = {0};
    adapt_status st = plan_conv(&p1, x, first->weight, first->bias, first->stride,
                                first->padding, fn);
    if (!st)
        st = plan_conv(&p2, x, second->weight, second->bias, second->stride, second->padding,
                       fn);
    if (!st && !ad_conv_direct_pairs(&p1.g, &p2.g)) {
        st = ad_conv2d_untaped(out1, ctx, x, first->weight, first->bias, first->stride,
                               first->padding, first->epilogue);
        return st ? st : ad_conv2d_untaped(out2, ctx, x, second->weight, second->bias,
                                           second->stride, second->padding, second->epilogue);
    }
    if (!st)
        st = check_residual(first->epilogue, &p1);
    if (!st)
        st = check_residual(second->epilogue, &p2);
    adapt_tensor *y1, *y2;
    if (!st)
        st = ad_tensor_new(&y1, ctx, 4, (int64_t[]){p1.batch, p1.out_channels, p1.g.out_h,
                                                     p1.g.out_w});
    if (!st)
        st = ad_tensor_new(&y2, ctx, 4, (int64_t[]){p2.batch, p2.out_channels, p2.g.out_h,
                                                     p2.g.out_w});
    if (st)
        return st;
    const ad_conv_call call2 = call_of(&p2, x, second, y2);
    ad_conv_call call1 = call_of(&p1, x, first, y1);
    call1.passenger = &call2;
    st = ad_conv_direct(ctx, &call1, fn);
    if (!st)
        *out1 = y1, *out2 = y2;
    return st;
}
