/* The operations of normalizing flows (lib/ops/flow_coupling.c, flow_losses.c): values against
 * formulas worked out here, exact inverses, log-determinants against numerical Jacobians, and
 * every gradient against central differences. */
#include <math.h>
#include <string.h>

#include "check_util.h"
#include "lib/ops/ops.h"

enum { ROWS = 4, D = 5 };

typedef struct {
    int32_t parity, additive;
} coupling_arg;

/* params: x, t and, unless additive, s. */
static adapt_status coupling_forward(adapt_tensor **out, adapt_context *ctx,
                                     adapt_tensor **params, void *arg)
{
    const coupling_arg *c = arg;
    adapt_tensor *y;
    adapt_status st = ad_op_coupling(&y, ctx, tu_record(params[0]),
                                     c->additive ? NULL : tu_record(params[2]),
                                     tu_record(params[1]), c->parity);
    if (!st)
        *out = tu_handle(y);
    return st;
}

START_TEST(coupling_scales_and_shifts_one_half_and_inverts_exactly)
{
    adapt_context *ctx = tu_context(ADAPT_BACKEND_REFERENCE);
    for (int32_t parity = 0; parity < 2; parity++) {
        int64_t lo, hi;
        ad_coupling_columns(&lo, &hi, D, parity);
        ck_assert_int_eq(hi - lo, parity ? D / 2 : D - D / 2);
        const int64_t w = hi - lo;
        adapt_tensor *params[3] = {tu_param(2, (int64_t[]){ROWS, D}, 1, -2.0f, 2.0f),
                                   tu_param(2, (int64_t[]){ROWS, w}, 3, -1.0f, 1.0f),
                                   tu_param(2, (int64_t[]){ROWS, w}, 2, -1.0f, 1.0f)};
        const float *x = adapt_tensor_data(params[0]), *t = adapt_tensor_data(params[1]),
                    *s = adapt_tensor_data(params[2]);
        for (int additive = 0; additive < 2; additive++) {
            coupling_arg arg = {parity, additive};
            adapt_tensor *y = NULL;
            TU_OK(coupling_forward(&y, ctx, params, &arg));
            const float *v = adapt_tensor_data(y);
            for (int64_t i = 0; i < ROWS; i++)
                for (int64_t j = 0; j < D; j++) {
                    const int64_t k = i * w + (j - lo);
                    const double want = j < lo || j >= hi ? x[i * D + j]
                                        : additive ? x[i * D + j] + t[k]
                                                   : x[i * D + j] * exp(s[k]) + t[k];
                    ck_assert_double_eq_tol(v[i * D + j], want, 1e-6);
                }
            float back[ROWS * D];
            ad_coupling_inverse(back, v, additive ? NULL : s, t, ROWS, D, parity);
            for (int64_t k = 0; k < ROWS * D; k++)
                ck_assert_float_eq_tol(back[k], x[k], 1e-5f);
            tu_gradcheck(coupling_forward, params, additive ? 2 : 3, &arg, 1e-3, 1e-2, 20);
        }
        for (int k = 0; k < 3; k++)
            adapt_tensor_free(params[k]);
    }
    adapt_context_free(ctx);
}
END_TEST

/* The per-row Jacobian of the coupling for fixed s and t is diagonal, exp(s) on the moved
 * half: its log-determinant, by central differences, is the row's sum of s. */
START_TEST(coupling_log_determinant_is_the_sum_of_s)
{
    adapt_context *ctx = tu_context(ADAPT_BACKEND_REFERENCE);
    const int32_t parity = 0;
    const int64_t w = D - D / 2;
    float x[D], s[3], t[3], h = 1e-2f;
    tu_fill(x, D, 4, -1.0f, 1.0f);
    tu_fill(s, w, 5, -1.0f, 1.0f);
    tu_fill(t, w, 6, -1.0f, 1.0f);
    double logdet = 0.0;
    for (int64_t j = 0; j < D; j++) {
        float up[D], down[D], yu[D], yd[D];
        memcpy(up, x, sizeof x), memcpy(down, x, sizeof x);
        up[j] += h, down[j] -= h;
        adapt_tensor *xu = NULL, *xd = NULL, *st = NULL, *tt = NULL, *ou = NULL, *od = NULL;
        TU_OK(adapt_tensor_input(&xu, ctx, 2, (int64_t[]){1, D}, up));
        TU_OK(adapt_tensor_input(&xd, ctx, 2, (int64_t[]){1, D}, down));
        TU_OK(adapt_tensor_input(&st, ctx, 2, (int64_t[]){1, w}, s));
        TU_OK(adapt_tensor_input(&tt, ctx, 2, (int64_t[]){1, w}, t));
        TU_OK(ad_op_coupling(&ou, ctx, tu_record(xu), tu_record(st), tu_record(tt), parity));
        TU_OK(ad_op_coupling(&od, ctx, tu_record(xd), tu_record(st), tu_record(tt), parity));
        TU_OK(adapt_tensor_read(tu_handle(ou), yu, D));
        TU_OK(adapt_tensor_read(tu_handle(od), yd, D));
        for (int64_t k = 0; k < D; k++) /* off the diagonal nothing moves */
            if (k != j)
                ck_assert_double_eq_tol((yu[k] - yd[k]) / (2.0 * h), 0.0, 1e-4);
        logdet += log(fabs((yu[j] - yd[j]) / (2.0 * h)));
    }
    ck_assert_double_eq_tol(logdet, (double)s[0] + s[1] + s[2], 1e-3);
    adapt_context_free(ctx);
}
END_TEST

typedef struct {
    adapt_tensor *running_var;
} bn_arg;

static adapt_status bn_logdet_forward(adapt_tensor **out, adapt_context *ctx,
                                      adapt_tensor **params, void *arg)
{
    const bn_arg *b = arg;
    adapt_tensor *y;
    adapt_status st = ad_op_batchnorm_logdet(&y, ctx, tu_record(params[0]),
                                             tu_record(params[1]),
                                             b->running_var ? tu_record(b->running_var) : NULL,
                                             1e-5f);
    if (!st)
        *out = tu_handle(y);
    return st;
}

START_TEST(batchnorm_log_determinant_in_training_and_inference)
{
    adapt_context *ctx = tu_context(ADAPT_BACKEND_REFERENCE);
    adapt_tensor *params[2] = {tu_param(2, (int64_t[]){6, 3}, 7, -1.0f, 2.0f),
                               tu_param(1, (int64_t[]){3}, 8, 0.5f, 1.5f)};
    adapt_tensor *running = tu_param(1, (int64_t[]){3}, 9, 0.5f, 2.0f);
    TU_OK(adapt_param_set_requires_grad(running, 0));
    const float *x = adapt_tensor_data(params[0]), *g = adapt_tensor_data(params[1]),
                *rv = adapt_tensor_data(running);
    TU_OK(adapt_context_set_training(ctx, 1));
    bn_arg arg = {running};
    adapt_tensor *y = NULL;
    TU_OK(bn_logdet_forward(&y, ctx, params, &arg));
    double want = 0.0;
    for (int j = 0; j < 3; j++) {
        double m = 0.0, v = 0.0;
        for (int i = 0; i < 6; i++)
            m += x[i * 3 + j] / 6.0;
        for (int i = 0; i < 6; i++)
            v += (x[i * 3 + j] - m) * (x[i * 3 + j] - m) / 6.0;
        want += log(g[j]) - 0.5 * log(v + 1e-5);
    }
    ck_assert_double_eq_tol(adapt_tensor_data(y)[0], want, 1e-5);
    tu_gradcheck(bn_logdet_forward, params, 2, &arg, 1e-3, 1e-2, 18);
    TU_OK(adapt_context_set_training(ctx, 0));
    TU_OK(bn_logdet_forward(&y, ctx, params, &arg));
    want = 0.0;
    for (int j = 0; j < 3; j++)
        want += log(g[j]) - 0.5 * log(rv[j] + 1e-5);
    ck_assert_double_eq_tol(adapt_tensor_data(y)[0], want, 1e-5);
    arg.running_var = NULL;
    TU_FAILS(bn_logdet_forward(&y, ctx, params, &arg), ADAPT_ERR_INVALID_ARGUMENT);
    for (int k = 0; k < 2; k++)
        adapt_tensor_free(params[k]);
    adapt_tensor_free(running);
    adapt_context_free(ctx);
}
END_TEST

typedef struct {
    float mean[ROWS * D], std[ROWS * D];
    int32_t groups[ROWS];
} loss_arg;

static adapt_status nll_forward(adapt_tensor **out, adapt_context *ctx, adapt_tensor **params,
                                void *arg)
{
    const loss_arg *a = arg;
    adapt_tensor *y;
    adapt_status st = ad_op_gaussian_nll(&y, ctx, tu_record(params[0]), a->mean, a->std);
    if (!st)
        *out = tu_handle(y);
    return st;
}

static adapt_status spread_forward(adapt_tensor **out, adapt_context *ctx, adapt_tensor **params,
                                   void *arg)
{
    const loss_arg *a = arg;
    adapt_tensor *y;
    adapt_status st = ad_op_group_spread(&y, ctx, tu_record(params[0]), a->groups, 1, D);
    if (!st)
        *out = tu_handle(y);
    return st;
}

START_TEST(prior_likelihood_and_group_spread)
{
    adapt_context *ctx = tu_context(ADAPT_BACKEND_REFERENCE);
    adapt_tensor *z = tu_param(2, (int64_t[]){ROWS, D}, 10, -2.0f, 2.0f);
    const float *v = adapt_tensor_data(z);
    loss_arg a = {.groups = {0, 1, 0, -1}};
    tu_fill(a.mean, ROWS * D, 11, -1.0f, 1.0f);
    tu_fill(a.std, ROWS * D, 12, 0.3f, 1.5f);
    adapt_tensor *y = NULL;
    TU_OK(nll_forward(&y, ctx, &z, &a));
    double want = 0.0;
    for (int k = 0; k < ROWS * D; k++) {
        const double u = (v[k] - a.mean[k]) / a.std[k];
        want += (0.5 * u * u + log(a.std[k]) + 0.5 * log(2.0 * 3.14159265358979323846)) / ROWS;
    }
    ck_assert_double_eq_tol(adapt_tensor_data(y)[0], want, 1e-5);
    tu_gradcheck(nll_forward, &z, 1, &a, 1e-3, 1e-2, 20);
    TU_OK(spread_forward(&y, ctx, &z, &a));
    want = 0.0; /* rows 0 and 2 share group 0; rows 1 and 3 are alone */
    for (int j = 1; j < D; j++) {
        const double c = 0.5 * (v[j] + v[2 * D + j]);
        want += ((v[j] - c) * (v[j] - c) + (v[2 * D + j] - c) * (v[2 * D + j] - c)) / ROWS;
    }
    ck_assert_double_eq_tol(adapt_tensor_data(y)[0], want, 1e-5);
    tu_gradcheck(spread_forward, &z, 1, &a, 1e-3, 1e-2, 20);
    adapt_tensor_free(z);
    adapt_context_free(ctx);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("flow_ops");
    TCase *tc = tcase_create("flow_ops");
    tcase_add_test(tc, coupling_scales_and_shifts_one_half_and_inverts_exactly);
    tcase_add_test(tc, coupling_log_determinant_is_the_sum_of_s);
    tcase_add_test(tc, batchnorm_log_determinant_in_training_and_inference);
    tcase_add_test(tc, prior_likelihood_and_group_spread);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
