/* Models: construction and validation, block structure (shapes, FLOPs, parameter counts worked
 * out by hand), forward passes and their composition from block ranges, parameter names,
 * seeding, the architecture JSON round trip and hostile descriptions, and training behaviour
 * taken from the context (concurrent inference: test_concurrency.c). */
#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_util.h"
#include "lib/models/model.h"
#include "lib/models/model_impl.h"

#define SENTINEL ((adapt_model *)0x1)

static const int64_t mlp_sizes[] = {12, 8, 6, 3};
static const int32_t cnn_channels[] = {4, 8}, cnn_blocks[] = {1, 1}, cnn_strides[] = {1, 2};

static adapt_mlp_params mlp_params(uint64_t seed, float dropout)
{
    adapt_mlp_params p;
    adapt_mlp_params_init(&p, sizeof p);
    p.n_sizes = 4;
    p.sizes = mlp_sizes;
    p.dropout = dropout;
    p.seed = seed;
    return p;
}

static adapt_cnn_params cnn_params(uint64_t seed)
{
    adapt_cnn_params p;
    adapt_cnn_params_init(&p, sizeof p);
    p.image_size = 8;
    p.n_classes = 5;
    p.stem_channels = 4;
    p.n_stages = 2;
    p.stage_channels = cnn_channels;
    p.stage_blocks = cnn_blocks;
    p.stage_strides = cnn_strides;
    p.seed = seed;
    return p;
}

static adapt_vit_params vit_params(uint64_t seed)
{
    adapt_vit_params p;
    adapt_vit_params_init(&p, sizeof p);
    p.image_size = 8;
    p.patch = 4;
    p.dim = 8;
    p.depth = 2;
    p.heads = 2;
    p.mlp_ratio = 2.0f;
    p.n_classes = 5;
    p.seed = seed;
    return p;
}

typedef enum { MLP, CNN, VIT, N_KINDS } model_kind;

static adapt_model *make(model_kind kind, uint64_t seed)
{
    adapt_model *m = NULL;
    adapt_mlp_params mp = mlp_params(seed, 0.25f);
    adapt_cnn_params cp = cnn_params(seed);
    adapt_vit_params vp = vit_params(seed);
    if (kind == MLP)
        TU_OK(adapt_model_create_mlp(&m, &mp));
    else if (kind == CNN)
        TU_OK(adapt_model_create_cnn(&m, &cp));
    else
        TU_OK(adapt_model_create_vit(&m, &vp));
    return m;
}

/* A batch of n inputs for `kind`, values from `seed`. */
static adapt_tensor *input_for(adapt_context *ctx, model_kind kind, int64_t n, uint64_t seed)
{
    int64_t image[] = {n, 3, 8, 8}, flat[] = {n, 2, 6};
    const int64_t *shape = kind == MLP ? flat : image;
    int32_t ndim = kind == MLP ? 3 : 4;
    int64_t count = kind == MLP ? n * 12 : n * 192;
    float *x = malloc((size_t)count * sizeof *x);
    tu_fill(x, count, seed, -1.0f, 1.0f);
    adapt_tensor *t;
    TU_OK(adapt_tensor_input(&t, ctx, ndim, shape, x));
    free(x);
    return t;
}

static adapt_context *inference_context(void)
{
    adapt_context_params p;
    adapt_context_params_init(&p, sizeof p);
    p.n_threads = 1;
    adapt_context *ctx;
    TU_OK(adapt_context_create(&ctx, &p));
    return ctx;
}

/* ---- validation ------------------------------------------------------------------- */

START_TEST(mlp_rejects_bad_params)
{
    adapt_model *m = SENTINEL;
    int64_t zero[] = {12, 0, 3};
    adapt_mlp_params p = mlp_params(1, 0.0f);
    TU_FAILS(adapt_model_create_mlp(NULL, &p), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_model_create_mlp(&m, NULL), ADAPT_ERR_INVALID_ARGUMENT);
    p.struct_size = 0;
    TU_FAILS(adapt_model_create_mlp(&m, &p), ADAPT_ERR_INVALID_ARGUMENT);
    p = mlp_params(1, 0.0f), p.n_sizes = 1;
    TU_FAILS(adapt_model_create_mlp(&m, &p), ADAPT_ERR_INVALID_ARGUMENT);
    p = mlp_params(1, 0.0f), p.sizes = NULL;
    TU_FAILS(adapt_model_create_mlp(&m, &p), ADAPT_ERR_INVALID_ARGUMENT);
    p = mlp_params(1, 0.0f), p.sizes = zero, p.n_sizes = 3;
    TU_FAILS(adapt_model_create_mlp(&m, &p), ADAPT_ERR_INVALID_ARGUMENT);
    p = mlp_params(1, 0.0f), p.activation = 7;
    TU_FAILS(adapt_model_create_mlp(&m, &p), ADAPT_ERR_INVALID_ARGUMENT);
    p = mlp_params(1, NAN);
    TU_FAILS(adapt_model_create_mlp(&m, &p), ADAPT_ERR_NONFINITE);
    p = mlp_params(1, 1.0f);
    TU_FAILS(adapt_model_create_mlp(&m, &p), ADAPT_ERR_INVALID_ARGUMENT);
    p = mlp_params(1, -0.1f);
    TU_FAILS(adapt_model_create_mlp(&m, &p), ADAPT_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_eq(m, SENTINEL);
}
END_TEST

START_TEST(cnn_rejects_bad_params)
{
    adapt_model *m = SENTINEL;
    const int32_t zero[] = {4, 0};
    adapt_cnn_params p;
    int32_t *fields[] = {&p.in_channels, &p.image_size, &p.n_classes, &p.stem_channels,
                         &p.n_stages};
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        p = cnn_params(1);
        *fields[i] = 0;
        TU_FAILS(adapt_model_create_cnn(&m, &p), ADAPT_ERR_INVALID_ARGUMENT);
    }
    const int32_t **arrays[] = {&p.stage_channels, &p.stage_blocks, &p.stage_strides};
    for (size_t i = 0; i < 3; i++) {
        p = cnn_params(1);
        *arrays[i] = NULL;
        TU_FAILS(adapt_model_create_cnn(&m, &p), ADAPT_ERR_INVALID_ARGUMENT);
        *arrays[i] = zero;
        TU_FAILS(adapt_model_create_cnn(&m, &p), ADAPT_ERR_INVALID_ARGUMENT);
    }
    TU_FAILS(adapt_model_create_cnn(NULL, &p), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_model_create_cnn(&m, NULL), ADAPT_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_eq(m, SENTINEL);
}
END_TEST

START_TEST(vit_rejects_bad_params)
{
    adapt_model *m = SENTINEL;
    adapt_vit_params p;
    int32_t *fields[] = {&p.image_size, &p.in_channels, &p.patch, &p.dim,
                         &p.depth, &p.heads, &p.n_classes};
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        p = vit_params(1);
        *fields[i] = 0;
        TU_FAILS(adapt_model_create_vit(&m, &p), ADAPT_ERR_INVALID_ARGUMENT);
    }
    p = vit_params(1), p.patch = 3; /* 8 is not a multiple of 3 */
    TU_FAILS(adapt_model_create_vit(&m, &p), ADAPT_ERR_SHAPE);
    p = vit_params(1), p.heads = 3; /* nor of 8 */
    TU_FAILS(adapt_model_create_vit(&m, &p), ADAPT_ERR_SHAPE);
    p = vit_params(1), p.mlp_ratio = NAN;
    TU_FAILS(adapt_model_create_vit(&m, &p), ADAPT_ERR_NONFINITE);
    p = vit_params(1), p.mlp_ratio = 0.1f; /* 0.8 hidden units */
    TU_FAILS(adapt_model_create_vit(&m, &p), ADAPT_ERR_INVALID_ARGUMENT);
    p = vit_params(1), p.dropout = INFINITY;
    TU_FAILS(adapt_model_create_vit(&m, &p), ADAPT_ERR_NONFINITE);
    p = vit_params(1), p.dropout = -0.5f;
    TU_FAILS(adapt_model_create_vit(&m, &p), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_model_create_vit(&m, NULL), ADAPT_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_eq(m, SENTINEL);
}
END_TEST

START_TEST(params_read_only_the_callers_fields)
{
    /* A caller built against a struct that ends before `seed` gets the default seed 0. */
    adapt_vit_params p = vit_params(99), zero = vit_params(0);
    p.struct_size = offsetof(adapt_vit_params, seed);
    adapt_model *a, *b;
    TU_OK(adapt_model_create_vit(&a, &p));
    TU_OK(adapt_model_create_vit(&b, &zero));
    adapt_tensor *ta = adapt_model_param(a, 0), *tb = adapt_model_param(b, 0);
    ck_assert_mem_eq(adapt_tensor_data(ta), adapt_tensor_data(tb),
                     (size_t)adapt_tensor_numel(ta) * sizeof(float));
    adapt_model_free(a);
    adapt_model_free(b);
}
END_TEST

/* ---- blocks -------------------------------------------------------------------------- */

typedef struct {
    int32_t kind, out_ndim;
    int64_t out[3], flops, n_params;
} block_want;

/* Worked out by hand from the configurations above (docs/models.md has the formulas). */
static const block_want mlp_blocks[] = {
    {ADAPT_LAYER_LINEAR, 1, {8}, 2 * 12 * 8, 12 * 8 + 8},
    {ADAPT_LAYER_LINEAR, 1, {6}, 2 * 8 * 6, 8 * 6 + 6},
    {ADAPT_LAYER_LINEAR, 1, {3}, 2 * 6 * 3, 6 * 3 + 3},
};
static const block_want cnn_blocks_want[] = {
    {ADAPT_LAYER_CONV2D, 3, {4, 8, 8}, 2 * 4 * 64 * 3 * 9, 108 + 16},
    {ADAPT_LAYER_RESIDUAL_BLOCK, 3, {4, 8, 8}, 2 * (2 * 4 * 64 * 4 * 9), 2 * 144 + 2 * 16},
    {ADAPT_LAYER_RESIDUAL_BLOCK, 3, {8, 4, 4}, 9216 + 18432 + 1024, 288 + 576 + 32 + 3 * 32},
    {ADAPT_LAYER_LINEAR, 1, {5}, 2 * 8 * 5, 45},
};
/* T = 4 patches + class token; attention 1920 + 800 + 640, MLP (hidden 16) 2560. */
static const block_want vit_blocks[] = {
    {ADAPT_LAYER_PATCH_EMBED, 2, {5, 8}, 2 * 4 * 8 * 48, 8 + 40 + 384 + 8},
    {ADAPT_LAYER_TRANSFORMER_BLOCK, 2, {5, 8}, 3360 + 2560, 16 + 216 + 72 + 16 + 144 + 136},
    {ADAPT_LAYER_TRANSFORMER_BLOCK, 2, {5, 8}, 3360 + 2560, 600},
    {ADAPT_LAYER_LINEAR, 1, {5}, 2 * 8 * 5, 16 + 45},
};

static void expect_blocks(const adapt_model *m, const block_want *want, int32_t n)
{
    ck_assert_int_eq(adapt_model_block_count(m), n);
    int64_t flops = 0, values = 0;
    for (int32_t b = 0; b < n; b++) {
        adapt_block_info info = {.struct_size = sizeof info};
        TU_OK(adapt_model_block_info(&info, m, b));
        ck_assert_int_eq(info.kind, want[b].kind);
        ck_assert_int_eq(info.out_ndim, want[b].out_ndim);
        for (int32_t d = 0; d < info.out_ndim; d++)
            ck_assert_int_eq(info.out_shape[d], want[b].out[d]);
        ck_assert_int_eq(info.flops, want[b].flops);
        ck_assert_int_eq(info.n_params, want[b].n_params);
        flops += info.flops;
        values += info.n_params;
    }
    ck_assert_int_eq(adapt_model_flops(m), flops);
    for (int32_t i = 0; i < adapt_model_param_count(m); i++)
        values -= adapt_tensor_numel(adapt_model_param(m, i));
    ck_assert_int_eq(values, 0);
}

START_TEST(block_info_shapes_flops_params)
{
    adapt_model *m[N_KINDS] = {make(MLP, 1), make(CNN, 1), make(VIT, 1)};
    expect_blocks(m[MLP], mlp_blocks, 3);
    expect_blocks(m[CNN], cnn_blocks_want, 4);
    expect_blocks(m[VIT], vit_blocks, 4);
    ck_assert_int_eq(adapt_model_classes(m[MLP]), 3);
    ck_assert_int_eq(adapt_model_classes(m[CNN]), 5);
    ck_assert_int_eq(adapt_model_classes(m[VIT]), 5);
    for (int k = 0; k < N_KINDS; k++)
        adapt_model_free(m[k]);
}
END_TEST

START_TEST(block_info_checks_arguments)
{
    adapt_model *m = make(MLP, 1);
    adapt_block_info info = {.struct_size = sizeof info};
    TU_FAILS(adapt_model_block_info(NULL, m, 0), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_model_block_info(&info, NULL, 0), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_model_block_info(&info, m, 3), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_model_block_info(&info, m, -1), ADAPT_ERR_INVALID_ARGUMENT);
    info.struct_size = 0;
    TU_FAILS(adapt_model_block_info(&info, m, 0), ADAPT_ERR_INVALID_ARGUMENT);
    /* An older, shorter struct is filled only as far as it goes. */
    adapt_block_info shorter;
    memset(&shorter, 0x7f, sizeof shorter);
    shorter.struct_size = offsetof(adapt_block_info, flops);
    TU_OK(adapt_model_block_info(&shorter, m, 0));
    ck_assert_int_eq(shorter.out_shape[0], 8);
    ck_assert_int_eq(shorter.flops, 0x7f7f7f7f7f7f7f7fll);
    ck_assert_int_eq(adapt_model_block_count(NULL), 0);
    ck_assert_int_eq(adapt_model_flops(NULL), 0);
    ck_assert_int_eq(adapt_model_classes(NULL), 0);
    adapt_model_free(m);
}
END_TEST

/* ---- parameters --------------------------------------------------------------------- */

static void expect_names(const adapt_model *m, const char *const *names, int32_t n)
{
    ck_assert_int_eq(adapt_model_param_count(m), n);
    for (int32_t i = 0; i < n; i++)
        ck_assert_str_eq(adapt_model_param_name(m, i), names[i]);
    ck_assert_ptr_null(adapt_model_param_name(m, n));
    ck_assert_ptr_null(adapt_model_param(m, -1));
}

START_TEST(parameter_names_follow_pytorch)
{
    static const char *const mlp[] = {"0.weight", "0.bias", "3.weight", "3.bias", "6.weight",
                                      "6.bias"};
    static const char *const mlp_no_dropout[] = {"0.weight", "0.bias", "2.weight", "2.bias",
                                                 "4.weight", "4.bias"};
    static const char *const cnn_some[] = {"stem.0.weight", "stem.1.weight", "stem.1.bias",
                                           "stem.1.running_mean", "stem.1.running_var",
                                           "stages.0.0.conv1.weight"};
    static const char *const vit_some[] = {"cls_token", "pos_embed", "patch_embed.proj.weight",
                                           "patch_embed.proj.bias", "blocks.0.norm1.weight",
                                           "blocks.0.norm1.bias", "blocks.0.attn.qkv.weight"};
    adapt_model *m = make(MLP, 1), *plain;
    expect_names(m, mlp, 6);
    adapt_mlp_params p = mlp_params(1, 0.0f);
    TU_OK(adapt_model_create_mlp(&plain, &p));
    expect_names(plain, mlp_no_dropout, 6);
    ck_assert_int_eq(adapt_tensor_dim(adapt_model_param(plain, 2), 0), 6);
    ck_assert_int_eq(adapt_tensor_dim(adapt_model_param(plain, 2), 1), 8);
    adapt_model_free(m);
    adapt_model_free(plain);
    m = make(CNN, 1);
    for (int32_t i = 0; i < 6; i++)
        ck_assert_str_eq(adapt_model_param_name(m, i), cnn_some[i]);
    ck_assert_int_eq(adapt_model_param_count(m), 5 + 10 + 15 + 2);
    ck_assert_str_eq(adapt_model_param_name(m, 25), "stages.1.0.shortcut.0.weight");
    ck_assert_str_eq(adapt_model_param_name(m, 29), "stages.1.0.shortcut.1.running_var");
    ck_assert_str_eq(adapt_model_param_name(m, 30), "fc.weight");
    adapt_model_free(m);
    m = make(VIT, 1);
    for (int32_t i = 0; i < 7; i++)
        ck_assert_str_eq(adapt_model_param_name(m, i), vit_some[i]);
    ck_assert_str_eq(adapt_model_param_name(m, 16), "blocks.1.norm1.weight");
    ck_assert_str_eq(adapt_model_param_name(m, 27), "blocks.1.mlp.fc2.bias");
    ck_assert_str_eq(adapt_model_param_name(m, 28), "norm.weight");
    ck_assert_str_eq(adapt_model_param_name(m, 31), "head.bias");
    ck_assert_int_eq(adapt_model_param_count(m), 32);
    adapt_model_free(m);
}
END_TEST

static bool same_weights(const adapt_model *a, const adapt_model *b)
{
    if (adapt_model_param_count(a) != adapt_model_param_count(b))
        return false;
    for (int32_t i = 0; i < adapt_model_param_count(a); i++) {
        adapt_tensor *ta = adapt_model_param(a, i), *tb = adapt_model_param(b, i);
        if (adapt_tensor_numel(ta) != adapt_tensor_numel(tb) ||
            memcmp(adapt_tensor_data(ta), adapt_tensor_data(tb),
                   (size_t)adapt_tensor_numel(ta) * sizeof(float)))
            return false;
    }
    return true;
}

START_TEST(same_seed_same_weights)
{
    for (int k = 0; k < N_KINDS; k++) {
        adapt_model *a = make((model_kind)k, 11), *b = make((model_kind)k, 11);
        adapt_model *c = make((model_kind)k, 12);
        ck_assert(same_weights(a, b));
        ck_assert(!same_weights(a, c));
        adapt_model_free(a);
        adapt_model_free(b);
        adapt_model_free(c);
    }
}
END_TEST

/* ---- forward ------------------------------------------------------------------------ */

static void expect_same_tensor(const adapt_tensor *a, const adapt_tensor *b)
{
    ck_assert_int_eq(adapt_tensor_ndim(a), adapt_tensor_ndim(b));
    for (int32_t d = 0; d < adapt_tensor_ndim(a); d++)
        ck_assert_int_eq(adapt_tensor_dim(a, d), adapt_tensor_dim(b, d));
    ck_assert_mem_eq(adapt_tensor_data(a), adapt_tensor_data(b),
                     (size_t)adapt_tensor_numel(a) * sizeof(float));
}

START_TEST(forward_blocks_compose_to_forward)
{
    const model_kind kind = (model_kind)_i;
    adapt_model *m = make(kind, 3);
    adapt_context *ctx = inference_context();
    adapt_tensor *x = input_for(ctx, kind, 3, 1), *logits, *mid, *rest, *same;
    TU_OK(adapt_model_forward(&logits, ctx, m, x));
    ck_assert_int_eq(adapt_tensor_ndim(logits), 2);
    ck_assert_int_eq(adapt_tensor_dim(logits, 0), 3);
    ck_assert_int_eq(adapt_tensor_dim(logits, 1), adapt_model_classes(m));
    const int32_t n = adapt_model_block_count(m);
    for (int32_t k = 0; k <= n; k++) {
        TU_OK(adapt_model_forward_blocks(&mid, ctx, m, x, 0, k));
        TU_OK(adapt_model_forward_blocks(&rest, ctx, m, mid, k, n));
        expect_same_tensor(rest, logits);
    }
    TU_OK(adapt_model_forward_blocks(&same, ctx, m, x, 0, 0));
    ck_assert_ptr_eq(same, x);
    adapt_model_free(m);
    adapt_context_free(ctx);
}
END_TEST

START_TEST(inference_holds_one_block_at_a_time)
{
    /* Without a tape each block's intermediate activations are handed back
     * when it ends; the logits must not change. */
    const model_kind kind = (model_kind)_i;
    adapt_model *m = make(kind, 4);
    const int64_t n_logits = 64 * adapt_model_classes(m);
    size_t peak[2];
    float *logits[2];
    for (int grad = 0; grad < 2; grad++) {
        adapt_context *ctx = inference_context();
        TU_OK(adapt_context_set_grad(ctx, grad));
        adapt_tensor *x = input_for(ctx, kind, 64, 2), *y;
        TU_OK(adapt_model_forward(&y, ctx, m, x));
        peak[grad] = adapt_context_peak_bytes(ctx);
        logits[grad] = malloc((size_t)n_logits * sizeof(float));
        TU_OK(adapt_tensor_read(y, logits[grad], n_logits));
        adapt_context_free(ctx);
    }
    ck_assert_mem_eq(logits[0], logits[1], (size_t)n_logits * sizeof(float));
    /* A transformer block makes a dozen intermediates; a tiny MLP or CNN
     * block only one or two next to the convolution's scratch. */
    const size_t factor = kind == VIT ? 2 : 1;
    ck_assert_msg(factor * peak[0] < peak[1], "%zu bytes without the tape, %zu with", peak[0],
                  peak[1]);
    free(logits[0]), free(logits[1]);
    adapt_model_free(m);
}
END_TEST

START_TEST(forward_checks_arguments)
{
    adapt_model *m = make(CNN, 3);
    adapt_context *ctx = inference_context();
    adapt_tensor *x = input_for(ctx, CNN, 2, 1), *out = (adapt_tensor *)0x1, *wrong, *mid;
    TU_FAILS(adapt_model_forward(NULL, ctx, m, x), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_model_forward(&out, NULL, m, x), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_model_forward(&out, ctx, NULL, x), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_model_forward(&out, ctx, m, NULL), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_model_forward_blocks(&out, ctx, m, x, 2, 1), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_model_forward_blocks(&out, ctx, m, x, -1, 1), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_model_forward_blocks(&out, ctx, m, x, 0, 5), ADAPT_ERR_INVALID_ARGUMENT);
    TU_OK(adapt_model_forward_blocks(&mid, ctx, m, x, 0, 1));
    TU_FAILS(adapt_model_forward_blocks(&out, ctx, m, mid, 3, 4), ADAPT_ERR_SHAPE);
    TU_FAILS(adapt_model_forward_blocks(&out, ctx, m, x, 1, 4), ADAPT_ERR_SHAPE);
    wrong = input_for(ctx, MLP, 16, 2); /* [16, 2, 6]: the right count, not an image */
    TU_FAILS(adapt_model_forward(&out, ctx, m, wrong), ADAPT_ERR_SHAPE);
    adapt_context_reset(ctx);
    TU_FAILS(adapt_model_forward(&out, ctx, m, x), ADAPT_ERR_STATE); /* released input */
    ck_assert_ptr_eq(out, (adapt_tensor *)0x1);
    adapt_model_free(m);
    adapt_context_free(ctx);
}
END_TEST

/* Weights that became NaN or infinite (a diverged training run) make forward report it,
 * naming the parameter, instead of returning NaN logits as a success. */
START_TEST(forward_reports_nonfinite_weights)
{
    adapt_model *m = make(MLP, 3);
    adapt_context *ctx = inference_context();
    adapt_tensor *x = input_for(ctx, MLP, 4, 1), *out = (adapt_tensor *)0x1;
    TU_OK(adapt_model_forward(&out, ctx, m, x));
    const float *w = adapt_tensor_data(adapt_model_param(m, 2));
    adapt_tensor_data(adapt_model_param(m, 2))[0] = w[0] > 0 ? INFINITY : -INFINITY;
    out = (adapt_tensor *)0x1;
    TU_FAILS(adapt_model_forward(&out, ctx, m, x), ADAPT_ERR_NONFINITE);
    ck_assert_ptr_nonnull(strstr(adapt_last_error(), adapt_model_param_name(m, 2)));
    ck_assert_ptr_eq(out, (adapt_tensor *)0x1);
    adapt_model_free(m);
    adapt_context_free(ctx);
}
END_TEST

/* Freeing a model's parameter through the public call is refused: the model keeps working
 * and frees it itself (the sanitizer run would see a double free otherwise). */
START_TEST(model_parameters_cannot_be_freed_by_callers)
{
    adapt_model *m = make(MLP, 3);
    adapt_context *ctx = inference_context();
    adapt_tensor *x = input_for(ctx, MLP, 2, 1), *before, *after;
    TU_OK(adapt_model_forward(&before, ctx, m, x));
    adapt_tensor *w = adapt_model_param(m, 0);
    adapt_tensor_free(w);
    ck_assert_ptr_nonnull(strstr(adapt_last_error(), "belongs to a model"));
    ck_assert_ptr_eq(adapt_model_param(m, 0), w);
    TU_OK(adapt_model_forward(&after, ctx, m, x));
    ck_assert_mem_eq(adapt_tensor_data(after), adapt_tensor_data(before),
                     (size_t)adapt_tensor_numel(before) * sizeof(float));
    adapt_model_free(m);
    adapt_context_free(ctx);
}
END_TEST

START_TEST(mlp_flattens_any_sample_shape)
{
    adapt_model *m = make(MLP, 3);
    adapt_context *ctx = inference_context();
    float x[24];
    tu_fill(x, 24, 5, -1.0f, 1.0f);
    adapt_tensor *a, *b, *ya, *yb, *bad, *out = NULL;
    TU_OK(adapt_tensor_input(&a, ctx, 2, (int64_t[]){2, 12}, x));
    TU_OK(adapt_tensor_input(&b, ctx, 4, (int64_t[]){2, 3, 2, 2}, x));
    TU_OK(adapt_model_forward(&ya, ctx, m, a));
    TU_OK(adapt_model_forward(&yb, ctx, m, b));
    expect_same_tensor(ya, yb);
    TU_OK(adapt_tensor_input(&bad, ctx, 2, (int64_t[]){3, 8}, x));
    TU_FAILS(adapt_model_forward(&out, ctx, m, bad), ADAPT_ERR_SHAPE);
    TU_OK(adapt_tensor_input(&bad, ctx, 1, (int64_t[]){12}, x));
    TU_FAILS(adapt_model_forward(&out, ctx, m, bad), ADAPT_ERR_SHAPE);
    adapt_model_free(m);
    adapt_context_free(ctx);
}
END_TEST

/* ---- behaviour from the context ------------------------------------------------------ */

static float sum_abs(const float *x, int64_t n)
{
    float s = 0.0f;
    for (int64_t i = 0; i < n; i++)
        s += fabsf(x[i]);
    return s;
}

START_TEST(training_and_gradients_come_from_the_context)
{
    adapt_model *m = make(CNN, 4);
    adapt_context *ctx = inference_context();
    adapt_tensor *x = input_for(ctx, CNN, 4, 1), *logits, *loss;
    adapt_tensor *running_mean = adapt_model_param(m, 3);
    ck_assert_str_eq(adapt_model_param_name(m, 3), "stem.1.running_mean");
    TU_OK(adapt_model_forward(&logits, ctx, m, x));
    ck_assert_float_eq(sum_abs(adapt_tensor_data(running_mean), 4), 0.0f);
    TU_OK(adapt_context_set_training(ctx, 1));
    TU_OK(adapt_context_set_grad(ctx, 1));
    TU_OK(adapt_model_forward(&logits, ctx, m, x));
    ck_assert_float_gt(sum_abs(adapt_tensor_data(running_mean), 4), 0.0f);
    TU_OK(adapt_op_cross_entropy(&loss, ctx, logits, (const int32_t[]){0, 1, 2, 3}, 0.0f));
    TU_OK(adapt_backward(ctx, loss));
    for (int32_t i = 0; i < adapt_model_param_count(m); i++) {
        adapt_tensor *t = adapt_model_param(m, i);
        const char *name = adapt_model_param_name(m, i);
        float g = sum_abs(adapt_tensor_grad(t), adapt_tensor_numel(t));
        bool buffer = strstr(name, "running_") != NULL;
        ck_assert_msg(buffer ? g == 0.0f : g > 0.0f, "%s: gradient %g", name, (double)g);
    }
    adapt_model_free(m);
    adapt_context_free(ctx);
}
END_TEST

START_TEST(dropout_only_when_training)
{
    adapt_vit_params p = vit_params(5);
    p.dropout = 0.5f;
    adapt_model *m;
    TU_OK(adapt_model_create_vit(&m, &p));
    adapt_context *ctx = inference_context();
    adapt_tensor *x = input_for(ctx, VIT, 2, 1), *a, *b, *c;
    TU_OK(adapt_model_forward(&a, ctx, m, x));
    TU_OK(adapt_model_forward(&b, ctx, m, x));
    expect_same_tensor(a, b);
    TU_OK(adapt_context_set_training(ctx, 1));
    TU_OK(adapt_model_forward(&c, ctx, m, x));
    ck_assert(memcmp(adapt_tensor_data(a), adapt_tensor_data(c), 10 * sizeof(float)) != 0);
    adapt_model_free(m);
    adapt_context_free(ctx);
}
END_TEST

/* ---- sequential builder ---------------------------------------------------------------- */

static adapt_status append(adapt_model *m, int32_t kind, int64_t out, int32_t kernel,
                           int32_t stride, int32_t padding)
{
    adapt_layer_params p;
    adapt_layer_params_init(&p, sizeof p);
    p.kind = kind, p.out_features = out, p.kernel = kernel, p.stride = stride;
    p.padding = padding, p.heads = 2, p.mlp_ratio = 2.0f, p.p = 0.1f;
    return adapt_model_append(m, &p);
}

/* An image model using every image layer kind: [3, 8, 8] -> [5]. */
static adapt_model *image_chain(void)
{
    adapt_model *m;
    TU_OK(adapt_model_create_sequential(&m, 3, (int64_t[]){3, 8, 8}, 21));
    TU_OK(append(m, ADAPT_LAYER_CONV2D, 4, 3, 1, 1));
    TU_OK(append(m, ADAPT_LAYER_BATCHNORM2D, 0, 0, 0, 0));
    TU_OK(append(m, ADAPT_LAYER_RELU, 0, 0, 0, 0));
    TU_OK(append(m, ADAPT_LAYER_MAXPOOL2D, 0, 2, 2, 0));
    TU_OK(append(m, ADAPT_LAYER_RESIDUAL_BLOCK, 6, 0, 2, 0));
    TU_OK(append(m, ADAPT_LAYER_AVGPOOL2D, 0, 3, 1, 1));
    TU_OK(append(m, ADAPT_LAYER_GELU, 0, 0, 0, 0));
    TU_OK(append(m, ADAPT_LAYER_GLOBAL_AVGPOOL, 0, 0, 0, 0));
    TU_OK(append(m, ADAPT_LAYER_DROPOUT, 0, 0, 0, 0));
    TU_OK(append(m, ADAPT_LAYER_LINEAR, 5, 0, 0, 0));
    return m;
}

/* A token model using the transformer kinds: [3, 8, 8] -> [5]. */
static adapt_model *token_chain(void)
{
    adapt_model *m;
    TU_OK(adapt_model_create_sequential(&m, 3, (int64_t[]){3, 8, 8}, 22));
    TU_OK(append(m, ADAPT_LAYER_PATCH_EMBED, 8, 4, 0, 0));
    TU_OK(append(m, ADAPT_LAYER_TRANSFORMER_BLOCK, 0, 0, 0, 0));
    TU_OK(append(m, ADAPT_LAYER_LAYERNORM, 0, 0, 0, 0));
    TU_OK(append(m, ADAPT_LAYER_CLASS_TOKEN, 0, 0, 0, 0));
    TU_OK(append(m, ADAPT_LAYER_FLATTEN, 0, 0, 0, 0));
    TU_OK(append(m, ADAPT_LAYER_LINEAR, 5, 0, 0, 0));
    return m;
}

START_TEST(sequential_builds_every_kind)
{
    adapt_model *m[2] = {image_chain(), token_chain()};
    const int32_t blocks[2] = {10, 6};
    static const char *const image_names[] = {"0.weight", "0.bias", "1.weight", "1.bias",
                                              "1.running_mean", "1.running_var",
                                              "4.conv1.weight"};
    for (int32_t i = 0; i < 7; i++)
        ck_assert_str_eq(adapt_model_param_name(m[0], i), image_names[i]);
    ck_assert_str_eq(adapt_model_param_name(m[1], 0), "0.cls_token");
    ck_assert_str_eq(adapt_model_param_name(m[1], 2), "0.proj.weight");
    ck_assert_str_eq(adapt_model_param_name(m[1], 6), "1.attn.qkv.weight");
    adapt_context *ctx = inference_context();
    for (int i = 0; i < 2; i++) {
        ck_assert_int_eq(adapt_model_block_count(m[i]), blocks[i]);
        adapt_block_info info = {.struct_size = sizeof info};
        TU_OK(adapt_model_block_info(&info, m[i], 0));
        ck_assert_int_eq(info.kind, i ? ADAPT_LAYER_PATCH_EMBED : ADAPT_LAYER_CONV2D);
        ck_assert_int_eq(adapt_model_classes(m[i]), 5);
        adapt_tensor *y;
        TU_OK(adapt_model_forward(&y, ctx, m[i], input_for(ctx, CNN, 2, 3)));
        ck_assert_int_eq(adapt_tensor_dim(y, 1), 5);
        adapt_model_free(m[i]);
    }
    adapt_context_free(ctx);
}
END_TEST

START_TEST(sequential_append_failure_leaves_model_unchanged)
{
    adapt_model *m = image_chain(), *out = SENTINEL;
    const int32_t blocks = adapt_model_block_count(m), params = adapt_model_param_count(m);
    char *text = malloc(strlen(ad_model_architecture(m)) + 1);
    strcpy(text, ad_model_architecture(m));
    TU_FAILS(append(m, ADAPT_LAYER_CONV2D, 4, 3, 1, 1), ADAPT_ERR_SHAPE);      /* on [5] */
    TU_FAILS(append(m, ADAPT_LAYER_TRANSFORMER_BLOCK, 0, 0, 0, 0), ADAPT_ERR_SHAPE);
    TU_FAILS(append(m, ADAPT_LAYER_LINEAR, 0, 0, 0, 0), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(append(m, 42, 1, 1, 1, 0), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_model_append(m, NULL), ADAPT_ERR_INVALID_ARGUMENT);
    adapt_layer_params relu;
    adapt_layer_params_init(&relu, sizeof relu);
    relu.kind = ADAPT_LAYER_RELU;
    TU_FAILS(adapt_model_append(NULL, &relu), ADAPT_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(adapt_model_block_count(m), blocks);
    ck_assert_int_eq(adapt_model_param_count(m), params);
    ck_assert_str_eq(ad_model_architecture(m), text);
    adapt_model *mlp = make(MLP, 1);
    TU_FAILS(append(mlp, ADAPT_LAYER_RELU, 0, 0, 0, 0), ADAPT_ERR_STATE);
    TU_FAILS(adapt_model_create_sequential(&out, 0, (int64_t[]){1}, 0), ADAPT_ERR_SHAPE);
    TU_FAILS(adapt_model_create_sequential(&out, 1, NULL, 0), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_model_create_sequential(&out, 2, (int64_t[]){3, 0}, 0), ADAPT_ERR_SHAPE);
    TU_FAILS(adapt_model_create_sequential(&out, ADAPT_MAX_DIMS, (int64_t[8]){1}, 0),
             ADAPT_ERR_SHAPE);
    TU_FAILS(adapt_model_create_sequential(NULL, 1, (int64_t[]){1}, 0),
             ADAPT_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_eq(out, SENTINEL);
    free(text);
    adapt_model_free(m);
    adapt_model_free(mlp);
}
END_TEST

START_TEST(empty_sequential_has_no_output)
{
    adapt_model *m;
    TU_OK(adapt_model_create_sequential(&m, 1, (int64_t[]){4}, 0));
    adapt_context *ctx = inference_context();
    adapt_tensor *x, *out = NULL;
    TU_OK(adapt_tensor_input(&x, ctx, 2, (int64_t[]){1, 4}, (float[]){1, 2, 3, 4}));
    TU_FAILS(adapt_model_forward(&out, ctx, m, x), ADAPT_ERR_STATE);
    TU_OK(adapt_model_forward_blocks(&out, ctx, m, x, 0, 0));
    ck_assert_int_eq(adapt_model_classes(m), 0);
    ck_assert_int_eq(adapt_model_flops(m), 0);
    adapt_model_free(m);
    adapt_context_free(ctx);
}
END_TEST

/* ---- architecture text --------------------------------------------------------------- */

static void expect_same_model(const adapt_model *a, const adapt_model *b)
{
    ck_assert(same_weights(a, b));
    for (int32_t i = 0; i < adapt_model_param_count(a); i++) {
        adapt_tensor *ta = adapt_model_param(a, i), *tb = adapt_model_param(b, i);
        ck_assert_str_eq(adapt_model_param_name(a, i), adapt_model_param_name(b, i));
        ck_assert_int_eq(adapt_tensor_ndim(ta), adapt_tensor_ndim(tb));
        for (int32_t d = 0; d < adapt_tensor_ndim(ta); d++)
            ck_assert_int_eq(adapt_tensor_dim(ta, d), adapt_tensor_dim(tb, d));
    }
    ck_assert_int_eq(adapt_model_block_count(a), adapt_model_block_count(b));
    for (int32_t k = 0; k < adapt_model_block_count(a); k++) {
        adapt_block_info ia = {.struct_size = sizeof ia}, ib = {.struct_size = sizeof ib};
        TU_OK(adapt_model_block_info(&ia, a, k));
        TU_OK(adapt_model_block_info(&ib, b, k));
        ck_assert_mem_eq(&ia, &ib, sizeof ia);
    }
    ck_assert_str_eq(ad_model_architecture(a), ad_model_architecture(b));
}

/* The fused steps of a block are chosen when it is built: the CNN's stem runs as one
 * convolution pass, an MLP's hidden block as one product with its activation (dropout the
 * identity in inference), the ViT's head as its three layers. */
START_TEST(blocks_plan_their_fused_steps)
{
    adapt_model *cnn = make(CNN, 1), *mlp = make(MLP, 1), *vit = make(VIT, 1);
    const ad_chain_plan *stem = &cnn->blocks[0].plan;
    ck_assert_int_eq(stem->n_steps, 1);
    ck_assert_int_eq(stem->steps[0].kind, AD_STEP_CONV_BN_RELU);
    ck_assert(stem->leaves_only_output);
    const ad_chain_plan *hidden = &mlp->blocks[0].plan;
    ck_assert_int_eq(hidden->n_steps, 2);
    ck_assert_int_eq(hidden->steps[0].kind, AD_STEP_LINEAR_ACT);
    ck_assert_int_eq(hidden->steps[0].count, 2);
    ck_assert_int_eq(hidden->steps[1].kind, AD_STEP_LAYER);
    ck_assert(hidden->leaves_only_output);
    const ad_chain_plan *head = &vit->blocks[vit->n_blocks - 1].plan;
    ck_assert_int_eq(head->n_steps, 3);
    ck_assert_int_eq(head->steps[2].kind, AD_STEP_LINEAR_ACT);
    ck_assert_int_eq(head->steps[2].count, 1);
    ck_assert(!head->leaves_only_output);
    adapt_model_free(cnn);
    adapt_model_free(mlp);
    adapt_model_free(vit);
}
END_TEST

START_TEST(architecture_round_trip)
{
    adapt_mlp_params gelu = mlp_params(UINT64_MAX, 0.1f);
    gelu.activation = ADAPT_ACTIVATION_GELU;
    adapt_vit_params odd = vit_params(9);
    odd.mlp_ratio = 1.3f, odd.dropout = 0.3f;
    adapt_model *models[7] = {make(MLP, 2), make(CNN, 2), make(VIT, 2), image_chain(),
                              token_chain()};
    TU_OK(adapt_model_create_mlp(&models[5], &gelu));
    TU_OK(adapt_model_create_vit(&models[6], &odd));
    for (int i = 0; i < 7; i++) {
        const char *text = ad_model_architecture(models[i]);
        ck_assert_ptr_nonnull(text);
        adapt_model *copy = NULL;
        TU_OK(ad_model_from_architecture(&copy, text, INT64_MAX));
        expect_same_model(models[i], copy);
        adapt_model_free(copy);
        adapt_model_free(models[i]);
    }
    ck_assert_ptr_null(ad_model_architecture(NULL));
}
END_TEST

/* A layer object that lacks a field with a fallback reads as if it carried the fallback:
 * descriptions stay readable when a kind gains a field. */
START_TEST(architecture_layer_fields_fall_back)
{
    const char *terse = "{\"format\":1,\"kind\":\"sequential\",\"input_shape\":[1,6,6],"
                        "\"seed\":\"3\",\"layers\":[{\"kind\":\"conv2d\",\"out_features\":2},"
                        "{\"kind\":\"maxpool2d\",\"kernel\":2,\"stride\":2}]}";
    adapt_model *m = NULL;
    TU_OK(ad_model_from_architecture(&m, terse, INT64_MAX));
    ck_assert_ptr_nonnull(strstr(ad_model_architecture(m),
                                 "{\"kind\":\"conv2d\",\"out_features\":2,\"kernel\":3,"
                                 "\"stride\":1,\"padding\":0}"));
    adapt_block_info info = {.struct_size = sizeof info};
    TU_OK(adapt_model_block_info(&info, m, 1));
    ck_assert_int_eq(info.out_ndim, 3);
    ck_assert_int_eq(info.out_shape[0], 2);
    ck_assert_int_eq(info.out_shape[1], 2); /* (6 - 3 + 1) / 2 */
    adapt_model_free(m);
}
END_TEST

START_TEST(architecture_text_names_everything)
{
    adapt_model *m = make(MLP, 42);
    ck_assert_str_eq(ad_model_architecture(m),
                     "{\"format\":1,\"kind\":\"mlp\",\"sizes\":[12,8,6,3],\"activation\":"
                     "\"relu\",\"dropout\":0.25,\"seed\":\"42\"}");
    adapt_model_free(m);
    m = token_chain();
    ck_assert_ptr_nonnull(strstr(ad_model_architecture(m),
                                 "{\"kind\":\"transformer_block\",\"heads\":2,\"mlp_ratio\":2.0,"
                                 "\"p\":0.100000001}"));
    adapt_model_free(m);
}
END_TEST

static const char *const hostile[] = {
    "", "{", "[]", "null", "42", "\"mlp\"", "{}",
    "{\"format\":2,\"kind\":\"mlp\"}",
    "{\"format\":\"1\",\"kind\":\"mlp\"}",
    "{\"format\":1,\"kind\":\"rnn\"}",
    "{\"format\":1,\"kind\":7}",
    "{\"format\":1,\"format\":1,\"kind\":\"mlp\"}",
    "{\"format\":1,\"kind\":\"mlp\",\"sizes\":[4,2],\"activation\":\"relu\",\"dropout\":0}",
    "{\"format\":1,\"kind\":\"mlp\",\"sizes\":[4,2],\"activation\":\"tanh\",\"dropout\":0,"
    "\"seed\":\"1\"}",
    "{\"format\":1,\"kind\":\"mlp\",\"sizes\":[4,-2],\"activation\":\"relu\",\"dropout\":0,"
    "\"seed\":\"1\"}",
    "{\"format\":1,\"kind\":\"mlp\",\"sizes\":[4,2.5],\"activation\":\"relu\",\"dropout\":0,"
    "\"seed\":\"1\"}",
    "{\"format\":1,\"kind\":\"mlp\",\"sizes\":[4],\"activation\":\"relu\",\"dropout\":0,"
    "\"seed\":\"1\"}",
    "{\"format\":1,\"kind\":\"mlp\",\"sizes\":[1000000,1000000],\"activation\":\"relu\","
    "\"dropout\":0,\"seed\":\"1\"}",
    "{\"format\":1,\"kind\":\"mlp\",\"sizes\":[9223372036854775807,2],\"activation\":\"relu\","
    "\"dropout\":0,\"seed\":\"1\"}",
    "{\"format\":1,\"kind\":\"mlp\",\"sizes\":[4,2],\"activation\":\"relu\",\"dropout\":1e300,"
    "\"seed\":\"1\"}",
    "{\"format\":1,\"kind\":\"mlp\",\"sizes\":[4,2],\"activation\":\"relu\",\"dropout\":0.5,"
    "\"seed\":\"-1\"}",
    "{\"format\":1,\"kind\":\"mlp\",\"sizes\":[4,2],\"activation\":\"relu\",\"dropout\":0.5,"
    "\"seed\":\"18446744073709551616\"}",
    "{\"format\":1,\"kind\":\"mlp\",\"sizes\":[4,2],\"activation\":\"relu\",\"dropout\":0.5,"
    "\"seed\":1}",
    "{\"format\":1,\"kind\":\"cnn\",\"in_channels\":3,\"image_size\":8,\"n_classes\":5,"
    "\"stem_channels\":4,\"stage_channels\":[4,8],\"stage_blocks\":[1],"
    "\"stage_strides\":[1,2],\"seed\":\"1\"}",
    "{\"format\":1,\"kind\":\"cnn\",\"in_channels\":3,\"image_size\":8,\"n_classes\":5,"
    "\"stem_channels\":4,\"stage_channels\":[4],\"stage_blocks\":[100000000],"
    "\"stage_strides\":[1],\"seed\":\"1\"}",
    "{\"format\":1,\"kind\":\"cnn\",\"in_channels\":3,\"image_size\":2147483647,"
    "\"n_classes\":5,\"stem_channels\":4,\"stage_channels\":[4],\"stage_blocks\":[1],"
    "\"stage_strides\":[1],\"seed\":\"1\"}",
    "{\"format\":1,\"kind\":\"cnn\",\"in_channels\":3,\"image_size\":4294967296,"
    "\"n_classes\":5,\"stem_channels\":4,\"stage_channels\":[4],\"stage_blocks\":[1],"
    "\"stage_strides\":[1],\"seed\":\"1\"}",
    "{\"format\":1,\"kind\":\"vit\",\"image_size\":8,\"in_channels\":3,\"patch\":4,\"dim\":8,"
    "\"depth\":2,\"heads\":3,\"mlp_ratio\":2,\"n_classes\":5,\"dropout\":0,\"seed\":\"1\"}",
    "{\"format\":1,\"kind\":\"vit\",\"image_size\":65536,\"in_channels\":3,\"patch\":1,"
    "\"dim\":8,\"depth\":1,\"heads\":1,\"mlp_ratio\":2,\"n_classes\":5,\"dropout\":0,"
    "\"seed\":\"1\"}",
    "{\"format\":1,\"kind\":\"sequential\",\"input_shape\":[4],\"seed\":\"1\",\"layers\":{}}",
    "{\"format\":1,\"kind\":\"sequential\",\"input_shape\":[4],\"seed\":\"1\",\"layers\":[7]}",
    "{\"format\":1,\"kind\":\"sequential\",\"input_shape\":[4],\"seed\":\"1\","
    "\"layers\":[{\"kind\":\"conv2d\",\"out_features\":2,\"kernel\":3,\"stride\":1,"
    "\"padding\":0}]}",
    "{\"format\":1,\"kind\":\"sequential\",\"input_shape\":[4],\"seed\":\"1\","
    "\"layers\":[{\"kind\":\"linear\"}]}",
    "{\"format\":1,\"kind\":\"sequential\",\"input_shape\":[4],\"seed\":\"1\","
    "\"layers\":[{\"kind\":\"linear\",\"out_features\":0}]}",
    "{\"format\":1,\"kind\":\"sequential\",\"input_shape\":[4],\"seed\":\"1\","
    "\"layers\":[{\"kind\":\"dropout\",\"p\":1.5}]}",
    "{\"format\":1,\"kind\":\"sequential\",\"input_shape\":[1,5,5],\"seed\":\"1\","
    "\"layers\":[{\"kind\":\"conv2d\",\"out_features\":2,\"kernel\":\"3\"}]}",
    "{\"format\":1,\"kind\":\"sequential\",\"input_shape\":[1,5,5],\"seed\":\"1\","
    "\"layers\":[{\"kind\":\"conv2d\",\"out_features\":2,\"stride\":4294967297}]}",
    "{\"format\":1,\"kind\":\"sequential\",\"input_shape\":[4],\"seed\":\"1\","
    "\"layers\":[{\"kind\":\"softmax\"}]}",
    "{\"format\":1,\"kind\":\"sequential\",\"input_shape\":[],\"seed\":\"1\",\"layers\":[]}",
    "{\"format\":1,\"kind\":\"sequential\",\"input_shape\":[1,1,1,1,1,1,1,1,1],\"seed\":\"1\","
    "\"layers\":[]}",
};

/* A description nested `depth` arrays deep, or with `count` identity layers. */
static char *deep_text(int depth)
{
    char *s = malloc((size_t)(2 * depth + 1));
    memset(s, '[', (size_t)depth);
    memset(s + depth, ']', (size_t)depth);
    s[2 * depth] = '\0';
    return s;
}

static char *long_text(int count)
{
    const char *head = "{\"format\":1,\"kind\":\"sequential\",\"input_shape\":[4],\"seed\":\"1\","
                       "\"layers\":[", *layer = "{\"kind\":\"relu\"},";
    size_t size = strlen(head) + (size_t)count * strlen(layer) + 4;
    char *s = malloc(size), *p = s + sprintf(s, "%s", head);
    for (int i = 0; i < count; i++)
        p += sprintf(p, "%s", layer);
    sprintf(p - 1, "]}");
    return s;
}

START_TEST(hostile_architecture_is_a_format_error)
{
    adapt_model *m = SENTINEL;
    for (size_t i = 0; i < sizeof hostile / sizeof hostile[0]; i++) {
        adapt_status st = ad_model_from_architecture(&m, hostile[i], INT64_MAX);
        ck_assert_msg(st == ADAPT_ERR_FORMAT, "case %d: %s -> %s", (int)i, hostile[i],
                      adapt_status_string(st));
        ck_assert(adapt_last_error()[0] != '\0');
    }
    char *deep = deep_text(100000), *many = long_text(AD_MODEL_MAX_ARCH_ENTRIES + 1);
    char *fine = long_text(100);
    TU_FAILS(ad_model_from_architecture(&m, deep, INT64_MAX), ADAPT_ERR_FORMAT);
    TU_FAILS(ad_model_from_architecture(&m, many, INT64_MAX), ADAPT_ERR_FORMAT);
    TU_FAILS(ad_model_from_architecture(NULL, fine, INT64_MAX), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(ad_model_from_architecture(&m, NULL, INT64_MAX), ADAPT_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_eq(m, SENTINEL);
    TU_OK(ad_model_from_architecture(&m, fine, INT64_MAX));
    ck_assert_int_eq(adapt_model_block_count(m), 100);
    adapt_model_free(m);
    free(deep);
    free(many);
    free(fine);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("models");
    TCase *tc = tcase_create("models");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, mlp_rejects_bad_params);
    tcase_add_test(tc, cnn_rejects_bad_params);
    tcase_add_test(tc, vit_rejects_bad_params);
    tcase_add_test(tc, params_read_only_the_callers_fields);
    tcase_add_test(tc, block_info_shapes_flops_params);
    tcase_add_test(tc, block_info_checks_arguments);
    tcase_add_test(tc, parameter_names_follow_pytorch);
    tcase_add_test(tc, same_seed_same_weights);
    tcase_add_loop_test(tc, inference_holds_one_block_at_a_time, 0, N_KINDS);
    tcase_add_loop_test(tc, forward_blocks_compose_to_forward, 0, N_KINDS);
    tcase_add_test(tc, forward_checks_arguments);
    tcase_add_test(tc, forward_reports_nonfinite_weights);
    tcase_add_test(tc, model_parameters_cannot_be_freed_by_callers);
    tcase_add_test(tc, mlp_flattens_any_sample_shape);
    tcase_add_test(tc, training_and_gradients_come_from_the_context);
    tcase_add_test(tc, dropout_only_when_training);
    tcase_add_test(tc, sequential_builds_every_kind);
    tcase_add_test(tc, sequential_append_failure_leaves_model_unchanged);
    tcase_add_test(tc, empty_sequential_has_no_output);
    tcase_add_test(tc, blocks_plan_their_fused_steps);
    tcase_add_test(tc, architecture_round_trip);
    tcase_add_test(tc, architecture_layer_fields_fall_back);
    tcase_add_test(tc, architecture_text_names_everything);
    tcase_add_test(tc, hostile_architecture_is_a_format_error);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
