/* The named parameters of a model in PyTorch state_dict order, and their seeded initialisation.
 * Parameter i of a model is filled from random stream i of the model's seed, so the weights
 * depend only on the seed and the architecture. */
#ifndef AD_NN_PARAMS_H
#define AD_NN_PARAMS_H

#include <stdbool.h>
#include <stdint.h>

#include "adapt.h"
#include "lib/core/busy.h"

typedef enum {
    AD_INIT_UNIFORM,  /* uniform(-value, value) */
    AD_INIT_NORMAL,   /* normal(0, value^2) */
    AD_INIT_CONSTANT, /* every entry = value */
} ad_init_kind;

typedef struct {
    ad_init_kind kind;
    float value;
    bool buffer; /* running statistics: no gradient */
} ad_init;

typedef struct {
    char *name;
    adapt_tensor *tensor;
} ad_named_param;

typedef struct {
    ad_named_param *items;
    int32_t count, capacity;
    int64_t values; /* parameter values held, buffers included */
    int64_t limit;  /* more values than this is a FORMAT error (hostile architectures) */
    uint64_t seed;
    ad_busy *busy; /* the lock of the model holding the parameters, or NULL (busy.h) */
} ad_param_list;

void ad_params_init(ad_param_list *list, uint64_t seed, int64_t limit);

/* Creates, names (prefix + name) and initialises a parameter, appending it to the list. */
adapt_status ad_params_add(adapt_tensor **out, ad_param_list *list, const char *prefix,
                           const char *name, int32_t ndim, const int64_t *shape, ad_init init);

/* Hands the parameters, and those added later, to the model whose lock is `busy` (NULL: to
 * none). */
void ad_params_hold(ad_param_list *list, ad_busy *busy);

/* Frees the parameters from index `count` on: undoes a failed partial build. */
void ad_params_truncate(ad_param_list *list, int32_t count);

void ad_params_free(ad_param_list *list);

/* PyTorch's default bound for linear and convolution weights and biases: 1/sqrt(fan_in). */
ad_init ad_init_fan_in(int64_t fan_in);

/* Joins "blocks.3." and "attn." into buf (size >= AD_PREFIX_MAX); returns buf. */
#define AD_PREFIX_MAX 128
const char *ad_prefix_join(char *buf, const char *a, const char *b);

#endif
