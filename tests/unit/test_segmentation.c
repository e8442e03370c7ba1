/* Encoder-decoders (lib/models/join.c, the upsample2d, conv_transpose2d and concat kinds) and
 * segmentation training, prediction and scores (lib/segment): a small U-Net computes what its
 * layers composed by hand compute, gradients reach the encoder through both of its paths, it
 * survives a checkpoint, it learns a toy segmentation, and the scores are the counts worked
 * out here; refusals. */
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "check_util.h"
#include "file_util.h"

enum { N = 4, SIDE = 8, CLASSES = 3 };

static void append(adapt_model *m, adapt_layer_params p)
{
    p.struct_size = sizeof p;
    TU_OK(adapt_model_append(m, &p));
}

static adapt_layer_params layer(adapt_layer_kind kind)
{
    adapt_layer_params p;
    adapt_layer_params_init(&p, sizeof p);
    p.kind = kind;
    return p;
}

static adapt_layer_params conv(int64_t out, int32_t kernel, int32_t padding)
{
    adapt_layer_params p = layer(ADAPT_LAYER_CONV2D);
    p.out_features = out, p.kernel = kernel, p.padding = padding;
    return p;
}

/* 0 conv 4, 1 relu, 2 maxpool 2, 3 conv 8, 4 relu, 5 up (upsample2d or conv_transpose2d),
 * 6 concat block 1, 7 conv 4, 8 relu, 9 conv CLASSES (1x1). */
static adapt_model *unet(bool transposed, uint64_t seed)
{
    adapt_model *m = NULL;
    TU_OK(adapt_model_create_sequential(&m, 3, (int64_t[]){2, SIDE, SIDE}, seed));
    append(m, conv(4, 3, 1));
    append(m, layer(ADAPT_LAYER_RELU));
    adapt_layer_params pool = layer(ADAPT_LAYER_MAXPOOL2D);
    pool.kernel = 2, pool.stride = 2;
    append(m, pool);
    append(m, conv(8, 3, 1));
    append(m, layer(ADAPT_LAYER_RELU));
    adapt_layer_params up = layer(transposed ? ADAPT_LAYER_CONV_TRANSPOSE2D
                                             : ADAPT_LAYER_UPSAMPLE2D);
    up.out_features = 6, up.kernel = 2, up.stride = 2, up.scale = 2;
    up.upsample = ADAPT_UPSAMPLE_BILINEAR;
    append(m, up);
    adapt_layer_params skip = layer(ADAPT_LAYER_CONCAT);
    skip.source = 1;
    append(m, skip);
    append(m, conv(4, 3, 1));
    append(m, layer(ADAPT_LAYER_RELU));
    append(m, conv(CLASSES, 1, 0));
    return m;
}

static adapt_tensor *images(adapt_context *ctx, float *values)
{
    tu_fill(values, N * 2 * SIDE * SIDE, 3, -1.0f, 1.0f);
    adapt_tensor *x = NULL;
    TU_OK(adapt_tensor_input(&x, ctx, 4, (int64_t[]){N, 2, SIDE, SIDE}, values));
    return x;
}

/* The model's output, and its blocks run by hand with the skip joined by the concat op. */
START_TEST(the_join_concatenates_the_source_blocks_output)
{
    adapt_model *m = unet(_i, 1);
    ck_assert_int_eq(adapt_model_block_count(m), 10);
    adapt_context *ctx = tu_context(ADAPT_BACKEND_REFERENCE);
    TU_OK(adapt_context_set_grad(ctx, 0));
    static float x_values[N * 2 * SIDE * SIDE];
    adapt_tensor *x = images(ctx, x_values), *whole = NULL, *skip = NULL, *deep = NULL;
    TU_OK(adapt_model_forward(&whole, ctx, m, x));
    TU_OK(adapt_model_forward_blocks(&skip, ctx, m, x, 0, 2));
    TU_OK(adapt_model_forward_blocks(&deep, ctx, m, skip, 2, 6));
    adapt_tensor *joined = NULL, *tail = NULL;
    TU_OK(adapt_op_concat(&joined, ctx, (adapt_tensor *[]){deep, skip}, 2, 1));
    TU_OK(adapt_model_forward_blocks(&tail, ctx, m, joined, 7, 10)); /* 6 is the join */
    ck_assert_int_eq(adapt_tensor_numel(whole), N * CLASSES * SIDE * SIDE);
    ck_assert_mem_eq(adapt_tensor_data(whole), adapt_tensor_data(tail),
                     (size_t)adapt_tensor_numel(whole) * sizeof(float));
    adapt_tensor *y = NULL; /* a pass that starts after block 1 cannot join its output */
    TU_FAILS(adapt_model_forward_blocks(&y, ctx, m, skip, 2, 10), ADAPT_ERR_INVALID_ARGUMENT);
    adapt_context_free(ctx);
    adapt_model_free(m);
}
END_TEST

typedef struct {
    adapt_model *model;
    adapt_tensor *x;
} model_arg;

static adapt_status model_forward(adapt_tensor **out, adapt_context *ctx,
                                  adapt_tensor **params, void *arg)
{
    (void)params;
    const model_arg *a = arg;
    return adapt_model_forward(out, ctx, a->model, a->x);
}

/* The first convolution feeds the output along the deep path and the skip: central
 * differences see both. */
START_TEST(gradients_reach_the_encoder_through_the_skip)
{
    adapt_model *m = unet(_i, 2);
    adapt_tensor *x = tu_param(4, (int64_t[]){N, 2, SIDE, SIDE}, 9, -1.0f, 1.0f);
    model_arg arg = {m, x};
    adapt_tensor *params[] = {adapt_model_param(m, 0), adapt_model_param(m, 4),
                              adapt_model_param(m, adapt_model_param_count(m) - 2)};
    tu_gradcheck(model_forward, params, 3, &arg, 1e-4, 2e-2, 12);
    adapt_tensor_free(x);
    adapt_model_free(m);
}
END_TEST

START_TEST(a_checkpoint_keeps_the_encoder_decoder)
{
    adapt_model *m = unet(_i, 3), *back = NULL;
    const char *path = tu_in_scratch("unet.safetensors");
    TU_OK(adapt_model_save(m, path));
    TU_OK(adapt_model_load(&back, path));
    adapt_context *ctx = tu_context(ADAPT_BACKEND_REFERENCE);
    static float x_values[N * 2 * SIDE * SIDE];
    adapt_tensor *x = images(ctx, x_values), *a = NULL, *b = NULL;
    TU_OK(adapt_model_forward(&a, ctx, m, x));
    TU_OK(adapt_model_forward(&b, ctx, back, x));
    ck_assert_mem_eq(adapt_tensor_data(a), adapt_tensor_data(b),
                     (size_t)adapt_tensor_numel(a) * sizeof(float));
    ck_assert_int_eq(adapt_model_flops(back), adapt_model_flops(m));
    adapt_context_free(ctx);
    adapt_model_free(back);
    adapt_model_free(m);
}
END_TEST

START_TEST(bad_joins_are_refused)
{
    adapt_model *m = NULL;
    TU_OK(adapt_model_create_sequential(&m, 3, (int64_t[]){2, SIDE, SIDE}, 4));
    append(m, conv(4, 3, 1));
    adapt_layer_params pool = layer(ADAPT_LAYER_MAXPOOL2D);
    pool.kernel = 2, pool.stride = 2;
    append(m, pool);
    adapt_layer_params skip = layer(ADAPT_LAYER_CONCAT);
    skip.source = 0; /* 8 x 8 onto 4 x 4 */
    TU_FAILS(adapt_model_append(m, &skip), ADAPT_ERR_SHAPE);
    skip.source = 2; /* not an earlier block */
    TU_FAILS(adapt_model_append(m, &skip), ADAPT_ERR_INVALID_ARGUMENT);
    adapt_layer_params up = layer(ADAPT_LAYER_UPSAMPLE2D);
    up.upsample = 7;
    TU_FAILS(adapt_model_append(m, &up), ADAPT_ERR_INVALID_ARGUMENT);
    adapt_layer_params t = layer(ADAPT_LAYER_CONV_TRANSPOSE2D);
    t.out_features = 2, t.kernel = 1, t.padding = 3; /* (4 - 1) * 1 - 6 + 1 < 1 */
    TU_FAILS(adapt_model_append(m, &t), ADAPT_ERR_SHAPE);
    ck_assert_int_eq(adapt_model_block_count(m), 2);
    adapt_model_free(m);
    adapt_model *u = unet(false, 5), *slice = NULL; /* blocks 1-2 hold the skip's source */
    TU_OK(adapt_model_create_sequential(&slice, 3, (int64_t[]){2, SIDE, SIDE}, 6));
    append(slice, conv(4, 3, 1));
    append(slice, pool);
    TU_FAILS(adapt_model_replace(u, "0:3", slice, NULL), ADAPT_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(adapt_last_error(), "skip connection"));
    adapt_model_free(slice);
    adapt_model_free(u);
}
END_TEST

/* Toy task: the pixels of a bright square are class 1, of a dark one class 2, the rest 0. */
static void toy_scenes(float *x, int32_t *masks, int64_t n, uint64_t seed)
{
    tu_fill(x, n * 2 * SIDE * SIDE, seed, -0.2f, 0.2f);
    memset(masks, 0, (size_t)(n * SIDE * SIDE) * sizeof *masks);
    for (int64_t i = 0; i < n; i++)
        for (int k = 1; k <= 2; k++) {
            const int64_t r0 = (i * 3 + k * 5) % (SIDE - 3), c0 = (i * 5 + k * 2) % (SIDE - 3);
            for (int64_t r = r0; r < r0 + 3; r++)
                for (int64_t c = c0; c < c0 + 3; c++) {
                    x[((i * 2 + k - 1) * SIDE + r) * SIDE + c] = 1.0f;
                    masks[(i * SIDE + r) * SIDE + c] = k;
                }
        }
}

static double mean_iou(adapt_model *m, const float *x, const int32_t *masks, int64_t n)
{
    int32_t *predicted = malloc((size_t)(n * SIDE * SIDE) * sizeof *predicted);
    TU_OK(adapt_segmentation_predict(predicted, m, x, n, 1));
    adapt_segmentation_score s = {.struct_size = sizeof s};
    TU_OK(adapt_segmentation_scores(&s, NULL, predicted, masks, n * SIDE * SIDE, CLASSES));
    free(predicted);
    return s.mean_iou;
}

START_TEST(training_learns_a_toy_segmentation)
{
    enum { TRAIN = 64 };
    static float x[TRAIN * 2 * SIDE * SIDE];
    static int32_t masks[TRAIN * SIDE * SIDE];
    toy_scenes(x, masks, TRAIN, 5);
    adapt_model *m = unet(_i, 6);
    const double before = mean_iou(m, x, masks, TRAIN);
    adapt_train_params tp;
    adapt_train_params_init(&tp, sizeof tp);
    tp.epochs = 30, tp.batch_size = 16, tp.optimizer = ADAPT_OPTIMIZER_ADAMW;
    tp.learning_rate = 1e-2f, tp.n_threads = 1, tp.seed = 7;
    TU_OK(adapt_segmentation_train(m, x, masks, TRAIN, &tp));
    const double after = mean_iou(m, x, masks, TRAIN);
    ck_assert_msg(after > 0.9 && after > before, "mIoU %.3f -> %.3f", before, after);
    masks[5] = CLASSES; /* not a class of the model */
    TU_FAILS(adapt_segmentation_train(m, x, masks, TRAIN, &tp), ADAPT_ERR_INVALID_ARGUMENT);
    masks[5] = 0, x[9] = NAN;
    TU_FAILS(adapt_segmentation_train(m, x, masks, TRAIN, &tp), ADAPT_ERR_NONFINITE);
    int32_t out[SIDE * SIDE];
    TU_FAILS(adapt_segmentation_predict(out, m, x, 1, 1), ADAPT_ERR_NONFINITE);
    adapt_model *flat = NULL;
    TU_OK(adapt_model_create_sequential(&flat, 1, (int64_t[]){4}, 1));
    append(flat, layer(ADAPT_LAYER_RELU));
    TU_FAILS(adapt_segmentation_train(flat, x, masks, TRAIN, &tp), ADAPT_ERR_SHAPE);
    adapt_model_free(flat);
    adapt_model_free(m);
}
END_TEST

/* IoU per class from counts worked out by hand; unlabelled pixels (-1) do not count; a
 * class in neither map has no IoU (NaN) and stays out of the mean. */
START_TEST(scores_are_the_counts)
{
    const int32_t truth[] = {0, 0, 1, 1, 1, -1, 2, 0};
    const int32_t predicted[] = {0, 1, 1, 1, 0, 2, 2, 0};
    double iou[4];
    adapt_segmentation_score s = {.struct_size = sizeof s};
    TU_OK(adapt_segmentation_scores(&s, iou, predicted, truth, 8, 4));
    ck_assert_double_eq_tol(iou[0], 2.0 / 4.0, 1e-12); /* both 2; truth 3, predicted 3 */
    ck_assert_double_eq_tol(iou[1], 2.0 / 4.0, 1e-12); /* both 2; truth 3, predicted 3 */
    ck_assert_double_eq_tol(iou[2], 1.0, 1e-12);
    ck_assert(isnan(iou[3]));
    ck_assert_double_eq_tol(s.mean_iou, 2.0 / 3.0, 1e-12);
    ck_assert_double_eq_tol(s.pixel_accuracy, 5.0 / 7.0, 1e-12);
    ck_assert_int_eq(s.pixels, 7);
    ck_assert_int_eq(s.classes_seen, 3);
    const int32_t bad[] = {0, 4};
    TU_FAILS(adapt_segmentation_scores(&s, iou, bad, truth, 2, 4), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_segmentation_scores(&s, iou, predicted, truth, 8, 0),
             ADAPT_ERR_INVALID_ARGUMENT);
    adapt_segmentation_score unset = {0};
    TU_FAILS(adapt_segmentation_scores(&unset, iou, predicted, truth, 8, 4),
             ADAPT_ERR_INVALID_ARGUMENT);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("segmentation");
    TCase *tc = tcase_create("segmentation");
    tcase_set_timeout(tc, 120);
    tcase_add_checked_fixture(tc, tu_scratch_setup, tu_scratch_teardown);
    tcase_add_loop_test(tc, the_join_concatenates_the_source_blocks_output, 0, 2);
    tcase_add_loop_test(tc, gradients_reach_the_encoder_through_the_skip, 0, 2);
    tcase_add_loop_test(tc, a_checkpoint_keeps_the_encoder_decoder, 0, 2);
    tcase_add_test(tc, bad_joins_are_refused);
    tcase_add_loop_test(tc, training_learns_a_toy_segmentation, 0, 2);
    tcase_add_test(tc, scores_are_the_counts);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
