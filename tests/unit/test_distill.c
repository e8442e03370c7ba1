/* Recording a submodule over a dataset and distilling modules from recordings
 * (lib/train/record.c, distill.c): the recorded rows are what a forward pass computes there,
 * bit for bit, in memory and spooled; the model is as it was afterwards; a distilled module's
 * error falls, also on a recording made from arrays; refusals. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_util.h"
#include "file_util.h"
#include "lib/models/model_impl.h"

enum { N = 24, BATCH = 8, TOKENS = 5, DIM = 8 };

static float images[N * 64];
static int32_t labels[N];

static adapt_model *vit(uint64_t seed)
{
    adapt_vit_params p;
    adapt_vit_params_init(&p, sizeof p);
    p.image_size = 8, p.in_channels = 1, p.patch = 4, p.dim = DIM, p.depth = 2, p.heads = 2;
    p.mlp_ratio = 2.0f, p.n_classes = 4, p.seed = seed;
    adapt_model *m = NULL;
    TU_OK(adapt_model_create_vit(&m, &p));
    return m;
}

static adapt_dataset *images_set(void)
{
    tu_fill(images, N * 64, 21, -1, 1);
    adapt_dataset *d = NULL;
    TU_OK(adapt_dataset_wrap(&d, images, 4, (int64_t[]){N, 1, 8, 8}, labels));
    return d;
}

static adapt_record_params record_params(const char *spool)
{
    adapt_record_params p;
    adapt_record_params_init(&p, sizeof p);
    p.batch_size = BATCH, p.n_threads = 1, p.spool_prefix = spool;
    return p;
}

/* Blocks [first, last) of m on the images, batch by batch as the recording runs them. */
static void forward_rows(float *out, adapt_model *m, int32_t first, int32_t last, int64_t row)
{
    adapt_context *ctx = tu_context_threads(ADAPT_BACKEND_DEFAULT, 1);
    for (int64_t start = 0; start < N; start += BATCH) {
        adapt_context_reset(ctx);
        adapt_tensor *x, *y;
        TU_OK(adapt_tensor_input(&x, ctx, 4, (int64_t[]){BATCH, 1, 8, 8}, images + start * 64));
        TU_OK(adapt_model_forward_blocks(&y, ctx, m, x, 0, first));
        TU_OK(adapt_model_forward_blocks(&y, ctx, m, y, first, last));
        memcpy(out + start * row, adapt_tensor_data(y), (size_t)(BATCH * row) * sizeof(float));
    }
    adapt_context_free(ctx);
}

START_TEST(recording_is_what_the_forward_computes)
{
    adapt_model *m = vit(1);
    adapt_dataset *d = images_set();
    const adapt_record_params p = record_params(_i ? tu_in_scratch("rec") : NULL);
    adapt_recording *r = NULL;
    TU_OK(adapt_model_record(&r, m, "blocks.0", d, &p));
    int32_t ndim = 0;
    int64_t shape[ADAPT_MAX_DIMS];
    const float *in = adapt_recording_data(r, 0, &ndim, shape);
    ck_assert_int_eq(ndim, 3);
    ck_assert_int_eq(shape[0], N);
    ck_assert_int_eq(shape[1], TOKENS);
    ck_assert_int_eq(shape[2], DIM);
    float *want = malloc(N * TOKENS * DIM * sizeof *want);
    forward_rows(want, m, 1, 1, TOKENS * DIM); /* the patch embedding's output */
    ck_assert_mem_eq(in, want, N * TOKENS * DIM * sizeof *want);
    forward_rows(want, m, 1, 2, TOKENS * DIM);
    ck_assert_mem_eq(adapt_recording_data(r, 1, NULL, NULL), want, N * TOKENS * DIM * 4);
    if (_i) { /* numpy-readable files with the same rows */
        float *file = NULL;
        TU_OK(adapt_npy_read(&file, &ndim, shape, tu_in_scratch("rec.outputs.npy")));
        ck_assert_int_eq(ndim, 3);
        ck_assert_mem_eq(file, want, N * TOKENS * DIM * sizeof *want);
        free(file);
    }
    free(want);
    adapt_recording_free(r);
    adapt_dataset_free(d);
    adapt_model_free(m);
}
END_TEST

/* Recording the convolution of a fused stem: the tap splits the fusion while it records,
 * and the block is fused again afterwards, with the same output. */
START_TEST(recording_leaves_the_model_as_it_was)
{
    adapt_cnn_params p;
    adapt_cnn_params_init(&p, sizeof p);
    p.in_channels = 1, p.image_size = 8, p.n_classes = 4, p.stem_channels = 4, p.n_stages = 1;
    p.stage_channels = (int32_t[]){4}, p.stage_blocks = (int32_t[]){1};
    p.stage_strides = (int32_t[]){1};
    adapt_model *m = NULL;
    TU_OK(adapt_model_create_cnn(&m, &p));
    adapt_dataset *d = images_set();
    float before[N * 4], after[N * 4];
    forward_rows(before, m, 0, m->n_blocks, 4);
    char *text = malloc(strlen(ad_model_architecture(m)) + 1);
    strcpy(text, ad_model_architecture(m));
    const adapt_record_params rp = record_params(NULL);
    adapt_recording *r = NULL;
    TU_OK(adapt_model_record(&r, m, "stem.0", d, &rp));
    int64_t shape[ADAPT_MAX_DIMS];
    adapt_recording_data(r, 1, NULL, shape);
    ck_assert_int_eq(shape[1], 4); /* the convolution's own output, before batch norm */
    const float *conv = adapt_recording_data(r, 1, NULL, NULL);
    bool negative = false;
    for (int64_t i = 0; i < N * 4 * 64; i++)
        negative |= conv[i] < 0.0f; /* no ReLU fused into what was recorded */
    ck_assert(negative);
    ck_assert_int_eq(m->blocks[0].plan.n_steps, 1);
    ck_assert_int_eq(m->blocks[0].plan.steps[0].kind, AD_STEP_CONV_BN_RELU);
    forward_rows(after, m, 0, m->n_blocks, 4);
    ck_assert_mem_eq(before, after, sizeof before);
    ck_assert_str_eq(ad_model_architecture(m), text);
    free(text);
    adapt_recording_free(r);
    adapt_dataset_free(d);
    adapt_model_free(m);
}
END_TEST

static adapt_model *mlp_of(int64_t hidden, uint64_t seed)
{
    return tu_token_mlp(TOKENS, DIM, hidden, seed);
}

/* Mean squared error of module on a recording's rows. */
static double error_of(adapt_model *module, const adapt_recording *r)
{
    adapt_context *ctx = tu_context(ADAPT_BACKEND_REFERENCE);
    adapt_tensor *x, *y;
    TU_OK(adapt_tensor_input(&x, ctx, 3, (int64_t[]){N, TOKENS, DIM},
                             adapt_recording_data(r, 0, NULL, NULL)));
    TU_OK(adapt_model_forward(&y, ctx, module, x));
    const float *got = adapt_tensor_data(y), *want = adapt_recording_data(r, 1, NULL, NULL);
    double sum = 0.0;
    for (int64_t i = 0; i < N * TOKENS * DIM; i++)
        sum += ((double)got[i] - want[i]) * ((double)got[i] - want[i]);
    adapt_context_free(ctx);
    return sum / (N * TOKENS * DIM);
}

static int steps;
static void count_steps(const adapt_progress *p, void *user)
{
    (void)p, (void)user;
    steps++;
}

/* Two MLPs learn the MLPs of both blocks at once, each on its own block's inputs. */
START_TEST(distilled_modules_learn_their_submodules)
{
    adapt_model *m = vit(2);
    adapt_dataset *d = images_set();
    const adapt_record_params rp = record_params(NULL);
    adapt_recording *r[2] = {NULL, NULL};
    TU_OK(adapt_model_record(&r[0], m, "blocks.0.mlp", d, &rp));
    TU_OK(adapt_model_record(&r[1], m, "blocks.1.mlp", d, &rp));
    adapt_model *students[2] = {mlp_of(16, 3), mlp_of(16, 4)};
    const double before[2] = {error_of(students[0], r[0]), error_of(students[1], r[1])};
    adapt_train_params tp;
    adapt_train_params_init(&tp, sizeof tp);
    tp.epochs = 40, tp.batch_size = 8, tp.optimizer = ADAPT_OPTIMIZER_ADAMW;
    tp.learning_rate = 1e-2f, tp.n_threads = 1, tp.progress = count_steps;
    steps = 0;
    TU_OK(adapt_modules_distill(students, (const adapt_recording *const *)r, 2, &tp));
    ck_assert_int_eq(steps, 40 * N / 8);
    for (int i = 0; i < 2; i++) {
        const double after = error_of(students[i], r[i]);
        ck_assert_msg(after < 0.25 * before[i], "module %d: mse %g -> %g", i, before[i], after);
    }
    for (int i = 0; i < 2; i++) {
        adapt_model_free(students[i]);
        adapt_recording_free(r[i]);
    }
    adapt_dataset_free(d);
    adapt_model_free(m);
}
END_TEST

/* A recording made from arrays holds them, and a module distilled on it learns their map. */
START_TEST(recordings_from_arrays_train_modules)
{
    static float x[N * TOKENS * DIM], y[N * TOKENS * DIM];
    tu_fill(x, N * TOKENS * DIM, 31, -1, 1);
    adapt_model *teacher = mlp_of(16, 7), *student = mlp_of(16, 8);
    adapt_context *ctx = tu_context(ADAPT_BACKEND_REFERENCE);
    adapt_tensor *in, *out;
    TU_OK(adapt_tensor_input(&in, ctx, 3, (int64_t[]){N, TOKENS, DIM}, x));
    TU_OK(adapt_model_forward(&out, ctx, teacher, in));
    memcpy(y, adapt_tensor_data(out), sizeof y);
    adapt_context_free(ctx);
    adapt_recording *r = NULL;
    const int64_t row[] = {TOKENS, DIM};
    TU_OK(adapt_recording_create(&r, x, 2, row, y, 2, row, N));
    int32_t ndim = 0;
    int64_t shape[ADAPT_MAX_DIMS];
    ck_assert_mem_eq(adapt_recording_data(r, 0, &ndim, shape), x, sizeof x);
    ck_assert_mem_eq(adapt_recording_data(r, 1, NULL, NULL), y, sizeof y);
    ck_assert_int_eq(ndim, 3);
    ck_assert(shape[0] == N && shape[1] == TOKENS && shape[2] == DIM);
    const double before = error_of(student, r);
    adapt_train_params tp;
    adapt_train_params_init(&tp, sizeof tp);
    tp.epochs = 40, tp.batch_size = 8, tp.optimizer = ADAPT_OPTIMIZER_ADAMW;
    tp.learning_rate = 1e-2f, tp.n_threads = 1;
    TU_OK(adapt_modules_distill(&student, (const adapt_recording *const *)&r, 1, &tp));
    const double after = error_of(student, r);
    ck_assert_msg(after < 0.25 * before, "mse %g -> %g", before, after);
    adapt_recording_free(r);
    adapt_model_free(student);
    adapt_model_free(teacher);
}
END_TEST

START_TEST(refusals)
{
    adapt_model *m = vit(5), *wide = mlp_of(4, 1), *ok = mlp_of(4, 2);
    adapt_dataset *d = images_set(), *few = NULL, *empty = NULL;
    TU_OK(adapt_dataset_wrap(&few, images, 4, (int64_t[]){N / 2, 1, 8, 8}, labels));
    TU_OK(adapt_dataset_wrap(&empty, images, 4, (int64_t[]){0, 1, 8, 8}, labels));
    adapt_record_params rp = record_params(NULL);
    adapt_recording *r = (adapt_recording *)1, *half = NULL, *attn = NULL;
    TU_FAILS(adapt_model_record(&r, m, "blocks.4.mlp", d, &rp), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_model_record(&r, m, "blocks.0.mlp", empty, &rp), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_model_record(&r, NULL, "blocks.0.mlp", d, &rp), ADAPT_ERR_INVALID_ARGUMENT);
    rp.batch_size = 0;
    TU_FAILS(adapt_model_record(&r, m, "blocks.0.mlp", d, &rp), ADAPT_ERR_INVALID_ARGUMENT);
    rp.batch_size = BATCH, rp.spool_prefix = "/nonexistent/dir/rec";
    TU_FAILS(adapt_model_record(&r, m, "blocks.0.mlp", d, &rp), ADAPT_ERR_IO);
    ck_assert_ptr_eq(r, (adapt_recording *)1);
    rp.spool_prefix = NULL;
    TU_OK(adapt_model_record(&r, m, "blocks.0.mlp", d, &rp));
    TU_OK(adapt_model_record(&half, m, "blocks.1.mlp", few, &rp));
    TU_OK(adapt_model_record(&attn, m, "patch_embed", d, &rp));
    adapt_model *one[] = {ok}, *two[] = {ok, wide};
    const adapt_recording *mixed[] = {r, half}, *images_in[] = {attn};
    TU_FAILS(adapt_modules_distill(one, images_in, 1, NULL), ADAPT_ERR_SHAPE);
    TU_FAILS(adapt_modules_distill(two, mixed, 2, NULL), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_modules_distill(one, mixed, 0, NULL), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_modules_distill(NULL, mixed, 1, NULL), ADAPT_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_null(adapt_recording_data(NULL, 0, NULL, NULL));
    const int64_t row[] = {64}, zero[] = {0};
    float nan_at_end[N * 64];
    memcpy(nan_at_end, images, sizeof nan_at_end);
    nan_at_end[N * 64 - 1] = NAN;
    adapt_recording *made = (adapt_recording *)1;
    TU_FAILS(adapt_recording_create(&made, images, 1, row, nan_at_end, 1, row, N),
             ADAPT_ERR_NONFINITE);
    TU_FAILS(adapt_recording_create(&made, images, 1, row, images, 1, row, 0),
             ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_recording_create(&made, images, 0, row, images, 1, row, N),
             ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_recording_create(&made, images, 1, zero, images, 1, row, N),
             ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_recording_create(&made, images, 1, row, NULL, 1, row, N),
             ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_recording_create(&made, images, 1, row, images, ADAPT_MAX_DIMS, row, N),
             ADAPT_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_eq(made, (adapt_recording *)1);
    adapt_recording_free(NULL);
    adapt_recording_free(r);
    adapt_recording_free(half);
    adapt_recording_free(attn);
    adapt_dataset_free(d);
    adapt_dataset_free(few);
    adapt_dataset_free(empty);
    adapt_model_free(wide);
    adapt_model_free(ok);
    adapt_model_free(m);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("distill");
    TCase *tc = tcase_create("distill");
    tcase_set_timeout(tc, 120);
    tcase_add_checked_fixture(tc, tu_scratch_setup, tu_scratch_teardown);
    tcase_add_loop_test(tc, recording_is_what_the_forward_computes, 0, 2);
    tcase_add_test(tc, recording_leaves_the_model_as_it_was);
    tcase_add_test(tc, distilled_modules_learn_their_submodules);
    tcase_add_test(tc, recordings_from_arrays_train_modules);
    tcase_add_test(tc, refusals);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
