/* Nested boxes of interval continual learning (lib/adaptive/interval_linear.c,
 * interval_phases.c): every later task's boxes lie inside every earlier task's, exactly in
 * floats, whatever the shifts and scales; the point forward is the box's middle; gradients
 * of the shifts and scales; the phases; the authors' parameter names through a checkpoint;
 * and refusals. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check_util.h"
#include "file_util.h"
#include "lib/adaptive/interval_linear.h"
#include "lib/core/context.h"
#include "lib/core/rng.h"
#include "lib/core/tensor.h"
#include "lib/models/model_impl.h"
#include "lib/nn/layer_kinds.h"

enum { IN = 6, HIDDEN = 5, OUT = 3, TASKS = 6 };

static adapt_model *boxed_mlp(uint64_t seed)
{
    adapt_model *m = NULL;
    TU_OK(adapt_model_create_sequential(&m, 1, (int64_t[]){IN}, seed));
    adapt_layer_params p;
    adapt_layer_params_init(&p, sizeof p);
    p.kind = ADAPT_LAYER_INTERVAL_LINEAR, p.out_features = HIDDEN;
    TU_OK(adapt_model_append(m, &p));
    p.kind = ADAPT_LAYER_RELU;
    TU_OK(adapt_model_append(m, &p));
    p.kind = ADAPT_LAYER_INTERVAL_LINEAR, p.out_features = OUT;
    TU_OK(adapt_model_append(m, &p));
    return m;
}

static adapt_tensor *param(adapt_model *m, const char *name)
{
    for (int32_t i = 0; i < adapt_model_param_count(m); i++)
        if (strcmp(adapt_model_param_name(m, i), name) == 0)
            return adapt_model_param(m, i);
    ck_abort_msg("no parameter %s", name);
    return NULL;
}

/* What a task's training might leave: shifts and scales anywhere, saturating ones included
 * (tanh(+-20) and sigmoid(20) are exactly +-1 and 1 in floats). */
static void pretend_training(adapt_model *m, uint64_t seed)
{
    const char *names[] = {"0._shift", "0._scale", "0._bias_shift", "0._bias_scale",
                           "2._shift", "2._scale", "2._bias_shift", "2._bias_scale"};
    for (int k = 0; k < 8; k++) {
        adapt_tensor *t = param(m, names[k]);
        float *v = adapt_tensor_data(t);
        for (int64_t i = 0; i < adapt_tensor_numel(t); i++) {
            const float u = ad_uniform(seed, (uint64_t)k, (uint64_t)i);
            v[i] = i % 7 == 0 ? (u < 0.5f ? -20.0f : 20.0f) : 8.0f * u - 4.0f;
        }
    }
}

/* The boxes every boxed parameter of m has now, as the forward computes them: [4][2] arrays
 * (layer 0 and 2; weight and bias) of lo and hi. */
typedef struct {
    float *lo[4], *hi[4];
    int64_t n[4];
} boxes;

static boxes current_boxes(adapt_model *m, adapt_context *ctx)
{
    boxes b;
    int k = 0;
    for (int32_t blk = 0; blk < m->n_blocks; blk++) {
        const ad_layer *l = &m->blocks[blk].layers[0];
        if (l->kind != &ad_kind_interval_linear)
            continue;
        const ad_interval_linear *a = AD_LAYER_STATE(l, const ad_interval_linear);
        const ad_boxed_param *ps[2] = {&a->weight, &a->bias};
        for (int j = 0; j < 2; j++, k++) {
            ad_interval box;
            adapt_context_reset(ctx);
            TU_OK(ad_boxed_param_box(&box, ctx, ps[j]));
            b.n[k] = box.lo->numel;
            b.lo[k] = malloc((size_t)b.n[k] * sizeof(float));
            b.hi[k] = malloc((size_t)b.n[k] * sizeof(float));
            memcpy(b.lo[k], box.lo->data, (size_t)b.n[k] * sizeof(float));
            memcpy(b.hi[k], box.hi->data, (size_t)b.n[k] * sizeof(float));
        }
    }
    ck_assert_int_eq(k, 4);
    return b;
}

static void free_boxes(boxes *b)
{
    for (int k = 0; k < 4; k++)
        free(b->lo[k]), free(b->hi[k]);
}

START_TEST(later_boxes_lie_inside_earlier_ones_exactly)
{
    adapt_model *m = boxed_mlp(1);
    adapt_context *ctx = tu_context(ADAPT_BACKEND_DEFAULT);
    TU_OK(adapt_context_set_grad(ctx, 0));
    boxes seen[TASKS];
    int64_t checked = 0;
    for (int t = 0; t < TASKS; t++) {
        pretend_training(m, 100u + (uint64_t)t);
        seen[t] = current_boxes(m, ctx);
        for (int e = 0; e < t; e++)
            for (int k = 0; k < 4; k++)
                for (int64_t i = 0; i < seen[t].n[k]; i++, checked++) {
                    ck_assert_msg(seen[t].lo[k][i] >= seen[e].lo[k][i] &&
                                      seen[t].hi[k][i] <= seen[e].hi[k][i],
                                  "task %d's box [%a, %a] leaves task %d's [%a, %a]", t,
                                  (double)seen[t].lo[k][i], (double)seen[t].hi[k][i], e,
                                  (double)seen[e].lo[k][i], (double)seen[e].hi[k][i]);
                    ck_assert(seen[t].lo[k][i] <= seen[t].hi[k][i]);
                }
        int32_t count = 0;
        TU_OK(adapt_model_interval_consolidate(m, &count));
        ck_assert_int_eq(count, 2);
        /* the stored bounds [W - R, W + R] lie inside the box just consolidated */
        const float *w = adapt_tensor_data(param(m, "0.weight"));
        const float *r = adapt_tensor_data(param(m, "0._radius"));
        for (int64_t i = 0; i < seen[t].n[0]; i++) {
            ck_assert(w[i] - r[i] >= seen[t].lo[0][i] && w[i] + r[i] <= seen[t].hi[0][i]);
            ck_assert_float_eq(adapt_tensor_data(param(m, "0._shift"))[i], 0.0f);
            ck_assert_float_eq(adapt_tensor_data(param(m, "0._scale"))[i], 5.0f);
        }
    }
    const int64_t values = HIDDEN * IN + HIDDEN + OUT * HIDDEN + OUT;
    ck_assert_int_eq(checked, values * TASKS * (TASKS - 1) / 2);
    for (int t = 0; t < TASKS; t++)
        free_boxes(&seen[t]);
    adapt_context_free(ctx);
    adapt_model_free(m);
}
END_TEST

/* The point forward runs the box's middle: x W_mid^T + b_mid with W_mid = W + tanh(shift) R,
 * by hand; it is the interval forward's mid, which lies inside its bounds. */
START_TEST(the_point_forward_is_the_box_middle)
{
    adapt_model *m = boxed_mlp(2);
    pretend_training(m, 7);
    adapt_context *ctx = tu_context(ADAPT_BACKEND_REFERENCE);
    TU_OK(adapt_context_set_grad(ctx, 0));
    float x[2 * IN];
    tu_fill(x, 2 * IN, 3, 0.0f, 1.0f);
    adapt_tensor *xt, *y, *lo, *mid, *hi;
    TU_OK(adapt_tensor_input(&xt, ctx, 2, (int64_t[]){2, IN}, x));
    TU_OK(adapt_model_forward_blocks(&y, ctx, m, xt, 0, 1));
    const float *w = adapt_tensor_data(param(m, "0.weight"));
    const float *r = adapt_tensor_data(param(m, "0._radius"));
    const float *s = adapt_tensor_data(param(m, "0._shift"));
    const float *b = adapt_tensor_data(param(m, "0.bias"));
    const float *br = adapt_tensor_data(param(m, "0._bias_radius"));
    const float *bs = adapt_tensor_data(param(m, "0._bias_shift"));
    for (int n = 0; n < 2; n++)
        for (int o = 0; o < HIDDEN; o++) {
            double want = b[o] + tanh(bs[o]) * br[o];
            for (int j = 0; j < IN; j++)
                want += (w[o * IN + j] + tanh(s[o * IN + j]) * r[o * IN + j]) * x[n * IN + j];
            ck_assert_double_eq_tol(adapt_tensor_data(y)[n * HIDDEN + o], want, 1e-5);
        }
    TU_OK(adapt_model_forward(&y, ctx, m, xt));
    TU_OK(adapt_model_forward_interval(&lo, &mid, &hi, ctx, m, xt, xt, xt));
    for (int64_t i = 0; i < 2 * OUT; i++) {
        ck_assert_float_eq(adapt_tensor_data(mid)[i], adapt_tensor_data(y)[i]);
        ck_assert(adapt_tensor_data(lo)[i] <= adapt_tensor_data(mid)[i]);
        ck_assert(adapt_tensor_data(mid)[i] <= adapt_tensor_data(hi)[i]);
        ck_assert(adapt_tensor_data(lo)[i] < adapt_tensor_data(hi)[i]);
    }
    adapt_context_free(ctx);
    adapt_model_free(m);
}
END_TEST

typedef struct {
    adapt_model *m;
    int32_t labels[3];
} worst_arg;

/* Worst-case logits of the boxed MLP on three inputs, as a function of its shifts and scales. */
static adapt_status worst_logits(adapt_tensor **out, adapt_context *ctx, adapt_tensor **params,
                                 void *arg)
{
    (void)params;
    worst_arg *w = arg;
    float x[3 * IN];
    tu_fill(x, 3 * IN, 5, 0.0f, 1.0f);
    adapt_tensor *xt, *lo, *hi;
    adapt_status st = adapt_tensor_input(&xt, ctx, 2, (int64_t[]){3, IN}, x);
    if (!st)
        st = adapt_model_forward_interval(&lo, NULL, &hi, ctx, w->m, xt, NULL, xt);
    return st ? st : adapt_op_worst_case_logits(out, ctx, lo, hi, w->labels);
}

START_TEST(shift_and_scale_gradients_match_finite_differences)
{
    worst_arg w = {boxed_mlp(3), {0, 2, 1}};
    pretend_training(w.m, 11);
    for (int phase = ADAPT_INTERVAL_SHIFTS; phase <= ADAPT_INTERVAL_SCALES; phase++) {
        TU_OK(adapt_model_set_interval_phase(w.m, phase, NULL));
        const char *which = phase == ADAPT_INTERVAL_SHIFTS ? "shift" : "scale";
        char a[32], b[32], c[32], d[32];
        snprintf(a, sizeof a, "0._%s", which), snprintf(b, sizeof b, "0._bias_%s", which);
        snprintf(c, sizeof c, "2._%s", which), snprintf(d, sizeof d, "2._bias_%s", which);
        adapt_tensor *p[4] = {param(w.m, a), param(w.m, b), param(w.m, c), param(w.m, d)};
        for (int k = 0; k < 4; k++) /* away from the saturated values, where FD sees flat */
            for (int64_t i = 0; i < adapt_tensor_numel(p[k]); i++)
                adapt_tensor_data(p[k])[i] = fmaxf(fminf(adapt_tensor_data(p[k])[i], 3.0f), -3.0f);
        tu_gradcheck(worst_logits, p, 4, &w, 1e-3, 2e-2, 16);
    }
    adapt_model_free(w.m);
}
END_TEST

enum { SAMPLES = 32 };

/* SAMPLES inputs in [0, 1) with labels 0, 1, 2, 0, ... over the caller's arrays. */
static adapt_dataset *samples(float *x, int32_t *labels, uint64_t seed)
{
    tu_fill(x, SAMPLES * IN, seed, 0.0f, 1.0f);
    for (int i = 0; i < SAMPLES; i++)
        labels[i] = i % OUT;
    adapt_dataset *ds = NULL;
    TU_OK(adapt_dataset_wrap(&ds, x, 2, (int64_t[]){SAMPLES, IN}, labels));
    return ds;
}

/* A phase trains its own parameters and nothing else of the boxed layers. */
START_TEST(a_phase_trains_only_its_parameters)
{
    float x[SAMPLES * IN];
    int32_t labels[SAMPLES];
    adapt_dataset *ds = samples(x, labels, 4);
    static const char *const kinds[] = {"weight", "_radius", "_shift", "_scale", "bias",
                                        "_bias_radius", "_bias_shift", "_bias_scale"};
    for (int phase = ADAPT_INTERVAL_CENTRES; phase <= ADAPT_INTERVAL_SCALES; phase++) {
        adapt_model *m = boxed_mlp(4); /* fresh: no unit dead, no shift saturated */
        int32_t count = -1;
        TU_OK(adapt_model_set_interval_phase(m, phase, &count));
        ck_assert_int_eq(count, 2);
        float before[8][HIDDEN * IN];
        for (int k = 0; k < 8; k++) {
            char name[32];
            snprintf(name, sizeof name, "0.%s", kinds[k]);
            memcpy(before[k], adapt_tensor_data(param(m, name)),
                   (size_t)adapt_tensor_numel(param(m, name)) * sizeof(float));
        }
        for (int64_t i = 0; i < HIDDEN * IN; i++) /* the start: radius 1, scale +5 */
            ck_assert(before[1][i] == 1.0f && before[3][i] == 5.0f);
        adapt_train_params tp;
        adapt_train_params_init(&tp, sizeof tp);
        tp.epochs = 2, tp.batch_size = 8, tp.learning_rate = 0.1f, tp.n_threads = 1;
        tp.interval_tau = phase == ADAPT_INTERVAL_SCALES ? 1.0f : 0.0f; /* the scales' loss */
        TU_OK(adapt_model_train(m, ds, NULL, &tp));
        for (int k = 0; k < 8; k++) {
            char name[32];
            snprintf(name, sizeof name, "0.%s", kinds[k]);
            const bool trains = (phase == ADAPT_INTERVAL_CENTRES && (k == 0 || k == 4)) ||
                                (phase == ADAPT_INTERVAL_SHIFTS && (k == 2 || k == 6)) ||
                                (phase == ADAPT_INTERVAL_SCALES && (k == 3 || k == 7));
            const bool same = memcmp(before[k], adapt_tensor_data(param(m, name)),
                                     (size_t)adapt_tensor_numel(param(m, name)) *
                                         sizeof(float)) == 0;
            ck_assert_msg(same != trains, "phase %d: %s %s", phase, name,
                          same ? "did not train" : "trained");
        }
        adapt_model_free(m);
    }
    adapt_dataset_free(ds);
}
END_TEST

static void last_loss(const adapt_progress *p, void *user)
{
    *(float *)user = p->loss;
}

/* Boxes of width 0 are as right in the worst case as clean: the contraction's gate stays shut
 * (worst-case accuracy not below tau = 1 times the clean one), no step changes anything, and
 * the loss reported is 0. */
START_TEST(the_contraction_stops_once_the_worst_case_keeps_up)
{
    float x[SAMPLES * IN];
    int32_t labels[SAMPLES];
    adapt_dataset *ds = samples(x, labels, 8);
    adapt_model *m = boxed_mlp(10);
    for (int32_t i = 0; i < adapt_model_param_count(m); i++)
        if (strstr(adapt_model_param_name(m, i), "radius"))
            memset(adapt_tensor_data(adapt_model_param(m, i)), 0,
                   (size_t)adapt_tensor_numel(adapt_model_param(m, i)) * sizeof(float));
    TU_OK(adapt_model_set_interval_phase(m, ADAPT_INTERVAL_SCALES, NULL));
    float before[HIDDEN * IN], loss = -1.0f;
    memcpy(before, adapt_tensor_data(param(m, "0._scale")), sizeof before);
    adapt_train_params tp;
    adapt_train_params_init(&tp, sizeof tp);
    tp.epochs = 2, tp.batch_size = 4, tp.learning_rate = 0.5f, tp.n_threads = 1;
    tp.interval_tau = 1.0f, tp.progress = last_loss, tp.user_data = &loss;
    TU_OK(adapt_model_train(m, ds, NULL, &tp));
    ck_assert_int_eq(memcmp(before, adapt_tensor_data(param(m, "0._scale")), sizeof before), 0);
    ck_assert_float_eq(loss, 0.0f);
    adapt_model_free(m);
    adapt_dataset_free(ds);
}
END_TEST

START_TEST(checkpoints_carry_the_boxes_under_the_authors_names)
{
    adapt_model *m = boxed_mlp(5), *back = NULL;
    pretend_training(m, 13);
    TU_OK(adapt_model_interval_consolidate(m, NULL));
    static const char *const names[] = {"0.weight", "0._radius", "0._shift", "0._scale",
                                        "0.bias", "0._bias_radius", "0._bias_shift",
                                        "0._bias_scale"};
    for (int k = 0; k < 8; k++)
        ck_assert_str_eq(adapt_model_param_name(m, k), names[k]);
    const char *path = tu_in_scratch("boxes.safetensors");
    TU_OK(adapt_model_save(m, path));
    TU_OK(adapt_model_load(&back, path));
    for (int32_t i = 0; i < adapt_model_param_count(m); i++) {
        adapt_tensor *a = adapt_model_param(m, i), *b = adapt_model_param(back, i);
        ck_assert_int_eq(memcmp(adapt_tensor_data(a), adapt_tensor_data(b),
                                (size_t)adapt_tensor_numel(a) * sizeof(float)), 0);
    }
    adapt_model_free(back);
    adapt_model_free(m);
}
END_TEST

START_TEST(bad_boxes_and_calls_are_refused)
{
    adapt_model *m = boxed_mlp(6);
    adapt_context *ctx = tu_context(ADAPT_BACKEND_DEFAULT);
    float x[IN] = {0.1f, -0.2f, 0.3f, 0.4f, 0.5f, 0.6f};
    adapt_tensor *xt, *lo, *hi, *y;
    TU_OK(adapt_tensor_input(&xt, ctx, 2, (int64_t[]){1, IN}, x));
    TU_FAILS(adapt_model_forward_interval(&lo, NULL, &hi, ctx, m, xt, NULL, xt),
             ADAPT_ERR_INVALID_ARGUMENT); /* an input below 0 */
    ck_assert_ptr_nonnull(strstr(adapt_last_error(), ">= 0"));
    x[1] = 0.2f;
    TU_OK(adapt_tensor_input(&xt, ctx, 2, (int64_t[]){1, IN}, x));
    adapt_tensor_data(param(m, "0._radius"))[3] = -0.5f;
    TU_FAILS(adapt_model_forward(&y, ctx, m, xt), ADAPT_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(adapt_last_error(), "radius"));
    adapt_tensor_data(param(m, "0._radius"))[3] = NAN;
    TU_FAILS(adapt_model_forward_interval(&lo, NULL, &hi, ctx, m, xt, NULL, xt),
             ADAPT_ERR_NONFINITE);
    adapt_tensor_data(param(m, "0._radius"))[3] = 0.5f;
    TU_OK(adapt_model_forward_interval(&lo, NULL, &hi, ctx, m, xt, NULL, xt));
    TU_FAILS(adapt_model_set_interval_phase(m, 3, NULL), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_model_set_interval_phase(NULL, 0, NULL), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_model_interval_consolidate(NULL, NULL), ADAPT_ERR_INVALID_ARGUMENT);
    int32_t count = -1; /* a model without boxed layers: nothing to do */
    adapt_model *plain = NULL;
    TU_OK(adapt_model_create_sequential(&plain, 1, (int64_t[]){IN}, 1));
    adapt_layer_params p;
    adapt_layer_params_init(&p, sizeof p);
    p.out_features = 2;
    TU_OK(adapt_model_append(plain, &p));
    TU_OK(adapt_model_interval_consolidate(plain, &count));
    ck_assert_int_eq(count, 0);
    adapt_model_free(plain);
    adapt_context_free(ctx);
    adapt_model_free(m);
}
END_TEST

static Suite *boxes_suite(void)
{
    Suite *s = suite_create("interval_boxes");
    TCase *tc = tcase_create("interval_boxes");
    tcase_set_timeout(tc, 120);
    tcase_add_checked_fixture(tc, tu_scratch_setup, tu_scratch_teardown);
    tcase_add_test(tc, later_boxes_lie_inside_earlier_ones_exactly);
    tcase_add_test(tc, the_point_forward_is_the_box_middle);
    tcase_add_test(tc, shift_and_scale_gradients_match_finite_differences);
    tcase_add_test(tc, a_phase_trains_only_its_parameters);
    tcase_add_test(tc, the_contraction_stops_once_the_worst_case_keeps_up);
    tcase_add_test(tc, checkpoints_carry_the_boxes_under_the_authors_names);
    tcase_add_test(tc, bad_boxes_and_calls_are_refused);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run(boxes_suite());
}
