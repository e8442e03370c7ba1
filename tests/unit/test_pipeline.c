/* Pipelines (lib/pipeline): four stages of hand-set models on an image of two bright squares
 * give the maps, crops and reports worked out here; a stage replaced by a model of the same
 * signature runs, one of another signature is refused and the pipeline still runs; a saved
 * pipeline loads and gives the same results; bad descriptions, names, routes and images are
 * refused. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_util.h"
#include "file_util.h"

enum { SIDE = 12, CROP = 4 };

static void append(adapt_model *m, adapt_layer_kind kind, int64_t out, int32_t kernel)
{
    adapt_layer_params p;
    adapt_layer_params_init(&p, sizeof p);
    p.kind = kind, p.out_features = out, p.kernel = kernel;
    TU_OK(adapt_model_append(m, &p));
}

static void set(adapt_model *m, int32_t param, const float *values)
{
    adapt_tensor *t = adapt_model_param(m, param);
    memcpy(adapt_tensor_data(t), values, (size_t)adapt_tensor_numel(t) * sizeof *values);
}

/* A 1x1 convolution on [1, side, side] scoring class 1 where the pixel is above 0.5. */
static adapt_model *threshold(int64_t side)
{
    adapt_model *m = NULL;
    TU_OK(adapt_model_create_sequential(&m, 3, (int64_t[]){1, side, side}, 1));
    append(m, ADAPT_LAYER_CONV2D, 2, 1);
    set(m, 0, (const float[]){-1.0f, 1.0f});
    set(m, 1, (const float[]){0.5f, -0.5f});
    return m;
}

/* A classifier of [1, CROP, CROP] crops: class 2 when their mean is above 0.2, else 0. */
static adapt_model *grader(void)
{
    adapt_model *m = NULL;
    TU_OK(adapt_model_create_sequential(&m, 3, (int64_t[]){1, CROP, CROP}, 2));
    append(m, ADAPT_LAYER_FLATTEN, 0, 1);
    append(m, ADAPT_LAYER_LINEAR, 3, 1);
    float w[3 * CROP * CROP];
    for (int i = 0; i < CROP * CROP; i++)
        w[i] = 0.0f, w[CROP * CROP + i] = -1e-3f, w[2 * CROP * CROP + i] = 1.0f / (CROP * CROP);
    set(m, 0, w);
    set(m, 1, (const float[]){0.2f, 0.0f, 0.0f});
    return m;
}

static adapt_stage_params stage(const char *name, adapt_stage_input input,
                                adapt_stage_output output, const char *source)
{
    adapt_stage_params s;
    adapt_stage_params_init(&s, sizeof s);
    s.name = name, s.input = input, s.output = output, s.source = source, s.margin = 1;
    return s;
}

/* fg (image) -> parts (masked by fg) -> defects (crops of fg) -> grade (crops of fg). */
static adapt_pipeline *four_stages(void)
{
    adapt_pipeline *p = NULL;
    TU_OK(adapt_pipeline_create(&p));
    adapt_stage_params s = stage("fg", ADAPT_STAGE_IMAGE, ADAPT_STAGE_SEGMENT, NULL);
    TU_OK(adapt_pipeline_add(p, &s, threshold(SIDE)));
    s = stage("parts", ADAPT_STAGE_MASKED, ADAPT_STAGE_SEGMENT, "fg");
    TU_OK(adapt_pipeline_add(p, &s, threshold(SIDE)));
    s = stage("defects", ADAPT_STAGE_CROPS, ADAPT_STAGE_SEGMENT, "fg");
    TU_OK(adapt_pipeline_add(p, &s, threshold(CROP)));
    s = stage("grade", ADAPT_STAGE_CROPS, ADAPT_STAGE_CLASSIFY, "fg");
    TU_OK(adapt_pipeline_add(p, &s, grader()));
    return p;
}

/* Two bright squares: rows 1-3 x cols 1-3 and rows 6-10 x cols 5-9. */
static void two_squares(float *image)
{
    memset(image, 0, SIDE * SIDE * sizeof *image);
    for (int r = 0; r < SIDE; r++)
        for (int c = 0; c < SIDE; c++)
            if ((r >= 1 && r < 4 && c >= 1 && c < 4) || (r >= 6 && r < 11 && c >= 5 && c < 10))
                image[r * SIDE + c] = 1.0f;
}

static const int64_t shape[] = {1, SIDE, SIDE};

static void check_result(const adapt_pipeline_result *r, const float *image)
{
    int64_t h = 0, w = 0;
    const int32_t *fg = adapt_pipeline_result_map(r, "fg", &h, &w);
    const int32_t *grade = adapt_pipeline_result_map(r, "grade", NULL, NULL);
    ck_assert(fg && grade && h == SIDE && w == SIDE);
    for (int64_t i = 0; i < SIDE * SIDE; i++) {
        ck_assert_int_eq(fg[i], image[i] > 0.5f);
        ck_assert_int_eq(grade[i], fg[i] ? 3 : 0); /* class 2 + 1 on every component */
    }
    ck_assert_int_eq(adapt_pipeline_result_crop_count(r, "defects"), 2);
    adapt_pipeline_crop c = {.struct_size = sizeof c};
    TU_OK(adapt_pipeline_result_crop(r, "grade", 1, &c));
    ck_assert(c.row0 == 5 && c.col0 == 4 && c.row1 == 12 && c.col1 == 11); /* margin 1 */
    ck_assert(c.pixels == 25 && c.label == 1 && c.class_id == 2);
    adapt_stage_report rep = {.struct_size = sizeof rep};
    TU_OK(adapt_pipeline_result_report(r, "defects", &rep));
    ck_assert(rep.inputs == 2 && rep.flops == 2 * 2 * 2 * CROP * CROP && rep.seconds >= 0.0);
}

START_TEST(four_stages_give_the_maps_crops_and_reports)
{
    static float image[SIDE * SIDE];
    two_squares(image);
    adapt_pipeline *p = four_stages();
    adapt_pipeline_result *r = NULL;
    TU_OK(adapt_pipeline_run(&r, p, image, shape, 1));
    check_result(r, image);
    const int32_t *defects = adapt_pipeline_result_map(r, "defects", NULL, NULL);
    ck_assert_int_eq(defects[2 * SIDE + 2], 1); /* inside a square: bright */
    ck_assert_int_eq(defects[0], 0);            /* outside every component: untouched */
    adapt_pipeline_crop c = {.struct_size = sizeof c};
    TU_FAILS(adapt_pipeline_result_crop(r, "grade", 2, &c), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_pipeline_result_crop(r, "nothing", 0, &c), ADAPT_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_null(adapt_pipeline_result_map(r, "nothing", NULL, NULL));
    adapt_pipeline_result_free(r);
    adapt_pipeline_free(p);
}
END_TEST

START_TEST(stages_are_replaced_by_models_of_their_signature_only)
{
    static float image[SIDE * SIDE];
    two_squares(image);
    adapt_pipeline *p = four_stages();
    adapt_model *wrong = threshold(CROP), *previous = NULL;
    TU_FAILS(adapt_pipeline_replace(p, "fg", wrong, &previous), ADAPT_ERR_SHAPE);
    TU_FAILS(adapt_pipeline_replace(p, "nothing", wrong, &previous), ADAPT_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_null(previous);
    adapt_pipeline_result *r = NULL;
    TU_OK(adapt_pipeline_run(&r, p, image, shape, 1)); /* still works */
    check_result(r, image);
    adapt_pipeline_result_free(r);
    adapt_model *inverted = threshold(SIDE); /* now the dark pixels are foreground */
    set(inverted, 0, (const float[]){1.0f, -1.0f});
    set(inverted, 1, (const float[]){-0.5f, 0.5f});
    TU_OK(adapt_pipeline_replace(p, "fg", inverted, &previous));
    ck_assert_ptr_nonnull(previous);
    ck_assert_ptr_eq(adapt_pipeline_stage_model(p, "fg"), inverted);
    TU_OK(adapt_pipeline_run(&r, p, image, shape, 1));
    const int32_t *fg = adapt_pipeline_result_map(r, "fg", NULL, NULL);
    ck_assert_int_eq(fg[0], 1);
    ck_assert_int_eq(fg[2 * SIDE + 2], 0);
    ck_assert_int_eq(adapt_pipeline_result_crop_count(r, "grade"), 1); /* the dark frame */
    adapt_pipeline_result_free(r);
    adapt_model_free(previous);
    adapt_model_free(wrong);
    adapt_pipeline_free(p);
}
END_TEST

START_TEST(a_saved_pipeline_loads_and_runs_the_same)
{
    static float image[SIDE * SIDE];
    two_squares(image);
    adapt_pipeline *p = four_stages(), *back = NULL;
    TU_OK(adapt_pipeline_save(p, tu_scratch_dir()));
    TU_OK(adapt_pipeline_load(&back, tu_scratch_dir()));
    ck_assert_int_eq(adapt_pipeline_stage_count(back), 4);
    ck_assert_str_eq(adapt_pipeline_stage_name(back, 2), "defects");
    adapt_pipeline_result *a = NULL, *b = NULL;
    TU_OK(adapt_pipeline_run(&a, p, image, shape, 1));
    TU_OK(adapt_pipeline_run(&b, back, image, shape, 1));
    for (int s = 0; s < 4; s++) {
        const char *name = adapt_pipeline_stage_name(p, s);
        ck_assert_mem_eq(adapt_pipeline_result_map(a, name, NULL, NULL),
                         adapt_pipeline_result_map(b, name, NULL, NULL),
                         SIDE * SIDE * sizeof(int32_t));
    }
    check_result(b, image);
    adapt_pipeline_result_free(a);
    adapt_pipeline_result_free(b);
    adapt_pipeline_free(back);
    adapt_pipeline_free(p);
}
END_TEST

/* pipeline.json rewritten with `from` replaced by `to` must be refused as FORMAT. */
static void load_fails_with(const char *from, const char *to, adapt_status want)
{
    const char *path = tu_in_scratch("pipeline.json");
    size_t len = 0;
    unsigned char *text = tu_slurp(path, &len);
    text[len] = 0; /* the spare byte */
    char *at = strstr((char *)text, from);
    ck_assert_msg(at != NULL, "no %s in pipeline.json", from);
    char edited[8192];
    snprintf(edited, sizeof edited, "%.*s%s%s", (int)(at - (char *)text), (char *)text, to,
             at + strlen(from));
    tu_write_file(path, edited, strlen(edited));
    adapt_pipeline *p = (adapt_pipeline *)&p, *const untouched = p;
    TU_FAILS(adapt_pipeline_load(&p, tu_scratch_dir()), want);
    ck_assert_ptr_eq(p, untouched);
    tu_write_file(path, text, len);
    free(text);
}

START_TEST(bad_routes_names_images_and_descriptions_are_refused)
{
    adapt_pipeline *p = four_stages();
    adapt_model *m = threshold(SIDE);
    adapt_stage_params s = stage("late", ADAPT_STAGE_MASKED, ADAPT_STAGE_SEGMENT, "later");
    TU_FAILS(adapt_pipeline_add(p, &s, m), ADAPT_ERR_INVALID_ARGUMENT); /* unknown source */
    s = stage("fg", ADAPT_STAGE_IMAGE, ADAPT_STAGE_SEGMENT, NULL);
    TU_FAILS(adapt_pipeline_add(p, &s, m), ADAPT_ERR_INVALID_ARGUMENT); /* name taken */
    s = stage("bad/name", ADAPT_STAGE_IMAGE, ADAPT_STAGE_SEGMENT, NULL);
    TU_FAILS(adapt_pipeline_add(p, &s, m), ADAPT_ERR_INVALID_ARGUMENT);
    s = stage("own", ADAPT_STAGE_IMAGE, ADAPT_STAGE_SEGMENT, "fg");
    TU_FAILS(adapt_pipeline_add(p, &s, m), ADAPT_ERR_INVALID_ARGUMENT); /* image has none */
    s = stage("small", ADAPT_STAGE_IMAGE, ADAPT_STAGE_SEGMENT, NULL);
    adapt_model *small = threshold(CROP);
    TU_FAILS(adapt_pipeline_add(p, &s, small), ADAPT_ERR_SHAPE); /* another image size */
    TU_FAILS(adapt_pipeline_add(p, &s, adapt_pipeline_stage_model(p, "fg")),
             ADAPT_ERR_INVALID_ARGUMENT); /* a model the pipeline owns */
    TU_FAILS(adapt_pipeline_add(p, &s, NULL), ADAPT_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(adapt_pipeline_stage_count(p), 4);
    adapt_pipeline *other = four_stages(); /* a stage of one pipeline is no other's */
    adapt_model *fg = adapt_pipeline_stage_model(p, "fg");
    TU_FAILS(adapt_pipeline_add(other, &s, fg), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_pipeline_replace(other, "fg", fg, NULL), ADAPT_ERR_INVALID_ARGUMENT);
    adapt_model *host = threshold(SIDE);
    TU_FAILS(adapt_model_replace(host, "0", fg, NULL), ADAPT_ERR_INVALID_ARGUMENT);
    adapt_model_free(fg); /* the pipeline's: a no-op, the pipeline frees it */
    adapt_model_free(host);
    adapt_pipeline_free(other);
    static float image[SIDE * SIDE];
    two_squares(image);
    adapt_pipeline_result *r = NULL;
    TU_FAILS(adapt_pipeline_run(&r, p, image, (const int64_t[]){1, SIDE, SIDE - 1}, 1),
             ADAPT_ERR_SHAPE);
    image[5] = NAN;
    TU_FAILS(adapt_pipeline_run(&r, p, image, shape, 1), ADAPT_ERR_NONFINITE);
    ck_assert_ptr_null(r);
    image[5] = 0.0f;
    adapt_layer_params relu; /* a stage's model changed behind the pipeline's back */
    adapt_layer_params_init(&relu, sizeof relu);
    relu.kind = ADAPT_LAYER_FLATTEN;
    TU_OK(adapt_model_append(adapt_pipeline_stage_model(p, "parts"), &relu));
    TU_FAILS(adapt_pipeline_run(&r, p, image, shape, 1), ADAPT_ERR_STATE);
    adapt_pipeline_free(p);
    p = four_stages();
    TU_OK(adapt_pipeline_save(p, tu_scratch_dir()));
    load_fails_with("\"source\": \"fg\"", "\"source\": \"grade\"", ADAPT_ERR_FORMAT); /* cycle */
    load_fails_with("\"margin\": 1", "\"margin\": -1", ADAPT_ERR_FORMAT);
    load_fails_with("\"crops\"", "\"tiles\"", ADAPT_ERR_FORMAT);
    load_fails_with("fg.safetensors", "../fg.safetensors", ADAPT_ERR_FORMAT);
    load_fails_with("libadapt-pipeline", "libadapt", ADAPT_ERR_FORMAT);
    load_fails_with("{", "[", ADAPT_ERR_FORMAT);
    TU_FAILS(adapt_pipeline_load(NULL, tu_scratch_dir()),
             ADAPT_ERR_INVALID_ARGUMENT);
    adapt_pipeline *none = NULL;
    TU_FAILS(adapt_pipeline_load(&none, tu_in_scratch("missing")), ADAPT_ERR_IO);
    adapt_model_free(small);
    adapt_model_free(m);
    adapt_pipeline_free(p);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("pipeline");
    TCase *tc = tcase_create("pipeline");
    tcase_add_checked_fixture(tc, tu_scratch_setup, tu_scratch_teardown);
    tcase_add_test(tc, four_stages_give_the_maps_crops_and_reports);
    tcase_add_test(tc, stages_are_replaced_by_models_of_their_signature_only);
    tcase_add_test(tc, a_saved_pipeline_loads_and_runs_the_same);
    tcase_add_test(tc, bad_routes_names_images_and_descriptions_are_refused);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
