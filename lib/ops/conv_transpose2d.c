/* Transposed 2-D convolution, PyTorch's conv_transpose2d with groups 1, dilation 1 and no
 * output padding. It is the input gradient of a convolution, computed as one: per sample,
 *   columns [Cout*K*K, H*W] = weight^T [Cout*K*K, Cin] x[n] [Cin, H*W],
 *   y[n] = bias + fold(columns),
 * where fold (col2im) is that of the convolution taking y's shape [Cout, OH, OW] to x's H x W
 * with the same kernel, stride and padding. The backward pass unfolds dy with the same
 * geometry: dx[n] = weight [Cin, Cout*K*K] unfold(dy[n]), dW = sum over n of
 * x[n] unfold(dy[n])^T, db = the sums of dy.
 *
 * The work is cut into units that depend only on the shapes: forward, a block of one
 * sample's output channels; backward, a group of samples. A unit runs on one thread, with
 * single-threaded GEMMs, and writes only its own outputs (a group's weight gradient goes
 * to the group's own partial sum, the partials added in group order at the end), so the bits
 * do not depend on the thread count. Threads claim units in turn, each with its own column
 * buffer. */
#include <stdatomic.h>
#include <stdint.h>

#include "lib/kernels/gemm.h"
#include "lib/kernels/im2col.h"
#include "lib/ops/op.h"

typedef struct {
    ad_conv_geom g; /* the fold's: image y[n] [Cout, OH, OW], outputs x's H x W */
    int64_t batch, in_channels;
    int64_t rows;  /* Cout * K * K: rows of a sample's column matrix */
    int64_t block; /* output channels per forward unit */
    int64_t group; /* samples per backward unit */
} convt_plan;

static int64_t in_plane(const convt_plan *p) { return p->g.out_h * p->g.out_w; }
static int64_t out_plane(const convt_plan *p) { return p->g.height * p->g.width; }
static int64_t kernel_area(const convt_plan *p) { return p->g.kernel_h * p->g.kernel_w; }
static int64_t weight_size(const convt_plan *p) { return p->in_channels * p->rows; }

static int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }
static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
static int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }

/* A forward unit's column matrix stays within this many floats (2 MiB) unless one output
 * channel needs more, so that it is still in cache when folded. */
#define COLUMN_BUDGET_FLOATS ((int64_t)512 << 10)
/* A sample's output channels are cut into this many blocks (fewer if it has fewer
 * channels), so that a batch of one has work for several threads. The blocks depend on
 * the shapes alone: a sample's output is the same at any batch size. */
#define CHANNEL_SPLIT 4
/* At most this many backward groups, whose weight-gradient partials stay within
 * PARTIAL_BUDGET_FLOATS (4 MiB) unless one group needs more. */
#define MAX_GROUPS 16
#define PARTIAL_BUDGET_FLOATS ((int64_t)1 << 20)

static void plan_units(convt_plan *p)
{
    const int64_t cout = p->g.channels, batch = max64(p->batch, 1);
    const int64_t fits = COLUMN_BUDGET_FLOATS / (kernel_area(p) * in_plane(p));
    p->block = max64(1, min64(fits, ceil_div(cout, CHANNEL_SPLIT)));
    const int64_t groups = min64(min64(batch, MAX_GROUPS),
                                 max64(1, PARTIAL_BUDGET_FLOATS / weight_size(p)));
    p->group = ceil_div(batch, groups);
}

static int64_t forward_units(const convt_plan *p)
{
    return p->batch * ceil_div(p->g.channels, p->block);
}

static int64_t backward_units(const convt_plan *p) { return ceil_div(p->batch, p->group); }

static adapt_status check_operands(const adapt_tensor *x, const adapt_tensor *w,
                                   const adapt_tensor *bias, int32_t stride, int32_t padding,
                                   const char *fn)
{
    char sx[96], sw[96], sb[96];
    if (stride < 1 || padding < 0)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT,
                       "%s: stride %d must be >= 1 and padding %d must be >= 0", fn,
                       (int)stride, (int)padding);
    bool ok = x->ndim == 4 && w->ndim == 4 && x->shape[1] == w->shape[0] &&
              w->shape[2] == w->shape[3] && x->shape[2] >= 1 && x->shape[3] >= 1;
    for (int32_t i = 0; ok && i < 4; i++)
        ok = w->shape[i] >= 1;
    if (!ok)
        return ad_fail(ADAPT_ERR_SHAPE,
                       "%s: cannot transpose-convolve x %s with weight %s (expected x[N, Cin, "
                       "H, W] with H, W >= 1 and weight[Cin, Cout, K, K], all weight dims >= "
                       "1)", fn, ad_shape_str(x, sx, sizeof sx), ad_shape_str(w, sw, sizeof sw));
    if (bias && (bias->ndim != 1 || bias->shape[0] != w->shape[1]))
        return ad_fail(ADAPT_ERR_SHAPE, "%s: bias %s does not match weight %s (expected [Cout])",
                       fn, ad_shape_str(bias, sb, sizeof sb), ad_shape_str(w, sw, sizeof sw));
    return ADAPT_OK;
}

/* (len - 1) * stride + kernel - 2 * padding into *out; false if it does not fit. */
static bool grown_side(int64_t *out, int64_t len, int64_t kernel, int32_t stride,
                       int32_t padding)
{
    if (len - 1 > (INT64_MAX - kernel) / stride)
        return false;
    *out = (len - 1) * stride + kernel - 2 * (int64_t)padding;
    return true;
}

/* The fold's geometry and the sizes of the GEMMs, checked. */
static adapt_status plan_sizes(convt_plan *p, const adapt_tensor *x, const adapt_tensor *w,
                               int32_t stride, int32_t padding, const char *fn)
{
    char sx[96];
    const int64_t k = w->shape[2];
    int64_t oh = 0, ow = 0;
    const bool fits = grown_side(&oh, x->shape[2], k, stride, padding) &&
                      grown_side(&ow, x->shape[3], k, stride, padding);
    if (fits && (oh < 1 || ow < 1))
        return ad_fail(ADAPT_ERR_SHAPE,
                       "%s: x %s with a %lldx%lld kernel, stride %d and padding %d leaves no "
                       "output (%lld x %lld)", fn, ad_shape_str(x, sx, sizeof sx),
                       (long long)k, (long long)k, (int)stride, (int)padding, (long long)oh,
                       (long long)ow);
    if (!fits || oh > INT64_MAX / ow)
        return ad_fail(ADAPT_ERR_OVERFLOW, "%s: the output of x %s at stride %d does not fit",
                       fn, ad_shape_str(x, sx, sizeof sx), (int)stride);
    p->g = (ad_conv_geom){.channels = w->shape[1], .height = oh, .width = ow, .kernel_h = k,
                          .kernel_w = k, .stride = stride, .padding = padding,
                          .out_h = x->shape[2], .out_w = x->shape[3]};
    p->batch = x->shape[0];
    p->in_channels = x->shape[1];
    p->rows = w->shape[1] * k * k;
    if (p->rows > INT64_MAX / (int64_t)sizeof(float) / in_plane(p))
        return ad_fail(ADAPT_ERR_OVERFLOW,
                       "%s: column matrix of %lld rows by %lld x %lld inputs does not fit", fn,
                       (long long)p->rows, (long long)p->g.out_h, (long long)p->g.out_w);
    const ad_gemm_args sizes = {.m = p->rows, .n = in_plane(p), .k = p->in_channels,
                                .lda = p->rows, .ldb = in_plane(p), .ldc = in_plane(p)};
    return ad_gemm_check_sizes(&sizes, fn);
}

/* ---- units and the threads that claim them ----------------------------------------- */

typedef struct convt_job convt_job;
typedef adapt_status (*unit_fn)(const convt_job *j, int64_t unit, float *cols);

struct convt_job {
    const convt_plan *p;
    adapt_backend backend;
    const float *x, *w;
    const float *bias; /* forward; may be NULL */
    float *y;          /* forward */
    const float *dy;   /* backward */
    float *dx;         /* backward; NULL: not wanted */
    float *partials;   /* backward: [units][Cin * rows]; NULL: no weight gradient */
    unit_fn run;
    int64_t units;
    int64_t cols_floats; /* a slot's column buffer */
    float *cols;         /* [slots][cols_floats] */
    _Atomic int64_t next;
    _Atomic adapt_status status;
};

static void slot_range(void *arg, int64_t begin, int64_t end)
{
    convt_job *j = arg;
    for (int64_t slot = begin; slot < end; slot++) {
        float *cols = j->cols + slot * j->cols_floats;
        for (int64_t u; (u = atomic_fetch_add(&j->next, 1)) < j->units;) {
            adapt_status st = j->run(j, u, cols);
            if (st) {
                atomic_store(&j->status, st);
                return;
            }
        }
    }
}

/* Runs every unit of j, as many threads at once as there are units to share. */
static adapt_status run_units(adapt_context *ctx, convt_job *j, const char *fn)
{
    const int64_t slots = ad_pool_ranges(j->units, 1, ad_pool_seats(ctx->pool));
    if (slots < 1)
        return ADAPT_OK;
    if (j->cols_floats > INT64_MAX / (int64_t)sizeof(float) / slots)
        return ad_fail(ADAPT_ERR_OVERFLOW, "%s: column buffers do not fit", fn);
    adapt_status st = ad_scratch((void **)&j->cols, ctx,
                                 (size_t)(slots * j->cols_floats) * sizeof(float), fn);
    if (st)
        return st;
    atomic_init(&j->next, 0);
    atomic_init(&j->status, ADAPT_OK);
    ad_pool_for(ctx->pool, slots, 1, slot_range, j);
    st = atomic_load(&j->status);
    return st ? ad_fail(st, "%s: a GEMM failed (%s)", fn, adapt_status_string(st)) : ADAPT_OK;
}

/* ---- forward -------------------------------------------------------------------------- */

/* Output channels [first, first + count) of sample n: their columns by one GEMM, then the
 * planes set to the bias and the columns folded onto them. */
static adapt_status forward_unit(const convt_job *j, int64_t unit, float *cols)
{
    const convt_plan *p = j->p;
    const int64_t blocks = ceil_div(p->g.channels, p->block);
    const int64_t n = unit / blocks, first = unit % blocks * p->block;
    const int64_t count = min64(p->block, p->g.channels - first);
    const ad_gemm_args g = {.trans_a = true, .m = count * kernel_area(p), .n = in_plane(p),
                            .k = p->in_channels, .alpha = 1.0f,
                            .a = j->w + first * kernel_area(p), .lda = p->rows,
                            .b = j->x + n * p->in_channels * in_plane(p), .ldb = in_plane(p),
                            .c = cols, .ldc = in_plane(p)};
    adapt_status st = ad_gemm(j->backend, &g);
    if (st)
        return st;
    float *y = j->y + (n * p->g.channels + first) * out_plane(p);
    for (int64_t c = 0; c < count; c++) {
        const float b = j->bias ? j->bias[first + c] : 0.0f;
        for (int64_t i = 0; i < out_plane(p); i++)
            y[c * out_plane(p) + i] = b;
    }
    ad_conv_geom part = p->g;
    part.channels = count;
    ad_col2im_add(&part, cols, in_plane(p), y);
    return ADAPT_OK;
}

static adapt_status convt_forward(adapt_context *ctx, const convt_plan *p, const float *x,
                                  const float *w, const float *bias, float *y, const char *fn)
{
    convt_job j = {.p = p, .backend = ctx->backend, .x = x, .w = w, .bias = bias, .y = y,
                   .run = forward_unit, .units = forward_units(p),
                   .cols_floats = p->block * kernel_area(p) * in_plane(p)};
    const ad_arena_mark mark = ad_arena_mark_now(&ctx->arena);
    adapt_status st = run_units(ctx, &j, fn);
    ad_arena_rewind(&ctx->arena, mark);
    return st;
}

/* ---- backward ------------------------------------------------------------------------- */

/* The samples of group `unit`, one after another: dy[n] unfolded, then dx[n] += W cols
 * and the group's partial weight gradient (+)= x[n] cols^T. */
static adapt_status backward_unit(const convt_job *j, int64_t unit, float *cols)
{
    const convt_plan *p = j->p;
    const int64_t first = unit * p->group, end = min64(p->batch, first + p->group);
    const int64_t plane = in_plane(p);
    adapt_status st = ADAPT_OK;
    for (int64_t n = first; n < end && !st; n++) {
        ad_im2col(&p->g, j->dy + n * p->g.channels * out_plane(p), cols, plane);
        const int64_t at = n * p->in_channels * plane; /* sample n in x and dx */
        if (j->dx) {
            const ad_gemm_args g = {.m = p->in_channels, .n = plane, .k = p->rows,
                                    .alpha = 1.0f, .a = j->w, .lda = p->rows, .b = cols,
                                    .ldb = plane, .beta = 1.0f, .c = j->dx + at, .ldc = plane};
            st = ad_gemm(j->backend, &g);
        }
        if (!st && j->partials) {
            const ad_gemm_args g = {.trans_b = true, .m = p->in_channels, .n = p->rows,
                                    .k = plane, .alpha = 1.0f, .a = j->x + at, .lda = plane,
                                    .b = cols, .ldb = plane, .beta = n == first ? 0.0f : 1.0f,
                                    .c = j->partials + unit * weight_size(p), .ldc = p->rows};
            st = ad_gemm(j->backend, &g);
        }
    }
    return st;
}

typedef struct {
    const float *partials;
    float *dw;
    int64_t groups, size;
} reduce_job;

/* Weights per thread at least when the partials are added up: fewer cost more to hand out. */
#define REDUCE_GRAIN ((int64_t)1 << 14)

/* dw += the groups' partials, added in group order. */
static void reduce_range(void *arg, int64_t begin, int64_t end)
{
    const reduce_job *r = arg;
    for (int64_t i = begin; i < end; i++) {
        float sum = r->partials[i];
        for (int64_t g = 1; g < r->groups; g++)
            sum += r->partials[g * r->size + i];
        r->dw[i] += sum;
    }
}

typedef struct {
    const convt_plan *p;
    const float *dy;
    float *db;
} bias_job;

static void bias_range(void *arg, int64_t begin, int64_t end)
{
    const bias_job *b = arg;
    const convt_plan *p = b->p;
    for (int64_t co = begin; co < end; co++) {
        double acc = 0.0;
        for (int64_t n = 0; n < p->batch; n++) {
            const float *dyr = b->dy + (n * p->g.channels + co) * out_plane(p);
            for (int64_t i = 0; i < out_plane(p); i++)
                acc += dyr[i];
        }
        b->db[co] += (float)acc;
    }
}

/* dx and dW through the groups, then the partials into dw. */
static adapt_status input_and_weight_grads(adapt_context *ctx, convt_job *j, float *dw,
                                           const char *fn)
{
    const convt_plan *p = j->p;
    adapt_status st = ADAPT_OK;
    if (dw)
        st = ad_scratch((void **)&j->partials, ctx,
                        (size_t)(j->units * weight_size(p)) * sizeof(float), fn);
    if (!st)
        st = run_units(ctx, j, fn);
    if (!st && dw) {
        reduce_job r = {.partials = j->partials, .dw = dw, .groups = j->units,
                        .size = weight_size(p)};
        ad_pool_for(ctx->pool, r.size, REDUCE_GRAIN, reduce_range, &r);
    }
    return st;
}

static adapt_status convt_backward(adapt_context *ctx, const ad_node *node)
{
    const convt_plan *p = node->saved;
    float *dx, *dw, *db;
    adapt_status st = ad_grad(&dx, ctx, node->in[0]);
    if (!st)
        st = ad_grad(&dw, ctx, node->in[1]);
    if (!st)
        st = ad_grad(&db, ctx, node->n_in > 2 ? node->in[2] : NULL);
    if (st)
        return st;
    const float *dy = node->out->pass_grad;
    if (db) {
        bias_job b = {.p = p, .dy = dy, .db = db};
        ad_pool_for(ctx->pool, p->g.channels, 1, bias_range, &b);
    }
    if ((!dx && !dw) || p->batch == 0) /* no samples: no group writes a partial to add */
        return ADAPT_OK;
    convt_job j = {.p = p, .backend = ctx->backend, .x = node->in[0]->data,
                   .w = node->in[1]->data, .dy = dy, .dx = dx, .run = backward_unit,
                   .units = backward_units(p), .cols_floats = p->rows * in_plane(p)};
    const ad_arena_mark mark = ad_arena_mark_now(&ctx->arena);
    st = input_and_weight_grads(ctx, &j, dw, node->name);
    ad_arena_rewind(&ctx->arena, mark);
    return st;
}

/* ---- the op ---------------------------------------------------------------------------- */

adapt_status ad_op_conv_transpose2d(adapt_tensor **out, adapt_context *ctx, adapt_tensor *x,
                                    adapt_tensor *weight, adapt_tensor *bias, int32_t stride,
                                    int32_t padding)
{
    const char *fn = "adapt_op_conv_transpose2d";
    adapt_tensor *in[] = {x, weight, bias};
    adapt_status st = ad_op_check(ctx, out, fn, in, (const char *[]){"x", "weight"}, 2);
    if (!st && bias)
        st = ad_check_tensor(ctx, bias, fn, "bias");
    if (!st)
        st = check_operands(x, weight, bias, stride, padding, fn);
    convt_plan p = {0};
    if (!st)
        st = plan_sizes(&p, x, weight, stride, padding, fn);
    adapt_tensor *y = NULL;
    if (!st) {
        plan_units(&p);
        st = ad_tensor_new(&y, ctx, 4, (int64_t[]){p.batch, p.g.channels, p.g.height,
                                                   p.g.width});
    }
    if (!st)
        st = convt_forward(ctx, &p, x->data, weight->data, bias ? bias->data : NULL, y->data,
                           fn);
    if (st)
        return st;
    return ad_op_finish(out, ctx, fn, convt_backward, y, in, bias ? 3 : 2, &p, sizeof p);
}
