/* The public operations: each turns the caller's handles into records (lib/core/handle.h),
 * runs the operation of ops.h, and hands its result back as a handle. The library calls the
 * operations of ops.h directly. */
#include "lib/core/context.h"
#include "lib/core/error.h"
#include "lib/core/handle.h"
#include "lib/ops/ops.h"

#define OPTIONAL(i) (1u << (i))

/* The records behind an operation's tensor arguments into real[], checked in the order the
 * operation checks them: the context, `out`, then each argument (`names`); an argument whose
 * bit is set in `optional` may be NULL. */
static adapt_status operands(adapt_tensor **real, adapt_context *ctx, adapt_tensor **out,
                             const char *fn, adapt_tensor *const *in, const char *const *names,
                             int32_t n, unsigned optional)
{
    adapt_status st = ad_check_context(ctx, fn);
    if (!st && !out)
        st = ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: out is NULL", fn);
    for (int32_t i = 0; i < n && !st; i++) {
        real[i] = NULL;
        if (in[i] || !(optional & OPTIONAL(i)))
            st = ad_tensor_from_handle(&real[i], in[i], fn, names[i]);
    }
    return st;
}

/* The record of an operation's one tensor argument, named "x". */
static adapt_status operand_x(adapt_tensor **real, adapt_context *ctx, adapt_tensor **out,
                              const char *fn, adapt_tensor *x)
{
    return operands(real, ctx, out, fn, &x, (const char *[]){"x"}, 1, 0);
}

/* The result of a successful operation, as the caller's handle; a failure's message names
 * the operation `fn`, which the shared kernels and allocators beneath it cannot. */
static adapt_status published(adapt_tensor **out, adapt_tensor *y, adapt_status st,
                              const char *fn)
{
    if (!st)
        *out = ad_tensor_hand_out(y);
    return ad_prefix(st, fn);
}

typedef adapt_status (*unary_fn)(adapt_tensor **, adapt_context *, adapt_tensor *);
typedef adapt_status (*binary_fn)(adapt_tensor **, adapt_context *, adapt_tensor *,
                                  adapt_tensor *);

static adapt_status unary(adapt_tensor **out, adapt_context *ctx, adapt_tensor *x, unary_fn op,
                          const char *fn)
{
    adapt_tensor *r, *y = NULL;
    adapt_status st = operand_x(&r, ctx, out, fn, x);
    if (!st)
        st = op(&y, ctx, r);
    return published(out, y, st, fn);
}

static adapt_status binary(adapt_tensor **out, adapt_context *ctx, adapt_tensor *a,
                           adapt_tensor *b, binary_fn op, const char *fn)
{
    adapt_tensor *r[2], *y = NULL;
    adapt_status st = operands(r, ctx, out, fn, (adapt_tensor *[]){a, b},
                               (const char *[]){"a", "b"}, 2, 0);
    if (!st)
        st = op(&y, ctx, r[0], r[1]);
    return published(out, y, st, fn);
}

adapt_status adapt_op_matmul(adapt_tensor **out, adapt_context *ctx, adapt_tensor *a,
                             adapt_tensor *b, uint32_t flags)
{
    const char *fn = "adapt_op_matmul";
    adapt_tensor *r[2], *y = NULL;
    adapt_status st = operands(r, ctx, out, fn, (adapt_tensor *[]){a, b},
                               (const char *[]){"a", "b"}, 2, 0);
    if (!st)
        st = ad_op_matmul(&y, ctx, r[0], r[1], flags);
    return published(out, y, st, fn);
}

adapt_status adapt_op_add(adapt_tensor **out, adapt_context *ctx, adapt_tensor *a,
                          adapt_tensor *b)
{
    return binary(out, ctx, a, b, ad_op_add, "adapt_op_add");
}

adapt_status adapt_op_mul(adapt_tensor **out, adapt_context *ctx, adapt_tensor *a,
                          adapt_tensor *b)
{
    return binary(out, ctx, a, b, ad_op_mul, "adapt_op_mul");
}

adapt_status adapt_op_minimum(adapt_tensor **out, adapt_context *ctx, adapt_tensor *a,
                              adapt_tensor *b)
{
    return binary(out, ctx, a, b, ad_op_minimum, "adapt_op_minimum");
}

adapt_status adapt_op_maximum(adapt_tensor **out, adapt_context *ctx, adapt_tensor *a,
                              adapt_tensor *b)
{
    return binary(out, ctx, a, b, ad_op_maximum, "adapt_op_maximum");
}

adapt_status adapt_op_worst_case_logits(adapt_tensor **out, adapt_context *ctx,
                                        adapt_tensor *lo, adapt_tensor *hi,
                                        const int32_t *labels)
{
    const char *fn = "adapt_op_worst_case_logits";
    adapt_tensor *r[2], *y = NULL;
    adapt_status st = operands(r, ctx, out, fn, (adapt_tensor *[]){lo, hi},
                               (const char *[]){"lo", "hi"}, 2, 0);
    if (!st)
        st = ad_op_worst_case_logits(&y, ctx, r[0], r[1], labels);
    return published(out, y, st, fn);
}

adapt_status adapt_op_one_vs_all_loss(adapt_tensor **out, adapt_context *ctx,
                                      adapt_tensor *logits, const int32_t *labels)
{
    const char *fn = "adapt_op_one_vs_all_loss";
    adapt_tensor *r, *y = NULL;
    adapt_status st = operands(&r, ctx, out, fn, &logits, (const char *[]){"logits"}, 1, 0);
    if (!st)
        st = ad_op_one_vs_all_loss(&y, ctx, r, labels);
    return published(out, y, st, fn);
}

adapt_status adapt_op_mse(adapt_tensor **out, adapt_context *ctx, adapt_tensor *a,
                          adapt_tensor *b)
{
    return binary(out, ctx, a, b, ad_op_mse, "adapt_op_mse");
}

adapt_status adapt_op_scale(adapt_tensor **out, adapt_context *ctx, adapt_tensor *x,
                            float factor)
{
    const char *fn = "adapt_op_scale";
    adapt_tensor *r, *y = NULL;
    adapt_status st = operand_x(&r, ctx, out, fn, x);
    if (!st)
        st = ad_op_scale(&y, ctx, r, factor);
    return published(out, y, st, fn);
}

adapt_status adapt_op_relu(adapt_tensor **out, adapt_context *ctx, adapt_tensor *x)
{
    return unary(out, ctx, x, ad_op_relu, "adapt_op_relu");
}

adapt_status adapt_op_gelu(adapt_tensor **out, adapt_context *ctx, adapt_tensor *x)
{
    return unary(out, ctx, x, ad_op_gelu, "adapt_op_gelu");
}

adapt_status adapt_op_sigmoid(adapt_tensor **out, adapt_context *ctx, adapt_tensor *x)
{
    return unary(out, ctx, x, ad_op_sigmoid, "adapt_op_sigmoid");
}

adapt_status adapt_op_tanh(adapt_tensor **out, adapt_context *ctx, adapt_tensor *x)
{
    return unary(out, ctx, x, ad_op_tanh, "adapt_op_tanh");
}

adapt_status adapt_op_abs(adapt_tensor **out, adapt_context *ctx, adapt_tensor *x)
{
    return unary(out, ctx, x, ad_op_abs, "adapt_op_abs");
}

adapt_status adapt_op_softmax(adapt_tensor **out, adapt_context *ctx, adapt_tensor *x)
{
    return unary(out, ctx, x, ad_op_softmax, "adapt_op_softmax");
}

adapt_status adapt_op_log_softmax(adapt_tensor **out, adapt_context *ctx, adapt_tensor *x)
{
    return unary(out, ctx, x, ad_op_log_softmax, "adapt_op_log_softmax");
}

adapt_status adapt_op_clamp(adapt_tensor **out, adapt_context *ctx, adapt_tensor *x, float lo,
                            float hi)
{
    const char *fn = "adapt_op_clamp";
    adapt_tensor *r, *y = NULL;
    adapt_status st = operand_x(&r, ctx, out, fn, x);
    if (!st)
        st = ad_op_clamp(&y, ctx, r, lo, hi);
    return published(out, y, st, fn);
}

adapt_status adapt_op_layernorm(adapt_tensor **out, adapt_context *ctx, adapt_tensor *x,
                                adapt_tensor *gamma, adapt_tensor *beta, float eps)
{
    const char *fn = "adapt_op_layernorm";
    adapt_tensor *r[3], *y = NULL;
    adapt_status st = operands(r, ctx, out, fn,
                               (adapt_tensor *[]){x, gamma, beta},
                               (const char *[]){"x", "gamma", "beta"}, 3,
                               OPTIONAL(1) | OPTIONAL(2));
    if (!st)
        st = ad_op_layernorm(&y, ctx, r[0], r[1], r[2], eps);
    return published(out, y, st, fn);
}

adapt_status adapt_op_batchnorm(adapt_tensor **out, adapt_context *ctx, adapt_tensor *x,
                                adapt_tensor *gamma, adapt_tensor *beta,
                                adapt_tensor *running_mean, adapt_tensor *running_var,
                                float momentum, float eps)
{
    const char *fn = "adapt_op_batchnorm";
    adapt_tensor *r[5], *y = NULL;
    adapt_status st = operands(
        r, ctx, out, fn,
        (adapt_tensor *[]){x, gamma, beta, running_mean, running_var},
        (const char *[]){"x", "gamma", "beta", "running_mean", "running_var"}, 5,
        OPTIONAL(1) | OPTIONAL(2) | OPTIONAL(3) | OPTIONAL(4));
    if (!st)
        st = ad_op_batchnorm(&y, ctx, r[0], r[1], r[2], r[3], r[4], momentum, eps);
    return published(out, y, st, fn);
}

adapt_status adapt_op_conv2d(adapt_tensor **out, adapt_context *ctx, adapt_tensor *x,
                             adapt_tensor *weight, adapt_tensor *bias, int32_t stride,
                             int32_t padding)
{
    const char *fn = "adapt_op_conv2d";
    adapt_tensor *r[3], *y = NULL;
    adapt_status st = operands(r, ctx, out, fn,
                               (adapt_tensor *[]){x, weight, bias},
                               (const char *[]){"x", "weight", "bias"}, 3, OPTIONAL(2));
    if (!st)
        st = ad_op_conv2d(&y, ctx, r[0], r[1], r[2], stride, padding);
    return published(out, y, st, fn);
}

adapt_status adapt_op_maxpool2d(adapt_tensor **out, adapt_context *ctx, adapt_tensor *x,
                                int32_t kernel, int32_t stride, int32_t padding)
{
    const char *fn = "adapt_op_maxpool2d";
    adapt_tensor *r, *y = NULL;
    adapt_status st = operand_x(&r, ctx, out, fn, x);
    if (!st)
        st = ad_op_maxpool2d(&y, ctx, r, kernel, stride, padding);
    return published(out, y, st, fn);
}

adapt_status adapt_op_avgpool2d(adapt_tensor **out, adapt_context *ctx, adapt_tensor *x,
                                int32_t kernel, int32_t stride, int32_t padding)
{
    const char *fn = "adapt_op_avgpool2d";
    adapt_tensor *r, *y = NULL;
    adapt_status st = operand_x(&r, ctx, out, fn, x);
    if (!st)
        st = ad_op_avgpool2d(&y, ctx, r, kernel, stride, padding);
    return published(out, y, st, fn);
}

adapt_status adapt_op_upsample2d(adapt_tensor **out, adapt_context *ctx, adapt_tensor *x,
                                 int32_t scale, int32_t mode)
{
    const char *fn = "adapt_op_upsample2d";
    adapt_tensor *r, *y = NULL;
    adapt_status st = operand_x(&r, ctx, out, fn, x);
    if (!st)
        st = ad_op_upsample2d(&y, ctx, r, scale, mode);
    return published(out, y, st, fn);
}

adapt_status adapt_op_conv_transpose2d(adapt_tensor **out, adapt_context *ctx, adapt_tensor *x,
                                       adapt_tensor *weight, adapt_tensor *bias, int32_t stride,
                                       int32_t padding)
{
    const char *fn = "adapt_op_conv_transpose2d";
    adapt_tensor *r[3], *y = NULL;
    adapt_status st = operands(r, ctx, out, fn,
                               (adapt_tensor *[]){x, weight, bias},
                               (const char *[]){"x", "weight", "bias"}, 3, OPTIONAL(2));
    if (!st)
        st = ad_op_conv_transpose2d(&y, ctx, r[0], r[1], r[2], stride, padding);
    return published(out, y, st, fn);
}

adapt_status adapt_op_reshape(adapt_tensor **out, adapt_context *ctx, adapt_tensor *x,
                              int32_t ndim, const int64_t *shape)
{
    const char *fn = "adapt_op_reshape";
    adapt_tensor *r, *y = NULL;
    adapt_status st = operand_x(&r, ctx, out, fn, x);
    if (!st)
        st = ad_op_reshape(&y, ctx, r, ndim, shape);
    return published(out, y, st, fn);
}

adapt_status adapt_op_transpose(adapt_tensor **out, adapt_context *ctx, adapt_tensor *x,
                                int32_t axis0, int32_t axis1)
{
    const char *fn = "adapt_op_transpose";
    adapt_tensor *r, *y = NULL;
    adapt_status st = operand_x(&r, ctx, out, fn, x);
    if (!st)
        st = ad_op_transpose(&y, ctx, r, axis0, axis1);
    return published(out, y, st, fn);
}

adapt_status adapt_op_permute(adapt_tensor **out, adapt_context *ctx, adapt_tensor *x,
                              const int32_t *perm)
{
    const char *fn = "adapt_op_permute";
    adapt_tensor *r, *y = NULL;
    adapt_status st = operand_x(&r, ctx, out, fn, x);
    if (!st)
        st = ad_op_permute(&y, ctx, r, perm);
    return published(out, y, st, fn);
}

adapt_status adapt_op_slice(adapt_tensor **out, adapt_context *ctx, adapt_tensor *x,
                            int32_t axis, int64_t start, int64_t end)
{
    const char *fn = "adapt_op_slice";
    adapt_tensor *r, *y = NULL;
    adapt_status st = operand_x(&r, ctx, out, fn, x);
    if (!st)
        st = ad_op_slice(&y, ctx, r, axis, start, end);
    return published(out, y, st, fn);
}

adapt_status adapt_op_concat(adapt_tensor **out, adapt_context *ctx,
                             adapt_tensor *const *inputs, int32_t count, int32_t axis)
{
    const char *fn = "adapt_op_concat";
    adapt_status st = operands(NULL, ctx, out, fn, NULL, NULL, 0, 0);
    if (!st && (!inputs || count < 1)) /* ad_op_concat words the refusal */
        return ad_op_concat(out, ctx, inputs, count, axis);
    adapt_tensor **r = NULL, *y = NULL;
    if (!st)
        st = ad_scratch((void **)&r, ctx, (size_t)count * sizeof *r, fn);
    for (int32_t k = 0; k < count && !st; k++)
        st = ad_tensor_from_handle(&r[k], inputs[k], fn, "an input");
    if (!st)
        st = ad_op_concat(&y, ctx, r, count, axis);
    return published(out, y, st, fn);
}

adapt_status adapt_op_gather_rows(adapt_tensor **out, adapt_context *ctx, adapt_tensor *x,
                                  const int64_t *index, int64_t count)
{
    const char *fn = "adapt_op_gather_rows";
    adapt_tensor *r, *y = NULL;
    adapt_status st = operand_x(&r, ctx, out, fn, x);
    if (!st)
        st = ad_op_gather_rows(&y, ctx, r, index, count);
    return published(out, y, st, fn);
}

adapt_status adapt_op_scatter_add_rows(adapt_tensor **out, adapt_context *ctx, adapt_tensor *x,
                                       const int64_t *index, int64_t n_rows)
{
    const char *fn = "adapt_op_scatter_add_rows";
    adapt_tensor *r, *y = NULL;
    adapt_status st = operand_x(&r, ctx, out, fn, x);
    if (!st)
        st = ad_op_scatter_add_rows(&y, ctx, r, index, n_rows);
    return published(out, y, st, fn);
}

adapt_status adapt_op_sum(adapt_tensor **out, adapt_context *ctx, adapt_tensor *x, int32_t axis)
{
    const char *fn = "adapt_op_sum";
    adapt_tensor *r, *y = NULL;
    adapt_status st = operand_x(&r, ctx, out, fn, x);
    if (!st)
        st = ad_op_sum(&y, ctx, r, axis);
    return published(out, y, st, fn);
}

adapt_status adapt_op_mean(adapt_tensor **out, adapt_context *ctx, adapt_tensor *x,
                           int32_t axis)
{
    const char *fn = "adapt_op_mean";
    adapt_tensor *r, *y = NULL;
    adapt_status st = operand_x(&r, ctx, out, fn, x);
    if (!st)
        st = ad_op_mean(&y, ctx, r, axis);
    return published(out, y, st, fn);
}

adapt_status adapt_op_dropout(adapt_tensor **out, adapt_context *ctx, adapt_tensor *x, float p)
{
    const char *fn = "adapt_op_dropout";
    adapt_tensor *r, *y = NULL;
    adapt_status st = operand_x(&r, ctx, out, fn, x);
    if (!st)
        st = ad_op_dropout(&y, ctx, r, p);
    return published(out, y, st, fn);
}

adapt_status adapt_op_cross_entropy(adapt_tensor **out, adapt_context *ctx,
                                    adapt_tensor *logits, const int32_t *labels,
                                    float label_smoothing)
{
    const char *fn = "adapt_op_cross_entropy";
    adapt_tensor *r, *y = NULL;
    adapt_status st = operands(&r, ctx, out, fn, &logits,
                               (const char *[]){"logits"}, 1, 0);
    if (!st)
        st = ad_op_cross_entropy(&y, ctx, r, labels, label_smoothing);
    return published(out, y, st, fn);
}
