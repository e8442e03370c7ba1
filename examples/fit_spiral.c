/* fit_spiral — the autograd engine in one page.
 *
 * Builds a two-layer network (2 -> 64 -> 2, ReLU) from parameters and
 * operations, fits two interleaved spiral arms with full-batch SGD, and
 * reports loss and accuracy as it goes.
 *
 *   fit_spiral [steps] [threads]
 */
#include <adapt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#define N_POINTS 512
#define HIDDEN 64
#define CHECK(call)                                                                     \
    do {                                                                                \
        adapt_status st_ = (call);                                                      \
        if (st_ != ADAPT_OK) {                                                          \
            fprintf(stderr, "%s failed: %s (%s)\n", #call, adapt_status_string(st_),   \
                    adapt_last_error());                                                \
            exit(1);                                                                    \
        }                                                                               \
    } while (0)

typedef struct {
    adapt_tensor *w1, *b1, *w2, *b2;
} network;

static float uniform(float lo, float hi)
{
    return lo + (hi - lo) * (float)rand() / (float)RAND_MAX;
}

static void make_spiral(float *x, int32_t *y)
{
    for (int i = 0; i < N_POINTS; i++) {
        int arm = i % 2;
        float t = 0.25f + 3.0f * (float)(i / 2) / (N_POINTS / 2);
        x[2 * i] = t * cosf(t + 3.14159265f * (float)arm) / 3.25f + uniform(-0.05f, 0.05f);
        x[2 * i + 1] = t * sinf(t + 3.14159265f * (float)arm) / 3.25f + uniform(-0.05f, 0.05f);
        y[i] = arm;
    }
}

/* A parameter with uniform(-bound, bound) values, like PyTorch's default. */
static adapt_tensor *param(int64_t rows, int64_t cols, float bound)
{
    adapt_tensor *p;
    int64_t shape[] = {rows, cols};
    CHECK(adapt_param_create(&p, cols ? 2 : 1, shape));
    float *v = adapt_tensor_data(p);
    for (int64_t i = 0; i < adapt_tensor_numel(p); i++)
        v[i] = uniform(-bound, bound);
    return p;
}

static adapt_tensor *forward(adapt_context *ctx, const network *net, const float *x)
{
    adapt_tensor *in, *h, *a, *o;
    CHECK(adapt_tensor_input(&in, ctx, 2, (const int64_t[]){N_POINTS, 2}, x));
    CHECK(adapt_op_matmul(&h, ctx, in, net->w1, ADAPT_MATMUL_TRANS_B));
    CHECK(adapt_op_add(&h, ctx, h, net->b1));
    CHECK(adapt_op_relu(&a, ctx, h));
    CHECK(adapt_op_matmul(&o, ctx, a, net->w2, ADAPT_MATMUL_TRANS_B));
    CHECK(adapt_op_add(&o, ctx, o, net->b2));
    return o;
}

static double accuracy(const adapt_tensor *logits, const int32_t *y)
{
    const float *z = adapt_tensor_data(logits);
    int correct = 0;
    for (int i = 0; i < N_POINTS; i++)
        correct += (z[2 * i + 1] > z[2 * i]) == (y[i] == 1);
    return (double)correct / N_POINTS;
}

static void sgd(adapt_tensor *p, float lr)
{
    float *w = adapt_tensor_data(p);
    const float *g = adapt_tensor_grad(p);
    for (int64_t i = 0; i < adapt_tensor_numel(p); i++)
        w[i] -= lr * g[i];
    CHECK(adapt_param_zero_grad(p));
}

int main(int argc, char **argv)
{
    int steps = argc > 1 ? atoi(argv[1]) : 2000;
    adapt_context_params params;
    adapt_context_params_init(&params, sizeof params);
    params.n_threads = argc > 2 ? atoi(argv[2]) : 0;

    float x[2 * N_POINTS];
    int32_t y[N_POINTS];
    srand(1);
    make_spiral(x, y);
    network net = {param(HIDDEN, 2, 0.7f), param(HIDDEN, 0, 0.7f), param(2, HIDDEN, 0.125f),
                   param(2, 0, 0.125f)};
    adapt_context *ctx;
    CHECK(adapt_context_create(&ctx, &params));
    CHECK(adapt_context_set_grad(ctx, 1));

    printf("libadapt %s: fitting a 2-64-2 network to %d spiral points\n",
           adapt_version_string(), N_POINTS);
    double acc = 0.0;
    for (int step = 1; step <= steps; step++) {
        adapt_context_reset(ctx); /* releases last step's activations */
        adapt_tensor *logits = forward(ctx, &net, x), *loss;
        CHECK(adapt_op_cross_entropy(&loss, ctx, logits, y, 0.0f));
        CHECK(adapt_backward(ctx, loss));
        adapt_tensor *all[] = {net.w1, net.b1, net.w2, net.b2};
        for (int i = 0; i < 4; i++)
            sgd(all[i], 0.5f);
        acc = accuracy(logits, y);
        if (step == 1 || step % (steps / 10 ? steps / 10 : 1) == 0)
            printf("step %5d  loss %.4f  accuracy %5.1f%%\n", step,
                   (double)adapt_tensor_data(loss)[0], 100.0 * acc);
    }
    printf("peak activation memory: %zu KiB\n", adapt_context_peak_bytes(ctx) / 1024);
    adapt_context_free(ctx);
    adapt_tensor *all[] = {net.w1, net.b1, net.w2, net.b2};
    for (int i = 0; i < 4; i++)
        adapt_tensor_free(all[i]);
    return acc > 0.9 ? 0 : 2;
}
