/* Normalizing flows (lib/flow): the inverse undoes the forward pass, the log-determinant is
 * that of the numerical Jacobian, gradients through the whole flow match central differences,
 * and bad settings and inputs are refused. */
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "check_util.h"
#include "file_util.h"
#include "lib/flow/flow_identities.h"

enum { ROWS = 5, DIM = 5, COND = 3 };

static adapt_flow *flow_of(adapt_coupling_kind kind, int64_t cond_dim, uint64_t seed)
{
    adapt_flow_params p;
    adapt_flow_params_init(&p, sizeof p);
    p.dim = DIM, p.cond_dim = cond_dim, p.couplings = 4, p.coupling = kind, p.hidden = 12;
    p.blocks = 1, p.seed = seed;
    adapt_flow *f = NULL;
    TU_OK(adapt_flow_create(&f, &p));
    /* Away from the identity it starts as: every value drawn, normalisation scales positive
     * and running variances above 0. */
    for (int32_t i = 0; i < adapt_flow_param_count(f); i++) {
        adapt_tensor *t = adapt_flow_param(f, i);
        const char *name = adapt_flow_param_name(f, i);
        const bool positive = strstr(name, "norms.") && (strstr(name, "weight")
                                                         || strstr(name, "running_var"));
        tu_fill(adapt_tensor_data(t), adapt_tensor_numel(t), seed * 100 + (uint64_t)i,
                positive ? 0.5f : -0.4f, positive ? 1.5f : 0.4f);
    }
    return f;
}

static adapt_context *inference(void)
{
    adapt_context *ctx = tu_context(ADAPT_BACKEND_REFERENCE);
    TU_OK(adapt_context_set_grad(ctx, 0));
    return ctx;
}

/* z = f(w) and the log-dets of `rows` rows in an inference context. */
static void forward(float *z, float *logdet, adapt_flow *f, const float *w, const float *cond,
                    int64_t rows)
{
    adapt_context *ctx = inference();
    adapt_tensor *wt = NULL, *ct = NULL, *zt = NULL, *lt = NULL;
    TU_OK(adapt_tensor_input(&wt, ctx, 2, (int64_t[]){rows, DIM}, w));
    if (cond)
        TU_OK(adapt_tensor_input(&ct, ctx, 2, (int64_t[]){rows, COND}, cond));
    TU_OK(adapt_flow_forward(&zt, &lt, ctx, f, wt, ct));
    TU_OK(adapt_tensor_read(zt, z, rows * DIM));
    if (logdet)
        TU_OK(adapt_tensor_read(lt, logdet, rows));
    adapt_context_free(ctx);
}

START_TEST(the_inverse_undoes_the_forward_pass)
{
    float w[ROWS * DIM], cond[ROWS * COND], z[ROWS * DIM], back[ROWS * DIM];
    tu_fill(w, ROWS * DIM, 1, -2.0f, 2.0f);
    tu_fill(cond, ROWS * COND, 2, 0.0f, 1.0f);
    for (int kind = 0; kind < 2; kind++)
        for (int conditioned = 0; conditioned < 2; conditioned++) {
            adapt_flow *f = flow_of(kind, conditioned ? COND : 0, 3);
            const float *c = conditioned ? cond : NULL;
            forward(z, NULL, f, w, c, ROWS);
            double moved = 0.0;
            for (int k = 0; k < ROWS * DIM; k++)
                moved += fabs(z[k] - w[k]);
            ck_assert_double_gt(moved, 0.1); /* not the identity */
            TU_OK(adapt_flow_inverse(back, f, z, c, ROWS));
            for (int k = 0; k < ROWS * DIM; k++)
                ck_assert_float_eq_tol(back[k], w[k], 1e-5f);
            TU_OK(adapt_flow_inverse(z, f, z, c, ROWS)); /* in place */
            ck_assert_mem_eq(z, back, sizeof back);
            adapt_flow_free(f);
        }
}
END_TEST

/* log |det| of each row's Jacobian by central differences against the reported one. */
START_TEST(the_log_determinant_is_the_jacobians)
{
    float w[DIM], cond[COND];
    tu_fill(w, DIM, 4, -1.0f, 1.0f);
    tu_fill(cond, COND, 5, 0.0f, 1.0f);
    for (int kind = 0; kind < 2; kind++) {
        adapt_flow *f = flow_of(kind, COND, 6);
        float z[DIM], logdet;
        forward(z, &logdet, f, w, cond, 1);
        double jac[DIM][DIM];
        const float h = 1e-3f;
        for (int j = 0; j < DIM; j++) {
            float up[DIM], down[DIM], zu[DIM], zd[DIM];
            memcpy(up, w, sizeof w), memcpy(down, w, sizeof w);
            up[j] += h, down[j] -= h;
            forward(zu, NULL, f, up, cond, 1);
            forward(zd, NULL, f, down, cond, 1);
            for (int i = 0; i < DIM; i++)
                jac[i][j] = (zu[i] - zd[i]) / (2.0 * h);
        }
        double det = 1.0; /* Gaussian elimination with partial pivoting */
        for (int c = 0; c < DIM; c++) {
            int p = c;
            for (int r = c + 1; r < DIM; r++)
                p = fabs(jac[r][c]) > fabs(jac[p][c]) ? r : p;
            for (int k = 0; k < DIM && p != c; k++) {
                const double tmp = jac[c][k];
                jac[c][k] = jac[p][k], jac[p][k] = tmp;
            }
            det *= jac[c][c];
            for (int r = c + 1; r < DIM; r++)
                for (int k = DIM - 1; k >= c; k--)
                    jac[r][k] -= jac[r][c] / jac[c][c] * jac[c][k];
        }
        ck_assert_double_eq_tol(log(fabs(det)), logdet, 2e-3);
        adapt_flow_free(f);
    }
}
END_TEST

typedef struct {
    adapt_flow *flow;
    int logdet; /* output the log-dets instead of z */
} grad_arg;

static adapt_status flow_forward(adapt_tensor **out, adapt_context *ctx, adapt_tensor **params,
                                 void *arg)
{
    const grad_arg *g = arg;
    adapt_tensor *z = NULL, *logdet = NULL;
    adapt_status st = adapt_context_set_training(ctx, 1); /* batch statistics */
    if (!st)
        st = adapt_flow_forward(&z, &logdet, ctx, g->flow, params[0], NULL);
    if (!st)
        *out = g->logdet ? logdet : z;
    return st;
}

START_TEST(gradients_through_the_flow_match_central_differences)
{
    adapt_flow *f = flow_of(ADAPT_COUPLING_AFFINE, 0, 7);
    adapt_tensor *params[4] = {tu_param(2, (int64_t[]){ROWS, DIM}, 8, -1.0f, 1.0f)};
    int32_t found = 1; /* and three of the flow's own: a net's first and last weights, a scale */
    for (int32_t i = 0; i < adapt_flow_param_count(f) && found < 4; i++) {
        const char *name = adapt_flow_param_name(f, i);
        if (!strcmp(name, "couplings.1.net.in.weight") || !strcmp(name, "couplings.2.net.out.bias")
            || !strcmp(name, "norms.2.weight"))
            params[found++] = adapt_flow_param(f, i);
    }
    ck_assert_int_eq(found, 4);
    /* Small steps: the nets hold some 500 ReLU inputs per pass, and a step of 1e-3 moves one
     * of them across 0 (where the slope jumps) more often than not. */
    for (int logdet = 0; logdet < 2; logdet++) {
        grad_arg arg = {f, logdet};
        tu_gradcheck(flow_forward, params, 4, &arg, 1e-4, 2e-2, 12);
    }
    adapt_tensor_free(params[0]);
    adapt_flow_free(f);
}
END_TEST

START_TEST(bad_settings_and_inputs_are_refused)
{
    adapt_flow_params p;
    adapt_flow_params_init(&p, sizeof p);
    adapt_flow *f = (adapt_flow *)&f, *const sentinel = f;
    TU_FAILS(adapt_flow_create(&f, &p), ADAPT_ERR_INVALID_ARGUMENT); /* dim 0 */
    p.dim = DIM, p.coupling = 5;
    TU_FAILS(adapt_flow_create(&f, &p), ADAPT_ERR_INVALID_ARGUMENT);
    p.coupling = ADAPT_COUPLING_AFFINE, p.couplings = 0;
    TU_FAILS(adapt_flow_create(&f, &p), ADAPT_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_eq(f, sentinel);
    f = flow_of(ADAPT_COUPLING_AFFINE, COND, 9);
    float w[ROWS * DIM], cond[ROWS * COND], out[ROWS * DIM];
    tu_fill(w, ROWS * DIM, 10, -1.0f, 1.0f);
    tu_fill(cond, ROWS * COND, 11, 0.0f, 1.0f);
    adapt_context *ctx = inference();
    adapt_tensor *wt = NULL, *wide = NULL, *z = NULL, *logdet = NULL;
    TU_OK(adapt_tensor_input(&wt, ctx, 2, (int64_t[]){ROWS, DIM}, w));
    TU_OK(adapt_tensor_input(&wide, ctx, 2, (int64_t[]){1, ROWS * DIM}, w));
    TU_FAILS(adapt_flow_forward(&z, &logdet, ctx, f, wt, NULL), ADAPT_ERR_INVALID_ARGUMENT);
    TU_FAILS(adapt_flow_forward(&z, &logdet, ctx, f, wide, wt), ADAPT_ERR_SHAPE);
    TU_FAILS(adapt_flow_inverse(out, f, w, NULL, ROWS), ADAPT_ERR_INVALID_ARGUMENT);
    out[0] = 42.0f;
    w[3] = NAN;
    TU_FAILS(adapt_flow_inverse(out, f, w, cond, ROWS), ADAPT_ERR_NONFINITE);
    ck_assert_float_eq(out[0], 42.0f);
    TU_FAILS(adapt_flow_inverse(out, f, w, cond, -1), ADAPT_ERR_INVALID_ARGUMENT);
    adapt_train_params tp; /* ROWS = 5 in batches of 2: a last batch of one row, dropped */
    adapt_train_params_init(&tp, sizeof tp);
    tp.epochs = 1, tp.batch_size = 2, tp.n_threads = 1;
    w[3] = 0.0f;
    TU_OK(adapt_flow_train(f, w, cond, NULL, NULL, ROWS, NULL, &tp));
    tp.batch_size = 0;
    TU_FAILS(adapt_flow_train(f, w, cond, NULL, NULL, ROWS, NULL, &tp),
             ADAPT_ERR_INVALID_ARGUMENT);
    tp.batch_size = 1; /* batch normalisation on one row: refused before any step */
    TU_FAILS(adapt_flow_train(f, w, cond, NULL, (const int32_t[]){0, 0, 1, 1, 2}, ROWS, NULL,
                              &tp), ADAPT_ERR_INVALID_ARGUMENT);
    tp.batch_size = 2;
    adapt_flow_prior prior;
    adapt_flow_prior_init(&prior, sizeof prior);
    prior.attributes = DIM; /* no coordinate left for the rest */
    TU_FAILS(adapt_flow_train(f, w, cond, w, NULL, ROWS, &prior, &tp),
             ADAPT_ERR_INVALID_ARGUMENT);
    adapt_context_free(ctx);
    adapt_flow_free(f);
    adapt_flow_free(NULL);
}
END_TEST

/* The flow's parameter of that name. */
static float *param_named(adapt_flow *f, const char *name)
{
    for (int32_t i = 0; i < adapt_flow_param_count(f); i++)
        if (!strcmp(adapt_flow_param_name(f, i), name))
            return adapt_tensor_data(adapt_flow_param(f, i));
    ck_abort_msg("no parameter %s", name);
    return NULL;
}

/* A batch normalisation's scale of 0 (or a negative running variance) makes the flow
 * non-invertible: every call that would run it is refused, and works again once repaired. */
START_TEST(a_non_invertible_flow_is_refused)
{
    adapt_flow *f = flow_of(ADAPT_COUPLING_AFFINE, 0, 12);
    float w[ROWS * DIM], out[ROWS * DIM], value = 0.5f;
    tu_fill(w, ROWS * DIM, 13, -1.0f, 1.0f);
    adapt_context *ctx = inference();
    adapt_tensor *wt = NULL, *z = NULL, *logdet = NULL;
    TU_OK(adapt_tensor_input(&wt, ctx, 2, (int64_t[]){ROWS, DIM}, w));
    float *gamma = param_named(f, "norms.2.weight"), *var = param_named(f, "norms.1.running_var");
    const float kept[2] = {gamma[1], var[0]};
    for (int broken = 0; broken < 2; broken++) {
        if (broken == 0)
            gamma[1] = 0.0f;
        else
            var[0] = -1.0f;
        out[0] = 42.0f;
        TU_FAILS(adapt_flow_forward(&z, &logdet, ctx, f, wt, NULL), ADAPT_ERR_INVALID_ARGUMENT);
        TU_FAILS(adapt_flow_inverse(out, f, w, NULL, ROWS), ADAPT_ERR_INVALID_ARGUMENT);
        TU_FAILS(adapt_flow_edit(out, f, w, NULL, 1, (int32_t[]){0}, 1, &value),
                 ADAPT_ERR_INVALID_ARGUMENT);
        ck_assert_float_eq(out[0], 42.0f);
        ck_assert_ptr_nonnull(strstr(adapt_last_error(), "not invertible"));
        gamma[1] = kept[0], var[0] = kept[1];
    }
    TU_OK(adapt_flow_forward(&z, &logdet, ctx, f, wt, NULL));
    TU_OK(adapt_flow_inverse(out, f, w, NULL, ROWS));
    adapt_context_free(ctx);
    adapt_flow_free(f);
}
END_TEST

/* Saved and loaded, a flow is the same bit for bit; damaged, truncated, foreign or
 * non-invertible files are refused with *out untouched. */
START_TEST(checkpoints_round_trip_and_bad_files_are_refused)
{
    adapt_flow *f = flow_of(ADAPT_COUPLING_ADDITIVE, COND, 14), *g = NULL;
    const char *path = tu_in_scratch("flow.safetensors"), *bad = tu_in_scratch("bad.safetensors");
    TU_OK(adapt_flow_save(f, path));
    TU_OK(adapt_flow_load(&g, path));
    adapt_flow_params made, loaded;
    adapt_flow_params_init(&made, sizeof made);
    adapt_flow_params_init(&loaded, sizeof loaded);
    TU_OK(adapt_flow_settings(f, &made));
    TU_OK(adapt_flow_settings(g, &loaded));
    loaded.seed = made.seed; /* the seed made the first values; the file holds them all */
    ck_assert_mem_eq(&made, &loaded, sizeof made);
    ck_assert(made.dim == DIM && made.cond_dim == COND && made.coupling == ADAPT_COUPLING_ADDITIVE);
    ck_assert_int_eq(adapt_flow_param_count(g), adapt_flow_param_count(f));
    for (int32_t i = 0; i < adapt_flow_param_count(f); i++) {
        const adapt_tensor *a = adapt_flow_param(f, i), *b = adapt_flow_param(g, i);
        ck_assert_str_eq(adapt_flow_param_name(f, i), adapt_flow_param_name(g, i));
        ck_assert_mem_eq(adapt_tensor_data(a), adapt_tensor_data(b),
                         (size_t)adapt_tensor_numel(a) * sizeof(float));
    }
    float w[ROWS * DIM], cond[ROWS * COND], out[2][ROWS * DIM];
    tu_fill(w, ROWS * DIM, 15, -1.0f, 1.0f);
    tu_fill(cond, ROWS * COND, 16, 0.0f, 1.0f);
    TU_OK(adapt_flow_inverse(out[0], f, w, cond, ROWS));
    TU_OK(adapt_flow_inverse(out[1], g, w, cond, ROWS));
    ck_assert_mem_eq(out[0], out[1], sizeof out[0]);
    adapt_flow_free(g);
    size_t len = 0;
    unsigned char *bytes = tu_slurp(path, &len);
    adapt_flow *untouched = (adapt_flow *)&g;
    g = untouched;
    bytes[len - 3] ^= 0x40; /* a damaged value: its checksum no longer matches */
    tu_write_file(bad, bytes, len);
    TU_FAILS(adapt_flow_load(&g, bad), ADAPT_ERR_FORMAT);
    tu_write_file(bad, bytes, len / 2);
    TU_FAILS(adapt_flow_load(&g, bad), ADAPT_ERR_FORMAT);
    TU_FAILS(adapt_flow_load(&g, tu_in_scratch("missing")), ADAPT_ERR_IO);
    TU_FAILS(adapt_flow_load(NULL, path), ADAPT_ERR_INVALID_ARGUMENT);
    adapt_mlp_params mp; /* a model's checkpoint is no flow's */
    adapt_mlp_params_init(&mp, sizeof mp);
    mp.n_sizes = 2, mp.sizes = (const int64_t[]){3, 2};
    adapt_model *m = NULL;
    TU_OK(adapt_model_create_mlp(&m, &mp));
    TU_OK(adapt_model_save(m, bad));
    TU_FAILS(adapt_flow_load(&g, bad), ADAPT_ERR_FORMAT);
    param_named(f, "norms.1.weight")[2] = 0.0f; /* saved as it is, refused when loaded */
    TU_OK(adapt_flow_save(f, bad));
    TU_FAILS(adapt_flow_load(&g, bad), ADAPT_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(adapt_last_error(), "not invertible"));
    param_named(f, "norms.1.weight")[2] = NAN;
    TU_FAILS(adapt_flow_save(f, bad), ADAPT_ERR_NONFINITE);
    ck_assert_ptr_eq(g, untouched);
    free(bytes);
    adapt_model_free(m);
    adapt_flow_free(f);
}
END_TEST

enum { TRAIN_ROWS = 512, TRAIN_DIM = 4 };

/* A flow of 4 couplings trained with one attribute coordinate (values a) and, with `ids`, in
 * batches of 8 whole identities (64 rows when they have 8 each) and the identity loss of
 * weight identity_weight. */
static adapt_flow *trained_flow(const float *w, const float *a, const int32_t *ids,
                                float identity_weight, int32_t epochs, uint64_t seed)
{
    adapt_flow_params fp;
    adapt_flow_params_init(&fp, sizeof fp);
    fp.dim = TRAIN_DIM, fp.couplings = 4, fp.hidden = 32, fp.blocks = 1, fp.seed = seed;
    adapt_flow *f = NULL;
    TU_OK(adapt_flow_create(&f, &fp));
    adapt_flow_prior prior;
    adapt_flow_prior_init(&prior, sizeof prior);
    prior.attributes = 1, prior.sigma = 0.5f, prior.identity_weight = identity_weight;
    prior.identity_warmup = 5;
    adapt_train_params tp;
    adapt_train_params_init(&tp, sizeof tp);
    tp.epochs = epochs, tp.batch_size = ids ? 8 : 64, tp.optimizer = ADAPT_OPTIMIZER_ADAMW;
    tp.learning_rate = 3e-3f, tp.grad_clip_norm = 1.0f, tp.seed = seed + 1, tp.n_threads = 1;
    TU_OK(adapt_flow_train(f, w, NULL, a, ids, TRAIN_ROWS, &prior, &tp));
    return f;
}

static double correlation(const float *x, int64_t stride, const float *y, int64_t n)
{
    double mx = 0, my = 0, sxy = 0, sxx = 0, syy = 0;
    for (int64_t i = 0; i < n; i++)
        mx += x[i * stride] / (double)n, my += y[i] / (double)n;
    for (int64_t i = 0; i < n; i++) {
        const double u = x[i * stride] - mx, v = y[i] - my;
        sxy += u * v, sxx += u * u, syy += v * v;
    }
    return sxy / sqrt(sxx * syy);
}

START_TEST(training_puts_the_attribute_in_its_coordinate_and_edits_move_it)
{
    static float w[TRAIN_ROWS * TRAIN_DIM], a[TRAIN_ROWS], z[TRAIN_ROWS * TRAIN_DIM];
    static float edited[TRAIN_ROWS * TRAIN_DIM];
    tu_fill(w, TRAIN_ROWS * TRAIN_DIM, 12, -1.5f, 1.5f); /* a = w_0 + w_1, about unit wide */
    for (int i = 0; i < TRAIN_ROWS; i++)
        a[i] = 0.6f * (w[i * TRAIN_DIM] + w[i * TRAIN_DIM + 1]);
    adapt_flow *f = trained_flow(w, a, NULL, 0.0f, 30, 13);
    adapt_context *ctx = inference();
    adapt_tensor *wt = NULL, *zt = NULL, *lt = NULL;
    TU_OK(adapt_tensor_input(&wt, ctx, 2, (int64_t[]){TRAIN_ROWS, TRAIN_DIM}, w));
    TU_OK(adapt_flow_forward(&zt, &lt, ctx, f, wt, NULL));
    TU_OK(adapt_tensor_read(zt, z, TRAIN_ROWS * TRAIN_DIM));
    const double r = correlation(z, TRAIN_DIM, a, TRAIN_ROWS);
    ck_assert_msg(r > 0.95, "z_0 follows the attribute: correlation %.3f", r);
    static float ones[TRAIN_ROWS]; /* every row's attribute set to 1 */
    for (int i = 0; i < TRAIN_ROWS; i++)
        ones[i] = 1.0f;
    TU_OK(adapt_flow_edit(edited, f, w, NULL, TRAIN_ROWS, (int32_t[]){0}, 1, ones));
    double before = 0.0, after = 0.0;
    for (int i = 0; i < TRAIN_ROWS; i++) {
        const double got = 0.6 * (edited[i * TRAIN_DIM] + edited[i * TRAIN_DIM + 1]);
        before += fabs(a[i] - 1.0) / TRAIN_ROWS, after += fabs(got - 1.0) / TRAIN_ROWS;
    }
    ck_assert_msg(after < 0.5 * before, "edits move the attribute towards 1: mean distance "
                  "%.3f before, %.3f after", before, after);
    ones[3] = NAN;
    edited[0] = 42.0f;
    TU_FAILS(adapt_flow_edit(edited, f, w, NULL, TRAIN_ROWS, (int32_t[]){0}, 1, ones),
             ADAPT_ERR_NONFINITE);
    TU_FAILS(adapt_flow_edit(edited, f, w, NULL, TRAIN_ROWS, (int32_t[]){TRAIN_DIM}, 1, ones),
             ADAPT_ERR_INVALID_ARGUMENT); /* an attribute index out of range */
    ck_assert_float_eq(edited[0], 42.0f);
    adapt_context_free(ctx);
    adapt_flow_free(f);
}
END_TEST

/* The loop's samples with identities: each identity one unit of all its rows, each row of
 * id -1 a unit of its own. */
START_TEST(identities_make_units_of_all_their_rows)
{
    const int32_t ids[] = {3, -1, 3, 0, -1, 0, 3};
    ad_identity_units u;
    TU_OK(ad_identity_units_make(&u, ids, 7, "test"));
    ck_assert_int_eq(u.count, 4);
    const int64_t want_start[] = {0, 1, 2, 4, 7}, want_rows[] = {1, 4, 3, 5, 0, 2, 6};
    ck_assert_mem_eq(u.start, want_start, sizeof want_start);
    ck_assert_mem_eq(u.rows, want_rows, sizeof want_rows);
    adapt_context *ctx = inference();
    const int64_t *rows = NULL;
    int64_t n_rows = 0;
    TU_OK(ad_identity_units_rows(&rows, &n_rows, ctx, &u, (int64_t[]){3, 0}, 2, "test"));
    ck_assert_int_eq(n_rows, 4);
    const int64_t want_batch[] = {0, 2, 6, 1};
    ck_assert_mem_eq(rows, want_batch, sizeof want_batch);
    adapt_context_free(ctx);
    ad_identity_units_free(&u);
}
END_TEST

/* The mean squared distance of z's coordinates [1, dim) from their identity's mean. */
static double identity_spread(adapt_flow *f, const float *w, const int32_t *ids, int64_t n)
{
    float *z = malloc((size_t)(n * TRAIN_DIM) * sizeof *z);
    adapt_context *ctx = inference();
    adapt_tensor *wt = NULL, *zt = NULL, *lt = NULL;
    TU_OK(adapt_tensor_input(&wt, ctx, 2, (int64_t[]){n, TRAIN_DIM}, w));
    TU_OK(adapt_flow_forward(&zt, &lt, ctx, f, wt, NULL));
    TU_OK(adapt_tensor_read(zt, z, n * TRAIN_DIM));
    double spread = 0.0;
    for (int64_t i = 0; i < n; i++)
        for (int j = 1; j < TRAIN_DIM; j++) {
            double mean = 0.0;
            int members = 0;
            for (int64_t r = 0; r < n; r++)
                if (ids[r] == ids[i])
                    mean += z[r * TRAIN_DIM + j], members++;
            mean /= members;
            spread += (z[i * TRAIN_DIM + j] - mean) * (z[i * TRAIN_DIM + j] - mean) / (double)n;
        }
    adapt_context_free(ctx);
    free(z);
    return spread;
}

/* Identities: 64 of 8 rows each, a row being its identity's latent plus small noise in the
 * attribute's directions and larger noise in the others (as frames of one person vary). The
 * identity loss pulls each identity's codes together (against the same batches without it). */
START_TEST(the_identity_loss_pulls_an_identitys_codes_together)
{
    static float w[TRAIN_ROWS * TRAIN_DIM], a[TRAIN_ROWS], centres[64 * TRAIN_DIM];
    static int32_t ids[TRAIN_ROWS];
    tu_fill(centres, 64 * TRAIN_DIM, 15, -1.0f, 1.0f);
    tu_fill(w, TRAIN_ROWS * TRAIN_DIM, 16, -0.4f, 0.4f);
    for (int i = 0; i < TRAIN_ROWS; i++) {
        ids[i] = i / 8;
        for (int j = 0; j < TRAIN_DIM; j++)
            w[i * TRAIN_DIM + j] += centres[ids[i] * TRAIN_DIM + j];
        a[i] = 0.6f * (w[i * TRAIN_DIM] + w[i * TRAIN_DIM + 1]);
    }
    double spread[2];
    for (int with = 0; with < 2; with++) {
        adapt_flow *f = trained_flow(w, a, ids, with ? 10.0f : 0.0f, 20, 17);
        spread[with] = identity_spread(f, w, ids, TRAIN_ROWS);
        adapt_flow_free(f);
    }
    ck_assert_msg(spread[1] < 0.7 * spread[0], "identity spread %.4f with the loss, %.4f "
                  "without", spread[1], spread[0]);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("flow");
    TCase *tc = tcase_create("flow");
    tcase_add_checked_fixture(tc, tu_scratch_setup, tu_scratch_teardown);
    tcase_add_test(tc, the_inverse_undoes_the_forward_pass);
    tcase_add_test(tc, the_log_determinant_is_the_jacobians);
    tcase_add_test(tc, gradients_through_the_flow_match_central_differences);
    tcase_add_test(tc, bad_settings_and_inputs_are_refused);
    tcase_add_test(tc, a_non_invertible_flow_is_refused);
    tcase_add_test(tc, checkpoints_round_trip_and_bad_files_are_refused);
    tcase_add_test(tc, training_puts_the_attribute_in_its_coordinate_and_edits_move_it);
    tcase_add_test(tc, identities_make_units_of_all_their_rows);
    tcase_add_test(tc, the_identity_loss_pulls_an_identitys_codes_together);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
