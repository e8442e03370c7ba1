/* The ACM's first two training phases, each a module objective (module_objective.h) over
 * recordings of what the replaced submodule receives and returns:
 *   - distillation: every choice of learner count c fits the submodule's output, the squared
 *     error averaged over the choices; learner n learns only from choice n, on what learners
 *     before it left (their sum enters its term as a constant): each learner fits the
 *     residual of the ones before, the authors' training as their code runs it;
 *   - gates: each token's label is the count after which one more learner stops cutting the
 *     error by gamma, and the gate learns it by cross-entropy on its logits. */
#include <math.h>
#include <string.h>

#include "lib/adaptive/acm.h"
#include "lib/core/error.h"
#include "lib/core/tensor.h"
#include "lib/ops/ops.h"
#include "lib/train/module_objective.h"

static adapt_status check(const adapt_model *module, int32_t i, const char *fn)
{
    return ad_acm_of(module) ? ADAPT_OK
                          : ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: module %d is not one ACM "
                                    "layer", fn, (int)i);
}

/* Every learner's output for every token, [..., learners, out], without a tape. */
static adapt_status outputs_untaped(adapt_tensor **h, adapt_context *ctx, const ad_acm *a,
                                    adapt_tensor *x)
{
    const bool grad = ctx->grad_enabled;
    ctx->grad_enabled = false;
    adapt_status st = ad_acm_learner_outputs(h, ctx, a, x);
    ctx->grad_enabled = grad;
    return st;
}

/* Learner n's slice of h as a tensor of target's shape. */
static adapt_status learner(adapt_tensor **out, adapt_context *ctx, adapt_tensor *h, int64_t n,
                            const adapt_tensor *target)
{
    adapt_status st = ad_op_slice(out, ctx, h, h->ndim - 2, n, n + 1);
    return st ? st : ad_op_reshape(out, ctx, *out, target->ndim, target->shape);
}

static adapt_status add_term(adapt_tensor **total, adapt_context *ctx, adapt_tensor *term)
{
    if (!*total) {
        *total = term;
        return ADAPT_OK;
    }
    return ad_op_add(total, ctx, *total, term);
}

adapt_status ad_acm_distill_loss(adapt_tensor **loss, adapt_context *ctx, adapt_model *module,
                                 adapt_tensor *x, adapt_tensor *target, const void *unused)
{
    (void)unused;
    const ad_acm *a = ad_acm_of(module);
    adapt_tensor *h, *before, *total = NULL;
    adapt_status st = ad_acm_learner_outputs(&h, ctx, a, x);
    if (!st)
        st = ad_tensor_new(&before, ctx, target->ndim, target->shape);
    if (st)
        return st;
    memset(before->data, 0, (size_t)before->numel * sizeof(float));
    for (int64_t c = 0; c <= a->learners && !st; c++) {
        adapt_tensor *y = before, *term = NULL, *hc = NULL;
        if (c > 0) {
            st = learner(&hc, ctx, h, c - 1, target);
            if (!st)
                st = ad_op_add(&y, ctx, hc, before); /* before: no gradient */
        }
        if (!st && c >= a->min_learners)
            st = ad_op_mse(&term, ctx, y, target);
        if (!st && c >= a->min_learners)
            st = add_term(&total, ctx, term);
        if (!st && hc) { /* the next choice's constant: this one's sum, detached */
            adapt_tensor *next;
            st = ad_tensor_new(&next, ctx, target->ndim, target->shape);
            for (int64_t i = 0; !st && i < next->numel; i++)
                next->data[i] = before->data[i] + hc->data[i];
            before = next;
        }
    }
    return st ? st : ad_op_scale(loss, ctx, total, 1.0f / (float)ad_acm_choices(a));
}

int64_t ad_acm_label(const double *e, int64_t min_learners, int64_t learners, double gamma)
{
    for (int64_t c = min_learners; c < learners; c++)
        if (e[c] == 0.0 || e[c] < gamma * e[c + 1])
            return c;
    return learners;
}

/* labels[t] - min_learners for each token: the errors of every count, from h and target. */
static void gate_labels(int32_t *labels, const ad_acm *a, const float *h, const float *target,
                        int64_t tokens, double gamma, double *e, float *sum)
{
    for (int64_t t = 0; t < tokens; t++) {
        const float *f = target + t * a->out;
        memset(sum, 0, (size_t)a->out * sizeof *sum);
        for (int64_t c = 0; c <= a->learners; c++) {
            double err = 0.0;
            for (int64_t o = 0; o < a->out; o++) {
                sum[o] += c > 0 ? h[(t * a->learners + c - 1) * a->out + o] : 0.0f;
                err += ((double)sum[o] - f[o]) * ((double)sum[o] - f[o]);
            }
            e[c] = sqrt(err);
        }
        labels[t] = (int32_t)(ad_acm_label(e, a->min_learners, a->learners, gamma) -
                              a->min_learners);
    }
}

/* arg: the gamma of the labels, a double. */
static adapt_status gate_loss(adapt_tensor **loss, adapt_context *ctx, adapt_model *module,
                              adapt_tensor *x, adapt_tensor *target, const void *arg)
{
    static const char *const fn = "adapt_acm_train_gates";
    const ad_acm *a = ad_acm_of(module);
    const int64_t tokens = x->numel / a->in;
    adapt_tensor *h, *logits;
    int32_t *labels;
    double *e;
    float *sum;
    adapt_status st = outputs_untaped(&h, ctx, a, x);
    if (!st)
        st = ad_scratch((void **)&labels, ctx, (size_t)tokens * sizeof *labels, fn);
    if (!st)
        st = ad_scratch((void **)&e, ctx, (size_t)(a->learners + 1) * sizeof *e, fn);
    if (!st)
        st = ad_scratch((void **)&sum, ctx, (size_t)a->out * sizeof *sum, fn);
    if (st)
        return st;
    gate_labels(labels, a, h->data, target->data, tokens, *(const double *)arg, e, sum);
    st = ad_acm_gate_logits(&logits, ctx, a, x);
    if (!st)
        st = ad_op_reshape(&logits, ctx, logits, 2, (int64_t[]){tokens, ad_acm_choices(a)});
    return st ? st : ad_op_cross_entropy(loss, ctx, logits, labels, 0.0f);
}

static int32_t learner_params(adapt_tensor **out, adapt_model *module)
{
    const ad_acm *a = ad_acm_of(module);
    if (out)
        out[0] = a->w1, out[1] = a->b1, out[2] = a->w2;
    return 3;
}

static int32_t gate_params(adapt_tensor **out, adapt_model *module)
{
    const ad_acm *a = ad_acm_of(module);
    for (int i = 0; out && i < 3; i++)
        out[2 * i] = a->gate[i].weight, out[2 * i + 1] = a->gate[i].bias;
    return 6;
}

adapt_status adapt_acm_distill(adapt_model *const *acms,
                               const adapt_recording *const *recordings, int32_t n,
                               const adapt_train_params *params)
{
    static const ad_module_objective distill = {
        .loss = ad_acm_distill_loss, .params = learner_params, .check = check, .mean = true};
    return ad_train_modules(acms, recordings, n, params, &distill, "adapt_acm_distill");
}

adapt_status adapt_acm_train_gates(adapt_model *const *acms,
                                   const adapt_recording *const *recordings, int32_t n,
                                   float gamma, const adapt_train_params *params)
{
    const char *fn = "adapt_acm_train_gates";
    const double labels_gamma = gamma;
    const ad_module_objective gates = {.loss = gate_loss, .arg = &labels_gamma,
                                       .params = gate_params, .check = check, .mean = true};
    if (!(gamma >= 1.0f) || !isfinite(gamma))
        return ad_fail(isnan(gamma) ? ADAPT_ERR_NONFINITE : ADAPT_ERR_INVALID_ARGUMENT,
                       "%s: gamma %g must be a finite number >= 1", fn, (double)gamma);
    return ad_train_modules(acms, recordings, n, params, &gates, fn);
}
