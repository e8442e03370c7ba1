/* reshape, transpose, permute, slice, concat: values against hand-indexed
 * loops, gradients against finite differences, and their error paths. */
#include "check_util.h"

typedef struct {
    int32_t perm[4];
    int32_t axis;
    int64_t start, end;
} shape_args;

static adapt_status permute_fwd(adapt_tensor **out, adapt_context *ctx, adapt_tensor **p,
                                void *arg)
{
    return adapt_op_permute(out, ctx, p[0], ((shape_args *)arg)->perm);
}

static adapt_status transpose_fwd(adapt_tensor **out, adapt_context *ctx, adapt_tensor **p,
                                  void *arg)
{
    (void)arg;
    return adapt_op_transpose(out, ctx, p[0], -3, -1);
}

static adapt_status reshape_fwd(adapt_tensor **out, adapt_context *ctx, adapt_tensor **p,
                                void *arg)
{
    (void)arg;
    adapt_tensor *r, *sq;
    adapt_status st = adapt_op_reshape(&r, ctx, p[0], 2, (int64_t[]){6, 4});
    if (!st) /* a non-linear op after the view checks its gradient is routed */
        st = adapt_op_mul(&sq, ctx, r, r);
    if (!st)
        *out = sq;
    return st;
}

static adapt_status slice_fwd(adapt_tensor **out, adapt_context *ctx, adapt_tensor **p,
                              void *arg)
{
    shape_args *a = arg;
    return adapt_op_slice(out, ctx, p[0], a->axis, a->start, a->end);
}

/* The same tensor twice: both copies' gradients must add up. */
static adapt_status self_concat_fwd(adapt_tensor **out, adapt_context *ctx, adapt_tensor **p,
                                    void *arg)
{
    (void)arg;
    adapt_tensor *twice[2] = {p[0], p[0]}, *c, *sq;
    adapt_status st = adapt_op_concat(&c, ctx, twice, 2, 0);
    if (!st)
        st = adapt_op_mul(&sq, ctx, c, c);
    if (!st)
        *out = sq;
    return st;
}

/* x reaches the result through slice, transpose and mul, so every backward
 * must add to the gradient the later ops wrote: (x^T * x) rows 1..2 times
 * x rows 0..1, for a square x. */
static adapt_status reuse_fwd(adapt_tensor **out, adapt_context *ctx, adapt_tensor **p,
                              void *arg)
{
    (void)arg;
    adapt_tensor *t, *tx, *low, *high, *y;
    adapt_status st = adapt_op_slice(&high, ctx, p[0], 0, 0, 2);
    if (!st)
        st = adapt_op_transpose(&t, ctx, p[0], 0, 1);
    if (!st)
        st = adapt_op_mul(&tx, ctx, t, p[0]);
    if (!st)
        st = adapt_op_slice(&low, ctx, tx, 0, 1, 3);
    if (!st)
        st = adapt_op_mul(&y, ctx, low, high);
    if (!st)
        *out = y;
    return st;
}

static adapt_status concat_fwd(adapt_tensor **out, adapt_context *ctx, adapt_tensor **p,
                               void *arg)
{
    return adapt_op_concat(out, ctx, p, 3, ((shape_args *)arg)->axis);
}

START_TEST(permute_matches_index_arithmetic)
{
    adapt_context *ctx = tu_context(ADAPT_BACKEND_DEFAULT);
    const int64_t d[4] = {2, 3, 4, 5};
    adapt_tensor *x = tu_param(4, d, 1, -1, 1), *y;
    const int32_t perms[][4] = {{3, 1, 0, 2}, {0, 1, 3, 2}, {2, 0, 1, 3}, {0, 1, 2, 3}};
    for (int k = 0; k < 4; k++) {
        const int32_t *pm = perms[k];
        TU_OK(adapt_op_permute(&y, ctx, x, pm));
        const float *xv = adapt_tensor_data(x), *yv = adapt_tensor_data(y);
        int64_t i[4], bad = 0;
        for (i[0] = 0; i[0] < 2; i[0]++)
            for (i[1] = 0; i[1] < 3; i[1]++)
                for (i[2] = 0; i[2] < 4; i[2]++)
                    for (i[3] = 0; i[3] < 5; i[3]++) {
                        int64_t src = ((i[0] * 3 + i[1]) * 4 + i[2]) * 5 + i[3], dst = 0;
                        for (int a = 0; a < 4; a++)
                            dst = dst * d[pm[a]] + i[pm[a]];
                        bad += yv[dst] != xv[src];
                    }
        ck_assert_int_eq(bad, 0);
        for (int a = 0; a < 4; a++)
            ck_assert_int_eq(adapt_tensor_dim(y, a), d[pm[a]]);
        shape_args args = {.perm = {pm[0], pm[1], pm[2], pm[3]}};
        tu_gradcheck(permute_fwd, &x, 1, &args, 1e-2, 1e-3, 200);
    }
    TU_OK(adapt_op_transpose(&y, ctx, x, -1, 1));
    ck_assert_int_eq(adapt_tensor_dim(y, 1), 5);
    ck_assert_int_eq(adapt_tensor_dim(y, 3), 3);
    ck_assert_float_eq(adapt_tensor_data(y)[(1 * 4 + 0) * 3 + 2],   /* y[0][1][0][2] */
                       adapt_tensor_data(x)[(2 * 4 + 0) * 5 + 1]);  /* x[0][2][0][1] */
    tu_gradcheck(transpose_fwd, &x, 1, NULL, 1e-2, 1e-3, 200);
    adapt_tensor *square = tu_param(2, (int64_t[]){4, 4}, 7, -1, 1);
    tu_gradcheck(reuse_fwd, &square, 1, NULL, 1e-2, 1e-3, 100);
    adapt_tensor_free(square);
    adapt_tensor_free(x);
    adapt_context_free(ctx);
}
END_TEST

START_TEST(reshape_is_a_view_with_gradient)
{
    adapt_context *ctx = tu_context(ADAPT_BACKEND_DEFAULT);
    adapt_tensor *x = tu_param(3, (int64_t[]){2, 3, 4}, 2, -1, 1), *y;
    TU_OK(adapt_op_reshape(&y, ctx, x, 2, (int64_t[]){4, 6}));
    ck_assert_int_eq(adapt_tensor_dim(y, 0), 4);
    ck_assert_mem_eq(adapt_tensor_data(y), adapt_tensor_data(x), 24 * sizeof(float));
    TU_OK(adapt_op_reshape(&y, ctx, x, 1, (int64_t[]){24}));
    ck_assert_int_eq(adapt_tensor_ndim(y), 1);
    adapt_tensor *view_of_view, *one, *scalar;
    TU_OK(adapt_op_reshape(&view_of_view, ctx, y, 4, (int64_t[]){3, 2, 2, 2}));
    ck_assert_int_eq(adapt_tensor_dim(view_of_view, 3), 2);
    ck_assert_float_eq(adapt_tensor_data(view_of_view)[23], adapt_tensor_data(x)[23]);
    TU_OK(adapt_op_slice(&one, ctx, y, 0, 5, 6));
    TU_OK(adapt_op_reshape(&scalar, ctx, one, 0, NULL));
    ck_assert_int_eq(adapt_tensor_ndim(scalar), 0);
    ck_assert_float_eq(adapt_tensor_data(scalar)[0], adapt_tensor_data(x)[5]);
    tu_gradcheck(reshape_fwd, &x, 1, NULL, 1e-2, 1e-3, 100);
    adapt_tensor_free(x);
    adapt_context_free(ctx);
}
END_TEST

START_TEST(slice_and_concat_values_and_gradients)
{
    adapt_context *ctx = tu_context(ADAPT_BACKEND_DEFAULT);
    adapt_tensor *x = tu_param(3, (int64_t[]){3, 5, 2}, 3, -1, 1), *y;
    TU_OK(adapt_op_slice(&y, ctx, x, 1, 2, 2)); /* an empty range is allowed */
    ck_assert_int_eq(adapt_tensor_numel(y), 0);
    TU_OK(adapt_op_slice(&y, ctx, x, -1, 1, 2));
    ck_assert_int_eq(adapt_tensor_numel(y), 15);
    for (int i = 0; i < 15; i++)
        ck_assert_float_eq(adapt_tensor_data(y)[i], adapt_tensor_data(x)[2 * i + 1]);
    TU_OK(adapt_op_slice(&y, ctx, x, 1, 1, 4));
    ck_assert_int_eq(adapt_tensor_dim(y, 1), 3);
    for (int a = 0; a < 3; a++)
        for (int b = 0; b < 3; b++)
            for (int c = 0; c < 2; c++)
                ck_assert_float_eq(adapt_tensor_data(y)[(a * 3 + b) * 2 + c],
                                   adapt_tensor_data(x)[(a * 5 + b + 1) * 2 + c]);
    for (int32_t axis = 0; axis < 3; axis++) {
        shape_args args = {.axis = axis, .start = 1, .end = 2};
        tu_gradcheck(slice_fwd, &x, 1, &args, 1e-2, 1e-3, 100);
    }
    /* concat of [3,1,2], [3,5,2], [3,2,2] along axis 1 */
    adapt_tensor *parts[3] = {tu_param(3, (int64_t[]){3, 1, 2}, 4, -1, 1), x,
                              tu_param(3, (int64_t[]){3, 2, 2}, 5, -1, 1)};
    TU_OK(adapt_op_concat(&y, ctx, parts, 3, -2));
    ck_assert_int_eq(adapt_tensor_dim(y, 1), 8);
    const int64_t width[3] = {1, 5, 2}, first[3] = {0, 1, 6};
    for (int k = 0; k < 3; k++)
        for (int a = 0; a < 3; a++)
            for (int b = 0; b < width[k]; b++)
                for (int c = 0; c < 2; c++)
                    ck_assert_float_eq(adapt_tensor_data(y)[(a * 8 + first[k] + b) * 2 + c],
                                       adapt_tensor_data(parts[k])[(a * width[k] + b) * 2 + c]);
    shape_args args = {.axis = 1};
    tu_gradcheck(concat_fwd, parts, 3, &args, 1e-2, 1e-3, 100);
    tu_gradcheck(self_concat_fwd, &x, 1, NULL, 1e-2, 1e-3, 100);
    TU_OK(adapt_op_concat(&y, ctx, &x, 1, 0)); /* a single input is a copy */
    ck_assert_mem_eq(adapt_tensor_data(y), adapt_tensor_data(x), 30 * sizeof(float));
    adapt_tensor_free(parts[0]), adapt_tensor_free(parts[2]), adapt_tensor_free(x);
    adapt_context_free(ctx);
}
END_TEST

START_TEST(errors_leave_output_untouched)
{
    adapt_context *ctx = tu_context(ADAPT_BACKEND_DEFAULT);
    adapt_tensor *x = tu_param(2, (int64_t[]){3, 4}, 1, -1, 1);
    adapt_tensor *z = tu_param(2, (int64_t[]){2, 5}, 1, -1, 1);
    adapt_tensor *y = (adapt_tensor *)0x1;
    TU_FAILS(adapt_op_reshape(&y, ctx, x, 2, (int64_t[]){5, 2}), ADAPT_ERR_SHAPE);
    TU_FAILS(adapt_op_reshape(&y, ctx, x, 2, (int64_t[]){-3, -4}), ADAPT_ERR_SHAPE);
    TU_FAILS(adapt_op_reshape(&y, ctx, x, 2, NULL), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_op_reshape(&y, ctx, x, 9, (int64_t[]){12, 1, 1, 1, 1, 1, 1, 1, 1}),
             ADAPT_ERR_SHAPE);
    TU_FAILS(adapt_op_reshape(&y, NULL, x, 1, (int64_t[]){12}), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_op_reshape(NULL, ctx, x, 1, (int64_t[]){12}), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_op_reshape(&y, ctx, NULL, 1, (int64_t[]){12}), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_op_permute(&y, ctx, x, (int32_t[]){0, 0}), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_op_permute(&y, ctx, x, (int32_t[]){1, 2}), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_op_permute(&y, ctx, x, (int32_t[]){-1, 0}), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_op_permute(&y, ctx, x, NULL), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_op_permute(&y, ctx, NULL, (int32_t[]){1, 0}), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_op_permute(&y, NULL, x, (int32_t[]){1, 0}), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_op_transpose(&y, ctx, x, 0, 2), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_op_transpose(&y, ctx, x, -3, 0), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_op_transpose(&y, ctx, NULL, 0, 1), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_op_transpose(NULL, ctx, x, 0, 1), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_op_slice(&y, ctx, x, 1, 3, 2), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_op_slice(&y, ctx, x, 1, -1, 2), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_op_slice(&y, ctx, x, 1, 0, 5), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_op_slice(&y, ctx, x, 2, 0, 1), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_op_slice(&y, ctx, x, 1, 0, -1), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_op_slice(&y, ctx, NULL, 0, 0, 1), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_op_slice(NULL, ctx, x, 0, 0, 1), ADAPT_ERR_INVALID_ARGUMENT);
    adapt_tensor *flat = tu_param(1, (int64_t[]){4}, 1, -1, 1);
    adapt_tensor *pair[2] = {x, z}, *with_null[2] = {x, NULL}, *ranks[2] = {x, flat};
    TU_FAILS(adapt_op_concat(&y, ctx, ranks, 2, 0), ADAPT_ERR_SHAPE);
    TU_FAILS(adapt_op_concat(NULL, ctx, pair, 2, 0), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_op_concat(&y, NULL, pair, 2, 0), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_op_concat(&y, ctx, pair, 2, 0), ADAPT_ERR_SHAPE);
    TU_FAILS(adapt_op_concat(&y, ctx, pair, 2, 1), ADAPT_ERR_SHAPE);
    TU_FAILS(adapt_op_concat(&y, ctx, with_null, 2, 0), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_op_concat(&y, ctx, pair, 0, 0), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_op_concat(&y, ctx, pair, -1, 0), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_op_concat(&y, ctx, NULL, 2, 0), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_op_concat(&y, ctx, pair, 1, 3), ADAPT_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_eq(y, (adapt_tensor *)0x1);
    adapt_tensor_free(x), adapt_tensor_free(z), adapt_tensor_free(flat);
    adapt_context_free(ctx);
}
END_TEST

static Suite *shape_suite(void)
{
    Suite *s = suite_create("shape");
    TCase *tc = tcase_create("shape");
    tcase_add_test(tc, permute_matches_index_arithmetic);
    tcase_add_test(tc, reshape_is_a_view_with_gradient);
    tcase_add_test(tc, slice_and_concat_values_and_gradients);
    tcase_add_test(tc, errors_leave_output_untouched);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run(shape_suite());
}
