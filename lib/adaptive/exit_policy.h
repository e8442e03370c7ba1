/* Exit policies: reading a caller's policy, and the decision at one exit. Inference
 * (exit_infer.c) and the functions of recorded outputs (exit_simulate.c, exit_sweep.c,
 * exit_fit.c) decide through these alone, so a policy simulated on records exits exactly
 * where inference would. Probabilities are compared in double. */
#ifndef AD_ADAPTIVE_EXIT_POLICY_H
#define AD_ADAPTIVE_EXIT_POLICY_H

#include <stdbool.h>
#include <stdint.h>

#include "adapt.h"

/* What a rule needs to know of one exit's probability row. */
typedef struct {
    int32_t prediction; /* the first largest probability's class */
    double top;         /* that probability */
    double entropy;     /* -sum p log p in nats, 0 log 0 = 0; 0 unless asked for */
} ad_exit_view;

/* The defaults of adapt_exit_policy_init() overlaid with `user` (NULL: the defaults), then
 * checked for a model of `heads` heads: a known rule, finite thresholds (`heads` of them when
 * head_thresholds is set), patience >= 1. INVALID_ARGUMENT or NONFINITE otherwise. */
adapt_status ad_exit_policy_read(adapt_exit_policy *own, const adapt_exit_policy *user,
                                 int32_t heads, const char *fn);

/* The view of probability row p; its entropy (a logarithm per class) only when `entropy`. */
ad_exit_view ad_exit_view_of(const double *p, int32_t classes, bool entropy);

/* The threshold of head `head` under `policy`. */
static inline double ad_exit_threshold(const adapt_exit_policy *policy, int32_t head)
{
    return policy->head_thresholds ? policy->head_thresholds[head] : policy->threshold;
}

/* Whether a sample leaves at head `head` (not the final exit) given its view there and its
 * streak: the number of consecutive exits up to and including this one that predicted the
 * same class. */
static inline bool ad_exit_leaves(const adapt_exit_policy *policy, int32_t head,
                                  const ad_exit_view *v, int32_t streak)
{
    switch (policy->rule) {
    case ADAPT_EXIT_MAX_PROBABILITY:
        return v->top >= ad_exit_threshold(policy, head);
    case ADAPT_EXIT_ENTROPY:
        return v->entropy <= ad_exit_threshold(policy, head);
    default:
        return streak >= policy->patience;
    }
}

#endif
