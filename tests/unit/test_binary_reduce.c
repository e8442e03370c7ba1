/* add / mul (with suffix broadcasting), minimum / maximum, sum / mean:
 * values against plain loops, gradients against finite differences. */
#include <math.h>
#include <stdbool.h>

#include "check_util.h"

typedef adapt_status (*binary_fn)(adapt_tensor **, adapt_context *, adapt_tensor *,
                                  adapt_tensor *);

static const binary_fn binaries[] = {adapt_op_add, adapt_op_mul, adapt_op_minimum,
                                     adapt_op_maximum};

static float apply(int kind, float a, float b)
{
    switch (kind) {
    case 0: return a + b;
    case 1: return a * b;
    case 2: return fminf(a, b);
    default: return fmaxf(a, b);
    }
}

typedef struct {
    int kind;
    int32_t axis;
} op_case;

static adapt_status binary_fwd(adapt_tensor **out, adapt_context *ctx, adapt_tensor **p,
                               void *arg)
{
    return binaries[((op_case *)arg)->kind](out, ctx, p[0], p[1]);
}

static adapt_status sum_fwd(adapt_tensor **out, adapt_context *ctx, adapt_tensor **p, void *arg)
{
    return adapt_op_sum(out, ctx, p[0], ((op_case *)arg)->axis);
}

static adapt_status mean_fwd(adapt_tensor **out, adapt_context *ctx, adapt_tensor **p, void *arg)
{
    return adapt_op_mean(out, ctx, p[0], ((op_case *)arg)->axis);
}

START_TEST(binary_values_and_gradients)
{
    /* _i: op kind (bits 0-1), broadcast b over a's rows (bit 2). */
    op_case c = {.kind = _i & 3};
    const bool broadcast = _i & 4;
    if (broadcast && c.kind >= 2)
        return; /* minimum / maximum take equal shapes only */
    adapt_context *ctx = tu_context(ADAPT_BACKEND_DEFAULT);
    int64_t shape[] = {3, 4, 5};
    adapt_tensor *p[2] = {tu_param(3, shape, 1, -1, 1),
                          broadcast ? tu_param(2, shape + 1, 2, -1, 1)
                                    : tu_param(3, shape, 2, -1, 1)};
    adapt_tensor *y;
    TU_OK(binaries[c.kind](&y, ctx, p[0], p[1]));
    const float *a = adapt_tensor_data(p[0]), *b = adapt_tensor_data(p[1]);
    for (int64_t i = 0; i < 60; i++)
        ck_assert_float_eq(adapt_tensor_data(y)[i], apply(c.kind, a[i], b[broadcast ? i % 20 : i]));
    /* uniform(-1, 1) draws from different seeds never tie, so min/max are smooth here */
    tu_gradcheck(binary_fwd, p, 2, &c, 1e-3, 1e-3, 60);
    adapt_tensor_free(p[0]), adapt_tensor_free(p[1]);
    adapt_context_free(ctx);
}
END_TEST

START_TEST(binary_on_threads_matches_one_thread)
{
    /* Large enough to be split over threads: rows for a, columns for b. */
    op_case c = {.kind = _i & 3};
    const bool broadcast = _i & 4;
    if (broadcast && c.kind >= 2)
        return;
    int64_t shape[] = {300, 256};
    adapt_tensor *p[2] = {tu_param(2, shape, 5, -1, 1),
                          broadcast ? tu_param(1, shape + 1, 6, -1, 1)
                                    : tu_param(2, shape, 6, -1, 1)};
    tu_check_threads(binary_fwd, p, 2, &c, ADAPT_BACKEND_DEFAULT, 3, 0.0);
    adapt_tensor_free(p[0]), adapt_tensor_free(p[1]);
}
END_TEST

START_TEST(ties_send_the_gradient_to_the_first_operand)
{
    adapt_context *ctx = tu_context(ADAPT_BACKEND_DEFAULT);
    adapt_tensor *a = tu_param(1, (int64_t[]){2}, 1, 0.5f, 0.5f);
    adapt_tensor *b = tu_param(1, (int64_t[]){2}, 2, 0.5f, 0.5f), *y, *loss;
    for (int kind = 2; kind < 4; kind++) {
        adapt_context_reset(ctx);
        TU_OK(adapt_param_zero_grad(a));
        TU_OK(adapt_param_zero_grad(b));
        TU_OK(binaries[kind](&y, ctx, a, b));
        TU_OK(adapt_op_sum(&loss, ctx, y, ADAPT_AXIS_ALL));
        TU_OK(adapt_backward(ctx, loss));
        ck_assert_float_eq(adapt_tensor_grad(a)[0], 1.0f);
        ck_assert_float_eq(adapt_tensor_grad(b)[0], 0.0f);
    }
    adapt_tensor_free(a), adapt_tensor_free(b);
    adapt_context_free(ctx);
}
END_TEST

START_TEST(reductions_over_each_axis)
{
    adapt_context *ctx = tu_context(ADAPT_BACKEND_DEFAULT);
    adapt_tensor *x = tu_param(3, (int64_t[]){3, 4, 5}, 3, -1, 1), *y;
    const float *v = adapt_tensor_data(x);
    const int64_t dims[3] = {3, 4, 5};
    for (int32_t axis = 0; axis < 3; axis++) {
        TU_OK(adapt_op_mean(&y, ctx, x, axis - 3)); /* negative axes count from the end */
        ck_assert_int_eq(adapt_tensor_ndim(y), 2);
        int64_t idx[3], out = 0;
        for (idx[0] = 0; idx[0] < 3; idx[0]++)
            for (idx[1] = 0; idx[1] < 4; idx[1]++)
                for (idx[2] = 0; idx[2] < 5; idx[2]++) {
                    if (idx[axis] != 0)
                        continue;
                    double want = 0.0;
                    for (int64_t j = 0; j < dims[axis]; j++) {
                        int64_t at[3] = {idx[0], idx[1], idx[2]};
                        at[axis] = j;
                        want += v[(at[0] * 4 + at[1]) * 5 + at[2]];
                    }
                    ck_assert_double_eq_tol(adapt_tensor_data(y)[out++], want / dims[axis], 1e-6);
                }
        op_case c = {.axis = axis};
        tu_gradcheck(sum_fwd, &x, 1, &c, 1e-2, 1e-3, 60);
        tu_gradcheck(mean_fwd, &x, 1, &c, 1e-2, 1e-3, 60);
    }
    op_case all = {.axis = ADAPT_AXIS_ALL};
    TU_OK(adapt_op_sum(&y, ctx, x, ADAPT_AXIS_ALL));
    double total = 0.0;
    for (int i = 0; i < 60; i++)
        total += v[i];
    ck_assert_int_eq(adapt_tensor_ndim(y), 0);
    ck_assert_double_eq_tol(adapt_tensor_data(y)[0], total, 1e-5);
    tu_gradcheck(mean_fwd, &x, 1, &all, 1e-2, 1e-3, 60);
    adapt_tensor_free(x);
    adapt_context_free(ctx);
}
END_TEST

START_TEST(errors_leave_output_untouched)
{
    adapt_context *ctx = tu_context(ADAPT_BACKEND_DEFAULT);
    adapt_tensor *a = tu_param(2, (int64_t[]){3, 4}, 1, -1, 1);
    adapt_tensor *row = tu_param(1, (int64_t[]){4}, 2, -1, 1);
    adapt_tensor *col = tu_param(2, (int64_t[]){3, 1}, 3, -1, 1);
    adapt_tensor *empty = tu_param(2, (int64_t[]){3, 0}, 3, -1, 1), *y = (adapt_tensor *)0x1;
    TU_FAILS(adapt_op_add(&y, ctx, a, col), ADAPT_ERR_SHAPE);
    TU_FAILS(adapt_op_mul(&y, ctx, row, a), ADAPT_ERR_SHAPE);
    TU_FAILS(adapt_op_minimum(&y, ctx, a, row), ADAPT_ERR_SHAPE);
    TU_FAILS(adapt_op_maximum(&y, ctx, a, NULL), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_op_add(NULL, ctx, a, a), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_op_sum(&y, ctx, a, 2), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_op_sum(&y, ctx, a, -3), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_op_mean(&y, ctx, empty, 1), ADAPT_ERR_SHAPE);
    TU_FAILS(adapt_op_mean(&y, NULL, a, 0), ADAPT_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_eq(y, (adapt_tensor *)0x1);
    TU_OK(adapt_op_sum(&y, ctx, empty, 1)); /* an empty sum is zero */
    ck_assert_float_eq(adapt_tensor_data(y)[2], 0.0f);
    adapt_tensor_free(a), adapt_tensor_free(row), adapt_tensor_free(col), adapt_tensor_free(empty);
    adapt_context_free(ctx);
}
END_TEST

static Suite *binary_reduce_suite(void)
{
    Suite *s = suite_create("binary_reduce");
    TCase *tc = tcase_create("binary_reduce");
    tcase_add_loop_test(tc, binary_values_and_gradients, 0, 8);
    tcase_add_loop_test(tc, binary_on_threads_matches_one_thread, 0, 8);
    tcase_add_test(tc, ties_send_the_gradient_to_the_first_operand);
    tcase_add_test(tc, reductions_over_each_axis);
    tcase_add_test(tc, errors_leave_output_untouched);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run(binary_reduce_suite());
}
