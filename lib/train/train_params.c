#include "lib/train/train_params.h"

#include <math.h>
#include <stdbool.h>

#include "lib/core/error.h"
#include "lib/core/struct_io.h"

void adapt_train_params_init(adapt_train_params *params, size_t size)
{
    static const adapt_train_params defaults = {
        .epochs = 10, .batch_size = 64, .optimizer = ADAPT_OPTIMIZER_SGD,
        .learning_rate = 0.01f, .momentum = 0.9f, .beta1 = 0.9f, .beta2 = 0.999f,
        .adam_eps = 1e-8f, .schedule = ADAPT_SCHEDULE_CONSTANT, .step_epochs = 10,
        .step_gamma = 0.1f, .sparsity_warmup = 0.5f, .acm_budget_weight = 0.1f,
        .acm_entropy_weight = 0.05f, .acm_diversity_weight = 0.05f, .ibp_kappa = 0.5f,
        .ibp_ramp_start = 0.1f, .ibp_ramp_end = 0.6f, .ibp_input_max = 1.0f};
    ad_struct_init(params, size, &defaults, sizeof defaults);
}

/* Allowed interval of a float field; `open_lo`/`open_hi` exclude the bound. */
typedef struct {
    const char *name;
    float value;
    double lo, hi;
    bool open_lo, open_hi;
} float_rule;

static adapt_status check_float(const float_rule *r, const char *fn)
{
    if (!isfinite(r->value))
        return ad_fail(ADAPT_ERR_NONFINITE, "%s: %s is %g", fn, r->name, (double)r->value);
    const double v = r->value;
    const bool ok = (r->open_lo ? v > r->lo : v >= r->lo) && (r->open_hi ? v < r->hi : v <= r->hi);
    if (!ok)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: %s = %g outside %c%g, %g%c", fn, r->name,
                       v, r->open_lo ? '(' : '[', r->lo, r->hi, r->open_hi ? ')' : ']');
    return ADAPT_OK;
}

static adapt_status check_floats(const adapt_train_params *p, const char *fn)
{
    const float_rule rules[] = {
        {"learning_rate", p->learning_rate, 0.0, INFINITY, true, true},
        {"momentum", p->momentum, 0.0, INFINITY, false, true},
        {"weight_decay", p->weight_decay, 0.0, INFINITY, false, true},
        {"beta1", p->beta1, 0.0, 1.0, false, true},
        {"beta2", p->beta2, 0.0, 1.0, false, true},
        {"adam_eps", p->adam_eps, 0.0, INFINITY, true, true},
        {"step_gamma", p->step_gamma, 0.0, INFINITY, true, true},
        {"min_learning_rate", p->min_learning_rate, 0.0, INFINITY, false, true},
        {"grad_clip_norm", p->grad_clip_norm, 0.0, INFINITY, false, true},
        {"label_smoothing", p->label_smoothing, 0.0, 1.0, false, true},
        {"sparsity_penalty", p->sparsity_penalty, 0.0, INFINITY, false, true},
        {"sparsity_warmup", p->sparsity_warmup, 0.0, 1.0, false, false},
        {"acm_budget", p->acm_budget, 0.0, 1.0, false, false},
        {"acm_budget_weight", p->acm_budget_weight, 0.0, INFINITY, false, true},
        {"acm_entropy_weight", p->acm_entropy_weight, 0.0, INFINITY, false, true},
        {"acm_diversity_weight", p->acm_diversity_weight, 0.0, INFINITY, false, true},
        {"ibp_epsilon", p->ibp_epsilon, 0.0, INFINITY, false, true},
        {"ibp_kappa", p->ibp_kappa, 0.0, 1.0, false, false},
        {"ibp_ramp_start", p->ibp_ramp_start, 0.0, 1.0, false, false},
        {"ibp_ramp_end", p->ibp_ramp_end, p->ibp_ramp_start, 1.0, false, false},
        {"ibp_input_min", p->ibp_input_min, -INFINITY, INFINITY, true, true},
        {"ibp_input_max", p->ibp_input_max, p->ibp_input_min, INFINITY, false, true},
        {"interval_tau", p->interval_tau, 0.0, 1.0, false, false},
        {"consolidation_weight", p->consolidation_weight, 0.0, INFINITY, false, true},
    };
    adapt_status st = ADAPT_OK;
    for (size_t i = 0; i < sizeof rules / sizeof rules[0] && !st; i++)
        st = check_float(&rules[i], fn);
    return st;
}

static adapt_status check_ints(const adapt_train_params *p, const char *fn)
{
    const struct {
        const char *name;
        int32_t value, lo, hi;
    } rules[] = {
        {"epochs", p->epochs, 1, INT32_MAX},
        {"batch_size", p->batch_size, 1, INT32_MAX},
        {"optimizer", p->optimizer, ADAPT_OPTIMIZER_SGD, ADAPT_OPTIMIZER_ADAMW},
        {"schedule", p->schedule, ADAPT_SCHEDULE_CONSTANT, ADAPT_SCHEDULE_COSINE},
        {"warmup_steps", p->warmup_steps, 0, INT32_MAX},
        {"step_epochs", p->step_epochs, 1, INT32_MAX},
        {"n_threads", p->n_threads, 0, INT32_MAX},
        {"loss", p->loss, ADAPT_LOSS_CROSS_ENTROPY, ADAPT_LOSS_ONE_VS_ALL},
    };
    for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++)
        if (rules[i].value < rules[i].lo || rules[i].value > rules[i].hi)
            return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: %s = %d outside [%d, %d]", fn,
                           rules[i].name, (int)rules[i].value, (int)rules[i].lo,
                           (int)rules[i].hi);
    if (p->nesterov && (p->optimizer != ADAPT_OPTIMIZER_SGD || p->momentum <= 0.0f))
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT,
                       "%s: nesterov needs the SGD optimizer with momentum > 0", fn);
    return ADAPT_OK;
}

/* A setting that would do nothing is refused rather than ignored: its caller expects it to
 * act. The ramp and kappa shape IBP training only (ibp_epsilon > 0, no contraction); the
 * input range serves both. */
static adapt_status check_unused_interval_fields(const adapt_train_params *p, const char *fn)
{
    adapt_train_params d;
    adapt_train_params_init(&d, sizeof d);
    const bool ibp = p->ibp_epsilon > 0.0f && p->interval_tau == 0.0f;
    const bool boxes = p->ibp_epsilon > 0.0f || p->interval_tau > 0.0f;
    const struct {
        const char *name;
        bool unused;
    } fields[] = {{"ibp_kappa", !ibp && p->ibp_kappa != d.ibp_kappa},
                  {"ibp_ramp_start", !ibp && p->ibp_ramp_start != d.ibp_ramp_start},
                  {"ibp_ramp_end", !ibp && p->ibp_ramp_end != d.ibp_ramp_end},
                  {"ibp_input_min", !boxes && p->ibp_input_min != d.ibp_input_min},
                  {"ibp_input_max", !boxes && p->ibp_input_max != d.ibp_input_max}};
    for (size_t i = 0; i < sizeof fields / sizeof *fields; i++)
        if (fields[i].unused)
            return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: %s is set but does nothing with "
                           "ibp_epsilon %g and interval_tau %g (docs/intervals.md)", fn,
                           fields[i].name, (double)p->ibp_epsilon, (double)p->interval_tau);
    return ADAPT_OK;
}

adapt_status ad_train_params_read(adapt_train_params *own, const adapt_train_params *user,
                                  const char *fn)
{
    adapt_train_params_init(own, sizeof *own);
    adapt_status st = ad_struct_read(own, sizeof *own, user, "adapt_train_params", fn);
    if (!st)
        st = check_floats(own, fn);
    if (!st)
        st = check_ints(own, fn);
    if (!st)
        st = check_unused_interval_fields(own, fn);
    if (!st && own->sparsity_penalty > 0.0f && own->recompute_blocks)
        st = ad_fail(ADAPT_ERR_INVALID_ARGUMENT,
                     "%s: sparsity_penalty and recompute_blocks do not go together", fn);
    const bool boxes = own->ibp_epsilon > 0.0f || own->interval_tau > 0.0f;
    if (!st && boxes && own->recompute_blocks)
        st = ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: ibp_epsilon or interval_tau and "
                     "recompute_blocks do not go together", fn);
    if (!st && boxes && own->sparsity_penalty > 0.0f)
        st = ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: ibp_epsilon or interval_tau and "
                     "sparsity_penalty do not go together (the interval forward measures no "
                     "activations)", fn);
    const bool one_vs_all = own->loss == ADAPT_LOSS_ONE_VS_ALL;
    if (!st && one_vs_all && (own->label_smoothing > 0.0f || boxes))
        st = ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: the one-vs-all loss takes no "
                     "label_smoothing, ibp_epsilon or interval_tau", fn);
    if (!st && own->consolidation_weight > 0.0f && !own->consolidation)
        st = ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: consolidation_weight is set but "
                     "consolidation is NULL", fn);
    if (!st && own->acm_budget > 0.0f && own->recompute_blocks)
        st = ad_fail(ADAPT_ERR_INVALID_ARGUMENT,
                     "%s: acm_budget and recompute_blocks do not go together", fn);
    return st;
}

ad_optim_config ad_train_optim_config(const adapt_train_params *p)
{
    return (ad_optim_config){.kind = (adapt_optimizer_kind)p->optimizer,
                             .momentum = p->momentum, .nesterov = p->nesterov != 0,
                             .weight_decay = p->weight_decay, .beta1 = p->beta1,
                             .beta2 = p->beta2, .eps = p->adam_eps};
}
