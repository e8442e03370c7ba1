/* Optimizers, gradient clipping and learning-rate schedules against the PyTorch formulas
 * (torch.optim.SGD, torch.optim.AdamW, clip_grad_norm_) recomputed here in double. */
#include <math.h>
#include <string.h>

#include "check_util.h"
#include "lib/train/optimizer.h"
#include "lib/train/schedule.h"

#define N_STEPS 6
#define N_VALUES 7 /* per parameter: a [7] vector and a [7, 1] column */

typedef struct {
    double p[2][N_VALUES], m[2][N_VALUES], v[2][N_VALUES];
} reference;

static void make_params(adapt_tensor **p)
{
    p[0] = tu_param(1, (int64_t[]){N_VALUES}, 11, -1.0f, 1.0f);
    p[1] = tu_param(2, (int64_t[]){N_VALUES, 1}, 12, -2.0f, 2.0f);
}

static void load_reference(reference *r, adapt_tensor **p)
{
    memset(r, 0, sizeof *r);
    for (int k = 0; k < 2; k++)
        for (int i = 0; i < N_VALUES; i++)
            r->p[k][i] = adapt_tensor_data(p[k])[i];
}

/* Gradients of step t: fixed pseudo-random values, different every step. */
static void set_grads(adapt_tensor **p, int t)
{
    for (int k = 0; k < 2; k++)
        tu_fill(adapt_tensor_grad(p[k]), N_VALUES, 100 + 10 * (uint64_t)t + (uint64_t)k, -1.5f,
                1.5f);
}

static void sgd_reference(reference *r, adapt_tensor **p, const ad_optim_config *c, double lr)
{
    for (int k = 0; k < 2; k++)
        for (int i = 0; i < N_VALUES; i++) {
            double d = adapt_tensor_grad(p[k])[i] + c->weight_decay * r->p[k][i];
            if (c->momentum != 0.0f) {
                r->m[k][i] = c->momentum * r->m[k][i] + d; /* first step: m = d */
                d = c->nesterov ? d + c->momentum * r->m[k][i] : r->m[k][i];
            }
            r->p[k][i] -= lr * d;
        }
}

static void adamw_reference(reference *r, adapt_tensor **p, const ad_optim_config *c, double lr,
                            int t)
{
    const double b1 = c->beta1, b2 = c->beta2;
    for (int k = 0; k < 2; k++)
        for (int i = 0; i < N_VALUES; i++) {
            const double g = adapt_tensor_grad(p[k])[i];
            r->p[k][i] *= 1.0 - lr * c->weight_decay;
            r->m[k][i] = b1 * r->m[k][i] + (1.0 - b1) * g;
            r->v[k][i] = b2 * r->v[k][i] + (1.0 - b2) * g * g;
            const double m_hat = r->m[k][i] / (1.0 - pow(b1, t));
            const double v_hat = r->v[k][i] / (1.0 - pow(b2, t));
            r->p[k][i] -= lr * m_hat / (sqrt(v_hat) + c->eps);
        }
}

static void assert_matches(const reference *r, adapt_tensor **p, int t)
{
    for (int k = 0; k < 2; k++)
        for (int i = 0; i < N_VALUES; i++) {
            const double got = adapt_tensor_data(p[k])[i], want = r->p[k][i];
            ck_assert_msg(fabs(got - want) <= 2e-6 * fmax(1.0, fabs(want)),
                          "step %d param %d[%d]: %.9g, reference %.9g", t, k, i, got, want);
            ck_assert_float_eq(adapt_tensor_grad(p[k])[i], 0.0f); /* zeroed by the step */
        }
}

/* Runs N_STEPS with a changing learning rate against the matching reference. */
static void run_against_reference(const ad_optim_config *c)
{
    adapt_tensor *p[2];
    make_params(p);
    reference r;
    load_reference(&r, p);
    ad_optimizer *opt = NULL;
    TU_OK(ad_optimizer_create(&opt, c, p, 2));
    for (int t = 1; t <= N_STEPS; t++) {
        const float lr = 0.05f / (float)t;
        set_grads(p, t);
        if (c->kind == ADAPT_OPTIMIZER_ADAMW)
            adamw_reference(&r, p, c, lr, t);
        else
            sgd_reference(&r, p, c, lr);
        ad_optimizer_step(opt, lr, NULL);
        assert_matches(&r, p, t);
    }
    ad_optimizer_free(opt);
    adapt_tensor_free(p[0]);
    adapt_tensor_free(p[1]);
}

static const ad_optim_config sgd_cases[] = {
    {.kind = ADAPT_OPTIMIZER_SGD},
    {.kind = ADAPT_OPTIMIZER_SGD, .weight_decay = 0.1f},
    {.kind = ADAPT_OPTIMIZER_SGD, .momentum = 0.9f},
    {.kind = ADAPT_OPTIMIZER_SGD, .momentum = 0.9f, .nesterov = true},
    {.kind = ADAPT_OPTIMIZER_SGD, .momentum = 0.5f, .nesterov = true, .weight_decay = 0.01f},
    {.kind = ADAPT_OPTIMIZER_SGD, .momentum = 0.8f, .weight_decay = 0.05f},
};

START_TEST(sgd_follows_pytorch)
{
    run_against_reference(&sgd_cases[_i]);
}
END_TEST

static const ad_optim_config adamw_cases[] = {
    {.kind = ADAPT_OPTIMIZER_ADAMW, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f},
    {.kind = ADAPT_OPTIMIZER_ADAMW, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f,
     .weight_decay = 0.05f},
    {.kind = ADAPT_OPTIMIZER_ADAMW, .beta1 = 0.5f, .beta2 = 0.9f, .eps = 1e-3f,
     .weight_decay = 0.5f},
    {.kind = ADAPT_OPTIMIZER_ADAMW, .beta1 = 0.0f, .beta2 = 0.99f, .eps = 1e-6f},
};

START_TEST(adamw_follows_pytorch)
{
    run_against_reference(&adamw_cases[_i]);
}
END_TEST

/* A 200k-value parameter is split over the pool for the update and the norm; two steps on
 * three threads must give exactly what they give on the caller alone. */
START_TEST(threads_do_not_change_steps)
{
    const ad_optim_config c = {.kind = _i ? ADAPT_OPTIMIZER_ADAMW : ADAPT_OPTIMIZER_SGD,
                               .momentum = 0.9f, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f,
                               .weight_decay = 0.01f};
    const int64_t n = 200000;
    adapt_tensor *p[2] = {tu_param(1, &n, 5, -1, 1), tu_param(1, &n, 5, -1, 1)};
    ad_pool *pool = ad_pool_create(3);
    ad_optimizer *opt[2];
    double norm[2];
    for (int k = 0; k < 2; k++) {
        TU_OK(ad_optimizer_create(&opt[k], &c, &p[k], 1));
        for (int step = 0; step < 2; step++) {
            tu_fill(adapt_tensor_grad(p[k]), n, 40 + (uint64_t)step, -1, 1);
            TU_OK(ad_clip_grad_norm(&norm[k], &p[k], 1, 100.0f, k ? pool : NULL));
            ad_optimizer_step(opt[k], 0.01f, k ? pool : NULL);
        }
        ck_assert_float_eq(adapt_tensor_grad(p[k])[n - 1], 0.0f); /* consumed */
    }
    ck_assert(norm[0] == norm[1]);
    ck_assert_mem_eq(adapt_tensor_data(p[0]), adapt_tensor_data(p[1]), (size_t)n * sizeof(float));
    for (int k = 0; k < 2; k++)
        ad_optimizer_free(opt[k]), adapt_tensor_free(p[k]);
    ad_pool_free(pool);
}
END_TEST

/* One step of torch.optim.SGD(momentum=0.9, nesterov=True, weight_decay=0.1), lr 0.1, from
 * p = [1, -2], g = [0.5, 0.25]: d = g + 0.1 p = [0.6, 0.05]; buf = d; d + 0.9 buf =
 * [1.14, 0.095]; p = [0.886, -2.0095]. */
START_TEST(sgd_hand_computed_step)
{
    adapt_tensor *p = tu_param(1, (int64_t[]){2}, 1, 0, 1);
    TU_OK(adapt_param_write(p, (float[]){1.0f, -2.0f}, 2));
    ad_optim_config c = {.kind = ADAPT_OPTIMIZER_SGD, .momentum = 0.9f, .nesterov = true,
                         .weight_decay = 0.1f};
    ad_optimizer *opt = NULL;
    TU_OK(ad_optimizer_create(&opt, &c, &p, 1));
    adapt_tensor_grad(p)[0] = 0.5f, adapt_tensor_grad(p)[1] = 0.25f;
    ad_optimizer_step(opt, 0.1f, NULL);
    ck_assert_float_eq_tol(adapt_tensor_data(p)[0], 0.886f, 1e-6f);
    ck_assert_float_eq_tol(adapt_tensor_data(p)[1], -2.0095f, 1e-6f);
    ad_optimizer_free(opt);
    adapt_tensor_free(p);
}
END_TEST

/* The first AdamW step moves every weight by lr (times sign(g)) whatever |g| is, once the
 * decoupled decay p * (1 - lr * wd) is applied. */
START_TEST(adamw_first_step_is_lr_sized)
{
    adapt_tensor *p = tu_param(1, (int64_t[]){3}, 1, 0, 1);
    TU_OK(adapt_param_write(p, (float[]){1.0f, -1.0f, 0.5f}, 3));
    ad_optim_config c = {.kind = ADAPT_OPTIMIZER_ADAMW, .beta1 = 0.9f, .beta2 = 0.999f,
                         .eps = 1e-12f, .weight_decay = 0.1f};
    ad_optimizer *opt = NULL;
    TU_OK(ad_optimizer_create(&opt, &c, &p, 1));
    const float g[] = {3.0f, -0.001f, 40.0f}, want[] = {0.989f, -0.989f, 0.4895f};
    memcpy(adapt_tensor_grad(p), g, sizeof g);
    ad_optimizer_step(opt, 0.01f, NULL);
    for (int i = 0; i < 3; i++)
        ck_assert_float_eq_tol(adapt_tensor_data(p)[i], want[i], 1e-6f);
    ad_optimizer_free(opt);
    adapt_tensor_free(p);
}
END_TEST

START_TEST(frozen_params_untouched)
{
    const ad_optim_config *c = _i ? &adamw_cases[1] : &sgd_cases[4];
    adapt_tensor *p[2];
    make_params(p);
    TU_OK(adapt_param_set_requires_grad(p[1], 0));
    float before[N_VALUES];
    memcpy(before, adapt_tensor_data(p[1]), sizeof before);
    ad_optimizer *opt = NULL;
    TU_OK(ad_optimizer_create(&opt, c, p, 2));
    for (int t = 1; t <= 3; t++) {
        set_grads(p, t);
        ad_optimizer_step(opt, 0.1f, NULL);
    }
    ck_assert_mem_eq(adapt_tensor_data(p[1]), before, sizeof before);
    ck_assert_float_ne(adapt_tensor_data(p[0])[0], 0.0f);
    ad_optimizer_free(opt);
    adapt_tensor_free(p[0]);
    adapt_tensor_free(p[1]);
}
END_TEST

static double grad_norm(adapt_tensor **p, int n)
{
    double sum = 0.0;
    for (int k = 0; k < n; k++)
        for (int64_t i = 0; i < adapt_tensor_numel(p[k]); i++)
            sum += (double)adapt_tensor_grad(p[k])[i] * adapt_tensor_grad(p[k])[i];
    return sqrt(sum);
}

START_TEST(clipping_scales_to_max_norm)
{
    adapt_tensor *p[2];
    make_params(p);
    set_grads(p, 1);
    const double norm = grad_norm(p, 2);
    float g0[N_VALUES];
    memcpy(g0, adapt_tensor_grad(p[0]), sizeof g0);
    double got = 0.0;
    /* Above the norm: untouched. */
    TU_OK(ad_clip_grad_norm(&got, p, 2, (float)(norm * 2.0), NULL));
    ck_assert_double_eq_tol(got, norm, 1e-9);
    ck_assert_mem_eq(adapt_tensor_grad(p[0]), g0, sizeof g0);
    /* Below: every gradient scaled by max / (norm + 1e-6). */
    TU_OK(ad_clip_grad_norm(&got, p, 2, 0.5f, NULL));
    const double coef = 0.5 / (norm + 1e-6);
    for (int i = 0; i < N_VALUES; i++)
        ck_assert_double_eq_tol(adapt_tensor_grad(p[0])[i], g0[i] * coef, 1e-6);
    ck_assert_double_eq_tol(grad_norm(p, 2), 0.5, 1e-5);
    /* 0 = no clipping, only the norm. */
    TU_OK(ad_clip_grad_norm(&got, p, 2, 0.0f, NULL));
    ck_assert_double_eq_tol(got, 0.5, 1e-5);
    adapt_tensor_free(p[0]);
    adapt_tensor_free(p[1]);
}
END_TEST

START_TEST(clipping_skips_frozen_and_refuses_nonfinite)
{
    adapt_tensor *p[2];
    make_params(p);
    set_grads(p, 2);
    const double norm0 = grad_norm(p, 1);
    TU_OK(adapt_param_set_requires_grad(p[1], 0));
    float g1[N_VALUES];
    memcpy(g1, adapt_tensor_grad(p[1]), sizeof g1);
    double got = 0.0;
    TU_OK(ad_clip_grad_norm(&got, p, 2, 0.1f, NULL));
    ck_assert_double_eq_tol(got, norm0, 1e-9);
    ck_assert_mem_eq(adapt_tensor_grad(p[1]), g1, sizeof g1);

    TU_OK(adapt_param_set_requires_grad(p[1], 1));
    adapt_tensor_grad(p[1])[3] = NAN;
    memcpy(g1, adapt_tensor_grad(p[0]), sizeof g1);
    got = -1.0;
    TU_FAILS(ad_clip_grad_norm(&got, p, 2, 0.1f, NULL), ADAPT_ERR_NONFINITE);
    ck_assert_double_eq(got, -1.0);
    ck_assert_mem_eq(adapt_tensor_grad(p[0]), g1, sizeof g1);
    adapt_tensor_grad(p[1])[3] = INFINITY;
    TU_FAILS(ad_clip_grad_norm(&got, p, 2, 0.0f, NULL), ADAPT_ERR_NONFINITE);
    adapt_tensor_free(p[0]);
    adapt_tensor_free(p[1]);
}
END_TEST

START_TEST(schedules_follow_formulas)
{
    ad_schedule s = {.kind = ADAPT_SCHEDULE_CONSTANT, .base_lr = 0.1, .min_lr = 0.001,
                     .gamma = 0.5, .step_epochs = 2, .total_steps = 30, .steps_per_epoch = 3};
    for (int64_t t = 0; t < 30; t++)
        ck_assert_float_eq(ad_schedule_lr(&s, t), 0.1f);
    s.kind = ADAPT_SCHEDULE_STEP;
    for (int64_t t = 0; t < 30; t++) {
        const int64_t epoch = t / 3;
        ck_assert_float_eq_tol(ad_schedule_lr(&s, t), 0.1 * pow(0.5, (double)(epoch / 2)),
                               1e-9);
    }
    s.kind = ADAPT_SCHEDULE_COSINE;
    for (int64_t t = 0; t < 30; t++) {
        const double want = 0.001 + 0.099 * 0.5 * (1.0 + cos(3.14159265358979 * t / 29.0));
        ck_assert_float_eq_tol(ad_schedule_lr(&s, t), want, 1e-8);
    }
    ck_assert_float_eq_tol(ad_schedule_lr(&s, 29), 0.001f, 1e-9);
    s.warmup_steps = 4;
    for (int64_t t = 0; t < 4; t++) {
        const double cosine = 0.001 + 0.099 * 0.5 * (1.0 + cos(3.14159265358979 * t / 29.0));
        ck_assert_float_eq_tol(ad_schedule_lr(&s, t), cosine * (double)(t + 1) / 4.0, 1e-8);
    }
    s.kind = ADAPT_SCHEDULE_CONSTANT;
    ck_assert_float_eq_tol(ad_schedule_lr(&s, 0), 0.025f, 1e-9);
    ck_assert_float_eq_tol(ad_schedule_lr(&s, 4), 0.1f, 1e-9);
    s.kind = ADAPT_SCHEDULE_COSINE, s.warmup_steps = 0, s.total_steps = 1;
    ck_assert_float_eq(ad_schedule_lr(&s, 0), 0.1f);
}
END_TEST

START_TEST(train_params_defaults_and_limits)
{
    adapt_train_params p;
    adapt_train_params_init(&p, sizeof p);
    ck_assert_uint_eq(p.struct_size, sizeof p);
    ck_assert_int_ge(p.epochs, 1);
    ck_assert_int_ge(p.batch_size, 1);
    ck_assert_float_gt(p.learning_rate, 0.0f);
    ck_assert_float_eq(p.beta1, 0.9f);
    ck_assert_float_eq(p.beta2, 0.999f);
    ck_assert_float_eq(p.adam_eps, 1e-8f);
    ck_assert_ptr_null(p.progress);
    ck_assert_ptr_null(p.cancel);
    adapt_train_params_init(NULL, sizeof(adapt_train_params)); /* no crash */
}
END_TEST

static Suite *optim_suite(void)
{
    Suite *s = suite_create("optim");
    TCase *tc = tcase_create("optim");
    tcase_add_loop_test(tc, sgd_follows_pytorch, 0, sizeof sgd_cases / sizeof sgd_cases[0]);
    tcase_add_loop_test(tc, adamw_follows_pytorch, 0,
                        sizeof adamw_cases / sizeof adamw_cases[0]);
    tcase_add_loop_test(tc, threads_do_not_change_steps, 0, 2);
    tcase_add_test(tc, sgd_hand_computed_step);
    tcase_add_test(tc, adamw_first_step_is_lr_sized);
    tcase_add_loop_test(tc, frozen_params_untouched, 0, 2);
    tcase_add_test(tc, clipping_scales_to_max_norm);
    tcase_add_test(tc, clipping_skips_frozen_and_refuses_nonfinite);
    tcase_add_test(tc, schedules_follow_formulas);
    tcase_add_test(tc, train_params_defaults_and_limits);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run(optim_suite());
}
