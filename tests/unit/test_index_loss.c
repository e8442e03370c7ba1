/* Row gather / scatter-add and the losses: values against direct
 * computations in double, gradients against finite differences, errors. */
#include <math.h>

#include "check_util.h"

typedef struct {
    const int64_t *index;
    int64_t count;
    const int32_t *labels;
    float smoothing;
} index_args;

static adapt_status gather_fwd(adapt_tensor **out, adapt_context *ctx, adapt_tensor **p,
                               void *arg)
{
    index_args *a = arg;
    return adapt_op_gather_rows(out, ctx, p[0], a->index, a->count);
}

static adapt_status scatter_fwd(adapt_tensor **out, adapt_context *ctx, adapt_tensor **p,
                                void *arg)
{
    index_args *a = arg;
    return adapt_op_scatter_add_rows(out, ctx, p[0], a->index, a->count);
}

/* scatter_add_rows(x) * x: the scatter's backward must add to the gradient
 * the product already gave x. */
static adapt_status scatter_reuse_fwd(adapt_tensor **out, adapt_context *ctx, adapt_tensor **p,
                                      void *arg)
{
    adapt_tensor *s;
    adapt_status st = scatter_fwd(&s, ctx, p, arg);
    return st ? st : adapt_op_mul(out, ctx, s, p[0]);
}

static adapt_status ce_fwd(adapt_tensor **out, adapt_context *ctx, adapt_tensor **p, void *arg)
{
    index_args *a = arg;
    return adapt_op_cross_entropy(out, ctx, p[0], a->labels, a->smoothing);
}

static adapt_status mse_fwd(adapt_tensor **out, adapt_context *ctx, adapt_tensor **p, void *arg)
{
    (void)arg;
    return adapt_op_mse(out, ctx, p[0], p[1]);
}

START_TEST(gather_and_scatter_rows)
{
    adapt_context *ctx = tu_context(ADAPT_BACKEND_DEFAULT);
    adapt_tensor *x = tu_param(3, (int64_t[]){5, 2, 3}, 1, -1, 1), *g, *s;
    const int64_t index[] = {4, 0, 4, 2}; /* a duplicate on purpose */
    TU_OK(adapt_op_gather_rows(&g, ctx, x, index, 4));
    ck_assert_int_eq(adapt_tensor_dim(g, 0), 4);
    ck_assert_int_eq(adapt_tensor_dim(g, 2), 3);
    for (int i = 0; i < 4; i++)
        ck_assert_mem_eq(adapt_tensor_data(g) + 6 * i, adapt_tensor_data(x) + 6 * index[i],
                         6 * sizeof(float));
    /* scatter the 5 rows of x into 3 rows: rows 0,1 -> 2; 2 -> 0; 3,4 -> 1 */
    const int64_t into[] = {2, 2, 0, 1, 1};
    TU_OK(adapt_op_scatter_add_rows(&s, ctx, x, into, 3));
    const float *xv = adapt_tensor_data(x), *sv = adapt_tensor_data(s);
    for (int j = 0; j < 6; j++) {
        ck_assert_float_eq_tol(sv[j], xv[12 + j], 1e-6);
        ck_assert_float_eq_tol(sv[6 + j], xv[18 + j] + xv[24 + j], 1e-6);
        ck_assert_float_eq_tol(sv[12 + j], xv[j] + xv[6 + j], 1e-6);
    }
    index_args ga = {.index = index, .count = 4}, sa = {.index = into, .count = 3};
    tu_gradcheck(gather_fwd, &x, 1, &ga, 1e-2, 1e-3, 100);
    tu_gradcheck(scatter_fwd, &x, 1, &sa, 1e-2, 1e-3, 100);
    const int64_t onto[] = {4, 4, 0, 1, 0}; /* 5 rows back onto 5 rows */
    index_args ra = {.index = onto, .count = 5};
    tu_gradcheck(scatter_reuse_fwd, &x, 1, &ra, 1e-2, 1e-3, 100);
    TU_OK(adapt_op_gather_rows(&g, ctx, x, NULL, 0)); /* an empty group is fine */
    ck_assert_int_eq(adapt_tensor_numel(g), 0);
    adapt_tensor_free(x);
    adapt_context_free(ctx);
}
END_TEST

START_TEST(row_index_errors)
{
    adapt_context *ctx = tu_context(ADAPT_BACKEND_DEFAULT);
    adapt_tensor *x = tu_param(2, (int64_t[]){3, 2}, 1, -1, 1), *y = (adapt_tensor *)0x1;
    TU_FAILS(adapt_op_gather_rows(&y, ctx, x, (int64_t[]){0, 3}, 2), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_op_gather_rows(&y, ctx, x, (int64_t[]){-1}, 1), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_op_gather_rows(&y, ctx, x, NULL, 2), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_op_gather_rows(&y, ctx, x, (int64_t[]){0}, -1), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_op_gather_rows(&y, ctx, NULL, (int64_t[]){0}, 1), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_op_gather_rows(NULL, ctx, x, (int64_t[]){0}, 1), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_op_gather_rows(&y, NULL, x, (int64_t[]){0}, 1), ADAPT_ERR_INVALID_ARGUMENT);
    adapt_tensor *scalar = tu_param(0, NULL, 1, -1, 1);
    TU_FAILS(adapt_op_gather_rows(&y, ctx, scalar, (int64_t[]){0}, 1), ADAPT_ERR_SHAPE);
    TU_FAILS(adapt_op_scatter_add_rows(&y, ctx, scalar, (int64_t[]){0}, 1), ADAPT_ERR_SHAPE);
    TU_FAILS(adapt_op_scatter_add_rows(&y, ctx, NULL, (int64_t[]){0}, 1),
             ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_op_scatter_add_rows(&y, ctx, x, (int64_t[]){0, 1, 2}, 2),
             ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_op_scatter_add_rows(&y, ctx, x, (int64_t[]){0, 1, 1}, -2),
             ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_op_scatter_add_rows(&y, ctx, x, NULL, 3), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_op_scatter_add_rows(NULL, ctx, x, (int64_t[]){0, 1, 1}, 2),
             ADAPT_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_eq(y, (adapt_tensor *)0x1);
    adapt_tensor_free(x), adapt_tensor_free(scalar);
    adapt_context_free(ctx);
}
END_TEST

/* Cross-entropy of one row in double, PyTorch's label-smoothing formula. */
static double ce_row(const float *z, int c, int label, double smoothing)
{
    double max = z[0], sum = 0.0, all = 0.0;
    for (int j = 1; j < c; j++)
        max = fmax(max, z[j]);
    for (int j = 0; j < c; j++)
        sum += exp(z[j] - max);
    for (int j = 0; j < c; j++)
        all += z[j] - max - log(sum);
    return -(1 - smoothing) * (z[label] - max - log(sum)) - smoothing * all / c;
}

START_TEST(cross_entropy_values_and_gradients)
{
    /* _i: 0 plain, 1 smoothed, 2 huge logits */
    const float smoothing = _i == 1 ? 0.1f : 0.0f, scale = _i == 2 ? 1000.0f : 3.0f;
    adapt_context *ctx = tu_context(ADAPT_BACKEND_DEFAULT);
    adapt_tensor *z = tu_param(2, (int64_t[]){6, 7}, 5, -scale, scale), *loss;
    const int32_t labels[6] = {0, 6, 3, 3, 1, 5};
    TU_OK(adapt_op_cross_entropy(&loss, ctx, z, labels, smoothing));
    ck_assert_int_eq(adapt_tensor_ndim(loss), 0);
    double want = 0.0;
    for (int i = 0; i < 6; i++)
        want += ce_row(adapt_tensor_data(z) + 7 * i, 7, labels[i], smoothing) / 6;
    ck_assert(isfinite(adapt_tensor_data(loss)[0]));
    ck_assert_double_eq_tol(adapt_tensor_data(loss)[0], want, 1e-5 * fmax(1.0, want));
    /* The gradient is (softmax - smoothed one-hot) / N, exact even where
     * finite differences of logits near 1000 would only measure rounding. */
    TU_OK(adapt_backward(ctx, loss));
    for (int i = 0; i < 6; i++) {
        const float *zi = adapt_tensor_data(z) + 7 * i;
        double max = zi[0], sum = 0.0;
        for (int j = 1; j < 7; j++)
            max = fmax(max, zi[j]);
        for (int j = 0; j < 7; j++)
            sum += exp(zi[j] - max);
        for (int j = 0; j < 7; j++) {
            double target = smoothing / 7.0 + (j == labels[i] ? 1.0 - smoothing : 0.0);
            double g = (exp(zi[j] - max) / sum - target) / 6.0;
            ck_assert_double_eq_tol(adapt_tensor_grad(z)[7 * i + j], g, 1e-6);
        }
    }
    if (_i < 2) {
        index_args a = {.labels = labels, .smoothing = smoothing};
        tu_gradcheck(ce_fwd, &z, 1, &a, 1e-2, 2e-3, 100);
    }
    adapt_tensor_free(z);
    adapt_context_free(ctx);
}
END_TEST

START_TEST(cross_entropy_errors)
{
    adapt_context *ctx = tu_context(ADAPT_BACKEND_DEFAULT);
    adapt_tensor *z = tu_param(2, (int64_t[]){2, 3}, 1, -1, 1), *y = (adapt_tensor *)0x1;
    adapt_tensor *flat = tu_param(1, (int64_t[]){3}, 1, -1, 1);
    adapt_tensor *cube = tu_param(3, (int64_t[]){2, 3, 1}, 1, -1, 1);
    adapt_tensor *no_rows = tu_param(2, (int64_t[]){0, 3}, 1, -1, 1);
    adapt_tensor *no_classes = tu_param(2, (int64_t[]){2, 0}, 1, -1, 1);
    const int32_t ok[2] = {0, 2}, bad[2] = {0, 3}, neg[2] = {-1, 0};
    TU_FAILS(adapt_op_cross_entropy(&y, ctx, z, bad, 0), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_op_cross_entropy(&y, ctx, z, neg, 0), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_op_cross_entropy(&y, ctx, z, NULL, 0), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_op_cross_entropy(&y, ctx, z, ok, 1.0f), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_op_cross_entropy(&y, ctx, z, ok, -0.1f), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_op_cross_entropy(&y, ctx, z, ok, NAN), ADAPT_ERR_NONFINITE);
    TU_FAILS(adapt_op_cross_entropy(&y, ctx, z, ok, INFINITY), ADAPT_ERR_NONFINITE);
    TU_FAILS(adapt_op_cross_entropy(&y, ctx, flat, ok, 0), ADAPT_ERR_SHAPE);
    TU_FAILS(adapt_op_cross_entropy(&y, ctx, cube, ok, 0), ADAPT_ERR_SHAPE);
    TU_FAILS(adapt_op_cross_entropy(&y, ctx, no_rows, ok, 0), ADAPT_ERR_SHAPE);
    TU_FAILS(adapt_op_cross_entropy(&y, ctx, no_classes, ok, 0), ADAPT_ERR_SHAPE);
    TU_FAILS(adapt_op_cross_entropy(&y, NULL, z, ok, 0), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_op_cross_entropy(NULL, ctx, z, ok, 0), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_op_cross_entropy(&y, ctx, NULL, ok, 0), ADAPT_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_eq(y, (adapt_tensor *)0x1);
    adapt_tensor_free(z), adapt_tensor_free(flat), adapt_tensor_free(cube);
    adapt_tensor_free(no_rows), adapt_tensor_free(no_classes);
    adapt_context_free(ctx);
}
END_TEST

START_TEST(mse_values_gradients_errors)
{
    adapt_context *ctx = tu_context(ADAPT_BACKEND_DEFAULT);
    adapt_tensor *p[2] = {tu_param(2, (int64_t[]){3, 4}, 1, -1, 1),
                          tu_param(2, (int64_t[]){3, 4}, 2, -1, 1)};
    adapt_tensor *loss, *y = (adapt_tensor *)0x1;
    TU_OK(adapt_op_mse(&loss, ctx, p[0], p[1]));
    double want = 0.0;
    for (int i = 0; i < 12; i++) {
        double d = (double)adapt_tensor_data(p[0])[i] - adapt_tensor_data(p[1])[i];
        want += d * d / 12;
    }
    ck_assert_double_eq_tol(adapt_tensor_data(loss)[0], want, 1e-6);
    tu_gradcheck(mse_fwd, p, 2, NULL, 1e-2, 1e-3, 100);
    /* A fixed target: only a receives 2 (a - b) / n. */
    TU_OK(adapt_param_set_requires_grad(p[1], 0));
    TU_OK(adapt_param_zero_grad(p[0]));
    TU_OK(adapt_param_zero_grad(p[1]));
    TU_OK(adapt_op_mse(&loss, ctx, p[0], p[1]));
    TU_OK(adapt_backward(ctx, loss));
    for (int i = 0; i < 12; i++) {
        double d = (double)adapt_tensor_data(p[0])[i] - adapt_tensor_data(p[1])[i];
        ck_assert_double_eq_tol(adapt_tensor_grad(p[0])[i], 2.0 * d / 12, 1e-6);
        ck_assert_float_eq(adapt_tensor_grad(p[1])[i], 0.0f);
    }
    adapt_tensor *other = tu_param(2, (int64_t[]){4, 3}, 3, -1, 1);
    adapt_tensor *empty = tu_param(2, (int64_t[]){0, 3}, 3, -1, 1);
    TU_FAILS(adapt_op_mse(&y, ctx, p[0], other), ADAPT_ERR_SHAPE);
    TU_FAILS(adapt_op_mse(&y, ctx, empty, empty), ADAPT_ERR_SHAPE);
    TU_FAILS(adapt_op_mse(&y, ctx, p[0], NULL), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_op_mse(&y, NULL, p[0], p[1]), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_op_mse(NULL, ctx, p[0], p[1]), ADAPT_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_eq(y, (adapt_tensor *)0x1);
    adapt_tensor_free(p[0]), adapt_tensor_free(p[1]);
    adapt_tensor_free(other), adapt_tensor_free(empty);
    adapt_context_free(ctx);
}
END_TEST

static Suite *index_loss_suite(void)
{
    Suite *s = suite_create("index_loss");
    TCase *tc = tcase_create("index_loss");
    tcase_add_test(tc, gather_and_scatter_rows);
    tcase_add_test(tc, row_index_errors);
    tcase_add_loop_test(tc, cross_entropy_values_and_gradients, 0, 3);
    tcase_add_test(tc, cross_entropy_errors);
    tcase_add_test(tc, mse_values_gradients_errors);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run(index_loss_suite());
}
