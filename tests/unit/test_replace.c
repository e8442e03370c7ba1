/* Modules that replace modules (lib/models/replace.c): paths, the replacing module's output,
 * FLOPs and parameter names, putting the original back, checkpoints, training, the fused
 * exit paths, and every refusal leaving both models as they were. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_util.h"
#include "file_util.h"
#include "lib/models/model.h"

enum { BATCH = 3, TOKENS = 5, DIM = 8, HIDDEN = 16 };

/* A ViT on 8x8 single-channel images: patch 4 gives 4 tokens and the class token. */
static adapt_model *vit(uint64_t seed)
{
    adapt_vit_params p;
    adapt_vit_params_init(&p, sizeof p);
    p.image_size = 8, p.in_channels = 1, p.patch = 4, p.dim = DIM, p.depth = 2, p.heads = 2;
    p.mlp_ratio = (float)HIDDEN / DIM, p.n_classes = 4, p.seed = seed;
    adapt_model *m = NULL;
    TU_OK(adapt_model_create_vit(&m, &p));
    return m;
}

static adapt_status add(adapt_model *m, int32_t kind, int64_t out)
{
    adapt_layer_params p;
    adapt_layer_params_init(&p, sizeof p);
    p.kind = kind, p.out_features = out;
    return adapt_model_append(m, &p);
}

static char *copy_text(const char *text)
{
    char *copy = malloc(strlen(text) + 1);
    return strcpy(copy, text);
}

static adapt_model *mlp_of(int64_t hidden, uint64_t seed)
{
    return tu_token_mlp(TOKENS, DIM, hidden, seed);
}

static int32_t param_index(const adapt_model *m, const char *name)
{
    for (int32_t i = 0; i < adapt_model_param_count(m); i++)
        if (strcmp(adapt_model_param_name(m, i), name) == 0)
            return i;
    return -1;
}

static void copy_param(adapt_model *to, const char *to_name, const adapt_model *from,
                       const char *from_name)
{
    adapt_tensor *a = adapt_model_param(to, param_index(to, to_name));
    const adapt_tensor *b = adapt_model_param(from, param_index(from, from_name));
    ck_assert_int_eq(adapt_tensor_numel(a), adapt_tensor_numel(b));
    memcpy(adapt_tensor_data(a), adapt_tensor_data(b), (size_t)adapt_tensor_numel(a) * 4);
}

/* Logits of a fixed batch, recorded (grad) or not. */
static float *logits(adapt_model *m, int grad)
{
    adapt_context *ctx = tu_context(ADAPT_BACKEND_REFERENCE);
    TU_OK(adapt_context_set_grad(ctx, grad));
    float x[BATCH * 64];
    tu_fill(x, BATCH * 64, 11, -1, 1);
    adapt_tensor *in, *y;
    TU_OK(adapt_tensor_input(&in, ctx, 4, (int64_t[]){BATCH, 1, 8, 8}, x));
    TU_OK(adapt_model_forward(&y, ctx, m, in));
    float *v = malloc(BATCH * 4 * sizeof *v);
    memcpy(v, adapt_tensor_data(y), BATCH * 4 * sizeof *v);
    adapt_context_free(ctx);
    return v;
}

/* The MLP of blocks.1 replaced by a module holding its weights computes what it computed:
 * the same ops when recorded, so the same bits; its parameters show where fc1 and fc2 were. */
START_TEST(equivalent_replacement_computes_the_same)
{
    adapt_model *m = vit(3), *mlp = mlp_of(HIDDEN, 9);
    copy_param(mlp, "0.weight", m, "blocks.1.mlp.fc1.weight");
    copy_param(mlp, "0.bias", m, "blocks.1.mlp.fc1.bias");
    copy_param(mlp, "2.weight", m, "blocks.1.mlp.fc2.weight");
    copy_param(mlp, "2.bias", m, "blocks.1.mlp.fc2.bias");
    float *before = logits(m, 1), *before_untaped = logits(m, 0);
    const int32_t count = adapt_model_param_count(m), at = param_index(m, "blocks.1.mlp.fc1.weight");
    const int64_t flops = adapt_model_flops(m);
    TU_OK(adapt_model_replace(m, "blocks.1.mlp", mlp, NULL));
    float *after = logits(m, 1), *after_untaped = logits(m, 0);
    ck_assert_mem_eq(before, after, BATCH * 4 * sizeof *before);
    for (int i = 0; i < BATCH * 4; i++)
        ck_assert_float_eq_tol(before_untaped[i], after_untaped[i], 1e-5f);
    ck_assert_int_eq(adapt_model_param_count(m), count);
    ck_assert_int_eq(param_index(m, "blocks.1.mlp.0.weight"), at);
    ck_assert_int_eq(param_index(m, "blocks.1.mlp.2.bias"), at + 3);
    ck_assert_int_eq(param_index(m, "blocks.1.mlp.fc1.weight"), -1);
    ck_assert_int_eq(adapt_model_flops(m), flops);
    adapt_model_free(mlp); /* held by m: nothing happens */
    ck_assert_ptr_nonnull(adapt_model_param(m, at));
    free(before), free(after), free(before_untaped), free(after_untaped);
    adapt_model_free(m);
}
END_TEST

/* One token_linear layer of `out` features on [TOKENS, DIM], holding `from`'s `name` weights. */
static adapt_model *projection(const adapt_model *from, const char *name, int64_t out)
{
    adapt_model *p = NULL;
    TU_OK(adapt_model_create_sequential(&p, 2, (int64_t[]){TOKENS, DIM}, 1));
    TU_OK(add(p, ADAPT_LAYER_TOKEN_LINEAR, out));
    char weight[64], bias[64];
    snprintf(weight, sizeof weight, "%s.weight", name);
    snprintf(bias, sizeof bias, "%s.bias", name);
    copy_param(p, "0.weight", from, weight);
    copy_param(p, "0.bias", from, bias);
    return p;
}

/* The attention's projections replaced by modules holding their weights: the output
 * projection gives the same bits (the same product), the qkv one the same values (the
 * attention scales q's rows instead of its weights then). */
START_TEST(attention_projections_are_submodules)
{
    adapt_model *m = vit(13);
    float *before = logits(m, 1), *before_untaped = logits(m, 0);
    adapt_submodule_info info = {.struct_size = sizeof info};
    TU_OK(adapt_model_submodule(&info, m, "blocks.0.attn.qkv"));
    ck_assert_int_eq(info.out_shape[1], 3 * DIM);
    ck_assert_int_eq(info.flops, 2 * TOKENS * DIM * 3 * DIM);
    TU_OK(adapt_model_replace(m, "blocks.0.attn.proj",
                              projection(m, "blocks.0.attn.proj", DIM), NULL));
    float *proj = logits(m, 1), *proj_untaped = logits(m, 0);
    ck_assert_mem_eq(proj, before, BATCH * 4 * sizeof *proj);
    ck_assert_mem_eq(proj_untaped, before_untaped, BATCH * 4 * sizeof *proj);
    TU_OK(adapt_model_replace(m, "blocks.1.attn.qkv",
                              projection(m, "blocks.1.attn.qkv", 3 * DIM), NULL));
    float *qkv = logits(m, 1), *qkv_untaped = logits(m, 0);
    for (int i = 0; i < BATCH * 4; i++) {
        ck_assert_float_eq_tol(qkv[i], before[i], 1e-5f);
        ck_assert_float_eq_tol(qkv_untaped[i], before_untaped[i], 1e-5f);
    }
    ck_assert_int_ne(param_index(m, "blocks.1.attn.qkv.0.weight"), -1);
    adapt_model *around = mlp_of(4, 1);
    TU_FAILS(adapt_model_replace(m, "blocks.1.attn", around, NULL),
             ADAPT_ERR_INVALID_ARGUMENT); /* holds the replaced qkv */
    adapt_model_free(around);
    free(before), free(before_untaped), free(proj), free(proj_untaped), free(qkv);
    free(qkv_untaped);
    adapt_model_free(m);
}
END_TEST

/* A narrower MLP costs less by exactly its products; the original comes back intact. */
START_TEST(costs_follow_the_replacement_and_the_original_comes_back)
{
    adapt_model *m = vit(4), *small = mlp_of(4, 5);
    float *original = logits(m, 0);
    char *text = copy_text(ad_model_architecture(m));
    const int64_t flops = adapt_model_flops(m);
    adapt_submodule_info info = {.struct_size = sizeof info};
    TU_OK(adapt_model_submodule(&info, m, "blocks.0.mlp"));
    ck_assert_int_eq(info.flops, 2 * 2 * TOKENS * DIM * HIDDEN);
    ck_assert_int_eq(info.in_ndim, 2);
    ck_assert_int_eq(info.in_shape[0], TOKENS);
    ck_assert_int_eq(info.out_shape[1], DIM);
    ck_assert(!info.replaced);
    TU_OK(adapt_model_replace(m, "blocks.0.mlp", small, NULL));
    TU_OK(adapt_model_submodule(&info, m, "blocks.0.mlp"));
    ck_assert(info.replaced);
    ck_assert_int_eq(info.flops, 2 * 2 * TOKENS * DIM * 4);
    ck_assert_int_eq(adapt_model_flops(m), flops - 2 * 2 * TOKENS * DIM * (HIDDEN - 4));
    ck_assert_ptr_nonnull(strstr(ad_model_architecture(m), "\"replaced\":[{\"path\":\"blocks.0.mlp\""));
    adapt_model *previous = NULL;
    TU_OK(adapt_model_replace(m, "blocks.0.mlp", NULL, &previous));
    ck_assert_ptr_eq(previous, small);
    ck_assert_int_eq(adapt_model_flops(m), flops);
    ck_assert_str_eq(ad_model_architecture(m), text);
    float *back = logits(m, 0);
    ck_assert_mem_eq(original, back, BATCH * 4 * sizeof *back);
    ck_assert_int_ne(param_index(m, "blocks.0.mlp.fc1.weight"), -1);
    TU_OK(adapt_model_replace(m, "blocks.0.mlp", previous, NULL)); /* usable again */
    free(original), free(back), free(text);
    adapt_model_free(m);
}
END_TEST

/* Saved with its replacement, loaded back: same description, names, values and logits. */
START_TEST(checkpoints_keep_replacements)
{
    adapt_model *m = vit(6);
    TU_OK(adapt_model_replace(m, "blocks.1.attn", mlp_of(4, 7), NULL));
    TU_OK(adapt_model_replace(m, "blocks.0.mlp", mlp_of(6, 8), NULL));
    const char *path = tu_in_scratch("replaced.safetensors");
    TU_OK(adapt_model_save(m, path));
    adapt_model *back = NULL;
    TU_OK(adapt_model_load(&back, path));
    ck_assert_str_eq(ad_model_architecture(back), ad_model_architecture(m));
    ck_assert_int_eq(adapt_model_param_count(back), adapt_model_param_count(m));
    for (int32_t i = 0; i < adapt_model_param_count(m); i++)
        ck_assert_str_eq(adapt_model_param_name(back, i), adapt_model_param_name(m, i));
    float *a = logits(m, 0), *b = logits(back, 0);
    ck_assert_mem_eq(a, b, BATCH * 4 * sizeof *a);
    free(a), free(b);
    adapt_model_free(back);
    adapt_model_free(m);
}
END_TEST

/* Each sample is charged what ran for it: the whole model, the replacement's FLOPs in place
 * of the submodule's. */
START_TEST(per_sample_flops_follow_what_ran)
{
    adapt_model *m = vit(12);
    adapt_context *ctx = tu_context(ADAPT_BACKEND_REFERENCE);
    float x[BATCH * 64];
    tu_fill(x, BATCH * 64, 13, -1, 1);
    adapt_tensor *in, *y = NULL, *plain;
    TU_OK(adapt_tensor_input(&in, ctx, 4, (int64_t[]){BATCH, 1, 8, 8}, x));
    int64_t flops[BATCH] = {0};
    TU_OK(adapt_model_forward_flops(&y, flops, ctx, m, in));
    for (int i = 0; i < BATCH; i++)
        ck_assert_int_eq(flops[i], adapt_model_flops(m));
    TU_OK(adapt_model_forward(&plain, ctx, m, in));
    ck_assert_mem_eq(adapt_tensor_data(y), adapt_tensor_data(plain), BATCH * 4 * sizeof(float));
    const int64_t whole = adapt_model_flops(m);
    TU_OK(adapt_model_replace(m, "blocks.1.mlp", mlp_of(4, 1), NULL));
    TU_OK(adapt_model_forward_flops(&y, flops, ctx, m, in));
    for (int i = 0; i < BATCH; i++)
        ck_assert_int_eq(flops[i], adapt_model_flops(m));
    ck_assert_int_eq(flops[0], whole - 2 * 2 * TOKENS * DIM * (HIDDEN - 4));
    adapt_tensor *untouched = (adapt_tensor *)1;
    TU_FAILS(adapt_model_forward_flops(&untouched, NULL, ctx, m, in),
             ADAPT_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_eq(untouched, (adapt_tensor *)1);
    adapt_context_free(ctx);
    adapt_model_free(m);
}
END_TEST

/* A recorded loss reaches the replacement's parameters, and training moves them. */
START_TEST(replacements_train_with_the_model)
{
    adapt_model *m = vit(8);
    TU_OK(adapt_model_replace(m, "blocks.1.mlp", mlp_of(4, 2), NULL));
    adapt_context *ctx = tu_context(ADAPT_BACKEND_REFERENCE);
    TU_OK(adapt_context_set_grad(ctx, 1));
    float x[BATCH * 64];
    tu_fill(x, BATCH * 64, 12, -1, 1);
    adapt_tensor *in, *y, *loss;
    TU_OK(adapt_tensor_input(&in, ctx, 4, (int64_t[]){BATCH, 1, 8, 8}, x));
    TU_OK(adapt_model_forward(&y, ctx, m, in));
    TU_OK(adapt_op_cross_entropy(&loss, ctx, y, (int32_t[]){0, 1, 2}, 0.0f));
    TU_OK(adapt_backward(ctx, loss));
    adapt_tensor *w = adapt_model_param(m, param_index(m, "blocks.1.mlp.0.weight"));
    const float *g = adapt_tensor_grad(w);
    ck_assert_ptr_nonnull(g);
    double norm = 0.0;
    for (int64_t i = 0; i < adapt_tensor_numel(w); i++)
        norm += (double)g[i] * g[i];
    ck_assert(norm > 0.0);
    adapt_context_free(ctx);
    adapt_model_free(m);
}
END_TEST

/* An MLP's activation, a whole layer without parameters that its block fuses with the linear
 * layer before it, replaced by another: the block's plan no longer fuses it. */
START_TEST(whole_layers_are_replaced_too)
{
    adapt_mlp_params p;
    adapt_mlp_params_init(&p, sizeof p);
    p.n_sizes = 3, p.sizes = (int64_t[]){6, 5, 3}, p.seed = 1;
    adapt_model *m = NULL, *gelu = NULL;
    TU_OK(adapt_model_create_mlp(&m, &p));
    TU_OK(adapt_model_create_sequential(&gelu, 1, (int64_t[]){5}, 1));
    TU_OK(add(gelu, ADAPT_LAYER_GELU, 0));
    adapt_context *ctx = tu_context(ADAPT_BACKEND_REFERENCE);
    float x[12];
    tu_fill(x, 12, 4, -1, 1);
    adapt_tensor *in, *hidden, *relu_out, *gelu_out, *want;
    TU_OK(adapt_tensor_input(&in, ctx, 2, (int64_t[]){2, 6}, x));
    TU_OK(adapt_op_matmul(&hidden, ctx, in, adapt_model_param(m, 0), ADAPT_MATMUL_TRANS_B));
    TU_OK(adapt_op_add(&hidden, ctx, hidden, adapt_model_param(m, 1)));
    TU_OK(adapt_model_forward_blocks(&relu_out, ctx, m, in, 0, 1));
    TU_OK(adapt_model_replace(m, "1", gelu, NULL));
    TU_OK(adapt_model_forward_blocks(&gelu_out, ctx, m, in, 0, 1));
    TU_OK(adapt_op_gelu(&want, ctx, hidden));
    for (int i = 0; i < 10; i++)
        ck_assert_float_eq_tol(adapt_tensor_data(gelu_out)[i], adapt_tensor_data(want)[i], 1e-6f);
    ck_assert(memcmp(adapt_tensor_data(gelu_out), adapt_tensor_data(relu_out), 40) != 0);
    ck_assert_int_eq(adapt_model_param_count(m), 4);
    TU_FAILS(add(gelu, ADAPT_LAYER_RELU, 0), ADAPT_ERR_STATE); /* held: its shape is fixed */
    adapt_model *seq = NULL;
    TU_OK(adapt_model_create_sequential(&seq, 1, (int64_t[]){6}, 1));
    TU_OK(add(seq, ADAPT_LAYER_RELU, 0));
    adapt_model *relu = NULL;
    TU_OK(adapt_model_create_sequential(&relu, 1, (int64_t[]){6}, 2));
    TU_OK(add(relu, ADAPT_LAYER_RELU, 0));
    TU_OK(adapt_model_replace(seq, "0", relu, NULL));
    TU_FAILS(add(seq, ADAPT_LAYER_RELU, 0), ADAPT_ERR_STATE); /* replaced: put it back first */
    adapt_context_free(ctx);
    adapt_model_free(seq);
    adapt_model_free(m);
}
END_TEST

/* An MLP 6 -> 5 -> 4 -> 3: layers "0" linear, "1" ReLU, "2" linear, "3" ReLU, "4" linear. */
static adapt_model *small_mlp(uint64_t seed)
{
    adapt_mlp_params p;
    adapt_mlp_params_init(&p, sizeof p);
    p.n_sizes = 4, p.sizes = (int64_t[]){6, 5, 4, 3}, p.seed = seed;
    adapt_model *m = NULL;
    TU_OK(adapt_model_create_mlp(&m, &p));
    return m;
}

/* Logits of the MLP for a fixed batch of 4, untaped. */
static float *mlp_logits(adapt_model *m)
{
    adapt_context *ctx = tu_context(ADAPT_BACKEND_REFERENCE);
    float x[4 * 6];
    tu_fill(x, 4 * 6, 13, -1, 1);
    adapt_tensor *in, *y;
    TU_OK(adapt_tensor_input(&in, ctx, 2, (int64_t[]){4, 6}, x));
    TU_OK(adapt_model_forward(&y, ctx, m, in));
    float *v = malloc(4 * 3 * sizeof *v);
    memcpy(v, adapt_tensor_data(y), 4 * 3 * sizeof *v);
    adapt_context_free(ctx);
    return v;
}

/* What a slice of the MLP receives and gives for 4 samples. */
static adapt_recording *record_slice(adapt_model *m, const char *path, float *x)
{
    static int32_t labels[4];
    tu_fill(x, 4 * 6, 17, -1, 1);
    adapt_dataset *d = NULL;
    TU_OK(adapt_dataset_wrap(&d, x, 2, (int64_t[]){4, 6}, labels));
    adapt_record_params p;
    adapt_record_params_init(&p, sizeof p);
    p.batch_size = 3, p.n_threads = 1;
    adapt_recording *r = NULL;
    TU_OK(adapt_model_record(&r, m, path, d, &p));
    adapt_dataset_free(d);
    return r;
}

/* A slice "0:3" (linear, ReLU, linear, across the MLP's first two blocks) is a submodule:
 * its shapes and cost, what passes it, its replacement by a module of the same layers (same
 * logits, FLOPs, parameters named under the slice), checkpoints, the original put back. */
START_TEST(slices_of_layers_are_submodules)
{
    adapt_model *m = small_mlp(3);
    float *before = mlp_logits(m), x[4 * 6];
    adapt_submodule_info info = {.struct_size = sizeof info};
    TU_OK(adapt_model_submodule(&info, m, "0:3"));
    ck_assert_int_eq(info.in_shape[0], 6);
    ck_assert_int_eq(info.out_shape[0], 4);
    ck_assert_int_eq(info.flops, 2 * (6 * 5 + 5 * 4));
    adapt_recording *dense = record_slice(m, "0:3", x);
    ck_assert_mem_eq(adapt_recording_data(dense, 0, NULL, NULL), x, sizeof x);

    adapt_model *module = NULL;
    TU_OK(adapt_model_create_sequential(&module, 1, (int64_t[]){6}, 1));
    TU_OK(add(module, ADAPT_LAYER_LINEAR, 5));
    TU_OK(add(module, ADAPT_LAYER_RELU, 0));
    TU_OK(add(module, ADAPT_LAYER_LINEAR, 4));
    const char *names[] = {"weight", "bias"};
    for (int i = 0; i < 4; i++) {
        char to[32], from[32];
        snprintf(to, sizeof to, "%d.%s", i / 2 * 2, names[i % 2]);
        snprintf(from, sizeof from, "%d.%s", i / 2 * 2, names[i % 2]);
        copy_param(module, to, m, from);
    }
    const int32_t count = adapt_model_param_count(m);
    const int64_t flops = adapt_model_flops(m);
    TU_OK(adapt_model_replace(m, "0:3", module, NULL));
    float *after = mlp_logits(m);
    for (int i = 0; i < 12; i++)
        ck_assert_float_eq_tol(after[i], before[i], 1e-6f);
    ck_assert_int_eq(adapt_model_flops(m), flops);
    ck_assert_int_eq(adapt_model_param_count(m), count);
    ck_assert_int_eq(param_index(m, "0:3.0.weight"), 0);
    ck_assert_int_eq(param_index(m, "0:3.2.bias"), 3);
    ck_assert_int_eq(param_index(m, "2.weight"), -1);
    ck_assert_int_eq(param_index(m, "4.weight"), 4);
    adapt_recording *replaced = record_slice(m, "0:3", x);
    const float *want = adapt_recording_data(dense, 1, NULL, NULL);
    const float *got = adapt_recording_data(replaced, 1, NULL, NULL);
    for (int i = 0; i < 4 * 4; i++)
        ck_assert_float_eq_tol(got[i], want[i], 1e-6f);

    const char *path = tu_in_scratch("slice.safetensors");
    TU_OK(adapt_model_save(m, path));
    adapt_model *back = NULL;
    TU_OK(adapt_model_load(&back, path));
    float *loaded = mlp_logits(back);
    ck_assert_mem_eq(loaded, after, 12 * sizeof *after);

    adapt_model *previous = NULL;
    TU_OK(adapt_model_replace(m, "0:3", NULL, &previous));
    ck_assert_ptr_eq(previous, module);
    float *restored = mlp_logits(m);
    ck_assert_mem_eq(restored, before, 12 * sizeof *before);
    ck_assert_int_eq(param_index(m, "2.weight"), 2);
    free(before), free(after), free(loaded), free(restored);
    adapt_recording_free(dense), adapt_recording_free(replaced);
    adapt_model_free(previous), adapt_model_free(back), adapt_model_free(m);
}
END_TEST

/* Slices that are not two or more consecutive layers, or that share layers with another
 * replacement; paths inside a replaced slice; exit heads where a slice crosses their block. */
START_TEST(slices_are_refused_where_they_would_break)
{
    adapt_model *m = small_mlp(4), *relu = NULL;
    adapt_model *module = small_mlp(5); /* 6 -> 3: the shape of "0:5" */
    adapt_submodule_info info = {.struct_size = sizeof info};
    const char *bad[] = {"0:1", "0:6", "3:1", ":3", "0:", "0:3x", "a:3", "1.0:3", "0:3:4"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        TU_FAILS(adapt_model_submodule(&info, m, bad[i]), ADAPT_ERR_INVALID_ARGUMENT);
    TU_OK(adapt_model_submodule(&info, m, "0:5"));
    ck_assert_int_eq(info.out_shape[0], 3);
    TU_OK(adapt_model_create_sequential(&relu, 1, (int64_t[]){5}, 1));
    TU_OK(add(relu, ADAPT_LAYER_RELU, 0));
    TU_OK(adapt_model_replace(m, "1", relu, NULL));
    TU_FAILS(adapt_model_replace(m, "0:5", module, NULL), ADAPT_ERR_INVALID_ARGUMENT);
    TU_OK(adapt_model_replace(m, "1", NULL, NULL));

    adapt_head_params hp;
    adapt_head_params_init(&hp, sizeof hp);
    adapt_head *head = NULL;
    TU_OK(adapt_head_create(&head, m, &hp));
    TU_OK(adapt_model_add_head(m, head, NULL));
    TU_FAILS(adapt_model_replace(m, "0:5", module, NULL), ADAPT_ERR_INVALID_ARGUMENT);
    adapt_model *plain = small_mlp(4), *linear = NULL;
    TU_OK(adapt_model_replace(plain, "0:5", module, NULL));
    TU_OK(adapt_head_create(&head, plain, &hp));
    TU_FAILS(adapt_model_add_head(plain, head, NULL), ADAPT_ERR_INVALID_ARGUMENT);
    adapt_head_free(head);
    TU_OK(adapt_model_create_sequential(&linear, 1, (int64_t[]){5}, 1));
    TU_OK(add(linear, ADAPT_LAYER_LINEAR, 4));
    TU_FAILS(adapt_model_replace(plain, "2", linear, NULL), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_model_replace(plain, "2:4", linear, NULL), ADAPT_ERR_INVALID_ARGUMENT);
    float x[4 * 6];
    static int32_t labels[4];
    adapt_dataset *d = NULL;
    TU_OK(adapt_dataset_wrap(&d, x, 2, (int64_t[]){4, 6}, labels));
    adapt_recording *r = NULL;
    TU_FAILS(adapt_model_record(&r, plain, "2", d, NULL), ADAPT_ERR_INVALID_ARGUMENT);
    adapt_dataset_free(d);
    adapt_model_free(linear), adapt_model_free(plain), adapt_model_free(m);
}
END_TEST

/* Every refusal names its cause and leaves both models as they were. */
START_TEST(refusals_change_nothing)
{
    adapt_model *m = vit(9), *mlp = mlp_of(HIDDEN, 1), *other = vit(10);
    adapt_model *wide = NULL;
    TU_OK(adapt_model_create_sequential(&wide, 2, (int64_t[]){TOKENS, DIM}, 1));
    TU_OK(add(wide, ADAPT_LAYER_TOKEN_LINEAR, DIM + 1));
    char *text = copy_text(ad_model_architecture(m));
    const int32_t count = adapt_model_param_count(m);
    TU_FAILS(adapt_model_replace(m, "blocks.7.mlp", mlp, NULL), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_model_replace(m, "blocks.1.mlp.fc1", mlp, NULL), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_model_replace(m, "", mlp, NULL), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_model_replace(m, NULL, mlp, NULL), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_model_replace(NULL, "blocks.1.mlp", mlp, NULL), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_model_replace(m, "blocks.1.mlp", wide, NULL), ADAPT_ERR_SHAPE);
    TU_FAILS(adapt_model_replace(m, "patch_embed", mlp, NULL), ADAPT_ERR_SHAPE);
    TU_FAILS(adapt_model_replace(m, "blocks.1.mlp", m, NULL), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_model_replace(m, "blocks.1.mlp", NULL, NULL), ADAPT_ERR_INVALID_ARGUMENT);
    ck_assert_str_eq(ad_model_architecture(m), text);
    ck_assert_int_eq(adapt_model_param_count(m), count);
    TU_OK(adapt_model_replace(m, "blocks.1.mlp", mlp, NULL));
    /* held by m: not a second time, not by another model, not around or inside it */
    TU_FAILS(adapt_model_replace(other, "blocks.1.mlp", mlp, NULL), ADAPT_ERR_INVALID_ARGUMENT);
    adapt_model *cycle = mlp_of(HIDDEN, 2);
    TU_FAILS(adapt_model_replace(m, "blocks.1", cycle, NULL), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_model_replace(mlp, "0", m, NULL), ADAPT_ERR_INVALID_ARGUMENT);
    adapt_submodule_info info = {.struct_size = sizeof info};
    TU_FAILS(adapt_model_submodule(&info, m, "blocks.1.mlp.9"), ADAPT_ERR_INVALID_ARGUMENT);
    info.struct_size = 0;
    TU_FAILS(adapt_model_submodule(&info, m, "blocks.1.mlp"), ADAPT_ERR_INVALID_ARGUMENT);
    adapt_model_free(cycle);
    adapt_model_free(wide);
    adapt_model_free(other);
    adapt_model_free(m);
    free(text);
}
END_TEST

/* Descriptions that name no submodule or carry no module are corrupt files. */
START_TEST(hostile_replacements_are_format_errors)
{
    adapt_model *m = vit(11);
    TU_OK(adapt_model_replace(m, "blocks.0.mlp", mlp_of(4, 3), NULL));
    const char *good = ad_model_architecture(m);
    adapt_model *back = NULL;
    TU_OK(ad_model_from_architecture(&back, good, INT64_MAX));
    adapt_model_free(back);
    const char *swaps[][2] = {{"blocks.0.mlp\"", "blocks.5.mlp\""},
                              {"\"module\":{", "\"module\":[{"},
                              {"\"path\":\"blocks.0.mlp\"", "\"path\":7"},
                              {"\"module\":{\"format\":1,\"kind\":\"sequential\"",
                               "\"module\":{\"format\":1,\"kind\":\"vit\""}};
    for (size_t i = 0; i < sizeof swaps / sizeof *swaps; i++) {
        const char *at = strstr(good, swaps[i][0]);
        ck_assert_ptr_nonnull(at);
        char bad[8192];
        snprintf(bad, sizeof bad, "%.*s%s%s", (int)(at - good), good, swaps[i][1],
                 at + strlen(swaps[i][0]));
        back = (adapt_model *)1;
        TU_FAILS(ad_model_from_architecture(&back, bad, INT64_MAX), ADAPT_ERR_FORMAT);
        ck_assert_ptr_eq(back, (adapt_model *)1);
    }
    TU_FAILS(ad_model_from_architecture(&back, good, 100), ADAPT_ERR_FORMAT); /* budget */
    adapt_model_free(m);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("replace");
    TCase *tc = tcase_create("replace");
    tcase_add_checked_fixture(tc, tu_scratch_setup, tu_scratch_teardown);
    tcase_add_test(tc, equivalent_replacement_computes_the_same);
    tcase_add_test(tc, costs_follow_the_replacement_and_the_original_comes_back);
    tcase_add_test(tc, attention_projections_are_submodules);
    tcase_add_test(tc, checkpoints_keep_replacements);
    tcase_add_test(tc, replacements_train_with_the_model);
    tcase_add_test(tc, per_sample_flops_follow_what_ran);
    tcase_add_test(tc, whole_layers_are_replaced_too);
    tcase_add_test(tc, slices_of_layers_are_submodules);
    tcase_add_test(tc, slices_are_refused_where_they_would_break);
    tcase_add_test(tc, refusals_change_nothing);
    tcase_add_test(tc, hostile_replacements_are_format_errors);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
