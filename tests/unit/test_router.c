/* Two-model routing (lib/probe/router.c): per input, the probe's score, the model that answered
 * and its logits, and the FLOPs spent, against each model run on its own; B continuing from
 * A's shared blocks; refusals. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check_util.h"

enum { N = 60, IN = 8, CLASSES = 3 };

static adapt_model *mlp_with(uint64_t seed, adapt_activation activation)
{
    adapt_mlp_params p;
    adapt_mlp_params_init(&p, sizeof p);
    p.n_sizes = 4, p.sizes = (int64_t[]){IN, 16, 12, CLASSES}, p.seed = seed;
    p.activation = activation;
    adapt_model *m = NULL;
    TU_OK(adapt_model_create_mlp(&m, &p));
    return m;
}

static adapt_model *mlp(uint64_t seed) { return mlp_with(seed, ADAPT_ACTIVATION_RELU); }

/* An inference context. */
static adapt_context *inference(void)
{
    adapt_context *ctx = tu_context(ADAPT_BACKEND_REFERENCE);
    TU_OK(adapt_context_set_grad(ctx, 0));
    return ctx;
}

/* The batch x [N, IN] in ctx. */
static adapt_tensor *batch(adapt_context *ctx, const float *x)
{
    adapt_tensor *in = NULL;
    TU_OK(adapt_tensor_input(&in, ctx, 2, (int64_t[]){N, IN}, x));
    return in;
}

/* Blocks [first, last) of m on x [N, ...] into out (values per row `width`). */
static void run_blocks(float *out, adapt_model *m, const float *x, int64_t width, int32_t first,
                       int32_t last)
{
    adapt_context *ctx = inference();
    adapt_tensor *in = NULL, *y = NULL;
    TU_OK(adapt_tensor_input(&in, ctx, 2, (int64_t[]){N, width}, x));
    TU_OK(adapt_model_forward_blocks(&y, ctx, m, in, first, last));
    TU_OK(adapt_tensor_read(y, out, adapt_tensor_numel(y)));
    adapt_context_free(ctx);
}

/* A probe on A's blocks 0 and 1, flagging the inputs whose first feature is positive. */
static adapt_probe *probe_on(adapt_model *a, const float *x, float *h0, float *h1)
{
    int32_t labels[N];
    for (int i = 0; i < N; i++)
        labels[i] = x[i * IN] > 0.0f;
    run_blocks(h0, a, x, IN, 0, 1);
    run_blocks(h1, a, h0, 16, 1, 2);
    adapt_probe *probe = NULL;
    TU_OK(adapt_probe_fit(&probe, (const float *[]){h0, h1}, (int64_t[]){16, 12}, 2, labels, N,
                          NULL));
    return probe;
}

static adapt_router *router(adapt_model *a, adapt_model *b, adapt_probe *probe, int32_t shared)
{
    adapt_router_params p;
    adapt_router_params_init(&p, sizeof p);
    p.n_blocks = 2, p.blocks = (int32_t[]){0, 1}, p.shared_blocks = shared;
    adapt_router *r = NULL;
    TU_OK(adapt_router_create(&r, a, b, probe, &p));
    return r;
}

/* Inputs, A's features on them, the two models and a probe fitted on A's blocks 0 and 1. */
typedef struct {
    float x[N * IN], h0[N * 16], h1[N * 12];
    adapt_model *a, *b;
    adapt_probe *probe;
} scene;

static void scene_open(scene *s, uint64_t data_seed, uint64_t b_seed)
{
    tu_fill(s->x, N * IN, data_seed, -1.0f, 1.0f);
    s->a = mlp(1);
    s->b = mlp(b_seed);
    s->probe = probe_on(s->a, s->x, s->h0, s->h1);
}

static void scene_close(scene *s)
{
    adapt_probe_free(s->probe);
    adapt_model_free(s->a);
    adapt_model_free(s->b);
}

/* Routes x and checks every output against A, B and the probe run on their own. */
static void check_routing(adapt_model *a, adapt_model *b, adapt_probe *probe, int32_t shared,
                          const float *x, const float *h0, const float *h1)
{
    adapt_router *r = router(a, b, probe, shared);
    float logits[N * CLASSES], scores[N], expected_scores[N], la[N * CLASSES], lb[N * CLASSES];
    int32_t routed[N];
    int64_t flops[N];
    adapt_route_outputs out = {sizeof out, logits, scores, routed, flops};
    adapt_context *ctx = inference();
    TU_OK(adapt_router_run(&out, ctx, r, batch(ctx, x)));
    TU_OK(adapt_probe_score(probe, expected_scores, NULL, (const float *[]){h0, h1},
                            (int64_t[]){16, 12}, 2, N));
    run_blocks(la, a, x, IN, 0, 3);
    run_blocks(lb, b, x, IN, 0, 3);
    adapt_block_info info;
    memset(&info, 0, sizeof info);
    info.struct_size = sizeof info;
    int64_t a_blocks[3], b_total = adapt_model_flops(b), b_skipped = 0;
    for (int32_t k = 0; k < 3; k++) {
        TU_OK(adapt_model_block_info(&info, a, k));
        a_blocks[k] = info.flops;
        TU_OK(adapt_model_block_info(&info, b, k));
        b_skipped += k < shared ? info.flops : 0;
    }
    int n_routed = 0;
    for (int i = 0; i < N; i++) {
        ck_assert_float_eq(scores[i], expected_scores[i]);
        ck_assert_int_eq(routed[i], scores[i] > adapt_probe_threshold(probe));
        const float *want = routed[i] ? lb : la;
        for (int c = 0; c < CLASSES; c++)
            ck_assert_float_eq_tol(logits[i * CLASSES + c], want[i * CLASSES + c], 1e-5f);
        const int64_t common = a_blocks[0] + a_blocks[1] + adapt_probe_flops(probe);
        ck_assert_int_eq(flops[i], common + (routed[i] ? b_total - b_skipped : a_blocks[2]));
        n_routed += routed[i];
    }
    ck_assert(n_routed > 0 && n_routed < N); /* both paths ran */
    adapt_context_free(ctx);
    adapt_router_free(r);
}

START_TEST(routed_inputs_are_answered_by_b_the_others_by_a)
{
    scene s;
    scene_open(&s, 5, 2);
    ck_assert_int_eq(adapt_probe_flops(s.probe), 2 * 16 + 2 * 12 + 2 * 2);
    check_routing(s.a, s.b, s.probe, 0, s.x, s.h0, s.h1);
    scene_close(&s);
}
END_TEST

START_TEST(b_continues_from_the_blocks_it_shares_with_a)
{
    scene s;
    scene_open(&s, 6, 1); /* the same two first blocks, a new last one */
    float *last = adapt_tensor_data(adapt_model_param(s.b, 4));
    for (int j = 0; j < 12 * CLASSES; j++)
        last[j] = -2.0f * last[j] + 0.1f;
    check_routing(s.a, s.b, s.probe, 2, s.x, s.h0, s.h1);
    check_routing(s.a, s.b, s.probe, 1, s.x, s.h0, s.h1);
    scene_close(&s);
}
END_TEST

START_TEST(every_input_can_go_one_way)
{
    scene s;
    scene_open(&s, 7, 2);
    float logits[N * CLASSES], la[N * CLASSES];
    int32_t routed[N];
    adapt_router *r = router(s.a, s.b, s.probe, 0);
    adapt_context *ctx = inference();
    adapt_tensor *in = batch(ctx, s.x);
    const double thresholds[] = {2.0, -1.0}; /* scores are in [0, 1] */
    adapt_route_outputs out = {sizeof out, logits, NULL, routed, NULL};
    for (int t = 0; t < 2; t++) {
        TU_OK(adapt_probe_set_threshold(s.probe, thresholds[t]));
        TU_OK(adapt_router_run(&out, ctx, r, in));
        for (int i = 0; i < N; i++)
            ck_assert_int_eq(routed[i], t);
    }
    TU_OK(adapt_probe_set_threshold(s.probe, 2.0));
    run_blocks(la, s.a, s.x, IN, 0, 3);
    TU_OK(adapt_router_run(&out, ctx, r, in));
    for (int i = 0; i < N * CLASSES; i++)
        ck_assert_float_eq_tol(logits[i], la[i], 1e-5f);
    adapt_context_free(ctx);
    adapt_router_free(r);
    scene_close(&s);
}
END_TEST

START_TEST(bad_routers_are_refused)
{
    scene s;
    scene_open(&s, 8, 2);
    adapt_model *a = s.a, *b = s.b;
    adapt_probe *probe = s.probe;
    adapt_router_params p;
    adapt_router_params_init(&p, sizeof p);
    adapt_router *r = (adapt_router *)&r, *const sentinel = r;
    p.n_blocks = 2, p.blocks = (int32_t[]){0, 1};
    TU_FAILS(adapt_router_create(&r, a, NULL, probe, &p), ADAPT_ERR_INVALID_ARGUMENT);
    p.blocks = (int32_t[]){1, 0};
    TU_FAILS(adapt_router_create(&r, a, b, probe, &p), ADAPT_ERR_INVALID_ARGUMENT);
    p.blocks = (int32_t[]){0, 2}; /* block 2 gives 3 values; the probe's layer reads 12 */
    TU_FAILS(adapt_router_create(&r, a, b, probe, &p), ADAPT_ERR_SHAPE);
    p.n_blocks = 1;
    TU_FAILS(adapt_router_create(&r, a, b, probe, &p), ADAPT_ERR_INVALID_ARGUMENT);
    p.n_blocks = 2, p.blocks = (int32_t[]){0, 1}, p.shared_blocks = 1; /* other weights */
    TU_FAILS(adapt_router_create(&r, a, b, probe, &p), ADAPT_ERR_INVALID_ARGUMENT);
    p.shared_blocks = 3; /* B would have nothing left to run */
    TU_FAILS(adapt_router_create(&r, a, a, probe, &p), ADAPT_ERR_INVALID_ARGUMENT);
    adapt_model *gelu = mlp_with(1, ADAPT_ACTIVATION_GELU); /* A's weights, another layer */
    p.shared_blocks = 1;
    TU_FAILS(adapt_router_create(&r, a, gelu, probe, &p), ADAPT_ERR_INVALID_ARGUMENT);
    adapt_model_free(gelu);
    ck_assert_ptr_eq(r, sentinel);
    adapt_mlp_params mp;
    adapt_mlp_params_init(&mp, sizeof mp);
    mp.n_sizes = 2, mp.sizes = (int64_t[]){IN, CLASSES + 1};
    adapt_model *other = NULL;
    TU_OK(adapt_model_create_mlp(&other, &mp));
    p.shared_blocks = 0;
    TU_FAILS(adapt_router_create(&r, a, other, probe, &p), ADAPT_ERR_SHAPE);
    r = router(a, b, probe, 0);
    adapt_context *ctx = inference();
    adapt_tensor *wrong = NULL;
    TU_OK(adapt_tensor_input(&wrong, ctx, 2, (int64_t[]){N / IN, IN * IN}, s.x));
    float logits[N * CLASSES];
    adapt_route_outputs out = {sizeof out, logits, NULL, NULL, NULL};
    TU_FAILS(adapt_router_run(&out, ctx, r, wrong), ADAPT_ERR_SHAPE);
    TU_FAILS(adapt_router_run(&out, ctx, NULL, wrong), ADAPT_ERR_INVALID_ARGUMENT);
    adapt_context_free(ctx);
    adapt_router_free(r);
    adapt_router_free(NULL);
    adapt_model_free(other);
    scene_close(&s);
}
END_TEST

/* A failed run leaves every output as it was, wherever it fails. */
START_TEST(a_failed_run_leaves_the_outputs_alone)
{
    scene s;
    scene_open(&s, 9, 1);
    float logits[N * CLASSES], scores[N];
    int32_t routed[N];
    int64_t flops[N];
    adapt_router *r = router(s.a, s.b, s.probe, 1);
    adapt_route_outputs out = {sizeof out, logits, scores, routed, flops};
    int failures = 0, successes = 0;
    for (size_t limit = 2048; limit < 65536 && !successes; limit += 2048) {
        adapt_context_params cp;
        adapt_context_params_init(&cp, sizeof cp);
        cp.arena_limit_bytes = limit, cp.backend = ADAPT_BACKEND_REFERENCE, cp.n_threads = 1;
        adapt_context *ctx = NULL;
        TU_OK(adapt_context_create(&ctx, &cp));
        adapt_tensor *in = NULL;
        const adapt_status made = adapt_tensor_input(&in, ctx, 2, (int64_t[]){N, IN}, s.x);
        for (int i = 0; i < N * CLASSES; i++)
            logits[i] = -7.0f;
        for (int i = 0; i < N; i++)
            scores[i] = -7.0f, routed[i] = -7, flops[i] = -7;
        const adapt_status st = made ? made : adapt_router_run(&out, ctx, r, in);
        if (st) {
            ck_assert_int_eq(st, ADAPT_ERR_OUT_OF_MEMORY);
            for (int i = 0; i < N * CLASSES; i++)
                ck_assert_float_eq(logits[i], -7.0f);
            for (int i = 0; i < N; i++)
                ck_assert(scores[i] == -7.0f && routed[i] == -7 && flops[i] == -7);
        }
        failures += st != ADAPT_OK, successes += st == ADAPT_OK;
        adapt_context_free(ctx);
    }
    ck_assert(failures > 0 && successes == 1);
    adapt_router_free(r);
    scene_close(&s);
}
END_TEST

/* Models that change under a router are refused at its next run; NaN is an error. */
START_TEST(changed_models_and_nan_fail_the_run)
{
    scene s;
    scene_open(&s, 10, 1);
    float logits[N * CLASSES];
    adapt_router *r = router(s.a, s.b, s.probe, 1);
    adapt_context *ctx = inference();
    adapt_tensor *in = batch(ctx, s.x);
    adapt_route_outputs out = {sizeof out, logits, NULL, NULL, NULL};
    TU_OK(adapt_router_run(&out, ctx, r, in));
    float *w = adapt_tensor_data(adapt_model_param(s.a, 0));
    const float kept = w[3];
    w[3] = NAN;
    TU_FAILS(adapt_router_run(&out, ctx, r, in), ADAPT_ERR_NONFINITE);
    w[3] = kept;
    adapt_mlp_params mp; /* block 0's linear layer, replaced by one of the same shape */
    adapt_mlp_params_init(&mp, sizeof mp);
    mp.n_sizes = 2, mp.sizes = (int64_t[]){IN, 16};
    adapt_model *module = NULL;
    TU_OK(adapt_model_create_mlp(&module, &mp));
    TU_OK(adapt_model_replace(s.a, "0", module, NULL));
    TU_FAILS(adapt_router_run(&out, ctx, r, in), ADAPT_ERR_STATE);
    adapt_context_free(ctx);
    adapt_router_free(r);
    scene_close(&s);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("router");
    TCase *tc = tcase_create("router");
    tcase_add_test(tc, routed_inputs_are_answered_by_b_the_others_by_a);
    tcase_add_test(tc, b_continues_from_the_blocks_it_shares_with_a);
    tcase_add_test(tc, every_input_can_go_one_way);
    tcase_add_test(tc, bad_routers_are_refused);
    tcase_add_test(tc, a_failed_run_leaves_the_outputs_alone);
    tcase_add_test(tc, changed_models_and_nan_fail_the_run);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
