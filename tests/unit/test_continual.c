/* Continual learning: tasks as class selections of a dataset (lib/train/select.c), task
 * heads (task_heads.c) in training, evaluation and certification, and the EWC and SI
 * consolidations (consolidation*.c) against importances computed here by hand. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check_util.h"

enum { N = 60, IN = 4, CLASSES = 4 };
static float xs[N * IN];
static int32_t ys[N];

/* ys[i] = i % CLASSES; xs in [0, 1], feature y at 1 and the others below 1/2. */
static adapt_dataset *fixture(void)
{
    tu_fill(xs, N * IN, 7, 0.0f, 0.5f);
    for (int i = 0; i < N; i++) {
        ys[i] = i % CLASSES;
        xs[i * IN + ys[i]] = 1.0f;
    }
    adapt_dataset *ds = NULL;
    TU_OK(adapt_dataset_wrap(&ds, xs, 2, (int64_t[]){N, IN}, ys));
    return ds;
}

/* logits = W x + b, W [CLASSES, IN]: one linear layer, whose gradients are known in closed
 * form. */
static adapt_model *linear_model(uint64_t seed)
{
    adapt_model *m = NULL;
    TU_OK(adapt_model_create_sequential(&m, 1, (int64_t[]){IN}, seed));
    adapt_layer_params p;
    adapt_layer_params_init(&p, sizeof p);
    p.kind = ADAPT_LAYER_LINEAR, p.out_features = CLASSES;
    TU_OK(adapt_model_append(m, &p));
    ck_assert_int_eq(adapt_model_param_count(m), 2);
    return m;
}

static float *weight(adapt_model *m) { return adapt_tensor_data(adapt_model_param(m, 0)); }
static float *bias(adapt_model *m) { return adapt_tensor_data(adapt_model_param(m, 1)); }

/* Sample i's label and position in xs, through the dataset's borrowed pointers. */
static int32_t label_of(const adapt_dataset *ds, int64_t i, int64_t *base)
{
    const float *x = NULL;
    int32_t label = -1;
    TU_OK(adapt_dataset_sample(&x, &label, ds, i));
    *base = (x - xs) / IN;
    return label;
}

static adapt_train_params sgd(int32_t epochs, int32_t batch)
{
    adapt_train_params tp;
    adapt_train_params_init(&tp, sizeof tp);
    tp.epochs = epochs, tp.batch_size = batch, tp.learning_rate = 0.5f, tp.momentum = 0.0f;
    tp.n_threads = 1;
    return tp;
}

START_TEST(select_classes_relabels_drops_and_composes)
{
    adapt_dataset *all = fixture(), *two = NULL, *one = NULL, *train = NULL, *val = NULL;
    TU_OK(adapt_dataset_select_classes(&two, all, (int32_t[]){-1, 0, 1}, 3, 0));
    ck_assert_int_eq(adapt_dataset_count(two), N / 2); /* classes 1 and 2; 3 is past the map */
    int64_t base = 0;
    for (int64_t i = 0; i < N / 2; i++) {
        const int32_t y = label_of(two, i, &base);
        ck_assert_int_eq(y, ys[base] - 1);
        ck_assert(ys[base] == 1 || ys[base] == 2);
    }
    TU_OK(adapt_dataset_select_classes(&one, two, (int32_t[]){5, -1}, 2, 0));
    adapt_dataset_free(all); /* views outlive their parents */
    adapt_dataset_free(two);
    ck_assert_int_eq(adapt_dataset_count(one), N / 4);
    for (int64_t i = 0; i < N / 4; i++) {
        ck_assert_int_eq(label_of(one, i, &base), 5);
        ck_assert_int_eq(ys[base], 1);
    }
    TU_OK(adapt_dataset_split(&train, &val, one, 0.4f, 3));
    ck_assert_int_eq(adapt_dataset_count(train) + adapt_dataset_count(val), N / 4);
    adapt_dataset_free(one);
    for (int64_t i = 0; i < adapt_dataset_count(val); i++)
        ck_assert_int_eq(label_of(val, i, &base), 5);
    adapt_dataset_free(train);
    adapt_dataset_free(val);
}
END_TEST

/* A wrapped dataset's labels stay the caller's: one changed after the checks is refused
 * where a batch is made, not read beyond the logits. */
START_TEST(labels_changed_after_the_checks_are_refused)
{
    adapt_dataset *all = fixture(), *task = NULL;
    TU_OK(adapt_dataset_select_classes(&task, all, (int32_t[]){0, 1}, 2, 0));
    adapt_model *m = linear_model(3);
    adapt_eval_result r = {.struct_size = sizeof r};
    adapt_certify_result c = {.struct_size = sizeof c};
    const adapt_train_params tp = sgd(1, 8);
    const int32_t kept = ys[0];
    for (int pass = 0; pass < 2; pass++) {
        ys[0] = pass ? 99 : -7;
        TU_FAILS(adapt_model_evaluate(&r, NULL, m, all, 16, 1), ADAPT_ERR_INVALID_ARGUMENT);
        TU_FAILS(adapt_model_certify(&c, m, all, 0.0f, 0.0f, 1.0f, 16, 1),
                 ADAPT_ERR_INVALID_ARGUMENT);
        TU_FAILS(adapt_model_train(m, task, NULL, &tp), ADAPT_ERR_INVALID_ARGUMENT);
    }
    ys[0] = kept;
    TU_OK(adapt_model_train(m, task, NULL, &tp));
    adapt_model_free(m);
    adapt_dataset_free(task);
    adapt_dataset_free(all);
}
END_TEST

START_TEST(select_classes_refuses_bad_arguments)
{
    adapt_dataset *all = fixture(), *out = (adapt_dataset *)0x1;
    const int32_t map[] = {0, 1};
    TU_FAILS(adapt_dataset_select_classes(NULL, all, map, 2, 0), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_dataset_select_classes(&out, NULL, map, 2, 0), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_dataset_select_classes(&out, all, NULL, 2, 0), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_dataset_select_classes(&out, all, map, 0, 0), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_dataset_select_classes(&out, all, map, 2, -1), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_dataset_select_classes(&out, all, (int32_t[]){0, -2}, 2, 0),
             ADAPT_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_eq(out, (adapt_dataset *)0x1);
    adapt_dataset_free(all);
}
END_TEST

/* Task {2, 3} of a 4-class model with two-class heads: training moves only its head's rows;
 * evaluation predicts within the head. */
START_TEST(task_heads_train_and_score_their_own_classes)
{
    adapt_dataset *all = fixture(), *task = NULL;
    TU_OK(adapt_dataset_select_classes(&task, all, (int32_t[]){-1, -1, 2, 3}, 4, 2));
    adapt_model *m = linear_model(3);
    float w0[CLASSES * IN], b0[CLASSES];
    memcpy(w0, weight(m), sizeof w0);
    memcpy(b0, bias(m), sizeof b0);
    const adapt_train_params tp = sgd(3, 8);
    TU_OK(adapt_model_train(m, task, NULL, &tp));
    ck_assert_mem_eq(weight(m), w0, 2 * IN * sizeof(float)); /* head 0: rows 0 and 1 */
    ck_assert_mem_eq(bias(m), b0, 2 * sizeof(float));
    ck_assert(memcmp(weight(m) + 2 * IN, w0 + 2 * IN, 2 * IN * sizeof(float)) != 0);

    /* Rows 2 and 3 made to lose against rows 0 and 1 everywhere: only the head sees them. */
    bias(m)[0] = bias(m)[1] = 100.0f;
    adapt_eval_result r = {.struct_size = sizeof r}, flat = {.struct_size = sizeof flat};
    TU_OK(adapt_model_evaluate(&r, NULL, m, task, 16, 1));
    adapt_context *ctx = tu_context(ADAPT_BACKEND_DEFAULT);
    adapt_tensor *x = NULL, *logits = NULL;
    int64_t right = 0, base = 0;
    double loss = 0.0;
    for (int64_t i = 0; i < adapt_dataset_count(task); i++) {
        const int32_t y = label_of(task, i, &base);
        TU_OK(adapt_tensor_input(&x, ctx, 2, (int64_t[]){1, IN}, xs + base * IN));
        TU_OK(adapt_model_forward(&logits, ctx, m, x));
        const float *z = adapt_tensor_data(logits);
        right += (z[3] > z[2] ? 3 : 2) == y;
        const double top = fmax(z[2], z[3]);
        loss += top + log(exp(z[2] - top) + exp(z[3] - top)) - z[y];
    }
    const double n = (double)adapt_dataset_count(task);
    ck_assert_double_eq_tol(r.accuracy, (double)right / n, 1e-12);
    ck_assert_double_eq_tol(r.loss, loss / n, 1e-5);
    ck_assert(r.accuracy > 0.5);
    adapt_dataset *plain = NULL; /* the same samples, every class competing: all wrong */
    TU_OK(adapt_dataset_select_classes(&plain, all, (int32_t[]){-1, -1, 2, 3}, 4, 0));
    TU_OK(adapt_model_evaluate(&flat, NULL, m, plain, 16, 1));
    ck_assert_double_eq(flat.accuracy, 0.0);
    adapt_certify_result c = {.struct_size = sizeof c};
    TU_OK(adapt_model_certify(&c, m, task, 0.0f, 0.0f, 1.0f, 16, 1));
    ck_assert_double_eq_tol(c.accuracy, r.accuracy, 1e-12);
    ck_assert(c.certified_accuracy > 0.5 * c.accuracy);
    adapt_context_free(ctx);
    adapt_model_free(m);
    adapt_dataset_free(plain);
    adapt_dataset_free(task);
    adapt_dataset_free(all);
}
END_TEST

START_TEST(task_heads_need_a_multiple_of_the_task_classes)
{
    adapt_dataset *all = fixture(), *task = NULL;
    TU_OK(adapt_dataset_select_classes(&task, all, (int32_t[]){0, 1, 2}, 3, 3));
    adapt_model *m = linear_model(3); /* 4 classes: no multiple of 3 */
    const adapt_train_params tp = sgd(1, 8);
    TU_FAILS(adapt_model_train(m, task, NULL, &tp), ADAPT_ERR_INVALID_ARGUMENT);
    adapt_eval_result r = {.struct_size = sizeof r};
    TU_FAILS(adapt_model_evaluate(&r, NULL, m, task, 16, 1), ADAPT_ERR_INVALID_ARGUMENT);
    adapt_model_free(m);
    adapt_dataset_free(task);
    adapt_dataset_free(all);
}
END_TEST

/* Adds the empirical Fisher of `ds` under `m` (mean over samples of the squared gradient of
 * the cross-entropy, in closed form for a linear layer) to fw, fb. */
static void add_fisher(double *fw, double *fb, adapt_model *m, const adapt_dataset *ds)
{
    const float *w = weight(m), *b = bias(m);
    const int64_t n = adapt_dataset_count(ds);
    for (int64_t i = 0; i < n; i++) {
        int64_t base = 0;
        const int32_t y = label_of(ds, i, &base);
        const float *x = xs + base * IN;
        double z[CLASSES], top = -INFINITY, sum = 0.0;
        for (int c = 0; c < CLASSES; c++) {
            z[c] = b[c];
            for (int j = 0; j < IN; j++)
                z[c] += (double)w[c * IN + j] * x[j];
            top = fmax(top, z[c]);
        }
        for (int c = 0; c < CLASSES; c++)
            sum += exp(z[c] - top);
        for (int c = 0; c < CLASSES; c++) {
            const double d = exp(z[c] - top) / sum - (c == y);
            fb[c] += d * d / (double)n;
            for (int j = 0; j < IN; j++)
                fw[c * IN + j] += d * x[j] * d * x[j] / (double)n;
        }
    }
}

static double penalty(const adapt_consolidation *c, adapt_model *m)
{
    double v = -1.0;
    TU_OK(adapt_consolidation_penalty(&v, c, m));
    return v;
}

/* The importance of value `e` of `t`: the penalty's curvature there, probed at +-delta. */
static double probe(const adapt_consolidation *c, adapt_model *m, float *t, int e, float delta)
{
    const float keep = t[e];
    const double at = penalty(c, m);
    t[e] = keep + delta;
    const double up = penalty(c, m);
    t[e] = keep - delta;
    const double down = penalty(c, m);
    t[e] = keep;
    return (up + down - 2.0 * at) / (2.0 * (double)delta * (double)delta);
}

START_TEST(ewc_importance_is_the_per_sample_fisher_summed_over_tasks)
{
    adapt_dataset *all = fixture(), *first = NULL;
    TU_OK(adapt_dataset_select_classes(&first, all, (int32_t[]){0, 1, 2, 3}, 4, 0));
    adapt_model *m = linear_model(11);
    adapt_consolidation *c = NULL;
    TU_OK(adapt_consolidation_create(&c, m, ADAPT_CONSOLIDATION_EWC, 0.0f));
    ck_assert_double_eq(penalty(c, m), 0.0);
    double fw[CLASSES * IN] = {0}, fb[CLASSES] = {0};
    add_fisher(fw, fb, m, first);
    TU_OK(adapt_consolidation_end_task(c, m, first, 1));
    ck_assert_double_eq_tol(penalty(c, m), 0.0, 1e-12); /* the anchor: the weights now */
    tu_fill(weight(m), CLASSES * IN, 5, -1.0f, 1.0f); /* a second task's weights */
    add_fisher(fw, fb, m, all);
    TU_OK(adapt_consolidation_end_task(c, m, all, 1));
    for (int e = 0; e < CLASSES * IN; e++)
        ck_assert_double_eq_tol(probe(c, m, weight(m), e, 0.25f), fw[e], 1e-4 + 1e-3 * fw[e]);
    for (int e = 0; e < CLASSES; e++)
        ck_assert_double_eq_tol(probe(c, m, bias(m), e, 0.25f), fb[e], 1e-4 + 1e-3 * fb[e]);
    adapt_consolidation_free(c);
    adapt_model_free(m);
    adapt_dataset_free(first);
    adapt_dataset_free(all);
}
END_TEST

static void last_loss(const adapt_progress *p, void *user) { *(float *)user = p->loss; }

/* One full-batch SGD step from the same weights with and without the penalty: the update
 * differs by lr * 2 lambda Omega (theta - theta*), the reported loss by lambda * penalty. */
START_TEST(ewc_penalty_enters_the_step_and_the_loss)
{
    adapt_dataset *all = fixture();
    adapt_model *m = linear_model(13);
    adapt_consolidation *c = NULL;
    TU_OK(adapt_consolidation_create(&c, m, ADAPT_CONSOLIDATION_EWC, 0.0f));
    TU_OK(adapt_consolidation_end_task(c, m, all, 1));
    float anchor[CLASSES * IN], omega[CLASSES * IN];
    memcpy(anchor, weight(m), sizeof anchor);
    for (int e = 0; e < CLASSES * IN; e++)
        omega[e] = (float)probe(c, m, weight(m), e, 0.25f);
    tu_fill(weight(m), CLASSES * IN, 17, -1.0f, 1.0f);
    float start[CLASSES * IN], plain[CLASSES * IN], loss0 = 0.0f, loss1 = 0.0f;
    memcpy(start, weight(m), sizeof start);
    const float b[CLASSES] = {bias(m)[0], bias(m)[1], bias(m)[2], bias(m)[3]};
    adapt_train_params tp = sgd(1, N);
    tp.consolidation = c, tp.progress = last_loss, tp.user_data = &loss0;
    TU_OK(adapt_model_train(m, all, NULL, &tp));
    memcpy(plain, weight(m), sizeof plain);
    memcpy(weight(m), start, sizeof start);
    memcpy(bias(m), b, sizeof b);
    const double p = penalty(c, m);
    const float lambda = 0.3f;
    tp.consolidation_weight = lambda, tp.user_data = &loss1;
    TU_OK(adapt_model_train(m, all, NULL, &tp));
    for (int e = 0; e < CLASSES * IN; e++) {
        const double pull = tp.learning_rate * 2.0 * lambda * omega[e] * (start[e] - anchor[e]);
        ck_assert_double_eq_tol(weight(m)[e] - plain[e], -pull, 1e-5 + 1e-3 * fabs(pull));
    }
    ck_assert(p > 0.0);
    ck_assert_double_eq_tol(loss1 - loss0, lambda * p, 1e-5 + 1e-4 * lambda * p);
    adapt_consolidation_free(c);
    adapt_model_free(m);
    adapt_dataset_free(all);
}
END_TEST

/* SI after one plain SGD step theta' = theta - lr g: the path is -g (theta' - theta) =
 * move^2 / lr, so the importance is (move^2 / lr) / (move^2 + xi), and the anchor theta'. */
START_TEST(si_importance_is_the_path_integral_over_the_squared_move)
{
    adapt_dataset *all = fixture();
    adapt_model *m = linear_model(19);
    const float xi = 0.01f;
    adapt_consolidation *c = NULL;
    TU_OK(adapt_consolidation_create(&c, m, ADAPT_CONSOLIDATION_SI, xi));
    float before[CLASSES * IN];
    memcpy(before, weight(m), sizeof before);
    adapt_train_params tp = sgd(1, N);
    tp.consolidation = c;
    TU_OK(adapt_model_train(m, all, NULL, &tp));
    TU_OK(adapt_consolidation_end_task(c, m, NULL, 0));
    ck_assert_double_eq_tol(penalty(c, m), 0.0, 1e-12);
    int moved = 0;
    for (int e = 0; e < CLASSES * IN; e++) {
        const double d = (double)weight(m)[e] - before[e];
        const double want = d * d / tp.learning_rate / (d * d + xi);
        moved += fabs(d) > 1e-3;
        ck_assert_double_eq_tol(probe(c, m, weight(m), e, 0.25f), want, 1e-4 + 1e-3 * want);
    }
    ck_assert_int_gt(moved, CLASSES * IN / 2);
    adapt_consolidation_free(c);
    adapt_model_free(m);
    adapt_dataset_free(all);
}
END_TEST

START_TEST(consolidation_refuses_bad_arguments)
{
    adapt_dataset *all = fixture();
    adapt_model *m = linear_model(3), *other = NULL;
    adapt_mlp_params mp;
    adapt_mlp_params_init(&mp, sizeof mp);
    mp.n_sizes = 3, mp.sizes = (int64_t[]){IN, 5, CLASSES};
    TU_OK(adapt_model_create_mlp(&other, &mp));
    adapt_consolidation *c = (adapt_consolidation *)0x1;
    const int32_t ewc = ADAPT_CONSOLIDATION_EWC, si = ADAPT_CONSOLIDATION_SI;
    TU_FAILS(adapt_consolidation_create(NULL, m, ewc, 0.0f), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_consolidation_create(&c, NULL, ewc, 0.0f), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_consolidation_create(&c, m, 7, 0.0f), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_consolidation_create(&c, m, ewc, 0.1f), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_consolidation_create(&c, m, si, 0.0f), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_consolidation_create(&c, m, si, NAN), ADAPT_ERR_NONFINITE);
    ck_assert_ptr_eq(c, (adapt_consolidation *)0x1);
    TU_OK(adapt_consolidation_create(&c, m, ewc, 0.0f));
    TU_FAILS(adapt_consolidation_end_task(c, other, all, 1), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_consolidation_end_task(c, m, NULL, 1), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_consolidation_end_task(NULL, m, all, 1), ADAPT_ERR_INVALID_ARGUMENT);
    double v = 0.0;
    TU_FAILS(adapt_consolidation_penalty(&v, c, other), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_consolidation_penalty(NULL, c, m), ADAPT_ERR_INVALID_ARGUMENT);
    adapt_train_params tp = sgd(1, 8);
    tp.consolidation = c;
    TU_FAILS(adapt_model_train(other, all, NULL, &tp), ADAPT_ERR_INVALID_ARGUMENT);
    tp.consolidation = NULL, tp.consolidation_weight = 1.0f;
    TU_FAILS(adapt_model_train(m, all, NULL, &tp), ADAPT_ERR_INVALID_ARGUMENT);
    tp.consolidation = c, tp.consolidation_weight = -1.0f;
    TU_FAILS(adapt_model_train(m, all, NULL, &tp), ADAPT_ERR_INVALID_ARGUMENT);
    tp.consolidation_weight = INFINITY;
    TU_FAILS(adapt_model_train(m, all, NULL, &tp), ADAPT_ERR_NONFINITE);
    adapt_consolidation_free(c);
    adapt_consolidation_free(NULL);
    adapt_model_free(other);
    adapt_model_free(m);
    adapt_dataset_free(all);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("continual");
    TCase *tc = tcase_create("continual");
    tcase_add_test(tc, select_classes_relabels_drops_and_composes);
    tcase_add_test(tc, select_classes_refuses_bad_arguments);
    tcase_add_test(tc, labels_changed_after_the_checks_are_refused);
    tcase_add_test(tc, task_heads_train_and_score_their_own_classes);
    tcase_add_test(tc, task_heads_need_a_multiple_of_the_task_classes);
    tcase_add_test(tc, ewc_importance_is_the_per_sample_fisher_summed_over_tasks);
    tcase_add_test(tc, ewc_penalty_enters_the_step_and_the_loss);
    tcase_add_test(tc, si_importance_is_the_path_integral_over_the_squared_move);
    tcase_add_test(tc, consolidation_refuses_bad_arguments);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
