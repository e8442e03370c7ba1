/* adapt_model_train_exits: the training regimes of multi-exit models (arXiv 2407.14320) as
 * phases of the ordinary training loop with other objectives. */
#include <stdlib.h>

#include "lib/adaptive/exit_forward.h"
#include "lib/adaptive/head.h"
#include "lib/core/context.h"
#include "lib/core/error.h"
#include "lib/core/struct_io.h"
#include "lib/core/tensor.h"
#include "lib/models/model.h"
#include "lib/models/model_impl.h"
#include "lib/ops/ops.h"
#include "lib/train/train_params.h"
#include "lib/train/trainer.h"

static const char *const fn = "adapt_model_train_exits";

typedef struct {
    adapt_model *model;
    const adapt_exit_train_params *p;
    bool frozen_backbone; /* disjoint: only the heads learn, and only their losses count */
} exit_objective;

void adapt_exit_train_params_init(adapt_exit_train_params *params, size_t size)
{
    static const adapt_exit_train_params defaults = {.regime = ADAPT_REGIME_MIXED,
                                                     .distillation_temperature = 1.0f};
    ad_struct_init(params, size, &defaults, sizeof defaults);
}

static adapt_status read_params(adapt_exit_train_params *own,
                                const adapt_exit_train_params *user)
{
    adapt_exit_train_params_init(own, sizeof *own);
    adapt_status st = ad_struct_read(own, sizeof *own, user, "adapt_exit_train_params", fn);
    if (st)
        return st;
    if (own->regime < ADAPT_REGIME_JOINT || own->regime > ADAPT_REGIME_MIXED)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: unknown regime %d", fn,
                       (int)own->regime);
    if (!(own->distillation >= 0.0f && own->distillation <= 1.0f))
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: distillation %g outside [0, 1]", fn,
                       (double)own->distillation);
    if (!(own->distillation_temperature > 0.0f && own->distillation_temperature < 1e30f))
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: distillation_temperature %g; must be "
                       "finite and > 0", fn, (double)own->distillation_temperature);
    return ADAPT_OK;
}

/* softmax(z / T) of the final logits, as constants: targets, not a path for gradients. */
static adapt_status soft_targets(adapt_tensor **out, adapt_context *ctx, adapt_tensor *z,
                                 float temperature)
{
    const bool grad = ctx->grad_enabled;
    ctx->grad_enabled = false;
    adapt_tensor *scaled;
    adapt_status st = ad_op_scale(&scaled, ctx, z, 1.0f / temperature);
    if (!st)
        st = ad_op_softmax(out, ctx, scaled);
    ctx->grad_enabled = grad;
    return st;
}

/* T^2 times the cross-entropy of the head's tempered softmax against the soft targets. */
static adapt_status distillation_term(adapt_tensor **out, adapt_context *ctx, adapt_tensor *z,
                                      adapt_tensor *targets, float temperature)
{
    adapt_tensor *t;
    adapt_status st = ad_op_scale(&t, ctx, z, 1.0f / temperature);
    if (!st)
        st = ad_op_log_softmax(&t, ctx, t);
    if (!st)
        st = ad_op_mul(&t, ctx, t, targets);
    if (!st)
        st = ad_op_sum(&t, ctx, t, ADAPT_AXIS_ALL);
    const float n = (float)z->shape[0];
    return st ? st : ad_op_scale(out, ctx, t, -temperature * temperature / n);
}

/* Exit k's share of the loss among `terms` exits. */
static float exit_weight(const adapt_exit_train_params *p, int32_t k, int32_t terms)
{
    return p->proportional_weights ? (float)(2.0 * (k + 1) / ((double)terms * (terms + 1)))
                                   : 1.0f / (float)terms;
}

/* The loss of one exit: the phase's (cross-entropy or one-vs-all), blended with distillation
 * for a head. */
static adapt_status exit_term(adapt_tensor **out, adapt_context *ctx, const exit_objective *o,
                              adapt_tensor *z, adapt_tensor *targets, const int32_t *labels,
                              const adapt_train_params *settings)
{
    const float w = o->p->distillation;
    adapt_tensor *hard, *soft; /* the labels' term and the soft targets' */
    adapt_status st = settings->loss == ADAPT_LOSS_ONE_VS_ALL
                          ? ad_op_one_vs_all_loss(&hard, ctx, z, labels)
                          : ad_op_cross_entropy(&hard, ctx, z, labels, settings->label_smoothing);
    if (st)
        return st;
    if (!targets) {
        *out = hard;
        return ADAPT_OK;
    }
    st = distillation_term(&soft, ctx, z, targets, o->p->distillation_temperature);
    if (!st)
        st = ad_op_scale(&hard, ctx, hard, 1.0f - w);
    if (!st)
        st = ad_op_scale(&soft, ctx, soft, w);
    return st ? st : ad_op_add(out, ctx, hard, soft);
}

static adapt_status exit_loss(adapt_tensor **loss, adapt_context *ctx, void *arg,
                              adapt_tensor *x, const int32_t *labels,
                              const adapt_train_params *settings)
{
    const exit_objective *o = arg;
    const int32_t heads = ad_head_count(o->model), exits = heads + 1;
    const int32_t terms = o->frozen_backbone ? heads : exits;
    adapt_tensor **logits = NULL, *targets = NULL, *total = NULL;
    adapt_status st = ad_scratch((void **)&logits, ctx, (size_t)exits * sizeof *logits, fn);
    if (!st)
        st = ad_exits_forward(logits, ctx, o->model, x, o->frozen_backbone);
    if (!st && o->p->distillation > 0.0f)
        st = soft_targets(&targets, ctx, logits[heads], o->p->distillation_temperature);
    for (int32_t k = 0; k < terms && !st; k++) {
        adapt_tensor *term;
        st = exit_term(&term, ctx, o, logits[k], k < heads ? targets : NULL, labels, settings);
        if (!st)
            st = ad_op_scale(&term, ctx, term, exit_weight(o->p, k, terms));
        if (!st && total)
            st = ad_op_add(&total, ctx, total, term);
        else if (!st)
            total = term;
    }
    if (!st)
        *loss = total;
    return st;
}

/* The parameters from index `first` of the model on: all (0) or the heads'. */
static adapt_status run_exit_phase(adapt_model *model, const adapt_dataset *train,
                                   const adapt_dataset *validation,
                                   const adapt_exit_train_params *p, bool frozen)
{
    const int32_t first = frozen ? ad_backbone_param_count(model) : 0;
    const int32_t count = adapt_model_param_count(model) - first;
    adapt_tensor **params = malloc(((size_t)count + 1) * sizeof *params);
    if (!params)
        return ad_fail(ADAPT_ERR_OUT_OF_MEMORY, "%s: parameter list", fn);
    for (int32_t i = 0; i < count; i++)
        params[i] = ad_model_param(model, first + i);
    exit_objective o = {model, p, frozen};
    const ad_train_objective objective = {.loss = exit_loss, .arg = &o, .params = params,
                                          .n_params = count};
    adapt_status st = ad_train_run(model, train, validation, p->exit_phase, &objective, fn);
    free(params);
    return st;
}

static adapt_status train_exits(adapt_model *model, const adapt_dataset *train,
                                const adapt_dataset *validation,
                                const adapt_exit_train_params *params)
{
    adapt_exit_train_params p;
    adapt_status st = read_params(&p, params);
    if (st)
        return st;
    adapt_train_params exit_phase;
    if ((st = ad_train_params_read(&exit_phase, p.exit_phase, fn)))
        return st;
    if (exit_phase.loss == ADAPT_LOSS_ONE_VS_ALL && p.distillation > 0.0f)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: distillation matches softmax outputs; "
                       "the one-vs-all loss takes none", fn);
    if (!model)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: model is NULL", fn);
    if (!ad_head_count(model))
        return ad_fail(ADAPT_ERR_STATE, "%s: the model has no heads (adapt_model_add_head)", fn);
    if (p.regime != ADAPT_REGIME_JOINT)
        st = ad_train_run(model, train, validation, p.backbone_phase, NULL, fn);
    return st ? st : run_exit_phase(model, train, validation, &p,
                                    p.regime == ADAPT_REGIME_DISJOINT);
}

adapt_status adapt_model_train_exits(adapt_model *model, const adapt_dataset *train,
                                     const adapt_dataset *validation,
                                     const adapt_exit_train_params *params)
{
    ad_hold hold;
    adapt_status st = ad_model_enter(&hold, model, AD_WRITE, fn);
    if (!st)
        st = train_exits(model, train, validation, params);
    ad_busy_leave(&hold);
    return ad_prefix(st, fn); /* layers and kernels cannot name the caller */
}
