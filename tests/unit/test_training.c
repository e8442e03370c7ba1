/* End to end through the public API: a two-layer network learns a spiral,
 * and training is bit-for-bit reproducible for a given seed and thread count.
 * Backward's memory: gradients of a model's inner activations are recycled,
 * those of activations a caller holds are kept. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check_util.h"
#include "lib/core/context.h"

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

/* A deep MLP's backward needs a few activations' worth of gradients at a time, not one for
 * every activation its forward made. */
START_TEST(backward_recycles_the_gradients_of_inner_activations)
{
    const int64_t sizes[] = {64, 256, 256, 256, 256, 256, 256, 256, 256, 10}, batch = 512;
    adapt_mlp_params p;
    adapt_mlp_params_init(&p, sizeof p);
    p.n_sizes = 10, p.sizes = sizes, p.dropout = 0.0f;
    adapt_model *model;
    ck_assert_int_eq(adapt_model_create_mlp(&model, &p), ADAPT_OK);
    adapt_context *ctx = tu_context(ADAPT_BACKEND_DEFAULT);
    ck_assert_int_eq(adapt_context_set_grad(ctx, 1), ADAPT_OK);
    static float x[512 * 64];
    int32_t labels[512];
    tu_fill(x, 512 * 64, 5, -1.0f, 1.0f);
    for (int i = 0; i < batch; i++)
        labels[i] = i % 10;
    adapt_tensor *input, *logits, *loss;
    ck_assert_int_eq(adapt_tensor_input(&input, ctx, 2, (int64_t[]){batch, 64}, x), ADAPT_OK);
    const size_t start = ctx->arena.used;
    ck_assert_int_eq(adapt_model_forward(&logits, ctx, model, input), ADAPT_OK);
    ck_assert_int_eq(adapt_op_cross_entropy(&loss, ctx, logits, labels, 0.0f), ADAPT_OK);
    const size_t forward = ctx->arena.used - start;
    ck_assert_int_eq(adapt_backward(ctx, loss), ADAPT_OK);
    size_t params = 0;
    for (int32_t i = 0; i < adapt_model_param_count(model); i++)
        params += (size_t)adapt_tensor_numel(adapt_model_param(model, i)) * sizeof(float);
    const size_t activations = ctx->arena.step_peak - start - forward - params;
    /* Without reuse the activations' gradients would take about as much as the forward
     * (8 hidden layers of 512 x 256). */
    ck_assert_msg(activations * 2 < forward,
                  "backward took %zu bytes for activations over the forward's %zu",
                  activations, forward);
    adapt_context_free(ctx);
    adapt_model_free(model);
}
END_TEST

/* d(sum(relu(x W)))/d(relu(x W)) is all ones, and the caller can still read it; so can the
 * gradient of the logits a model's forward returned. */
START_TEST(gradients_of_activations_a_caller_holds_survive_backward)
{
    adapt_context *ctx = tu_context(ADAPT_BACKEND_DEFAULT);
    ck_assert_int_eq(adapt_context_set_grad(ctx, 1), ADAPT_OK);
    adapt_tensor *w = tu_param(2, (int64_t[]){8, 8}, 7, -1.0f, 1.0f);
    float x[4 * 8];
    tu_fill(x, 4 * 8, 8, -1.0f, 1.0f);
    adapt_tensor *input, *product, *hidden, *loss;
    ck_assert_int_eq(adapt_tensor_input(&input, ctx, 2, (int64_t[]){4, 8}, x), ADAPT_OK);
    ck_assert_int_eq(adapt_op_matmul(&product, ctx, input, w, 0), ADAPT_OK);
    ck_assert_int_eq(adapt_op_relu(&hidden, ctx, product), ADAPT_OK);
    ck_assert_int_eq(adapt_op_sum(&loss, ctx, hidden, ADAPT_AXIS_ALL), ADAPT_OK);
    ck_assert_int_eq(adapt_backward(ctx, loss), ADAPT_OK);
    const float *dh = adapt_tensor_grad(hidden), *dp = adapt_tensor_grad(product);
    ck_assert_ptr_nonnull(dh);
    ck_assert_ptr_nonnull(dp);
    for (int i = 0; i < 4 * 8; i++) {
        ck_assert_float_eq(dh[i], 1.0f);
        ck_assert_float_eq(dp[i], adapt_tensor_data(product)[i] > 0.0f ? 1.0f : 0.0f);
    }
    adapt_tensor_free(w);
    adapt_context_free(ctx);
}
END_TEST

/* ---- recomputing blocks in backward (activation checkpointing) ---------------------- */

enum { RC_MLP, RC_CNN, RC_VIT, RC_SEQUENTIAL, RC_KINDS };
static const int32_t rc_channels[] = {4, 8}, rc_blocks[] = {1, 1}, rc_strides[] = {1, 2};

/* Small models with what a rerun must reproduce: dropout (the MLP, the ViT), batch norm's
 * running statistics (the CNN), a block that passes its input through (zero dropout). */
static adapt_model *rc_sequential(void)
{
    adapt_model *m = NULL;
    ck_assert_int_eq(adapt_model_create_sequential(&m, 1, (int64_t[]){48}, 3), ADAPT_OK);
    const adapt_layer_kind kinds[] = {ADAPT_LAYER_LINEAR, ADAPT_LAYER_DROPOUT,
                                      ADAPT_LAYER_LINEAR};
    for (int i = 0; i < 3; i++) {
        adapt_layer_params layer;
        adapt_layer_params_init(&layer, sizeof layer);
        layer.kind = kinds[i], layer.out_features = i ? 5 : 16;
        ck_assert_int_eq(adapt_model_append(m, &layer), ADAPT_OK);
    }
    return m;
}

static adapt_model *rc_model(int kind)
{
    adapt_model *m = NULL;
    if (kind == RC_SEQUENTIAL)
        return rc_sequential();
    if (kind == RC_MLP) {
        const int64_t sizes[] = {48, 32, 32, 5};
        adapt_mlp_params p;
        adapt_mlp_params_init(&p, sizeof p);
        p.n_sizes = 4, p.sizes = sizes, p.dropout = 0.2f, p.seed = 3;
        ck_assert_int_eq(adapt_model_create_mlp(&m, &p), ADAPT_OK);
    } else if (kind == RC_CNN) {
        adapt_cnn_params p;
        adapt_cnn_params_init(&p, sizeof p);
        p.image_size = 8, p.in_channels = 3, p.n_classes = 5, p.stem_channels = 4;
        p.n_stages = 2, p.stage_channels = rc_channels, p.stage_blocks = rc_blocks;
        p.stage_strides = rc_strides, p.seed = 3;
        ck_assert_int_eq(adapt_model_create_cnn(&m, &p), ADAPT_OK);
    } else {
        adapt_vit_params p;
        adapt_vit_params_init(&p, sizeof p);
        p.image_size = 8, p.in_channels = 3, p.patch = 4, p.dim = 16, p.depth = 3;
        p.heads = 2, p.mlp_ratio = 2.0f, p.n_classes = 5, p.dropout = 0.1f, p.seed = 3;
        ck_assert_int_eq(adapt_model_create_vit(&m, &p), ADAPT_OK);
    }
    return m;
}

/* One forward and backward of a fresh model: the loss, then every parameter's values and
 * gradient, into `out` (room for `capacity`); returns how many were written. The arena's
 * use after the forward into *forward_bytes. */
static int64_t rc_step(int kind, bool recompute, float *out, int64_t capacity,
                       size_t *forward_bytes)
{
    adapt_model *model = rc_model(kind);
    adapt_context *ctx = tu_context_threads(ADAPT_BACKEND_DEFAULT, 2);
    ck_assert_int_eq(adapt_context_set_grad(ctx, 1), ADAPT_OK);
    ck_assert_int_eq(adapt_context_set_training(ctx, 1), ADAPT_OK);
    ck_assert_int_eq(adapt_context_set_recompute(ctx, recompute), ADAPT_OK);
    const int64_t shape[] = {6, 3, 8, 8};
    float x[6 * 192];
    const int32_t labels[] = {0, 1, 2, 3, 4, 0};
    tu_fill(x, 6 * 192, 11, 0.0f, 1.0f);
    adapt_tensor *input, *logits, *loss;
    const bool flat = kind == RC_MLP || kind == RC_SEQUENTIAL;
    const int32_t ndim = flat ? 2 : 4;
    const int64_t mlp_shape[] = {6, 48};
    ck_assert_int_eq(adapt_tensor_input(&input, ctx, ndim, flat ? mlp_shape : shape,
                                        x), ADAPT_OK);
    const size_t start = ctx->arena.used;
    ck_assert_int_eq(adapt_model_forward(&logits, ctx, model, input), ADAPT_OK);
    *forward_bytes = ctx->arena.used - start;
    ck_assert_int_eq(adapt_op_cross_entropy(&loss, ctx, logits, labels, 0.0f), ADAPT_OK);
    ck_assert_int_eq(adapt_backward(ctx, loss), ADAPT_OK);
    int64_t n = 0;
    out[n++] = adapt_tensor_data(loss)[0];
    for (int32_t i = 0; i < adapt_model_param_count(model); i++) {
        const adapt_tensor *p = adapt_model_param(model, i);
        const int64_t size = adapt_tensor_numel(p);
        ck_assert_int_le(n + 2 * size, capacity);
        memcpy(out + n, adapt_tensor_data(p), (size_t)size * sizeof *out);
        n += size;
        if (adapt_tensor_grad(p)) {
            memcpy(out + n, adapt_tensor_grad(p), (size_t)size * sizeof *out);
            n += size;
        }
    }
    adapt_context_free(ctx);
    adapt_model_free(model);
    return n;
}

/* Loss, gradients and running statistics bit for bit the same; the ViT's forward keeps less. */
START_TEST(recomputed_blocks_give_the_same_bits)
{
    enum { CAPACITY = 1 << 17 };
    float *plain = malloc(CAPACITY * sizeof *plain), *rerun = malloc(CAPACITY * sizeof *rerun);
    size_t plain_bytes, rerun_bytes;
    const int64_t n = rc_step(_i, false, plain, CAPACITY, &plain_bytes);
    ck_assert_int_eq(rc_step(_i, true, rerun, CAPACITY, &rerun_bytes), n);
    for (int64_t i = 0; i < n; i++)
        ck_assert_msg(memcmp(&plain[i], &rerun[i], sizeof *plain) == 0,
                      "value %lld: %.9g plain, %.9g recomputed", (long long)i, plain[i],
                      rerun[i]);
    if (_i == RC_VIT)
        ck_assert_msg(2 * rerun_bytes < plain_bytes, "forward kept %zu bytes, plain %zu",
                      rerun_bytes, plain_bytes);
    free(plain);
    free(rerun);
}
END_TEST

static Suite *training_suite(void)
{
    Suite *s = suite_create("training");
    TCase *tc = tcase_create("training");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, two_layer_network_learns_a_spiral);
    tcase_add_test(tc, same_seed_and_threads_give_identical_weights);
    tcase_add_test(tc, backward_recycles_the_gradients_of_inner_activations);
    tcase_add_test(tc, gradients_of_activations_a_caller_holds_survive_backward);
    tcase_add_loop_test(tc, recomputed_blocks_give_the_same_bits, RC_MLP, RC_KINDS);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run(training_suite());
}
