#include "lib/adaptive/exit_policy.h"

#include <math.h>

#include "lib/core/error.h"
#include "lib/core/struct_io.h"

void adapt_exit_policy_init(adapt_exit_policy *policy, size_t size)
{
    static const adapt_exit_policy defaults = {.rule = ADAPT_EXIT_MAX_PROBABILITY,
                                               .threshold = 0.9f, .patience = 2,
                                               .scores = ADAPT_SCORES_LOGITS};
    ad_struct_init(policy, size, &defaults, sizeof defaults);
}

static adapt_status check_thresholds(const adapt_exit_policy *p, int32_t heads, const char *fn)
{
    if (!isfinite(p->threshold))
        return ad_fail(ADAPT_ERR_NONFINITE, "%s: policy threshold is %g", fn,
                       (double)p->threshold);
    for (int32_t h = 0; p->head_thresholds && h < heads; h++)
        if (!isfinite(p->head_thresholds[h]))
            return ad_fail(ADAPT_ERR_NONFINITE, "%s: policy head_thresholds[%d] is %g", fn,
                           (int)h, (double)p->head_thresholds[h]);
    return ADAPT_OK;
}

adapt_status ad_exit_policy_read(adapt_exit_policy *own, const adapt_exit_policy *user,
                                 int32_t heads, const char *fn)
{
    adapt_exit_policy_init(own, sizeof *own);
    adapt_status st = ad_struct_read(own, sizeof *own, user, "adapt_exit_policy", fn);
    if (st)
        return st;
    if (own->rule < ADAPT_EXIT_MAX_PROBABILITY || own->rule > ADAPT_EXIT_PATIENCE)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: unknown exit rule %d", fn,
                       (int)own->rule);
    if (own->patience < 1)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: patience %d; must be >= 1", fn,
                       (int)own->patience);
    if (own->scores != ADAPT_SCORES_LOGITS && own->scores != ADAPT_SCORES_ONE_VS_ALL)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: policy scores %d; must be LOGITS or "
                       "ONE_VS_ALL", fn, (int)own->scores);
    return check_thresholds(own, heads, fn);
}

ad_exit_view ad_exit_view_of(const double *p, int32_t classes, bool entropy)
{
    ad_exit_view v = {0, p[0], 0.0};
    for (int32_t k = 0; k < classes; k++) {
        if (p[k] > v.top)
            v.top = p[k], v.prediction = k;
        if (entropy && p[k] > 0.0)
            v.entropy -= p[k] * log(p[k]);
    }
    return v;
}
