#include "lib/core/tensor.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/core/arena.h"
#include "lib/core/error.h"
#include "lib/core/handle.h"
#include "lib/kernels/vector_math.h"

adapt_status ad_shape_numel(int64_t *numel, int32_t ndim, const int64_t *shape)
{
    if (ndim < 0 || ndim > ADAPT_MAX_DIMS)
        return ad_fail(ADAPT_ERR_SHAPE, "rank %d outside [0, %d]", (int)ndim, ADAPT_MAX_DIMS);
    if (ndim > 0 && !shape)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "shape is NULL");
    /* Bound by bytes so that numel * sizeof(float) never overflows either. */
    const int64_t max_elems = INT64_MAX / (int64_t)sizeof(float);
    int64_t n = 1;
    for (int32_t i = 0; i < ndim; i++) {
        if (shape[i] < 0)
            return ad_fail(ADAPT_ERR_SHAPE, "dimension %d is negative (%lld)", (int)i,
                           (long long)shape[i]);
        if (shape[i] > 0 && n > max_elems / shape[i])
            return ad_fail(ADAPT_ERR_OVERFLOW, "shape has more than %lld elements",
                           (long long)max_elems);
        n *= shape[i];
    }
    if ((uint64_t)n > SIZE_MAX / sizeof(float))
        return ad_fail(ADAPT_ERR_OVERFLOW, "tensor does not fit in the address space");
    *numel = n;
    return ADAPT_OK;
}

int32_t ad_axis(int32_t axis, int32_t ndim)
{
    if (axis < 0)
        axis += ndim;
    return axis >= 0 && axis < ndim ? axis : -1;
}

/* Branch-free accumulation keeps the scan vectorised, in each vector width. */
AD_VECTOR_CLONES
static bool scan_finite(const float *x, int64_t n)
{
    int bad = 0;
    for (int64_t i = 0; i < n; i++)
        bad |= !isfinite(x[i]);
    return !bad;
}

bool ad_all_finite(const float *x, int64_t n) { return scan_finite(x, n); }

bool ad_same_shape(const adapt_tensor *a, const adapt_tensor *b)
{
    if (a->ndim != b->ndim)
        return false;
    for (int32_t i = 0; i < a->ndim; i++)
        if (a->shape[i] != b->shape[i])
            return false;
    return true;
}

const char *ad_shape_str(const adapt_tensor *t, char *buf, size_t size)
{
    size_t used = (size_t)snprintf(buf, size, "[");
    for (int32_t i = 0; i < t->ndim && used < size; i++)
        used += (size_t)snprintf(buf + used, size - used, i ? ", %lld" : "%lld",
                                 (long long)t->shape[i]);
    if (used < size)
        snprintf(buf + used, size - used, "]");
    return buf;
}

adapt_status ad_param_new(adapt_tensor **out, int32_t ndim, const int64_t *shape)
{
    int64_t numel;
    adapt_status st = ad_shape_numel(&numel, ndim, shape);
    if (st)
        return st;
    /* Aligned as the arena's slots, so that one rule finds a record behind any handle. */
    adapt_tensor *t = aligned_alloc(AD_SLOT_SIZE, AD_SLOT_SIZE);
    size_t bytes = (size_t)(numel ? numel : 1) * sizeof(float);
    float *data = t ? calloc(1, bytes) : NULL;
    float *grad = data ? calloc(1, bytes) : NULL;
    if (!grad) {
        free(data);
        free(t);
        return ad_fail(ADAPT_ERR_OUT_OF_MEMORY, "adapt_param_create: %zu bytes", 2 * bytes);
    }
    *t = (adapt_tensor){.magic = AD_TENSOR_MAGIC,
                        .flags = AD_TENSOR_PARAM | AD_TENSOR_REQUIRES_GRAD, .ndim = ndim,
                        .numel = numel, .data = data, .grad = grad};
    if (ndim)
        memcpy(t->shape, shape, (size_t)ndim * sizeof *shape);
    *out = t;
    return ADAPT_OK;
}

adapt_status adapt_param_create(adapt_tensor **out, int32_t ndim, const int64_t *shape)
{
    if (!out)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "adapt_param_create: out is NULL");
    adapt_tensor *t = NULL;
    adapt_status st = ad_param_new(&t, ndim, shape);
    if (!st)
        *out = ad_tensor_handle(t);
    return ad_prefix(st, "adapt_param_create"); /* the shape checks are shared */
}

void ad_param_release(adapt_tensor *param)
{
    param->magic = 0;
    free(param->data);
    free(param->grad);
    free(param);
}

void adapt_tensor_free(adapt_tensor *tensor)
{
    adapt_tensor *t = NULL;
    if (!tensor || ad_tensor_from_handle(&t, tensor, "adapt_tensor_free", "tensor") ||
        !ad_is_param(t))
        return;
    if (t->flags & AD_TENSOR_HELD) { /* freeing it would leave its model dangling */
        ad_fail(ADAPT_ERR_INVALID_ARGUMENT,
                "adapt_tensor_free: the parameter belongs to a model; left as it is");
        return;
    }
    ad_param_release(t);
}

/* The parameter behind `handle` for public function `fn`, which changes it: held for writing
 * when a model holds it, against the model's other users (busy.h). */
static adapt_status enter_param(adapt_tensor **param, ad_hold *hold, adapt_tensor *handle,
                                const char *fn)
{
    *hold = (ad_hold){0};
    adapt_status st = ad_tensor_from_handle(param, handle, fn, "tensor");
    if (!st && !ad_is_param(*param))
        st = ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: tensor is not a parameter", fn);
    if (!st && (*param)->busy)
        st = ad_busy_enter(hold, (*param)->busy, AD_WRITE, fn);
    return st;
}

adapt_status adapt_param_set_requires_grad(adapt_tensor *param, int enabled)
{
    adapt_tensor *t = NULL;
    ad_hold hold;
    adapt_status st = enter_param(&t, &hold, param, "adapt_param_set_requires_grad");
    if (st)
        return st;
    if (enabled)
        t->flags |= AD_TENSOR_REQUIRES_GRAD;
    else
        t->flags &= ~(uint32_t)AD_TENSOR_REQUIRES_GRAD;
    ad_busy_leave(&hold);
    return ADAPT_OK;
}

static adapt_status write_values(adapt_tensor *t, const float *src, int64_t count,
                                 const char *fn)
{
    if (!src)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: src is NULL", fn);
    if (count != t->numel)
        return ad_fail(ADAPT_ERR_SHAPE, "%s: %lld values for %lld elements", fn,
                       (long long)count, (long long)t->numel);
    if (!ad_all_finite(src, count))
        return ad_fail(ADAPT_ERR_NONFINITE, "%s: source has NaN or inf", fn);
    memcpy(t->data, src, (size_t)count * sizeof(float));
    return ADAPT_OK;
}

adapt_status adapt_param_write(adapt_tensor *param, const float *src, int64_t count)
{
    const char *fn = "adapt_param_write";
    adapt_tensor *t = NULL;
    ad_hold hold;
    adapt_status st = enter_param(&t, &hold, param, fn);
    if (st)
        return st;
    st = write_values(t, src, count, fn);
    ad_busy_leave(&hold);
    return st;
}

adapt_status adapt_param_zero_grad(adapt_tensor *param)
{
    adapt_tensor *t = NULL;
    ad_hold hold;
    adapt_status st = enter_param(&t, &hold, param, "adapt_param_zero_grad");
    if (st)
        return st;
    memset(t->grad, 0, (size_t)t->numel * sizeof(float));
    ad_busy_leave(&hold);
    return ADAPT_OK;
}

/* The record behind an accessor's argument; NULL, with the message set, when there is none. */
static const adapt_tensor *accessed(const adapt_tensor *handle, const char *fn)
{
    adapt_tensor *t = NULL;
    return ad_tensor_from_handle(&t, handle, fn, "tensor") ? NULL : t;
}

int32_t adapt_tensor_ndim(const adapt_tensor *tensor)
{
    const adapt_tensor *t = accessed(tensor, "adapt_tensor_ndim");
    return t ? t->ndim : 0;
}

int64_t adapt_tensor_dim(const adapt_tensor *tensor, int32_t dim)
{
    const adapt_tensor *t = accessed(tensor, "adapt_tensor_dim");
    const int32_t axis = t ? ad_axis(dim, t->ndim) : -1;
    return axis < 0 ? 0 : t->shape[axis];
}

int64_t adapt_tensor_numel(const adapt_tensor *tensor)
{
    const adapt_tensor *t = accessed(tensor, "adapt_tensor_numel");
    return t ? t->numel : 0;
}

float *adapt_tensor_data(const adapt_tensor *tensor)
{
    const adapt_tensor *t = accessed(tensor, "adapt_tensor_data");
    return t ? t->data : NULL;
}

float *adapt_tensor_grad(const adapt_tensor *tensor)
{
    const adapt_tensor *t = accessed(tensor, "adapt_tensor_grad");
    if (!t)
        return NULL;
    return ad_is_param(t) ? t->grad : t->pass_grad;
}

adapt_status adapt_tensor_read(const adapt_tensor *tensor, float *dst, int64_t count)
{
    const char *fn = "adapt_tensor_read";
    adapt_tensor *t = NULL;
    adapt_status st = ad_tensor_from_handle(&t, tensor, fn, "tensor");
    if (st)
        return st;
    if (!dst)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: dst is NULL", fn);
    if (count != t->numel)
        return ad_fail(ADAPT_ERR_SHAPE, "%s: room for %lld values, tensor has %lld", fn,
                       (long long)count, (long long)t->numel);
    memcpy(dst, t->data, (size_t)count * sizeof(float));
    return ADAPT_OK;
}
