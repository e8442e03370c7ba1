#include "check_util.h"

#include <math.h>
#include <stdlib.h>

#include "lib/core/handle.h"
#include "lib/core/tensor.h"

adapt_tensor *tu_record(const adapt_tensor *handle)
{
    adapt_tensor *t = NULL;
    TU_OK(ad_tensor_from_handle(&t, handle, "tu_record", "handle"));
    return t;
}

adapt_tensor *tu_handle(const adapt_tensor *record) { return ad_tensor_handle(record); }

adapt_context *tu_context(adapt_backend backend) { return tu_context_threads(backend, 1); }

adapt_context *tu_context_threads(adapt_backend backend, int32_t n_threads)
{
    adapt_context_params p;
    adapt_context_params_init(&p, sizeof p);
    p.n_threads = n_threads;
    p.backend = backend;
    adapt_context *ctx = NULL;
    TU_OK(adapt_context_create(&ctx, &p));
    TU_OK(adapt_context_set_grad(ctx, 1));
    return ctx;
}

void tu_fill(float *x, int64_t n, uint64_t seed, float lo, float hi)
{
    uint64_t s = seed * 0x9e3779b97f4a7c15ull + 1;
    for (int64_t i = 0; i < n; i++) {
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        x[i] = lo + (hi - lo) * (float)(s >> 40) / 16777216.0f;
    }
}

adapt_tensor *tu_param(int32_t ndim, const int64_t *shape, uint64_t seed, float lo, float hi)
{
    adapt_tensor *t = NULL;
    TU_OK(adapt_param_create(&t, ndim, shape));
    tu_fill(adapt_tensor_data(t), adapt_tensor_numel(t), seed, lo, hi);
    return t;
}

/* sum(out * r) in double, from a forward pass without the tape. */
static double probe_loss(adapt_context *ctx, tu_forward_fn forward, adapt_tensor **params,
                         void *arg, const float *r)
{
    adapt_context_reset(ctx);
    TU_OK(adapt_context_set_grad(ctx, 0));
    adapt_tensor *out = NULL;
    TU_OK(forward(&out, ctx, params, arg));
    const float *y = adapt_tensor_data(out);
    double loss = 0.0;
    for (int64_t i = 0; i < adapt_tensor_numel(out); i++)
        loss += (double)y[i] * r[i];
    TU_OK(adapt_context_set_grad(ctx, 1));
    return loss;
}

/* Runs forward + backward of sum(out * r) and returns a copy of R's values. */
static float *analytic_pass(adapt_context *ctx, tu_forward_fn forward, adapt_tensor **params,
                            int32_t n_params, void *arg)
{
    for (int32_t i = 0; i < n_params; i++)
        if (adapt_tensor_grad(params[i]))
            TU_OK(adapt_param_zero_grad(params[i]));
    adapt_context_reset(ctx);
    adapt_tensor *out = NULL, *rt = NULL, *prod = NULL, *loss = NULL;
    TU_OK(forward(&out, ctx, params, arg));
    int64_t n = adapt_tensor_numel(out);
    float *r = malloc((size_t)(n ? n : 1) * sizeof *r);
    tu_fill(r, n, 4242, -1.0f, 1.0f);
    int64_t shape[ADAPT_MAX_DIMS];
    for (int32_t d = 0; d < adapt_tensor_ndim(out); d++)
        shape[d] = adapt_tensor_dim(out, d);
    TU_OK(adapt_tensor_input(&rt, ctx, adapt_tensor_ndim(out), shape, r));
    TU_OK(adapt_op_mul(&prod, ctx, out, rt));
    TU_OK(adapt_op_sum(&loss, ctx, prod, ADAPT_AXIS_ALL));
    TU_OK(adapt_backward(ctx, loss));
    return r;
}

void tu_gradcheck(tu_forward_fn forward, adapt_tensor **params, int32_t n_params, void *arg,
                  double h, double tol, int32_t max_checks)
{
    adapt_context *ctx = tu_context(ADAPT_BACKEND_REFERENCE);
    float *r = analytic_pass(ctx, forward, params, n_params, arg);
    for (int32_t p = 0; p < n_params; p++) {
        float *grad = adapt_tensor_grad(params[p]);
        if (!ad_requires_grad(params[p]))
            continue; /* frozen: its (zero) gradient is not d loss / d p */
        float *x = adapt_tensor_data(params[p]);
        int64_t n = adapt_tensor_numel(params[p]);
        int64_t stride = n > max_checks ? n / max_checks : 1;
        for (int64_t i = 0; i < n; i += stride) {
            float saved = x[i];
            x[i] = saved + (float)h;
            double up = probe_loss(ctx, forward, params, arg, r);
            x[i] = saved - (float)h;
            double down = probe_loss(ctx, forward, params, arg, r);
            x[i] = saved;
            double numeric = (up - down) / (2.0 * h);
            double err = fabs(grad[i] - numeric);
            ck_assert_msg(err <= tol * fmax(1.0, fabs(numeric)),
                          "param %d element %lld: analytic %.6g numeric %.6g", (int)p,
                          (long long)i, (double)grad[i], numeric);
        }
    }
    free(r);
    adapt_context_free(ctx);
}

/* Output and parameter gradients of one analytic pass, copied out. */
static float **pass_results(adapt_context *ctx, tu_forward_fn forward, adapt_tensor **params,
                            int32_t n_params, void *arg, int64_t *n_out)
{
    free(analytic_pass(ctx, forward, params, n_params, arg));
    float **copies = calloc((size_t)n_params + 1, sizeof *copies);
    adapt_tensor *out = NULL;
    adapt_context_reset(ctx);
    TU_OK(adapt_context_set_grad(ctx, 0));
    TU_OK(forward(&out, ctx, params, arg));
    TU_OK(adapt_context_set_grad(ctx, 1));
    *n_out = adapt_tensor_numel(out);
    copies[n_params] = malloc((size_t)(*n_out ? *n_out : 1) * sizeof(float));
    TU_OK(adapt_tensor_read(out, copies[n_params], *n_out));
    for (int32_t p = 0; p < n_params; p++) {
        int64_t n = adapt_tensor_numel(params[p]);
        copies[p] = malloc((size_t)(n ? n : 1) * sizeof(float));
        const float *g = adapt_tensor_grad(params[p]);
        for (int64_t i = 0; i < n; i++)
            copies[p][i] = g ? g[i] : 0.0f;
    }
    return copies;
}

static void assert_close(const float *got, const float *want, int64_t n, double tol,
                         const char *what, int32_t index)
{
    for (int64_t i = 0; i < n; i++) {
        double err = fabs((double)got[i] - want[i]);
        ck_assert_msg(tol == 0.0 ? got[i] == want[i] : err <= tol * fmax(1.0, fabs(want[i])),
                      "%s %d element %lld: %.9g on several threads, %.9g on one", what,
                      (int)index, (long long)i, (double)got[i], (double)want[i]);
    }
}

void tu_check_threads(tu_forward_fn forward, adapt_tensor **params, int32_t n_params,
                      void *arg, adapt_backend backend, int32_t n_threads, double tol)
{
    adapt_context *one = tu_context_threads(backend, 1);
    adapt_context *many = tu_context_threads(backend, n_threads);
    int64_t n_out, n_out_many;
    float **want = pass_results(one, forward, params, n_params, arg, &n_out);
    float **got = pass_results(many, forward, params, n_params, arg, &n_out_many);
    ck_assert_int_eq(n_out, n_out_many);
    assert_close(got[n_params], want[n_params], n_out, tol, "output", 0);
    for (int32_t p = 0; p < n_params; p++)
        assert_close(got[p], want[p], adapt_tensor_numel(params[p]), tol, "gradient of param",
                     p);
    for (int32_t p = 0; p <= n_params; p++)
        free(want[p]), free(got[p]);
    free(want), free(got);
    adapt_context_free(one);
    adapt_context_free(many);
}

int tu_run(Suite *suite)
{
    SRunner *runner = srunner_create(suite);
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

adapt_model *tu_token_mlp(int64_t tokens, int64_t dim, int64_t hidden, uint64_t seed)
{
    adapt_model *m = NULL;
    TU_OK(adapt_model_create_sequential(&m, 2, (int64_t[]){tokens, dim}, seed));
    const int64_t widths[] = {hidden, 0, dim};
    const int32_t kinds[] = {ADAPT_LAYER_TOKEN_LINEAR, ADAPT_LAYER_GELU,
                             ADAPT_LAYER_TOKEN_LINEAR};
    for (int i = 0; i < 3; i++) {
        adapt_layer_params p;
        adapt_layer_params_init(&p, sizeof p);
        p.kind = kinds[i], p.out_features = widths[i];
        TU_OK(adapt_model_append(m, &p));
    }
    return m;
}
