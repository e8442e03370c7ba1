/* Model merging (lib/transfer): the thin SVD, AXIS's pooled components against task vectors
 * built from known rank-one matrices, task arithmetic and TIES against values worked out by
 * hand, and refusals that leave the target untouched. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check_util.h"
#include "file_util.h"
#include "lib/linalg/svd.h"

START_TEST(the_thin_svd_reconstructs_with_orthonormal_factors)
{
    const int64_t shapes[2][2] = {{7, 5}, {5, 7}};
    for (int c = 0; c < 2; c++) {
        const int64_t m = shapes[c][0], n = shapes[c][1], k = m < n ? m : n;
        float values[35];
        double a[35], copy[35], u[35], s[5], vt[35];
        tu_fill(values, m * n, 3 + (uint64_t)c, -1.0f, 1.0f);
        for (int64_t j = 0; j < m * n; j++)
            a[j] = copy[j] = values[j];
        TU_OK(ad_svd_thin(a, m, n, u, s, vt, "test"));
        for (int64_t j = 1; j < k; j++)
            ck_assert(s[j] <= s[j - 1] && s[j] >= 0.0);
        for (int64_t r = 0; r < m; r++)
            for (int64_t q = 0; q < n; q++) {
                double sum = 0.0;
                for (int64_t j = 0; j < k; j++)
                    sum += u[r * k + j] * s[j] * vt[j * n + q];
                ck_assert_double_eq_tol(sum, copy[r * n + q], 1e-12);
            }
        for (int64_t i = 0; i < k; i++)
            for (int64_t j = 0; j < k; j++) {
                double uu = 0.0, vv = 0.0;
                for (int64_t r = 0; r < m; r++)
                    uu += u[r * k + i] * u[r * k + j];
                for (int64_t q = 0; q < n; q++)
                    vv += vt[i * n + q] * vt[j * n + q];
                ck_assert_double_eq_tol(uu, i == j, 1e-12);
                ck_assert_double_eq_tol(vv, i == j, 1e-12);
            }
    }
}
END_TEST

/* A single linear layer IN -> OUT (weight and bias): the base of the merges below. */
enum { IN = 6, OUT = 4 };

static adapt_model *linear_model(uint64_t seed)
{
    adapt_mlp_params p;
    adapt_mlp_params_init(&p, sizeof p);
    p.n_sizes = 2, p.sizes = (int64_t[]){IN, OUT}, p.seed = seed;
    adapt_model *m = NULL;
    TU_OK(adapt_model_create_mlp(&m, &p));
    return m;
}

static float *weight(adapt_model *m) { return adapt_tensor_data(adapt_model_param(m, 0)); }
static float *bias(adapt_model *m) { return adapt_tensor_data(adapt_model_param(m, 1)); }

/* A copy of base's values with sigma * a b^T added to its weight and `shift` to its bias,
 * a, b unit vectors along the given axes mixed by angle t. */
static adapt_model *source_of(adapt_model *base, double sigma, double t, int axis, float shift)
{
    adapt_model *m = linear_model(99);
    double a[OUT] = {0}, b[IN] = {0};
    a[axis % OUT] = cos(t), a[(axis + 1) % OUT] = sin(t);
    b[axis % IN] = sin(t), b[(axis + 2) % IN] = cos(t);
    for (int r = 0; r < OUT; r++)
        for (int c = 0; c < IN; c++)
            weight(m)[r * IN + c] = weight(base)[r * IN + c] + (float)(sigma * a[r] * b[c]);
    for (int r = 0; r < OUT; r++)
        bias(m)[r] = bias(base)[r] + shift;
    return m;
}

static void merge(adapt_model *target, adapt_model *base, adapt_model **sources, int n,
                  int32_t method, float keep, float scale, float density)
{
    adapt_merge_params p;
    adapt_merge_params_init(&p, sizeof p);
    p.method = method, p.keep_fraction = keep, p.scale = scale, p.density = density;
    TU_OK(adapt_models_merge(target, base, sources, n, &p));
}

/* Two sources, rank-one task vectors 3 a b^T and 2 c d^T (a orthogonal to c): keeping one
 * component (K = round(0.25 * 4) = 1) merges the larger alone, two (0.5) both; the biases
 * are the sources' mean. One source kept whole is that source. */
START_TEST(axis_keeps_the_largest_pooled_components)
{
    adapt_model *base = linear_model(1), *target = linear_model(2);
    adapt_model *sources[2] = {source_of(base, 3.0, 0.3, 0, 0.5f),
                               source_of(base, 2.0, 0.0, 2, -0.25f)};
    const float keeps[2] = {0.25f, 0.5f};
    for (int c = 0; c < 2; c++) {
        merge(target, base, sources, 2, ADAPT_MERGE_AXIS, keeps[c], 1.0f, 0.2f);
        for (int j = 0; j < OUT * IN; j++) {
            const float want = weight(sources[0])[j] +
                               (c ? weight(sources[1])[j] - weight(base)[j] : 0.0f);
            ck_assert_float_eq_tol(weight(target)[j], want, 1e-5f);
        }
        for (int r = 0; r < OUT; r++)
            ck_assert_float_eq_tol(bias(target)[r], bias(base)[r] + 0.125f, 1e-6f);
    }
    adapt_model *one = linear_model(7);
    merge(target, base, &one, 1, ADAPT_MERGE_AXIS, 1.0f, 1.0f, 0.2f);
    for (int j = 0; j < OUT * IN; j++)
        ck_assert_float_eq_tol(weight(target)[j], weight(one)[j], 1e-5f);
    adapt_model_free(one);
    adapt_model_free(sources[0]), adapt_model_free(sources[1]);
    adapt_model_free(base), adapt_model_free(target);
}
END_TEST

/* A convolution's weight [out, in, kh, kw] is a matrix out x (in kh kw): one CNN source kept
 * whole comes back exactly, every parameter of it. */
START_TEST(axis_reads_convolutions_as_matrices)
{
    static const int32_t channels[] = {4}, blocks[] = {1}, strides[] = {1};
    adapt_cnn_params p;
    adapt_cnn_params_init(&p, sizeof p);
    p.image_size = 8, p.n_classes = 3, p.stem_channels = 3, p.n_stages = 1;
    p.stage_channels = channels, p.stage_blocks = blocks, p.stage_strides = strides;
    adapt_model *m[3];
    for (int i = 0; i < 3; i++) {
        p.seed = 10 + (uint64_t)i;
        TU_OK(adapt_model_create_cnn(&m[i], &p));
    }
    merge(m[2], m[0], &m[1], 1, ADAPT_MERGE_AXIS, 1.0f, 1.0f, 0.2f);
    for (int32_t i = 0; i < adapt_model_param_count(m[0]); i++) {
        const adapt_tensor *got = adapt_model_param(m[2], i), *want = adapt_model_param(m[1], i);
        for (int64_t j = 0; j < adapt_tensor_numel(got); j++)
            ck_assert_msg(fabsf(adapt_tensor_data(got)[j] - adapt_tensor_data(want)[j]) <= 1e-5f,
                          "%s[%lld]", adapt_model_param_name(m[0], i), (long long)j);
    }
    for (int i = 0; i < 3; i++)
        adapt_model_free(m[i]);
}
END_TEST

/* Task vectors that move the layer's first four weights only (28 values in all): task
 * arithmetic, and TIES worked out by hand (keep each source's three largest magnitudes,
 * elect the signs, average the agreeing entries). */
START_TEST(task_arithmetic_and_ties_match_the_hand_computation)
{
    adapt_model *base = linear_model(1), *target = linear_model(2);
    adapt_model *sources[2] = {linear_model(3), linear_model(4)};
    const float d[2][OUT * IN + OUT] = {{4, -1, 0.5f, 2}, {-3, -2, 1, 0.1f}};
    for (int s = 0; s < 2; s++) {
        memcpy(weight(sources[s]), weight(base), OUT * IN * sizeof(float));
        memcpy(bias(sources[s]), bias(base), OUT * sizeof(float));
        for (int j = 0; j < 4; j++)
            weight(sources[s])[j] += d[s][j];
    }
    merge(target, base, sources, 2, ADAPT_MERGE_TASK_ARITHMETIC, 0.1f, 0.5f, 0.2f);
    for (int j = 0; j < OUT * IN; j++)
        ck_assert_float_eq_tol(weight(target)[j], weight(base)[j] + 0.5f * (d[0][j] + d[1][j]),
                               1e-6f);
    merge(target, base, sources, 2, ADAPT_MERGE_TIES, 0.1f, 1.0f, 3.0f / 28.0f);
    const float want[4] = {4, -1.5f, 1, 2};
    for (int j = 0; j < OUT * IN; j++)
        ck_assert_float_eq_tol(weight(target)[j], weight(base)[j] + (j < 4 ? want[j] : 0.0f),
                               1e-6f);
    for (int r = 0; r < OUT; r++)
        ck_assert_float_eq(bias(target)[r], bias(base)[r]);
    adapt_model_free(sources[0]), adapt_model_free(sources[1]);
    adapt_model_free(base), adapt_model_free(target);
}
END_TEST

START_TEST(bad_merges_are_refused_and_leave_the_target_alone)
{
    adapt_model *base = linear_model(1), *target = linear_model(2), *source = linear_model(3);
    adapt_mlp_params p;
    adapt_mlp_params_init(&p, sizeof p);
    p.n_sizes = 2, p.sizes = (int64_t[]){IN, OUT + 1};
    adapt_model *other = NULL;
    TU_OK(adapt_model_create_mlp(&other, &p));
    float before[OUT * IN];
    memcpy(before, weight(target), sizeof before);
    adapt_merge_params mp;
    adapt_merge_params_init(&mp, sizeof mp);
    adapt_model *sources[2] = {source, other};
    TU_FAILS(adapt_models_merge(target, base, sources, 2, &mp), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_models_merge(target, base, sources, 0, &mp), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_models_merge(base, base, sources, 1, &mp), ADAPT_ERR_INVALID_ARGUMENT);
    sources[1] = target;
    TU_FAILS(adapt_models_merge(target, base, sources, 2, &mp), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_models_merge(NULL, base, sources, 1, &mp), ADAPT_ERR_INVALID_ARGUMENT);
    const float fractions[] = {0.0f, 1.5f, NAN};
    for (int i = 0; i < 3; i++) {
        adapt_merge_params_init(&mp, sizeof mp);
        mp.keep_fraction = fractions[i];
        TU_FAILS(adapt_models_merge(target, base, sources, 1, &mp), ADAPT_ERR_INVALID_ARGUMENT);
        adapt_merge_params_init(&mp, sizeof mp);
        mp.density = fractions[i];
        TU_FAILS(adapt_models_merge(target, base, sources, 1, &mp), ADAPT_ERR_INVALID_ARGUMENT);
    }
    adapt_merge_params_init(&mp, sizeof mp);
    mp.scale = INFINITY;
    TU_FAILS(adapt_models_merge(target, base, sources, 1, &mp), ADAPT_ERR_NONFINITE);
    mp.scale = 1.0f, mp.method = 3;
    TU_FAILS(adapt_models_merge(target, base, sources, 1, &mp), ADAPT_ERR_INVALID_ARGUMENT);
    mp.method = ADAPT_MERGE_AXIS;
    weight(source)[5] = NAN;
    TU_FAILS(adapt_models_merge(target, base, sources, 1, &mp), ADAPT_ERR_NONFINITE);
    ck_assert_ptr_nonnull(strstr(adapt_last_error(), "sources[0]"));
    ck_assert_mem_eq(weight(target), before, sizeof before);
    weight(source)[5] = 0.0f;
    TU_OK(adapt_models_merge(target, base, sources, 1, &mp));
    adapt_model_free(other), adapt_model_free(source);
    adapt_model_free(base), adapt_model_free(target);
}
END_TEST

/* ---- the low-rank linear layer -------------------------------------------------------- */

enum { ROWS = 4, LIN = 5, LOUT = 3, RANK = 2 };

static adapt_model *low_rank_model(void)
{
    adapt_model *m = NULL;
    TU_OK(adapt_model_create_sequential(&m, 1, (int64_t[]){LIN}, 5));
    adapt_layer_params p;
    adapt_layer_params_init(&p, sizeof p);
    p.kind = ADAPT_LAYER_LOW_RANK_LINEAR, p.out_features = LOUT, p.rank = RANK;
    TU_OK(adapt_model_append(m, &p));
    for (int32_t i = 0; i < adapt_model_param_count(m); i++) { /* L is 0 at first: fill all */
        adapt_tensor *t = adapt_model_param(m, i);
        tu_fill(adapt_tensor_data(t), adapt_tensor_numel(t), 20 + (uint64_t)i, -1.0f, 1.0f);
    }
    return m;
}

typedef struct {
    adapt_model *model;
    const float *x; /* [ROWS, LIN] */
} model_args;

static adapt_status model_fwd(adapt_tensor **out, adapt_context *ctx, adapt_tensor **params,
                              void *arg)
{
    (void)params;
    const model_args *a = arg;
    adapt_tensor *input;
    adapt_status st = adapt_tensor_input(&input, ctx, 2, (int64_t[]){ROWS, LIN}, a->x);
    return st ? st : adapt_model_forward(out, ctx, a->model, input);
}

/* x W^T + b + ((x R^T) * s) L^T against double arithmetic, the gradient of every parameter
 * against central differences, refusals of a missing rank, and the names. */
START_TEST(low_rank_linear_adds_its_term_and_learns_every_part)
{
    adapt_model *m = low_rank_model();
    const char *names[] = {"0.weight", "0.bias", "0.left", "0.scales", "0.right"};
    ck_assert_int_eq(adapt_model_param_count(m), 5);
    const float *v[5];
    for (int i = 0; i < 5; i++) {
        ck_assert_str_eq(adapt_model_param_name(m, i), names[i]);
        v[i] = adapt_tensor_data(adapt_model_param(m, i));
    }
    adapt_context *ctx = tu_context(ADAPT_BACKEND_DEFAULT);
    TU_OK(adapt_context_set_grad(ctx, 1));
    float x[ROWS * LIN];
    tu_fill(x, ROWS * LIN, 9, -1.0f, 1.0f);
    adapt_tensor *input, *y;
    TU_OK(adapt_tensor_input(&input, ctx, 2, (int64_t[]){ROWS, LIN}, x));
    TU_OK(adapt_model_forward(&y, ctx, m, input));
    for (int n = 0; n < ROWS; n++)
        for (int o = 0; o < LOUT; o++) {
            double want = v[1][o];
            for (int i = 0; i < LIN; i++)
                want += (double)x[n * LIN + i] * v[0][o * LIN + i];
            for (int r = 0; r < RANK; r++) {
                double t = 0.0;
                for (int i = 0; i < LIN; i++)
                    t += (double)x[n * LIN + i] * v[4][r * LIN + i];
                want += t * v[3][r] * v[2][o * RANK + r];
            }
            ck_assert_double_eq_tol(adapt_tensor_data(y)[n * LOUT + o], want, 1e-5);
        }
    adapt_tensor *params[5];
    for (int i = 0; i < 5; i++)
        params[i] = adapt_model_param(m, i);
    model_args a = {m, x};
    tu_gradcheck(model_fwd, params, 5, &a, 1e-2, 2e-3, 50);
    const char *path = tu_in_scratch("low_rank.adapt"); /* a checkpoint keeps kind and rank */
    TU_OK(adapt_model_save(m, path));
    adapt_model *loaded = NULL;
    TU_OK(adapt_model_load(&loaded, path));
    for (int i = 0; i < 5; i++)
        ck_assert_mem_eq(adapt_tensor_data(adapt_model_param(loaded, i)), v[i],
                         (size_t)adapt_tensor_numel(params[i]) * sizeof(float));
    ck_assert_int_eq(adapt_model_flops(loaded), adapt_model_flops(m));
    adapt_model_free(loaded);
    adapt_context_free(ctx);
    adapt_model_free(m);
    adapt_layer_params p;
    adapt_layer_params_init(&p, sizeof p);
    p.kind = ADAPT_LAYER_LOW_RANK_LINEAR, p.out_features = LOUT;
    TU_OK(adapt_model_create_sequential(&m, 1, (int64_t[]){LIN}, 5));
    TU_FAILS(adapt_model_append(m, &p), ADAPT_ERR_INVALID_ARGUMENT);
    adapt_model_free(m);
}
END_TEST

/* ---- preparing a model for low-rank fine-tuning ---------------------------------------- */

enum { TUNE_N = 32, TUNE_IN = 6, TUNE_HIDDEN = 5, TUNE_OUT = 3, TUNE_SOURCES = 3 };

static adapt_model *small_mlp(uint64_t seed)
{
    adapt_mlp_params p;
    adapt_mlp_params_init(&p, sizeof p);
    p.n_sizes = 3, p.sizes = (int64_t[]){TUNE_IN, TUNE_HIDDEN, TUNE_OUT}, p.seed = seed;
    adapt_model *m = NULL;
    TU_OK(adapt_model_create_mlp(&m, &p));
    return m;
}

/* Models fine-tuned from base, faked: its values plus noise. */
static void fake_sources(adapt_model **sources, adapt_model *base)
{
    for (int s = 0; s < TUNE_SOURCES; s++) {
        sources[s] = small_mlp(1);
        for (int32_t i = 0; i < adapt_model_param_count(base); i++) {
            adapt_tensor *t = adapt_model_param(sources[s], i);
            float noise[64];
            tu_fill(noise, adapt_tensor_numel(t), 60 + (uint64_t)(s * 10 + i), -0.3f, 0.3f);
            for (int64_t j = 0; j < adapt_tensor_numel(t); j++)
                adapt_tensor_data(t)[j] = adapt_tensor_data(adapt_model_param(base, i))[j] +
                                          noise[j];
        }
    }
}

static float tune_x[TUNE_N * TUNE_IN];
static int32_t tune_y[TUNE_N];

/* The model's outputs on tune_x. */
static void outputs(float *out, adapt_model *m)
{
    adapt_context *ctx = tu_context(ADAPT_BACKEND_REFERENCE);
    adapt_tensor *x, *y;
    TU_OK(adapt_tensor_input(&x, ctx, 2, (int64_t[]){TUNE_N, TUNE_IN}, tune_x));
    TU_OK(adapt_model_forward(&y, ctx, m, x));
    memcpy(out, adapt_tensor_data(y), TUNE_N * TUNE_OUT * sizeof *out);
    adapt_context_free(ctx);
}

/* Trains a few steps and writes which parameters moved, in order, one letter each: 's' a
 * scales, 'l' / 'r' a left / right, 'o' any other. */
static void moved_after_training(adapt_model *m, char *moved)
{
    const int32_t n = adapt_model_param_count(m);
    float *before[16];
    for (int32_t i = 0; i < n; i++) {
        const adapt_tensor *t = adapt_model_param(m, i);
        before[i] = malloc((size_t)adapt_tensor_numel(t) * sizeof(float));
        memcpy(before[i], adapt_tensor_data(t), (size_t)adapt_tensor_numel(t) * sizeof(float));
    }
    adapt_dataset *ds = NULL;
    TU_OK(adapt_dataset_wrap(&ds, tune_x, 2, (int64_t[]){TUNE_N, TUNE_IN}, tune_y));
    adapt_train_params tp;
    adapt_train_params_init(&tp, sizeof tp);
    tp.epochs = 2, tp.batch_size = 8, tp.learning_rate = 0.1f, tp.n_threads = 1;
    TU_OK(adapt_model_train(m, ds, NULL, &tp));
    *moved = 0;
    for (int32_t i = 0; i < n; i++) {
        const adapt_tensor *t = adapt_model_param(m, i);
        if (memcmp(before[i], adapt_tensor_data(t),
                   (size_t)adapt_tensor_numel(t) * sizeof(float)) != 0) {
            const char *name = strrchr(adapt_model_param_name(m, i), '.') + 1;
            const size_t len = strlen(moved);
            moved[len] = !strcmp(name, "scales") ? 's' : !strcmp(name, "left") ? 'l'
                         : !strcmp(name, "right") ? 'r' : 'o';
            moved[len + 1] = 0;
        }
        free(before[i]);
    }
    adapt_dataset_free(ds);
}

/* Singular-value fine-tuning: with every component kept the prepared model computes what the
 * AXIS merge computes, with the pooled basis or the re-orthogonalised one (whose left vectors
 * are orthonormal), and training moves the singular values alone. */
START_TEST(singular_value_tuning_starts_at_the_merge_and_trains_only_the_values)
{
    tu_fill(tune_x, TUNE_N * TUNE_IN, 70, -1.0f, 1.0f);
    for (int i = 0; i < TUNE_N; i++)
        tune_y[i] = i % TUNE_OUT;
    adapt_model *base = small_mlp(1), *merged = small_mlp(2), *sources[TUNE_SOURCES];
    fake_sources(sources, base);
    merge(merged, base, sources, TUNE_SOURCES, ADAPT_MERGE_AXIS, 1.0f, 1.0f, 0.2f);
    float want[TUNE_N * TUNE_OUT], got[TUNE_N * TUNE_OUT];
    outputs(want, merged);
    for (int pooled = 0; pooled < 2; pooled++) {
        adapt_model *target = small_mlp(3);
        adapt_tune_params p;
        adapt_tune_params_init(&p, sizeof p);
        p.keep_fraction = 1.0f, p.trainable_fraction = 0.5f, p.keep_pooled_basis = pooled;
        TU_OK(adapt_model_low_rank_tune(target, base, sources, TUNE_SOURCES, &p));
        outputs(got, target);
        for (int j = 0; j < TUNE_N * TUNE_OUT; j++)
            ck_assert_float_eq_tol(got[j], want[j], 1e-4f);
        const adapt_tensor *left = adapt_model_param(target, 2); /* "0.0.left" [5, 3] */
        ck_assert_str_eq(adapt_model_param_name(target, 2), "0.0.left");
        ck_assert_int_eq(adapt_tensor_numel(left), TUNE_HIDDEN * 3); /* N = round(0.5 * 5) */
        for (int a = 0; !pooled && a < 3; a++)
            for (int b = 0; b < 3; b++) {
                double dot = 0.0;
                for (int r = 0; r < TUNE_HIDDEN; r++)
                    dot += (double)adapt_tensor_data(left)[r * 3 + a] *
                           adapt_tensor_data(left)[r * 3 + b];
                ck_assert_double_eq_tol(dot, a == b, 1e-5);
            }
        char moved[16];
        moved_after_training(target, moved);
        ck_assert_str_eq(moved, "ss");
        adapt_model_free(target);
    }
    for (int s = 0; s < TUNE_SOURCES; s++)
        adapt_model_free(sources[s]);
    adapt_model_free(base), adapt_model_free(merged);
}
END_TEST

/* LoRA starts as the base computes and trains its two factors alone; the trainable values
 * start at zero when asked; bad settings are refused. */
START_TEST(lora_starts_at_the_base_and_trains_only_its_factors)
{
    tu_fill(tune_x, TUNE_N * TUNE_IN, 71, -1.0f, 1.0f);
    for (int i = 0; i < TUNE_N; i++)
        tune_y[i] = (i * 7) % TUNE_OUT;
    adapt_model *base = small_mlp(1), *target = small_mlp(4);
    adapt_tune_params p;
    adapt_tune_params_init(&p, sizeof p);
    p.method = ADAPT_TUNE_LORA, p.rank = 2;
    TU_OK(adapt_model_low_rank_tune(target, base, NULL, 0, &p));
    float want[TUNE_N * TUNE_OUT], got[TUNE_N * TUNE_OUT];
    outputs(want, base);
    outputs(got, target);
    for (int j = 0; j < TUNE_N * TUNE_OUT; j++)
        ck_assert_float_eq_tol(got[j], want[j], 1e-5f);
    char moved[16];
    moved_after_training(target, moved);
    ck_assert_str_eq(moved, "lrlr");
    adapt_model_free(target);
    adapt_model *sources[TUNE_SOURCES];
    fake_sources(sources, base);
    target = small_mlp(4);
    adapt_tune_params_init(&p, sizeof p);
    p.zero_init = 1;
    TU_OK(adapt_model_low_rank_tune(target, base, sources, TUNE_SOURCES, &p));
    ck_assert_str_eq(adapt_model_param_name(target, 3), "0.0.scales");
    ck_assert_float_eq(adapt_tensor_data(adapt_model_param(target, 3))[0], 0.0f);
    adapt_model_free(target);
    target = small_mlp(4);
    const float before = adapt_tensor_data(adapt_model_param(target, 0))[0];
    adapt_tune_params bad[5];
    for (int i = 0; i < 5; i++)
        adapt_tune_params_init(&bad[i], sizeof bad[i]);
    bad[0].method = 2, bad[1].trainable_fraction = 0.0f, bad[2].method = ADAPT_TUNE_LORA;
    bad[2].rank = 0, bad[3].method = ADAPT_TUNE_LORA, bad[3].alpha = NAN;
    bad[4].keep_fraction = 2.0f;
    for (int i = 0; i < 5; i++)
        ck_assert_int_ne(adapt_model_low_rank_tune(target, base, sources, 1, &bad[i]), ADAPT_OK);
    TU_FAILS(adapt_model_low_rank_tune(target, base, sources, 0, NULL),
             ADAPT_ERR_INVALID_ARGUMENT); /* singular values need sources */
    ck_assert_float_eq(adapt_tensor_data(adapt_model_param(target, 0))[0], before);
    adapt_model_free(target);
    for (int s = 0; s < TUNE_SOURCES; s++)
        adapt_model_free(sources[s]);
    adapt_model_free(base);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("transfer");
    TCase *tc = tcase_create("transfer");
    tcase_add_checked_fixture(tc, tu_scratch_setup, tu_scratch_teardown);
    tcase_add_test(tc, the_thin_svd_reconstructs_with_orthonormal_factors);
    tcase_add_test(tc, axis_keeps_the_largest_pooled_components);
    tcase_add_test(tc, axis_reads_convolutions_as_matrices);
    tcase_add_test(tc, task_arithmetic_and_ties_match_the_hand_computation);
    tcase_add_test(tc, bad_merges_are_refused_and_leave_the_target_alone);
    tcase_add_test(tc, low_rank_linear_adds_its_term_and_learns_every_part);
    tcase_add_test(tc, singular_value_tuning_starts_at_the_merge_and_trains_only_the_values);
    tcase_add_test(tc, lora_starts_at_the_base_and_trains_only_its_factors);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
