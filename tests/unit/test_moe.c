/* The dynamic-k Mixture-of-Experts (lib/adaptive/moe*.c, lib/kernels/grouped_ffn.c): the
 * split of a dense network reproduces it, the routing rules, gradients, the same bits for any
 * thread count, per-sample costs, checkpoints, and refusals. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_util.h"
#include "file_util.h"
#include "lib/adaptive/moe.h"
#include "lib/core/context.h"
#include "lib/core/tensor.h"
#include "lib/ops/ops.h"

enum { BATCH = 3, TOKENS = 5, DIM = 8, EXPERTS = 4, WIDTH = 3, ROUTER = 6 };

static adapt_model *moe_model(int32_t activation, uint64_t seed)
{
    adapt_model *m = NULL;
    TU_OK(adapt_model_create_sequential(&m, 2, (int64_t[]){TOKENS, DIM}, seed));
    adapt_layer_params p;
    adapt_layer_params_init(&p, sizeof p);
    p.kind = ADAPT_LAYER_MOE, p.out_features = DIM, p.experts = EXPERTS;
    p.expert_width = WIDTH, p.router_width = ROUTER, p.activation = activation;
    TU_OK(adapt_model_append(m, &p));
    return m;
}

static int32_t param_index(const adapt_model *m, const char *name)
{
    for (int32_t i = 0; i < adapt_model_param_count(m); i++)
        if (strcmp(adapt_model_param_name(m, i), name) == 0)
            return i;
    ck_abort_msg("no parameter %s", name);
    return -1;
}

static float *param_data(adapt_model *m, const char *name)
{
    return adapt_tensor_data(adapt_model_param(m, param_index(m, name)));
}

/* Tokens [batch, TOKENS, DIM] as a parameter, so that a gradient check can vary them; frozen
 * unless `requires_grad`. */
static adapt_tensor *input(int64_t batch, uint64_t seed, int requires_grad)
{
    adapt_tensor *x = tu_param(3, (int64_t[]){batch, TOKENS, DIM}, seed, -1.0f, 1.0f);
    TU_OK(adapt_param_set_requires_grad(x, requires_grad));
    return x;
}

/* Images [BATCH, 1, 8, 8] in [0, 1). */
static adapt_tensor *images(uint64_t seed)
{
    adapt_tensor *x = tu_param(4, (int64_t[]){BATCH, 1, 8, 8}, seed, 0.0f, 1.0f);
    TU_OK(adapt_param_set_requires_grad(x, 0));
    return x;
}

/* A ViT on 8x8 single-channel images: 4 patch tokens and the class token, width 8, MLPs of
 * 32 hidden units. */
static adapt_model *vit(uint64_t seed)
{
    adapt_vit_params p;
    adapt_vit_params_init(&p, sizeof p);
    p.image_size = 8, p.in_channels = 1, p.patch = 4, p.dim = DIM, p.depth = 2, p.heads = 2;
    p.mlp_ratio = 4.0f, p.n_classes = 4, p.seed = seed;
    adapt_model *m = NULL;
    TU_OK(adapt_model_create_vit(&m, &p));
    return m;
}

static float max_abs(const float *x, int64_t n)
{
    float m = 0.0f;
    for (int64_t i = 0; i < n; i++)
        m = fmaxf(m, fabsf(x[i]));
    return m;
}

static float max_diff(const float *a, const float *b, int64_t n)
{
    float m = 0.0f;
    for (int64_t i = 0; i < n; i++)
        m = fmaxf(m, fabsf(a[i] - b[i]));
    return m;
}

static adapt_tensor *forward(adapt_context *ctx, adapt_model *m, adapt_tensor *x)
{
    adapt_tensor *y = NULL;
    TU_OK(adapt_model_forward_blocks(&y, ctx, m, x, 0, adapt_model_block_count(m)));
    return y;
}

/* The MoE made from each block's MLP, every expert running, computes the ViT's logits within
 * 1e-5 of the dense model's; every hidden unit lands in exactly one expert. */
START_TEST(every_expert_running_reproduces_the_dense_network)
{
    adapt_model *model = vit(3);
    adapt_context *ctx = tu_context_threads(ADAPT_BACKEND_DEFAULT, 2);
    TU_OK(adapt_context_set_grad(ctx, 0));
    adapt_tensor *pixels = images(5), *dense = NULL;
    TU_OK(adapt_model_forward(&dense, ctx, model, pixels));
    float *want = malloc((size_t)adapt_tensor_numel(dense) * sizeof *want);
    memcpy(want, adapt_tensor_data(dense), (size_t)adapt_tensor_numel(dense) * sizeof *want);
    const float *fc1 = param_data(model, "blocks.1.mlp.fc1.weight");
    adapt_moe_params mp;
    adapt_moe_params_init(&mp, sizeof mp);
    mp.experts = 4, mp.seed = 9;
    for (int b = 0; b < 2; b++) {
        char path[32];
        snprintf(path, sizeof path, "blocks.%d.mlp", b);
        adapt_model *moe = NULL;
        TU_OK(adapt_moe_from_ffn(&moe, model, path, &mp));
        if (b == 1) { /* expert e, unit j: column j of its w1 block is a row of fc1 */
            int used[32] = {0};
            const float *w1 = param_data(moe, "0.experts.w1");
            for (int e = 0; e < 4; e++)
                for (int j = 0; j < 8; j++)
                    for (int u = 0; u < 32; u++) {
                        int same = 1;
                        for (int i = 0; i < DIM && same; i++)
                            same = w1[(e * DIM + i) * 8 + j] == fc1[u * DIM + i];
                        used[u] += same;
                    }
            for (int u = 0; u < 32; u++)
                ck_assert_int_eq(used[u], 1);
        }
        TU_OK(adapt_model_replace(model, path, moe, NULL));
    }
    adapt_context_reset(ctx);
    adapt_tensor *sparse = NULL;
    TU_OK(adapt_model_forward(&sparse, ctx, model, pixels));
    const int64_t n = adapt_tensor_numel(sparse);
    ck_assert_float_le(max_diff(adapt_tensor_data(sparse), want, n), 1e-5f * max_abs(want, n));
    free(want);
    adapt_tensor_free(pixels);
    adapt_context_free(ctx);
    adapt_model_free(model);
}
END_TEST

/* An MLP's linear, ReLU, linear is the slice "0:3" of its layers: it splits into experts like
 * a transformer's MLP, and with every expert running the model computes what it did. */
START_TEST(an_mlp_slice_splits_into_experts)
{
    adapt_mlp_params p;
    adapt_mlp_params_init(&p, sizeof p);
    p.n_sizes = 4, p.sizes = (int64_t[]){64, 32, 16, 10}, p.seed = 4;
    adapt_model *model = NULL, *moe = NULL, *copy = NULL;
    TU_OK(adapt_model_create_mlp(&model, &p));
    adapt_context *ctx = tu_context_threads(ADAPT_BACKEND_DEFAULT, 2);
    TU_OK(adapt_context_set_grad(ctx, 0));
    adapt_tensor *x = tu_param(2, (int64_t[]){BATCH, 64}, 6, -1.0f, 1.0f), *dense = NULL;
    TU_OK(adapt_model_forward(&dense, ctx, model, x));
    float want[BATCH * 10];
    memcpy(want, adapt_tensor_data(dense), sizeof want);
    TU_OK(adapt_ffn_module(&copy, model, "0:3", ADAPT_ACTIVATION_RELU));
    ck_assert_int_eq(adapt_model_flops(copy), 2 * (64 * 32 + 32 * 16));
    TU_FAILS(adapt_ffn_module(&copy, model, "1:4", ADAPT_ACTIVATION_RELU),
             ADAPT_ERR_INVALID_ARGUMENT);
    adapt_moe_params mp;
    adapt_moe_params_init(&mp, sizeof mp);
    mp.experts = 4, mp.seed = 9;
    TU_OK(adapt_moe_from_ffn(&moe, model, "0:3", &mp));
    TU_OK(adapt_model_replace(model, "0:3", moe, NULL));
    ck_assert_int_ge(param_index(model, "0:3.0.experts.w1"), 0);
    adapt_context_reset(ctx);
    adapt_tensor *sparse = NULL;
    TU_OK(adapt_model_forward(&sparse, ctx, model, x));
    ck_assert_float_le(max_diff(adapt_tensor_data(sparse), want, BATCH * 10),
                       1e-5f * max_abs(want, BATCH * 10));
    adapt_tensor_free(x);
    adapt_context_free(ctx);
    adapt_model_free(copy);
    adapt_model_free(model);
}
END_TEST

/* The copy with GELU computes what the block's MLP does; with ReLU it is the swapped network
 * D2DMoE fine-tunes, its weights those of the MLP. */
START_TEST(ffn_module_copies_the_network_with_its_activation)
{
    adapt_model *model = vit(4), *copy = NULL;
    adapt_context *ctx = tu_context(ADAPT_BACKEND_DEFAULT);
    TU_OK(adapt_context_set_grad(ctx, 0));
    adapt_tensor *pixels = images(6), *y = NULL;
    TU_OK(adapt_model_forward(&y, ctx, model, pixels));
    const int64_t n = adapt_tensor_numel(y);
    float *want = malloc((size_t)n * sizeof *want);
    memcpy(want, adapt_tensor_data(y), (size_t)n * sizeof *want);
    TU_OK(adapt_ffn_module(&copy, model, "blocks.1.mlp", ADAPT_ACTIVATION_GELU));
    TU_OK(adapt_model_replace(model, "blocks.1.mlp", copy, NULL));
    TU_OK(adapt_model_forward(&y, ctx, model, pixels));
    ck_assert_float_le(max_diff(adapt_tensor_data(y), want, n), 1e-6f * max_abs(want, n));
    TU_OK(adapt_ffn_module(&copy, model, "blocks.1.mlp", ADAPT_ACTIVATION_RELU));
    ck_assert_int_eq(memcmp(param_data(copy, "2.weight"),
                            param_data(model, "blocks.1.mlp.2.weight"), 8 * 32 * 4), 0);
    TU_OK(adapt_model_replace(model, "blocks.1.mlp", copy, NULL));
    TU_OK(adapt_model_forward(&y, ctx, model, pixels));
    ck_assert_float_gt(max_diff(adapt_tensor_data(y), want, n), 1e-4f);
    TU_FAILS(adapt_ffn_module(&copy, model, "blocks.1.mlp", 7), ADAPT_ERR_INVALID_ARGUMENT);
    /* linear layers that flatten [2, 4] are no network on its last axis */
    adapt_model *flat = NULL, *inner = NULL;
    TU_OK(adapt_model_create_sequential(&flat, 2, (int64_t[]){2, 4}, 1));
    TU_OK(adapt_model_create_sequential(&inner, 2, (int64_t[]){2, 4}, 2));
    const int32_t kinds[] = {ADAPT_LAYER_LINEAR, ADAPT_LAYER_RELU, ADAPT_LAYER_LINEAR};
    const int64_t widths[] = {3, 0, 6};
    adapt_layer_params lp;
    adapt_layer_params_init(&lp, sizeof lp);
    lp.kind = ADAPT_LAYER_LINEAR, lp.out_features = 6;
    TU_OK(adapt_model_append(flat, &lp));
    for (int i = 0; i < 3; i++) {
        lp.kind = kinds[i], lp.out_features = widths[i];
        TU_OK(adapt_model_append(inner, &lp));
    }
    TU_OK(adapt_model_replace(flat, "0", inner, NULL));
    TU_FAILS(adapt_ffn_module(&copy, flat, "0", ADAPT_ACTIVATION_RELU),
             ADAPT_ERR_INVALID_ARGUMENT);
    adapt_model_free(flat);
    TU_FAILS(adapt_ffn_module(&copy, model, "blocks.1.attn", ADAPT_ACTIVATION_RELU),
             ADAPT_ERR_INVALID_ARGUMENT);
    free(want);
    adapt_tensor_free(pixels);
    adapt_context_free(ctx);
    adapt_model_free(model);
}
END_TEST

/* The rules on hand-made predictions of 4 experts. */
START_TEST(routing_rules_pick_what_they_say)
{
    const float g[] = {4.0f, 1.0f, 2.0f, 3.0f, /* token 0 */ 0.0f, 0.0f, 0.0f, 0.0f};
    float scratch[8];
    adapt_layer_params p;
    adapt_layer_params_init(&p, sizeof p);
    p.experts = 4;
    uint8_t s[8];
    struct {
        int32_t rule;
        float tau;
        int32_t k;
        uint8_t want[8];
    } cases[] = {
        {ADAPT_ROUTING_DYNAMIC_K, 0.0f, 1, {1, 1, 1, 1, 1, 1, 1, 1}},
        {ADAPT_ROUTING_DYNAMIC_K, 0.5f, 1, {1, 0, 1, 1, 1, 1, 1, 1}}, /* >= 2 */
        {ADAPT_ROUTING_DYNAMIC_K, 1.0f, 1, {1, 0, 0, 0, 1, 1, 1, 1}},
        {ADAPT_ROUTING_CUMULATIVE, 0.0f, 1, {1, 1, 1, 1, 1, 1, 1, 1}},
        {ADAPT_ROUTING_CUMULATIVE, 0.3f, 1, {1, 0, 0, 1, 1, 0, 0, 0}}, /* 7 >= 0.7 * 10 */
        {ADAPT_ROUTING_CUMULATIVE, 0.31f, 1, {1, 0, 0, 1, 1, 0, 0, 0}},
        {ADAPT_ROUTING_CUMULATIVE, 0.29f, 1, {1, 0, 1, 1, 1, 0, 0, 0}},
        {ADAPT_ROUTING_CUMULATIVE, 1.0f, 1, {1, 0, 0, 0, 1, 0, 0, 0}},
        {ADAPT_ROUTING_TOP_K, 0.0f, 2, {1, 0, 0, 1, 1, 1, 0, 0}},
    };
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        p.routing = cases[c].rule, p.tau = cases[c].tau, p.top_k = cases[c].k;
        ad_moe_select(s, g, 2, 4, &p, scratch);
        for (int i = 0; i < 8; i++)
            ck_assert_msg(s[i] == cases[c].want[i], "case %zu entry %d: %d", c, i, s[i]);
    }
}
END_TEST

typedef struct {
    adapt_model *model;
} moe_arg;

/* params: the input, then the experts' four parameters. */
static adapt_status moe_forward(adapt_tensor **out, adapt_context *ctx, adapt_tensor **params,
                                void *arg)
{
    const moe_arg *a = arg;
    return adapt_model_forward_blocks(out, ctx, a->model, params[0], 0, 1);
}

static void expert_params(adapt_tensor **params, adapt_model *m)
{
    const char *names[] = {"0.experts.w1", "0.experts.b1", "0.experts.w2", "0.last_bias"};
    for (int i = 0; i < 4; i++)
        params[1 + i] = adapt_model_param(m, param_index(m, names[i]));
}

START_TEST(gradients_match_finite_differences)
{
    for (int32_t act = ADAPT_ACTIVATION_RELU; act <= ADAPT_ACTIVATION_GELU; act++) {
        adapt_model *m = moe_model(act, 11 + (uint64_t)act);
        adapt_tensor *params[5];
        params[0] = input(2, 21, 1);
        expert_params(params, m);
        moe_arg a = {m};
        tu_gradcheck(moe_forward, params, 5, &a, 1e-3, 2e-2, 40); /* every expert */
        adapt_tensor_free(params[0]);
        params[0] = input(2, 21, 0); /* routed: the input stays, so do the choices */
        TU_OK(adapt_model_set_routing(m, ADAPT_ROUTING_TOP_K, 0.0f, 2, NULL));
        tu_gradcheck(moe_forward, params, 5, &a, 1e-3, 2e-2, 40);
        adapt_tensor_free(params[0]);
        adapt_model_free(m);
    }
}
END_TEST

START_TEST(bits_do_not_depend_on_the_thread_count)
{
    adapt_model *m = moe_model(ADAPT_ACTIVATION_GELU, 31);
    adapt_tensor *params[5];
    params[0] = input(40, 41, 1); /* 200 tokens: several units per expert */
    expert_params(params, m);
    moe_arg a = {m};
    TU_OK(adapt_model_set_routing(m, ADAPT_ROUTING_DYNAMIC_K, 0.6f, 1, NULL));
    for (int32_t threads = 2; threads <= 3; threads++)
        tu_check_threads(moe_forward, params, 5, &a, ADAPT_BACKEND_DEFAULT, threads, 0.0);
    adapt_tensor_free(params[0]);
    adapt_model_free(m);
}
END_TEST

/* The router's predicted norms of one token, as the layer defines them. */
static void predicted_norms(double *g, adapt_model *m, const float *xt)
{
    const float *r1 = param_data(m, "0.router.0.weight"), *r2 = param_data(m, "0.router.2.weight");
    double h[ROUTER];
    for (int r = 0; r < ROUTER; r++) {
        h[r] = 0.0;
        for (int i = 0; i < DIM; i++)
            h[r] += (double)r1[r * DIM + i] * xt[i];
        h[r] = h[r] > 0.0 ? h[r] : 0.0;
    }
    for (int e = 0; e < EXPERTS; e++) {
        g[e] = 0.0;
        for (int r = 0; r < ROUTER; r++)
            g[e] += (double)r2[e * ROUTER + r] * h[r];
        g[e] = fabs(g[e]);
    }
}

/* Each sample is charged its tokens' router and the experts they ran; the static count is the
 * most a sample can cost. */
START_TEST(each_sample_pays_for_the_experts_it_ran)
{
    adapt_model *m = moe_model(ADAPT_ACTIVATION_RELU, 51);
    const int64_t router = 2 * (DIM * ROUTER + ROUTER * EXPERTS);
    const int64_t expert = 2 * (DIM * WIDTH + WIDTH * DIM);
    ck_assert_int_eq(adapt_model_flops(m), TOKENS * (router + EXPERTS * expert));
    adapt_context *ctx = tu_context(ADAPT_BACKEND_DEFAULT);
    TU_OK(adapt_context_set_grad(ctx, 0));
    adapt_tensor *x = input(BATCH, 61, 0), *y = NULL;
    int64_t flops[BATCH];
    TU_OK(adapt_model_forward_flops(&y, flops, ctx, m, x));
    for (int i = 0; i < BATCH; i++) /* tau 0: every expert, no router */
        ck_assert_int_eq(flops[i], TOKENS * EXPERTS * expert);
    TU_OK(adapt_model_set_routing(m, ADAPT_ROUTING_TOP_K, 0.0f, 3, NULL));
    TU_OK(adapt_model_forward_flops(&y, flops, ctx, m, x));
    for (int i = 0; i < BATCH; i++)
        ck_assert_int_eq(flops[i], TOKENS * (router + 3 * expert));
    /* Top-k counts are k for every token. */
    int32_t counts[BATCH * TOKENS];
    TU_OK(adapt_moe_expert_counts(counts, ctx, m, x));
    for (int i = 0; i < BATCH * TOKENS; i++)
        ck_assert_int_eq(counts[i], 3);
    /* Dynamic-k at tau 1 runs the top expert, and every expert tied with it (all, for a token
     * whose router predicts 0 everywhere). */
    TU_OK(adapt_model_set_routing(m, ADAPT_ROUTING_DYNAMIC_K, 1.0f, 1, NULL));
    TU_OK(adapt_model_forward_flops(&y, flops, ctx, m, x));
    for (int i = 0; i < BATCH; i++) {
        int64_t want = TOKENS * router;
        for (int t = 0; t < TOKENS; t++) {
            double g[EXPERTS], max = 0.0;
            predicted_norms(g, m, adapt_tensor_data(x) + (i * TOKENS + t) * DIM);
            for (int e = 0; e < EXPERTS; e++)
                max = fmax(max, g[e]);
            for (int e = 0; e < EXPERTS; e++)
                want += g[e] >= max ? expert : 0;
        }
        ck_assert_int_eq(flops[i], want);
    }
    TU_OK(adapt_moe_expert_counts(counts, ctx, m, x));
    int64_t pairs = 0;
    for (int i = 0; i < BATCH * TOKENS; i++)
        pairs += counts[i];
    int64_t charged = 0;
    for (int i = 0; i < BATCH; i++)
        charged += flops[i] - TOKENS * router;
    ck_assert_int_eq(pairs * expert, charged);
    adapt_model *dense = tu_token_mlp(TOKENS, DIM, 8, 1);
    TU_FAILS(adapt_moe_expert_counts(counts, ctx, dense, x), ADAPT_ERR_INVALID_ARGUMENT);
    adapt_model_free(dense);
    adapt_tensor_free(x);
    adapt_context_free(ctx);
    adapt_model_free(m);
}
END_TEST

/* Expert e's output o for one token, by hand. */
static double expert_output(adapt_model *m, int e, const float *xt, int o)
{
    const float *w1 = param_data(m, "0.experts.w1"), *b1 = param_data(m, "0.experts.b1");
    const float *w2 = param_data(m, "0.experts.w2");
    double y = 0.0;
    for (int j = 0; j < WIDTH; j++) {
        double z = b1[e * WIDTH + j];
        for (int i = 0; i < DIM; i++)
            z += (double)xt[i] * w1[(e * DIM + i) * WIDTH + j];
        y += (z > 0.0 ? z : 0.0) * w2[(e * WIDTH + j) * DIM + o];
    }
    return y;
}

/* The output under top-k routing, every k, equals the sum of the k experts of largest predicted
 * norm, computed by hand. */
START_TEST(routed_output_is_the_sum_of_the_chosen_experts)
{
    adapt_model *m = moe_model(ADAPT_ACTIVATION_RELU, 71);
    adapt_context *ctx = tu_context(ADAPT_BACKEND_REFERENCE);
    TU_OK(adapt_context_set_grad(ctx, 0));
    adapt_tensor *x = input(2, 81, 0);
    const float *xd = adapt_tensor_data(x), *b2 = param_data(m, "0.last_bias");
    for (int32_t k = 1; k <= EXPERTS; k++) {
        TU_OK(adapt_model_set_routing(m, ADAPT_ROUTING_TOP_K, 0.0f, k, NULL));
        const float *y = adapt_tensor_data(forward(ctx, m, x));
        for (int t = 0; t < 2 * TOKENS; t++) {
            const float *xt = xd + t * DIM;
            double g[EXPERTS];
            int rank[EXPERTS]; /* experts by decreasing g */
            predicted_norms(g, m, xt);
            for (int e = 0; e < EXPERTS; e++) {
                rank[e] = 0;
                for (int f = 0; f < EXPERTS; f++)
                    rank[e] += g[f] > g[e] || (g[f] == g[e] && f < e);
            }
            for (int o = 0; o < DIM; o++) {
                double want = b2[o];
                for (int e = 0; e < EXPERTS; e++)
                    want += rank[e] < k ? expert_output(m, e, xt, o) : 0.0;
                ck_assert_msg(fabs(y[t * DIM + o] - want) < 1e-5, "k %d token %d output %d: "
                              "%.7g, by hand %.7g", k, t, o, (double)y[t * DIM + o], want);
            }
        }
    }
    adapt_tensor_free(x);
    adapt_context_free(ctx);
    adapt_model_free(m);
}
END_TEST

/* Mean squared error of the router's predictions against the experts' output norms, over
 * `count` tokens of x. */
static double router_error(adapt_model *m, const float *x, int64_t count)
{
    double sum = 0.0;
    for (int64_t t = 0; t < count; t++) {
        double g[EXPERTS];
        predicted_norms(g, m, x + t * DIM);
        for (int e = 0; e < EXPERTS; e++) {
            double norm = 0.0;
            for (int o = 0; o < DIM; o++) {
                const double y = expert_output(m, e, x + t * DIM, o);
                norm += y * y;
            }
            sum += (g[e] - sqrt(norm)) * (g[e] - sqrt(norm));
        }
    }
    return sum / (double)(count * EXPERTS);
}

/* The routers learn the experts' output norms from a recording; the experts stay as they
 * were. */
START_TEST(routers_learn_the_expert_norms)
{
    enum { SAMPLES = 64 };
    adapt_model *m = moe_model(ADAPT_ACTIVATION_RELU, 91);
    adapt_tensor *data = input(SAMPLES, 93, 0);
    const float *x = adapt_tensor_data(data);
    int32_t labels[SAMPLES] = {0};
    adapt_dataset *set = NULL;
    TU_OK(adapt_dataset_wrap(&set, adapt_tensor_data(data), 3,
                             (int64_t[]){SAMPLES, TOKENS, DIM}, labels));
    adapt_recording *rec = NULL; /* what the layer receives: the model's input */
    adapt_record_params rp;
    adapt_record_params_init(&rp, sizeof rp);
    rp.n_threads = 1;
    TU_OK(adapt_model_record(&rec, m, "0", set, &rp));
    const float *w1 = param_data(m, "0.experts.w1");
    const float w1_before = w1[5];
    const double before = router_error(m, x, SAMPLES * TOKENS);
    adapt_train_params tp;
    adapt_train_params_init(&tp, sizeof tp);
    tp.epochs = 80, tp.batch_size = 16, tp.optimizer = ADAPT_OPTIMIZER_ADAMW;
    tp.learning_rate = 1e-2f, tp.n_threads = 1;
    TU_OK(adapt_moe_train_routers(&m, (const adapt_recording *const[]){rec}, 1, &tp));
    const double after = router_error(m, x, SAMPLES * TOKENS);
    ck_assert_msg(after < 0.25 * before, "router error %g, before training %g", after, before);
    ck_assert_float_eq(w1[5], w1_before);
    adapt_model *none = NULL;
    TU_FAILS(adapt_moe_train_routers(&none, (const adapt_recording *const[]){rec}, 1, &tp),
             ADAPT_ERR_INVALID_ARGUMENT);
    adapt_model *dense = tu_token_mlp(TOKENS, DIM, 8, 1);
    TU_FAILS(adapt_moe_train_routers(&dense, (const adapt_recording *const[]){rec}, 1, &tp),
             ADAPT_ERR_INVALID_ARGUMENT);
    adapt_model_free(dense);
    adapt_recording_free(rec);
    adapt_dataset_free(set);
    adapt_tensor_free(data);
    adapt_model_free(m);
}
END_TEST

static adapt_status hoyer_forward(adapt_tensor **out, adapt_context *ctx, adapt_tensor **params,
                                  void *arg)
{
    (void)arg;
    adapt_tensor *h;
    adapt_status st = ad_op_hoyer(&h, ctx, tu_record(params[0]));
    if (!st)
        *out = tu_handle(h);
    return st;
}

START_TEST(hoyer_measure_values_and_gradient)
{
    adapt_context *ctx = tu_context(ADAPT_BACKEND_REFERENCE);
    adapt_tensor *x = tu_param(2, (int64_t[]){3, 4}, 1, -1.0f, 1.0f);
    float *v = adapt_tensor_data(x);
    const float rows[12] = {0, 2, 0, 0, /* one-hot: 1 */ 3, 3, 3, 3, /* constant: 4 */
                            0, 0, 0, 0 /* zero: 0 */};
    memcpy(v, rows, sizeof rows);
    adapt_tensor *h = NULL;
    TU_OK(hoyer_forward(&h, ctx, &x, NULL));
    ck_assert_float_eq_tol(adapt_tensor_data(h)[0], 5.0f / 3.0f, 1e-6f);
    tu_fill(v, 12, 2, -1.0f, 1.0f);
    tu_gradcheck(hoyer_forward, &x, 1, NULL, 1e-3, 1e-2, 12);
    adapt_tensor_free(x);
    adapt_context_free(ctx);
}
END_TEST

/* Fraction of exact zeros among the hidden ReLU outputs of a [16 -> 32 -> 4] network on x. */
static double relu_zeros(adapt_model *m, const adapt_dataset *x)
{
    adapt_recording *rec = NULL;
    adapt_record_params rp;
    adapt_record_params_init(&rp, sizeof rp);
    rp.n_threads = 1;
    TU_OK(adapt_model_record(&rec, m, "1", x, &rp));
    int64_t shape[ADAPT_MAX_DIMS];
    int32_t ndim;
    const float *a = adapt_recording_data(rec, 1, &ndim, shape);
    int64_t zeros = 0;
    for (int64_t i = 0; i < shape[0] * 32; i++)
        zeros += a[i] == 0.0f;
    adapt_recording_free(rec);
    return (double)zeros / (double)(shape[0] * 32);
}

/* The penalty makes the ReLU outputs sparser than the same training without it. */
START_TEST(sparsity_penalty_sparsifies_relu_outputs)
{
    enum { N = 256 };
    float *x = malloc(N * 16 * sizeof *x);
    int32_t labels[N];
    tu_fill(x, N * 16, 3, -1.0f, 1.0f);
    for (int i = 0; i < N; i++)
        labels[i] = (x[i * 16] > 0.0f) + 2 * (x[i * 16 + 1] > 0.0f);
    adapt_dataset *set = NULL;
    TU_OK(adapt_dataset_wrap(&set, x, 2, (int64_t[]){N, 16}, labels));
    double zeros[2];
    for (int penalised = 0; penalised < 2; penalised++) {
        adapt_model *m = NULL;
        TU_OK(adapt_model_create_sequential(&m, 1, (int64_t[]){16}, 5));
        const int32_t kinds[] = {ADAPT_LAYER_LINEAR, ADAPT_LAYER_RELU, ADAPT_LAYER_LINEAR};
        const int64_t widths[] = {32, 0, 4};
        for (int i = 0; i < 3; i++) {
            adapt_layer_params p;
            adapt_layer_params_init(&p, sizeof p);
            p.kind = kinds[i], p.out_features = widths[i];
            TU_OK(adapt_model_append(m, &p));
        }
        adapt_train_params tp;
        adapt_train_params_init(&tp, sizeof tp);
        tp.epochs = 20, tp.batch_size = 32, tp.optimizer = ADAPT_OPTIMIZER_ADAMW;
        tp.learning_rate = 1e-2f, tp.n_threads = 1, tp.sparsity_penalty = penalised ? 0.3f : 0;
        tp.progress = NULL;
        TU_OK(adapt_model_train(m, set, NULL, &tp));
        zeros[penalised] = relu_zeros(m, set);
        adapt_model_free(m);
    }
    ck_assert_msg(zeros[1] > zeros[0] + 0.2, "zeros %.3f with the penalty, %.3f without",
                  zeros[1], zeros[0]);
    adapt_train_params tp;
    adapt_train_params_init(&tp, sizeof tp);
    tp.sparsity_penalty = 0.1f, tp.recompute_blocks = 1;
    adapt_model *m = tu_token_mlp(TOKENS, DIM, 8, 1);
    TU_FAILS(adapt_model_train(m, set, NULL, &tp), ADAPT_ERR_INVALID_ARGUMENT);
    tp.recompute_blocks = 0, tp.sparsity_penalty = -1.0f;
    TU_FAILS(adapt_model_train(m, set, NULL, &tp), ADAPT_ERR_INVALID_ARGUMENT);
    adapt_model_free(m);
    adapt_dataset_free(set);
    free(x);
}
END_TEST

START_TEST(checkpoints_keep_the_experts)
{
    adapt_model *model = vit(7);
    adapt_moe_params mp;
    adapt_moe_params_init(&mp, sizeof mp);
    mp.experts = 8;
    adapt_model *moe = NULL;
    TU_OK(adapt_moe_from_ffn(&moe, model, "blocks.0.mlp", &mp));
    TU_OK(adapt_model_replace(model, "blocks.0.mlp", moe, NULL));
    int32_t count = 0;
    TU_OK(adapt_model_set_routing(model, ADAPT_ROUTING_DYNAMIC_K, 0.5f, 1, &count));
    ck_assert_int_eq(count, 1);
    ck_assert_int_ge(param_index(model, "blocks.0.mlp.0.experts.w2"), 0);
    const char *path = tu_in_scratch("moe.safetensors");
    TU_OK(adapt_model_save(model, path));
    adapt_model *loaded = NULL;
    TU_OK(adapt_model_load(&loaded, path));
    TU_OK(adapt_model_set_routing(loaded, ADAPT_ROUTING_DYNAMIC_K, 0.5f, 1, NULL));
    adapt_context *ctx = tu_context(ADAPT_BACKEND_DEFAULT);
    TU_OK(adapt_context_set_grad(ctx, 0));
    adapt_tensor *pixels = images(8), *a = NULL, *b = NULL;
    TU_OK(adapt_model_forward(&a, ctx, model, pixels));
    TU_OK(adapt_model_forward(&b, ctx, loaded, pixels));
    ck_assert_int_eq(memcmp(adapt_tensor_data(a), adapt_tensor_data(b),
                            (size_t)adapt_tensor_numel(a) * sizeof(float)), 0);
    adapt_tensor_free(pixels);
    adapt_context_free(ctx);
    adapt_model_free(loaded);
    adapt_model_free(model);
}
END_TEST

START_TEST(bad_input_is_a_status)
{
    adapt_model *model = vit(13), *moe = NULL;
    adapt_moe_params mp;
    adapt_moe_params_init(&mp, sizeof mp);
    mp.experts = 5; /* 32 hidden units */
    TU_FAILS(adapt_moe_from_ffn(&moe, model, "blocks.0.mlp", &mp), ADAPT_ERR_INVALID_ARGUMENT);
    mp.experts = 4;
    TU_FAILS(adapt_moe_from_ffn(&moe, model, "blocks.0.attn", &mp),
             ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_moe_from_ffn(&moe, model, "blocks.9.mlp", &mp), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_moe_from_ffn(NULL, model, "blocks.0.mlp", &mp), ADAPT_ERR_INVALID_ARGUMENT);
    param_data(model, "blocks.0.mlp.fc1.weight")[3] = NAN;
    TU_FAILS(adapt_moe_from_ffn(&moe, model, "blocks.0.mlp", &mp), ADAPT_ERR_NONFINITE);
    ck_assert_ptr_null(moe);

    adapt_model *m = moe_model(ADAPT_ACTIVATION_RELU, 17);
    TU_FAILS(adapt_model_set_routing(m, ADAPT_ROUTING_DYNAMIC_K, 1.5f, 1, NULL),
             ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_model_set_routing(m, ADAPT_ROUTING_DYNAMIC_K, -0.1f, 1, NULL),
             ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_model_set_routing(m, ADAPT_ROUTING_DYNAMIC_K, NAN, 1, NULL),
             ADAPT_ERR_NONFINITE);
    TU_FAILS(adapt_model_set_routing(m, ADAPT_ROUTING_TOP_K, 0.0f, EXPERTS + 1, NULL),
             ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_model_set_routing(m, 7, 0.0f, 1, NULL), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_model_set_routing(NULL, 0, 0.0f, 1, NULL), ADAPT_ERR_INVALID_ARGUMENT);

    /* A router that predicts NaN: a status, and the model runs again once it is repaired. */
    TU_OK(adapt_model_set_routing(m, ADAPT_ROUTING_DYNAMIC_K, 0.5f, 1, NULL));
    float *r2 = param_data(m, "0.router.2.weight");
    const float kept = r2[0];
    for (int i = 0; i < EXPERTS * ROUTER; i++)
        r2[i] = i == 0 ? NAN : r2[i];
    adapt_context *ctx = tu_context(ADAPT_BACKEND_DEFAULT);
    adapt_tensor *x = input(2, 19, 0), *y = NULL;
    TU_FAILS(adapt_model_forward_blocks(&y, ctx, m, x, 0, 1), ADAPT_ERR_NONFINITE);
    r2[0] = kept;
    TU_OK(adapt_model_forward_blocks(&y, ctx, m, x, 0, 1));

    /* A layer of other widths does not replace a block's MLP. */
    adapt_model *wide = NULL;
    TU_OK(adapt_model_create_sequential(&wide, 2, (int64_t[]){5, DIM}, 1));
    adapt_layer_params p;
    adapt_layer_params_init(&p, sizeof p);
    p.kind = ADAPT_LAYER_MOE, p.out_features = DIM + 1, p.experts = 2, p.expert_width = 4;
    TU_OK(adapt_model_append(wide, &p));
    TU_FAILS(adapt_model_replace(model, "blocks.0.mlp", wide, NULL), ADAPT_ERR_SHAPE);
    p.expert_width = 0;
    TU_FAILS(adapt_model_append(wide, &p), ADAPT_ERR_INVALID_ARGUMENT);
    p.expert_width = 4, p.top_k = 3;
    p.routing = ADAPT_ROUTING_TOP_K;
    TU_FAILS(adapt_model_append(wide, &p), ADAPT_ERR_INVALID_ARGUMENT);
    adapt_model_free(wide);
    adapt_tensor_free(x);
    adapt_context_free(ctx);
    adapt_model_free(m);
    adapt_model_free(model);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("moe");
    TCase *tc = tcase_create("moe");
    tcase_set_timeout(tc, 120);
    tcase_add_checked_fixture(tc, tu_scratch_setup, tu_scratch_teardown);
    tcase_add_test(tc, every_expert_running_reproduces_the_dense_network);
    tcase_add_test(tc, an_mlp_slice_splits_into_experts);
    tcase_add_test(tc, ffn_module_copies_the_network_with_its_activation);
    tcase_add_test(tc, routing_rules_pick_what_they_say);
    tcase_add_test(tc, gradients_match_finite_differences);
    tcase_add_test(tc, bits_do_not_depend_on_the_thread_count);
    tcase_add_test(tc, each_sample_pays_for_the_experts_it_ran);
    tcase_add_test(tc, routed_output_is_the_sum_of_the_chosen_experts);
    tcase_add_test(tc, routers_learn_the_expert_norms);
    tcase_add_test(tc, hoyer_measure_values_and_gradient);
    tcase_add_test(tc, sparsity_penalty_sparsifies_relu_outputs);
    tcase_add_test(tc, checkpoints_keep_the_experts);
    tcase_add_test(tc, bad_input_is_a_status);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
