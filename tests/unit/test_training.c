/* End to end through the public API: a two-layer network learns a spiral,
 * and training is bit-for-bit reproducible for a given seed and thread count. */
#include <math.h>
#include <string.h>

#include "check_util.h"

#define N_POINTS 256
#define HIDDEN 64

typedef struct {
    adapt_tensor *w1, *b1, *w2, *b2;
} two_layer;

/* Two interleaved spiral arms, labels 0 and 1. */
static void make_spiral(float *x, int32_t *y)
{
    float noise[2 * N_POINTS];
    tu_fill(noise, 2 * N_POINTS, 99, -0.05f, 0.05f);
    for (int i = 0; i < N_POINTS; i++) {
        int arm = i % 2;
        float t = 0.25f + 3.0f * (float)(i / 2) / (N_POINTS / 2);
        x[2 * i] = t * cosf(t + 3.14159265f * (float)arm) / 3.25f + noise[2 * i];
        x[2 * i + 1] = t * sinf(t + 3.14159265f * (float)arm) / 3.25f + noise[2 * i + 1];
        y[i] = arm;
    }
}

static two_layer make_net(void)
{
    two_layer n = {
        tu_param(2, (int64_t[]){HIDDEN, 2}, 1, -0.7f, 0.7f),
        tu_param(1, (int64_t[]){HIDDEN}, 2, -0.1f, 0.1f),
        tu_param(2, (int64_t[]){2, HIDDEN}, 3, -0.125f, 0.125f),
        tu_param(1, (int64_t[]){2}, 4, 0.0f, 0.0f),
    };
    return n;
}

static void free_net(two_layer *n)
{
    adapt_tensor_free(n->w1), adapt_tensor_free(n->b1);
    adapt_tensor_free(n->w2), adapt_tensor_free(n->b2);
}

static adapt_tensor *logits_of(adapt_context *ctx, const two_layer *n, const float *x)
{
    adapt_tensor *in, *h, *hb, *a, *d, *o, *ob;
    TU_OK(adapt_tensor_input(&in, ctx, 2, (int64_t[]){N_POINTS, 2}, x));
    TU_OK(adapt_op_matmul(&h, ctx, in, n->w1, ADAPT_MATMUL_TRANS_B));
    TU_OK(adapt_op_add(&hb, ctx, h, n->b1));
    TU_OK(adapt_op_relu(&a, ctx, hb));
    TU_OK(adapt_op_dropout(&d, ctx, a, 0.1f));
    TU_OK(adapt_op_matmul(&o, ctx, d, n->w2, ADAPT_MATMUL_TRANS_B));
    TU_OK(adapt_op_add(&ob, ctx, o, n->b2));
    return ob;
}

static void sgd_step(adapt_tensor *p, float lr)
{
    float *w = adapt_tensor_data(p), *g = adapt_tensor_grad(p);
    for (int64_t i = 0; i < adapt_tensor_numel(p); i++)
        w[i] -= lr * g[i];
    TU_OK(adapt_param_zero_grad(p));
}

/* Full-batch training; returns the first and last losses. */
static void train(two_layer *n, int32_t threads, int steps, float *first, float *last)
{
    float x[2 * N_POINTS];
    int32_t y[N_POINTS];
    make_spiral(x, y);
    adapt_context_params p;
    adapt_context_params_init(&p, sizeof p);
    p.n_threads = threads;
    p.seed = 7;
    adapt_context *ctx;
    TU_OK(adapt_context_create(&ctx, &p));
    TU_OK(adapt_context_set_grad(ctx, 1));
    TU_OK(adapt_context_set_training(ctx, 1));
    for (int step = 0; step < steps; step++) {
        adapt_context_reset(ctx);
        adapt_tensor *loss;
        TU_OK(adapt_op_cross_entropy(&loss, ctx, logits_of(ctx, n, x), y, 0.0f));
        TU_OK(adapt_backward(ctx, loss));
        adapt_tensor *params[] = {n->w1, n->b1, n->w2, n->b2};
        for (int i = 0; i < 4; i++)
            sgd_step(params[i], 0.5f);
        *(step == 0 ? first : last) = adapt_tensor_data(loss)[0];
    }
    adapt_context_free(ctx);
}

static double accuracy(const two_layer *n)
{
    float x[2 * N_POINTS];
    int32_t y[N_POINTS];
    make_spiral(x, y);
    adapt_context *ctx = tu_context(ADAPT_BACKEND_DEFAULT);
    TU_OK(adapt_context_set_grad(ctx, 0));
    const float *logits = adapt_tensor_data(logits_of(ctx, n, x));
    int correct = 0;
    for (int i = 0; i < N_POINTS; i++)
        correct += (logits[2 * i + 1] > logits[2 * i]) == (y[i] == 1);
    adapt_context_free(ctx);
    return (double)correct / N_POINTS;
}

START_TEST(two_layer_network_learns_a_spiral)
{
    two_layer n = make_net();
    float first = 0, last = 0;
    train(&n, 1, 1500, &first, &last);
    ck_assert_float_gt(first, 0.6f); /* near log 2 at the start */
    ck_assert_msg(last < 0.25f * first, "loss %.4f -> %.4f", first, last);
    double acc = accuracy(&n);
    ck_assert_msg(acc > 0.9, "train accuracy %.3f", acc);
    free_net(&n);
}
END_TEST

START_TEST(same_seed_and_threads_give_identical_weights)
{
    two_layer a = make_net(), b = make_net();
    float first, last_a = 0, last_b = 0;
    train(&a, 2, 40, &first, &last_a);
    train(&b, 2, 40, &first, &last_b);
    adapt_tensor *pa[] = {a.w1, a.b1, a.w2, a.b2}, *pb[] = {b.w1, b.b1, b.w2, b.b2};
    for (int i = 0; i < 4; i++)
        ck_assert_mem_eq(adapt_tensor_data(pa[i]), adapt_tensor_data(pb[i]),
                         (size_t)adapt_tensor_numel(pa[i]) * sizeof(float));
    ck_assert_float_eq(last_a, last_b);
    free_net(&a), free_net(&b);
}
END_TEST

static Suite *training_suite(void)
{
    Suite *s = suite_create("training");
    TCase *tc = tcase_create("training");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, two_layer_network_learns_a_spiral);
    tcase_add_test(tc, same_seed_and_threads_give_identical_weights);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run(training_suite());
}
