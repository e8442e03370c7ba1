/* The tensor record shared by parameters and activations. */
#ifndef AD_CORE_TENSOR_H
#define AD_CORE_TENSOR_H

#include <stdbool.h>
#include <stdint.h>

#include "adapt.h"
#include "lib/core/busy.h"

#define AD_TENSOR_MAGIC 0x7e45a0d1u

enum {
    AD_TENSOR_PARAM = 1u << 0,         /* persistent, caller-owned unless held */
    AD_TENSOR_REQUIRES_GRAD = 1u << 1, /* backward reaches it */
    AD_TENSOR_HELD = 1u << 2,          /* a parameter a model owns: lent, never freed by callers */
    AD_TENSOR_HANDED_OUT = 1u << 3,    /* an activation a caller holds: its gradient is kept */
};

struct adapt_tensor {
    uint32_t magic;
    uint32_t flags;
    int32_t ndim;
    int64_t shape[ADAPT_MAX_DIMS];
    int64_t numel;
    float *data;
    /* Parameters: the persistent accumulated gradient. Activations: unused. */
    float *grad;
    /* Gradient being built by the running backward pass (arena memory). For
     * parameters it is added into `grad` only once the whole pass succeeded,
     * so a failed backward leaves the caller's gradients untouched. */
    float *pass_grad;
    union {
        adapt_context *ctx; /* activations: the context that made it */
        ad_busy *busy;      /* parameters: the lock of the model holding it, or NULL */
    };
    uint64_t generation; /* activations: the context's generation when made */
};

static inline bool ad_is_param(const adapt_tensor *t)
{
    return t->flags & AD_TENSOR_PARAM;
}

static inline bool ad_requires_grad(const adapt_tensor *t)
{
    return t->flags & AD_TENSOR_REQUIRES_GRAD;
}

/* Product of dims into *numel; OVERFLOW/SHAPE status with a message on
 * negative dims, bad rank or a product that overflows (bytes included). */
adapt_status ad_shape_numel(int64_t *numel, int32_t ndim, const int64_t *shape);

/* Resolves a possibly negative axis against `ndim`; -1 when out of range. */
int32_t ad_axis(int32_t axis, int32_t ndim);

/* True if every value is finite. */
bool ad_all_finite(const float *x, int64_t n);

bool ad_same_shape(const adapt_tensor *a, const adapt_tensor *b);

/* adapt_param_create() for the library: the new parameter's record. */
adapt_status ad_param_new(adapt_tensor **out, int32_t ndim, const int64_t *shape);

/* Frees a parameter whatever its owner: for the handle that holds it. */
void ad_param_release(adapt_tensor *param);

/* Writes "[2, 3, 4]" into buf for error messages; returns buf. */
const char *ad_shape_str(const adapt_tensor *t, char *buf, size_t size);

#endif
