/* Per-sample shapes (batch dim excluded) and the saturating counts that layers use to size
 * themselves: a count that reaches INT64_MAX means "does not fit" and becomes OVERFLOW. */
#ifndef AD_NN_DIMS_H
#define AD_NN_DIMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "adapt.h"

typedef struct {
    int32_t ndim;
    int64_t d[ADAPT_MAX_DIMS];
} ad_dims;

static inline ad_dims ad_dims1(int64_t a) { return (ad_dims){1, {a}}; }
static inline ad_dims ad_dims2(int64_t a, int64_t b) { return (ad_dims){2, {a, b}}; }
static inline ad_dims ad_dims3(int64_t a, int64_t b, int64_t c) { return (ad_dims){3, {a, b, c}}; }

/* a * b, or INT64_MAX when it does not fit (operands are >= 0). */
static inline int64_t ad_mul_sat(int64_t a, int64_t b)
{
    int64_t r;
    return __builtin_mul_overflow(a, b, &r) ? INT64_MAX : r;
}

static inline int64_t ad_add_sat(int64_t a, int64_t b)
{
    int64_t r;
    return __builtin_add_overflow(a, b, &r) ? INT64_MAX : r;
}

static inline bool ad_dims_equal(const ad_dims *a, const ad_dims *b)
{
    bool same = a->ndim == b->ndim;
    for (int32_t i = 0; same && i < a->ndim; i++)
        same = a->d[i] == b->d[i];
    return same;
}

/* Product of the dims, saturating. */
int64_t ad_dims_numel(const ad_dims *s);

/* Writes "[3, 32, 32]" into buf for messages; returns buf. */
const char *ad_dims_str(const ad_dims *s, char *buf, size_t size);

/* Output length of a sliding window (convolution, pooling) or -1 when the padded input is
 * shorter than the window; PyTorch's floor rule. */
int64_t ad_window_out(int64_t len, int64_t kernel, int64_t stride, int64_t padding);

#endif
