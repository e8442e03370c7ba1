/* Early-exit heads on MLP, CNN and ViT: what each kind reads, shapes and costs worked out by
 * hand, ordering and naming in the model, ownership, the forward pass through every exit,
 * gradients (finite differences, and the cascade passing values but no gradient), and
 * checkpoints that carry heads. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_util.h"
#include "file_util.h"
#include "lib/adaptive/exit_infer.h"
#include "lib/adaptive/head.h"
#include "lib/kernels/vector_math.h"
#include "lib/models/model_impl.h"

static const int64_t mlp_sizes[] = {12, 8, 6, 3};
static const int32_t cnn_channels[] = {4, 8}, cnn_blocks[] = {1, 1}, cnn_strides[] = {1, 2};

/* MLP 12-8-6-3: blocks [12 -> 8], [8 -> 6], [6 -> 3]. */
static adapt_model *mlp(void)
{
    adapt_mlp_params p;
    adapt_mlp_params_init(&p, sizeof p);
    p.n_sizes = 4, p.sizes = mlp_sizes, p.seed = 3;
    adapt_model *m = NULL;
    TU_OK(adapt_model_create_mlp(&m, &p));
    return m;
}

/* CNN on 3x8x8: stem [4, 8, 8], stage [4, 8, 8], stage [8, 4, 4], pool + fc to 5. */
static adapt_model *cnn_of_size(int32_t image_size)
{
    adapt_cnn_params p;
    adapt_cnn_params_init(&p, sizeof p);
    p.image_size = image_size, p.n_classes = 5, p.stem_channels = 4, p.n_stages = 2;
    p.stage_channels = cnn_channels, p.stage_blocks = cnn_blocks, p.stage_strides = cnn_strides;
    p.seed = 4;
    adapt_model *m = NULL;
    TU_OK(adapt_model_create_cnn(&m, &p));
    return m;
}

static adapt_model *cnn(void) { return cnn_of_size(8); }

/* ViT on 3x8x8, patch 4, dim 8: embed [5, 8], two blocks [5, 8], head to 5. */
static adapt_model *vit(void)
{
    adapt_vit_params p;
    adapt_vit_params_init(&p, sizeof p);
    p.image_size = 8, p.patch = 4, p.dim = 8, p.depth = 2, p.heads = 2, p.mlp_ratio = 2.0f;
    p.n_classes = 5, p.seed = 5;
    adapt_model *m = NULL;
    TU_OK(adapt_model_create_vit(&m, &p));
    return m;
}

static adapt_head_params head_params(int32_t kind, int32_t block, int32_t cascade)
{
    adapt_head_params p;
    adapt_head_params_init(&p, sizeof p);
    p.kind = kind, p.block = block, p.cascade = cascade, p.seed = 100 + (uint64_t)block;
    return p;
}

/* Creates and adds a head; returns its position. */
static int32_t add(adapt_model *m, int32_t kind, int32_t block, int32_t cascade)
{
    adapt_head_params p = head_params(kind, block, cascade);
    adapt_head *h = NULL;
    int32_t index = -1;
    TU_OK(adapt_head_create(&h, m, &p));
    TU_OK(adapt_model_add_head(m, h, &index));
    return index;
}

static adapt_head_info info_of(const adapt_model *m, int32_t index)
{
    adapt_head_info info = {.struct_size = sizeof info};
    TU_OK(adapt_head_info_get(&info, adapt_model_head(m, index)));
    return info;
}

static adapt_tensor *images_of_size(adapt_context *ctx, int64_t n, int64_t size, uint64_t seed)
{
    const int64_t numel = n * 3 * size * size;
    float *x = malloc((size_t)numel * sizeof *x);
    tu_fill(x, numel, seed, -1.0f, 1.0f);
    adapt_tensor *t = NULL;
    TU_OK(adapt_tensor_input(&t, ctx, 4, (int64_t[]){n, 3, size, size}, x));
    free(x);
    return t;
}

static adapt_tensor *images(adapt_context *ctx, int64_t n, uint64_t seed)
{
    return images_of_size(ctx, n, 8, seed);
}

START_TEST(mlp_heads_cost_what_hand_counts_say)
{
    adapt_model *m = mlp();
    ck_assert_int_eq(add(m, ADAPT_HEAD_POOLED_LINEAR, 1, 0), 0);
    ck_assert_int_eq(add(m, ADAPT_HEAD_POOLED_LINEAR, 0, 0), 0); /* goes before block 1's */
    ck_assert_int_eq(adapt_model_head_count(m), 2);
    ck_assert_int_eq(info_of(m, 0).block, 0);
    ck_assert_int_eq(info_of(m, 0).flops, 2 * 8 * 3);
    ck_assert_int_eq(info_of(m, 0).n_params, 8 * 3 + 3);
    ck_assert_int_eq(info_of(m, 1).flops, 2 * 6 * 3);
    int64_t flops[3];
    TU_OK(adapt_model_exit_flops(flops, 3, m));
    ck_assert_int_eq(flops[0], 192 + 48);
    ck_assert_int_eq(flops[1], 192 + 48 + 96 + 36);
    ck_assert_int_eq(flops[2], 192 + 48 + 96 + 36 + 36);
    ck_assert_int_eq(adapt_model_flops(m), 192 + 96 + 36); /* the backbone alone */
    TU_FAILS(adapt_model_exit_flops(flops, 2, m), ADAPT_ERR_INVALID_ARGUMENT);
    /* Names follow positions: the head added second is now exits.0. */
    const int32_t base = adapt_model_param_count(m) - 4;
    ck_assert_str_eq(adapt_model_param_name(m, base), "exits.0.fc.weight");
    ck_assert_str_eq(adapt_model_param_name(m, base + 3), "exits.1.fc.bias");
    ck_assert_int_eq(adapt_tensor_dim(adapt_model_param(m, base), 1), 8);
    adapt_model_free(m);
}
END_TEST

START_TEST(cnn_and_vit_heads_read_their_shapes)
{
    adapt_model *c = cnn(), *v = vit();
    add(c, ADAPT_HEAD_SDN, 0, 0);            /* 8x8 -> window 2 -> 4x4: 4*16 features */
    add(c, ADAPT_HEAD_POOLED_LINEAR, 1, 1);  /* 4 channels + 5 joined logits */
    add(c, ADAPT_HEAD_SDN, 2, 1);            /* 4x4 -> window 1: 8*16 + 5 */
    ck_assert_int_eq(info_of(c, 0).flops, 2 * 64 * 5);
    ck_assert_int_eq(info_of(c, 0).n_params, 1 + 64 * 5 + 5);
    ck_assert_int_eq(info_of(c, 1).flops, 2 * 9 * 5);
    ck_assert_int_eq(info_of(c, 1).n_params, 5 + 5 + 9 * 5 + 5);
    ck_assert_int_eq(info_of(c, 2).flops, 2 * 133 * 5);
    adapt_head_params p = head_params(ADAPT_HEAD_CLS_MLP, 0, 0);
    p.hidden = 16;
    adapt_head *h = NULL;
    TU_OK(adapt_head_create(&h, v, &p));
    TU_OK(adapt_model_add_head(v, h, NULL));
    add(v, ADAPT_HEAD_CLS_LINEAR, 1, 1);
    add(v, ADAPT_HEAD_POOLED_LINEAR, 2, 0); /* mean over tokens */
    ck_assert_int_eq(info_of(v, 0).hidden, 16);
    ck_assert_int_eq(info_of(v, 0).flops, 2 * (8 * 16 + 16 * 5));
    ck_assert_int_eq(info_of(v, 1).flops, 2 * 13 * 5);
    ck_assert_int_eq(info_of(v, 2).flops, 2 * 8 * 5);
    p = head_params(ADAPT_HEAD_CLS_MLP, 2, 0); /* hidden 0: the token width */
    TU_OK(adapt_head_create(&h, v, &p));
    adapt_head_info i = {.struct_size = sizeof i};
    TU_OK(adapt_head_info_get(&i, h));
    ck_assert_int_eq(i.hidden, 8);
    adapt_head_free(h);
    adapt_model_free(c);
    adapt_model_free(v);
}
END_TEST

START_TEST(heads_refuse_what_they_cannot_read)
{
    adapt_model *m = mlp(), *c = cnn(), *v = vit();
    adapt_head *h = (adapt_head *)0x1;
    adapt_head_params p = head_params(ADAPT_HEAD_SDN, 0, 0);
    TU_FAILS(adapt_head_create(&h, m, &p), ADAPT_ERR_SHAPE);     /* SDN on vectors */
    TU_FAILS(adapt_head_create(&h, v, &p), ADAPT_ERR_SHAPE);     /* SDN on tokens */
    p.kind = ADAPT_HEAD_CLS_LINEAR;
    TU_FAILS(adapt_head_create(&h, c, &p), ADAPT_ERR_SHAPE);     /* CLS on feature maps */
    p = head_params(ADAPT_HEAD_POOLED_LINEAR, 2, 0);
    TU_FAILS(adapt_head_create(&h, m, &p), ADAPT_ERR_INVALID_ARGUMENT); /* the final block */
    p.block = -1;
    TU_FAILS(adapt_head_create(&h, m, &p), ADAPT_ERR_INVALID_ARGUMENT);
    p = head_params(9, 0, 0);
    TU_FAILS(adapt_head_create(&h, m, &p), ADAPT_ERR_INVALID_ARGUMENT);
    p = head_params(ADAPT_HEAD_CLS_MLP, 0, 0), p.hidden = -2;
    TU_FAILS(adapt_head_create(&h, v, &p), ADAPT_ERR_INVALID_ARGUMENT);
    p = head_params(ADAPT_HEAD_POOLED_LINEAR, 0, 0), p.struct_size = 0;
    TU_FAILS(adapt_head_create(&h, m, &p), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_head_create(NULL, m, NULL), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_head_create(&h, NULL, NULL), ADAPT_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_eq(h, (adapt_head *)0x1);
    adapt_model_free(m);
    adapt_model_free(c);
    adapt_model_free(v);
}
END_TEST

START_TEST(a_model_owns_its_heads_once)
{
    adapt_model *a = mlp(), *b = mlp(), *c = cnn();
    adapt_head *h = NULL, *other = NULL, *taken = NULL;
    adapt_head_params p = head_params(ADAPT_HEAD_POOLED_LINEAR, 0, 0);
    TU_OK(adapt_head_create(&h, a, &p));
    TU_OK(adapt_model_add_head(a, h, NULL));
    TU_FAILS(adapt_model_add_head(b, h, NULL), ADAPT_ERR_INVALID_ARGUMENT); /* held by a */
    adapt_head_free(h); /* a holds it: left alone */
    TU_OK(adapt_head_create(&other, b, &p));
    TU_FAILS(adapt_model_add_head(a, other, NULL), ADAPT_ERR_INVALID_ARGUMENT); /* block 0 taken */
    TU_FAILS(adapt_model_add_head(c, other, NULL), ADAPT_ERR_SHAPE); /* made for another shape */
    const int32_t params = adapt_model_param_count(a);
    TU_FAILS(adapt_model_remove_head(&taken, a, 1), ADAPT_ERR_INVALID_ARGUMENT);
    TU_OK(adapt_model_remove_head(&taken, a, 0));
    ck_assert_ptr_eq(taken, h);
    ck_assert_int_eq(adapt_model_param_count(a), params - 2);
    TU_OK(adapt_model_add_head(b, taken, NULL)); /* same shapes: moves to b */
    ck_assert_int_eq(adapt_model_head_count(b), 1);
    TU_OK(adapt_model_remove_head(NULL, b, 0)); /* freed */
    TU_FAILS(adapt_model_append(b, &(adapt_layer_params){0}), ADAPT_ERR_STATE);
    adapt_head_free(other);
    adapt_head_free(NULL);
    adapt_model_free(a);
    adapt_model_free(b);
    adapt_model_free(c);
}
END_TEST

START_TEST(every_exit_computes_its_own_logits)
{
    adapt_model *m = mlp();
    add(m, ADAPT_HEAD_POOLED_LINEAR, 0, 0);
    adapt_context *ctx = tu_context(ADAPT_BACKEND_REFERENCE);
    TU_OK(adapt_context_set_grad(ctx, 0));
    float xs[4 * 12];
    tu_fill(xs, 4 * 12, 9, -1.0f, 1.0f);
    adapt_tensor *x, *z[2], *final, *features;
    TU_OK(adapt_tensor_input(&x, ctx, 2, (int64_t[]){4, 12}, xs));
    TU_FAILS(adapt_model_forward_exits(z, 1, ctx, m, x), ADAPT_ERR_INVALID_ARGUMENT);
    TU_OK(adapt_model_forward_exits(z, 2, ctx, m, x));
    TU_OK(adapt_model_forward(&final, ctx, m, x));
    ck_assert_mem_eq(adapt_tensor_data(z[1]), adapt_tensor_data(final), 4 * 3 * sizeof(float));
    TU_OK(adapt_model_forward_blocks(&features, ctx, m, x, 0, 1));
    const int32_t base = adapt_model_param_count(m) - 2;
    const float *w = adapt_tensor_data(adapt_model_param(m, base));
    const float *bias = adapt_tensor_data(adapt_model_param(m, base + 1));
    for (int i = 0; i < 4; i++)
        for (int c = 0; c < 3; c++) {
            double s = bias[c];
            for (int j = 0; j < 8; j++)
                s += (double)w[c * 8 + j] * adapt_tensor_data(features)[i * 8 + j];
            ck_assert_double_eq_tol(adapt_tensor_data(z[0])[i * 3 + c], s, 1e-5);
        }
    adapt_context_free(ctx);
    adapt_model_free(m);
}
END_TEST

/* The second exit of a CNN whose SDN head cascades from a pooled head. */
typedef struct {
    adapt_model *model;
    adapt_tensor *x;
} cascade_case;

static adapt_status second_exit(adapt_tensor **out, adapt_context *ctx, adapt_tensor **params,
                                void *arg)
{
    (void)params;
    cascade_case *c = arg;
    adapt_tensor *z[3];
    adapt_tensor *x;
    adapt_status st = adapt_tensor_input(&x, ctx, 4, (int64_t[]){2, 3, 8, 8},
                                         adapt_tensor_data(c->x));
    if (!st)
        st = adapt_model_forward_exits(z, 3, ctx, c->model, x);
    if (!st)
        *out = z[1];
    return st;
}

START_TEST(head_gradients_match_finite_differences)
{
    adapt_model *m = cnn();
    add(m, ADAPT_HEAD_POOLED_LINEAR, 0, 0);
    add(m, ADAPT_HEAD_SDN, 1, 1);
    adapt_context *ctx = tu_context(ADAPT_BACKEND_REFERENCE);
    cascade_case c = {m, images(ctx, 2, 11)};
    const int32_t n = adapt_model_param_count(m);
    /* exits.1: alpha, norm.weight, norm.bias, fc.weight, fc.bias */
    adapt_tensor *second[5];
    for (int i = 0; i < 5; i++)
        second[i] = adapt_model_param(m, n - 5 + i);
    ck_assert_str_eq(adapt_model_param_name(m, n - 5), "exits.1.alpha");
    tu_gradcheck(second_exit, second, 5, &c, 1e-3, 2e-2, 16);
    /* The cascade passes head 0's logits as values: no gradient reaches head 0. */
    adapt_tensor *z[3];
    TU_OK(adapt_model_forward_exits(z, 3, ctx, m, c.x));
    adapt_tensor *loss;
    TU_OK(adapt_op_sum(&loss, ctx, z[1], ADAPT_AXIS_ALL));
    TU_OK(adapt_backward(ctx, loss));
    const adapt_tensor *w0 = adapt_model_param(m, n - 7);
    ck_assert_str_eq(adapt_model_param_name(m, n - 7), "exits.0.fc.weight");
    for (int64_t i = 0; i < adapt_tensor_numel(w0); i++)
        ck_assert_float_eq(adapt_tensor_grad(w0)[i], 0.0f);
    adapt_context_free(ctx);
    adapt_model_free(m);
}
END_TEST

/* Inference pools SDN windows in one fused pass; training records the chain of ops. Images
 * of 8 give the first two heads windows of 2 (one block of eight columns per band), images of
 * 12 windows of 3 (a block and four columns on their own). */
/* Where the machine allows it, the stem's output and the first SDN head's features made in
 * one pass (each plane pooled as the stem makes it) are the stem's output and its pooling. */
static void check_first_features(adapt_context *ctx, adapt_model *m, adapt_tensor *x)
{
    adapt_tensor *stem, *pooled, *fused, *fused_stem;
    TU_OK(adapt_model_forward_blocks(&stem, ctx, m, x, 0, 1));
    TU_OK(ad_sdn_pool_untaped(&pooled, ctx, adapt_model_head(m, 0), tu_record(stem)));
    TU_OK(ad_first_head_features(&fused, &fused_stem, ctx, m, tu_record(x)));
    pooled = tu_handle(pooled);
    fused = tu_handle(fused), fused_stem = tu_handle(fused_stem);
    if (!ad_has_avx512()) {
        ck_assert_ptr_null(fused);
        return;
    }
    ck_assert_ptr_nonnull(fused);
    ck_assert_int_eq(adapt_tensor_numel(fused), adapt_tensor_numel(pooled));
    ck_assert_mem_eq(adapt_tensor_data(fused), adapt_tensor_data(pooled),
                     (size_t)adapt_tensor_numel(pooled) * sizeof(float));
    ck_assert_int_eq(adapt_tensor_numel(fused_stem), adapt_tensor_numel(stem));
    ck_assert_mem_eq(adapt_tensor_data(fused_stem), adapt_tensor_data(stem),
                     (size_t)adapt_tensor_numel(stem) * sizeof(float));
}

static void check_sdn_bits(int32_t size)
{
    adapt_model *m = cnn_of_size(size);
    add(m, ADAPT_HEAD_SDN, 0, 0);
    add(m, ADAPT_HEAD_SDN, 1, 1); /* cascading */
    add(m, ADAPT_HEAD_SDN, 2, 0); /* window 1 */
    const int32_t alpha[] = {0, 3, 8}; /* after alpha, [norm.weight, norm.bias,] fc.weight, fc.bias */
    for (int32_t k = 0; k < 3; k++) {
        const int32_t i = ad_backbone_param_count(m) + alpha[k];
        ck_assert_ptr_nonnull(strstr(adapt_model_param_name(m, i), ".alpha"));
        adapt_param_write(adapt_model_param(m, i), (const float[]){0.3f + 0.2f * (float)k}, 1);
    }
    adapt_context *ctx = tu_context(ADAPT_BACKEND_REFERENCE);
    adapt_tensor *x = images_of_size(ctx, 3, size, 21), *taped[4], *plain[4];
    float *nan_image = adapt_tensor_data(x) + 3 * size * size; /* must reach the logits */
    nan_image[5] = NAN;
    TU_OK(adapt_model_forward_exits(taped, 4, ctx, m, x));
    TU_OK(adapt_context_set_grad(ctx, 0));
    TU_OK(adapt_model_forward_exits(plain, 4, ctx, m, x));
    for (int k = 0; k < 3; k++)
        ck_assert_mem_eq(adapt_tensor_data(taped[k]), adapt_tensor_data(plain[k]),
                         15 * sizeof(float));
    ck_assert(isnan(adapt_tensor_data(plain[0])[5]));
    ck_assert(!isnan(adapt_tensor_data(plain[0])[0]));
    check_first_features(ctx, m, x);
    adapt_context_free(ctx);
    adapt_model_free(m);
}

START_TEST(sdn_heads_give_the_same_bits_taped_or_not)
{
    check_sdn_bits(8);
    check_sdn_bits(12);
}
END_TEST

/* Row i's largest softmax probability and its class. */
static double top_of(const float *row, int32_t classes, int32_t *best)
{
    double m = row[0], sum = 0.0;
    *best = 0;
    for (int32_t c = 1; c < classes; c++)
        if (row[c] > m)
            m = row[c], *best = c;
    for (int32_t c = 0; c < classes; c++)
        sum += exp(row[c] - m);
    return 1.0 / sum;
}

static int by_value(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* With an SDN head on the stem, inference that pools the stem's output as the stem makes it
 * (and, but for the reference backend, decides each image's first exit in that pass and
 * stores only the images that go on, threads filling the compact batch side by side) decides
 * as the exits' logits say, to the bit, for the images leaving there and for those going on.
 * On one thread and two. */
/* Early-stopping inference on 256 12x12 images decides exactly as the exits' logits say,
 * with a threshold that lets about half leave at the first head. */
static void expect_decisions_of_the_logits(adapt_model *m, adapt_context *ctx)
{
    enum { N = 256, CLASSES = 5 };
    adapt_tensor *x = images_of_size(ctx, N, 12, 31), *z[3];
    TU_OK(adapt_model_forward_exits(z, 3, ctx, m, x));
    double top[3][N], sorted[N];
    int32_t best[3][N];
    for (int k = 0; k < 3; k++)
        for (int i = 0; i < N; i++)
            top[k][i] = top_of(adapt_tensor_data(z[k]) + i * CLASSES, CLASSES, &best[k][i]);
    memcpy(sorted, top[0], sizeof sorted);
    qsort(sorted, N, sizeof *sorted, by_value);
    adapt_exit_policy policy;
    adapt_exit_policy_init(&policy, sizeof policy);
    policy.threshold = (float)sorted[N / 2];
    int32_t prediction[N], exit[N], at[3] = {0};
    float confidence[N];
    const adapt_exit_outputs out = {sizeof out, prediction, exit, confidence, NULL};
    TU_OK(adapt_model_infer_exits(&out, ctx, m, x, &policy));
    for (int i = 0; i < N; i++) {
        int k = 0;
        while (k < 2 && top[k][i] < policy.threshold)
            k++;
        ck_assert_int_eq(exit[i], k);
        ck_assert_int_eq(prediction[i], best[k][i]);
        ck_assert_float_eq(confidence[i], (float)top[k][i]);
        at[k]++;
    }
    ck_assert_msg(at[0] > 0 && at[0] < N, "%d of %d leave first", at[0], N);
}

START_TEST(first_sdn_exit_decides_as_the_logits_say)
{
    adapt_model *m = cnn_of_size(12);
    add(m, ADAPT_HEAD_SDN, 0, 0);
    add(m, ADAPT_HEAD_SDN, 1, 0);
    adapt_context *ctx = tu_context_threads(_i & 1 ? ADAPT_BACKEND_DEFAULT
                                                   : ADAPT_BACKEND_REFERENCE, 1 + _i / 2);
    TU_OK(adapt_context_set_grad(ctx, 0));
    expect_decisions_of_the_logits(m, ctx);
    adapt_context_free(ctx);
    adapt_model_free(m);
}
END_TEST

/* The stem's convolution as a module of its own: a 3x3 convolution with the stem's weights
 * and a zero bias, the same function. */
static adapt_model *stem_twin(const adapt_model *m)
{
    adapt_model *conv = NULL;
    TU_OK(adapt_model_create_sequential(&conv, 3, (int64_t[]){3, 12, 12}, 1));
    adapt_layer_params p;
    adapt_layer_params_init(&p, sizeof p);
    p.kind = ADAPT_LAYER_CONV2D, p.out_features = 4, p.kernel = 3, p.padding = 1;
    TU_OK(adapt_model_append(conv, &p));
    adapt_tensor *w = adapt_model_param(conv, 0), *b = adapt_model_param(conv, 1);
    memcpy(adapt_tensor_data(w), adapt_tensor_data(adapt_model_param(m, 0)),
           (size_t)adapt_tensor_numel(w) * sizeof(float));
    memset(adapt_tensor_data(b), 0, (size_t)adapt_tensor_numel(b) * sizeof(float));
    return conv;
}

/* The fused exit paths are planned when heads come and go and when the model changes: a
 * replaced stem is never fused (and inference still decides as the logits say), the stem
 * put back is again, and a later SDN head pools its residual block as it is made. */
START_TEST(exit_plans_follow_the_model)
{
    adapt_model *m = cnn_of_size(12);
    add(m, ADAPT_HEAD_SDN, 0, 0);
    add(m, ADAPT_HEAD_SDN, 1, 0);
    const ad_conv_geom stem = ad_stem_geom(&m->blocks[0].layers[0]);
    const ad_head_fusion first = ad_conv_direct_suits(&stem) ? AD_FUSE_STEM : AD_FUSE_NONE;
    ck_assert_int_eq(ad_head_at(m, 0)->fusion, first);
    const ad_head_fusion second = ad_head_at(m, 1)->fusion;
    ck_assert(second == AD_FUSE_BLOCK || (second == AD_FUSE_NONE && first == AD_FUSE_NONE));
    TU_OK(adapt_model_replace(m, "stem.0", stem_twin(m), NULL));
    ck_assert_int_eq(ad_head_at(m, 0)->fusion, AD_FUSE_NONE);
    adapt_context *ctx = tu_context_threads(ADAPT_BACKEND_DEFAULT, 2);
    TU_OK(adapt_context_set_grad(ctx, 0));
    expect_decisions_of_the_logits(m, ctx);
    TU_OK(adapt_model_replace(m, "stem.0", NULL, NULL));
    ck_assert_int_eq(ad_head_at(m, 0)->fusion, first);
    adapt_head *h = NULL;
    TU_OK(adapt_model_remove_head(&h, m, 0));
    ck_assert_int_eq(h->fusion, AD_FUSE_NONE);
    ck_assert_int_eq(ad_head_at(m, 0)->fusion, second);
    adapt_head_free(h);
    adapt_context_free(ctx);
    adapt_model_free(m);
}
END_TEST

START_TEST(checkpoints_carry_heads)
{
    adapt_model *m = vit(), *back = NULL;
    add(m, ADAPT_HEAD_CLS_LINEAR, 0, 0);
    add(m, ADAPT_HEAD_POOLED_LINEAR, 2, 1);
    for (int32_t i = 0; i < adapt_model_param_count(m); i++) /* not what a fresh build gives */
        tu_fill(adapt_tensor_data(adapt_model_param(m, i)),
                adapt_tensor_numel(adapt_model_param(m, i)), 70 + (uint64_t)i, -0.5f, 0.5f);
    const char *path = tu_in_scratch("vit_exits.safetensors");
    TU_OK(adapt_model_save(m, path));
    TU_OK(adapt_model_load(&back, path));
    ck_assert_int_eq(adapt_model_head_count(back), 2);
    ck_assert_str_eq(ad_model_architecture(back), ad_model_architecture(m));
    ck_assert_ptr_nonnull(strstr(ad_model_architecture(m), "\"exits\":[{\"kind\":\"cls_linear\""));
    adapt_context *ctx = tu_context(ADAPT_BACKEND_REFERENCE);
    TU_OK(adapt_context_set_grad(ctx, 0));
    adapt_tensor *x = images(ctx, 3, 12), *a[3], *b[3];
    TU_OK(adapt_model_forward_exits(a, 3, ctx, m, x));
    TU_OK(adapt_model_forward_exits(b, 3, ctx, back, x));
    for (int k = 0; k < 3; k++)
        ck_assert_mem_eq(adapt_tensor_data(a[k]), adapt_tensor_data(b[k]), 15 * sizeof(float));
    TU_OK(adapt_model_remove_head(NULL, m, 1));
    TU_OK(adapt_model_remove_head(NULL, m, 0));
    ck_assert_ptr_null(strstr(ad_model_architecture(m), "exits"));
    /* Heads are extra entries to a backbone, but missing ones to a model that has heads. */
    TU_OK(adapt_model_load_weights(m, path));
    const char *bare = tu_in_scratch("vit.safetensors");
    TU_OK(adapt_model_save(m, bare));
    TU_FAILS(adapt_model_load_weights(back, bare), ADAPT_ERR_FORMAT);
    adapt_context_free(ctx);
    adapt_model_free(m);
    adapt_model_free(back);
}
END_TEST

static const char *hostile[] = {
    "\"exits\":7",
    "\"exits\":[{\"kind\":\"nope\",\"block\":0,\"hidden\":0,\"cascade\":false,\"seed\":\"1\"}]",
    "\"exits\":[{\"kind\":\"sdn\",\"block\":0,\"hidden\":0,\"cascade\":false,\"seed\":\"1\"}]",
    "\"exits\":[{\"kind\":\"pooled_linear\",\"block\":2,\"hidden\":0,\"cascade\":false,"
    "\"seed\":\"1\"}]",
    "\"exits\":[{\"kind\":\"pooled_linear\",\"block\":0,\"hidden\":0,\"cascade\":1,"
    "\"seed\":\"1\"}]",
    "\"exits\":[{\"kind\":\"pooled_linear\",\"block\":0,\"hidden\":0,\"cascade\":false,"
    "\"seed\":\"1\"},{\"kind\":\"pooled_linear\",\"block\":0,\"hidden\":0,\"cascade\":false,"
    "\"seed\":\"2\"}]",
    "\"exits\":[{\"kind\":\"pooled_linear\",\"block\":0,\"hidden\":-1,\"cascade\":false,"
    "\"seed\":\"1\"}]",
};

START_TEST(hostile_head_descriptions_are_format_errors)
{
    const char *base = "{\"format\":1,\"kind\":\"mlp\",\"sizes\":[12,8,6,3],\"activation\":"
                       "\"relu\",\"dropout\":0.0,\"seed\":\"3\",%s}";
    for (size_t i = 0; i < sizeof hostile / sizeof *hostile; i++) {
        char text[1024];
        snprintf(text, sizeof text, base, hostile[i]);
        adapt_model *m = (adapt_model *)0x1;
        adapt_status st = ad_model_from_architecture(&m, text, INT64_MAX);
        ck_assert_msg(st == ADAPT_ERR_FORMAT, "case %zu: %s", i, adapt_status_string(st));
        ck_assert_ptr_eq(m, (adapt_model *)0x1);
    }
}
END_TEST

static Suite *heads_suite(void)
{
    Suite *s = suite_create("heads");
    TCase *tc = tcase_create("heads");
    tcase_add_checked_fixture(tc, tu_scratch_setup, tu_scratch_teardown);
    tcase_add_test(tc, mlp_heads_cost_what_hand_counts_say);
    tcase_add_test(tc, cnn_and_vit_heads_read_their_shapes);
    tcase_add_test(tc, heads_refuse_what_they_cannot_read);
    tcase_add_test(tc, a_model_owns_its_heads_once);
    tcase_add_test(tc, every_exit_computes_its_own_logits);
    tcase_add_test(tc, head_gradients_match_finite_differences);
    tcase_add_test(tc, sdn_heads_give_the_same_bits_taped_or_not);
    tcase_add_test(tc, exit_plans_follow_the_model);
    tcase_add_loop_test(tc, first_sdn_exit_decides_as_the_logits_say, 0, 4);
    tcase_add_test(tc, checkpoints_carry_heads);
    tcase_add_test(tc, hostile_head_descriptions_are_format_errors);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run(heads_suite());
}
