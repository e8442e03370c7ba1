#include "lib/nn/params.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/core/error.h"
#include "lib/core/rng.h"
#include "lib/core/tensor.h"
#include "lib/nn/dims.h"

void ad_params_init(ad_param_list *list, uint64_t seed, int64_t limit)
{
    *list = (ad_param_list){.seed = seed, .limit = limit};
}

static void fill(float *restrict x, int64_t n, ad_init init, uint64_t seed, uint64_t stream)
{
    if (init.kind == AD_INIT_CONSTANT) {
        for (int64_t i = 0; i < n; i++)
            x[i] = init.value;
    } else if (init.kind == AD_INIT_UNIFORM) {
        for (int64_t i = 0; i < n; i++)
            x[i] = (2.0f * ad_uniform(seed, stream, (uint64_t)i) - 1.0f) * init.value;
    } else {
        /* Box-Muller on two uniforms per value; 1 - u keeps the logarithm finite. */
        const double two_pi = 6.283185307179586;
        for (int64_t i = 0; i < n; i++) {
            double u1 = ad_uniform(seed, stream, 2 * (uint64_t)i);
            double u2 = ad_uniform(seed, stream, 2 * (uint64_t)i + 1);
            x[i] = (float)(init.value * sqrt(-2.0 * log(1.0 - u1)) * cos(two_pi * u2));
        }
    }
}

static adapt_status grow(ad_param_list *list)
{
    if (list->count < list->capacity)
        return ADAPT_OK;
    if (list->capacity > INT32_MAX / 2)
        return ad_fail(ADAPT_ERR_OVERFLOW, "model has too many parameters");
    int32_t capacity = list->capacity ? 2 * list->capacity : 16;
    ad_named_param *items = realloc(list->items, (size_t)capacity * sizeof *items);
    if (!items)
        return ad_fail(ADAPT_ERR_OUT_OF_MEMORY, "no memory for a parameter list of %d entries",
                       (int)capacity);
    list->items = items;
    list->capacity = capacity;
    return ADAPT_OK;
}

static adapt_status check_limit(const ad_param_list *list, int32_t ndim, const int64_t *shape)
{
    if (list->limit == INT64_MAX)
        return ADAPT_OK; /* no budget: ad_param_new() guards the sizes */
    int64_t n = 1;
    for (int32_t i = 0; i < ndim; i++)
        n = ad_mul_sat(n, shape[i]);
    if (n > list->limit - list->values)
        return ad_fail(ADAPT_ERR_FORMAT, "architecture asks for more than %lld parameter values",
                       (long long)list->limit);
    return ADAPT_OK;
}

adapt_status ad_params_add(adapt_tensor **out, ad_param_list *list, const char *prefix,
                           const char *name, int32_t ndim, const int64_t *shape, ad_init init)
{
    adapt_status st = check_limit(list, ndim, shape);
    if (!st)
        st = grow(list);
    adapt_tensor *t = NULL;
    if (!st)
        st = ad_param_new(&t, ndim, shape);
    if (st)
        return st;
    size_t len = strlen(prefix) + strlen(name) + 1;
    char *full = malloc(len);
    if (!full) {
        ad_param_release(t);
        return ad_fail(ADAPT_ERR_OUT_OF_MEMORY, "no memory for a parameter name");
    }
    snprintf(full, len, "%s%s", prefix, name);
    t->flags |= AD_TENSOR_HELD;
    if (init.buffer)
        t->flags &= ~(uint32_t)AD_TENSOR_REQUIRES_GRAD;
    t->busy = list->busy;
    fill(t->data, t->numel, init, list->seed, (uint64_t)list->count);
    list->items[list->count++] = (ad_named_param){.name = full, .tensor = t};
    list->values += t->numel;
    *out = t;
    return ADAPT_OK;
}

void ad_params_hold(ad_param_list *list, ad_busy *busy)
{
    list->busy = busy;
    for (int32_t i = 0; i < list->count; i++)
        list->items[i].tensor->busy = busy;
}

void ad_params_truncate(ad_param_list *list, int32_t count)
{
    while (list->count > count) {
        ad_named_param *p = &list->items[--list->count];
        list->values -= p->tensor->numel;
        ad_param_release(p->tensor);
        free(p->name);
    }
}

void ad_params_free(ad_param_list *list)
{
    ad_params_truncate(list, 0);
    free(list->items);
    list->items = NULL;
    list->capacity = 0;
}

ad_init ad_init_fan_in(int64_t fan_in)
{
    return (ad_init){.kind = AD_INIT_UNIFORM, .value = (float)(1.0 / sqrt((double)fan_in))};
}

const char *ad_prefix_join(char *buf, const char *a, const char *b)
{
    snprintf(buf, AD_PREFIX_MAX, "%s%s", a, b);
    return buf;
}
