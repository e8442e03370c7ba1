#include "lib/core/tensor.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/core/error.h"
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

static bool valid_tensor(const adapt_tensor *t)
{
    return t && t->magic == AD_TENSOR_MAGIC;
}

adapt_status adapt_param_create(adapt_tensor **out, int32_t ndim, const int64_t *shape)
{
    if (!out)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "adapt_param_create: out is NULL");
    int64_t numel;
    adapt_status st = ad_shape_numel(&numel, ndim, shape);
    if (st)
        return st;
    adapt_tensor *t = calloc(1, sizeof *t);
    size_t bytes = (size_t)(numel ? numel : 1) * sizeof(float);
    float *data = t ? calloc(1, bytes) : NULL;
    float *grad = data ? calloc(1, bytes) : NULL;
    if (!grad) {
        free(data);
        free(t);
        return ad_fail(ADAPT_ERR_OUT_OF_MEMORY, "adapt_param_create: %zu bytes", 2 * bytes);
    }
    t->magic = AD_TENSOR_MAGIC;
    t->flags = AD_TENSOR_PARAM | AD_TENSOR_REQUIRES_GRAD;
    t->ndim = ndim;
    if (ndim)
        memcpy(t->shape, shape, (size_t)ndim * sizeof *shape);
    t->numel = numel;
    t->data = data;
    t->grad = grad;
    *out = t;
    return ADAPT_OK;
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
    if (!valid_tensor(tensor) || !ad_is_param(tensor))
        return;
    if (tensor->flags & AD_TENSOR_HELD) { /* freeing it would leave its model dangling */
        ad_fail(ADAPT_ERR_INVALID_ARGUMENT,
                "adapt_tensor_free: the parameter belongs to a model; left as it is");
        return;
    }
    ad_param_release(tensor);
}

static adapt_status check_param(const adapt_tensor *t, const char *fn)
{
    if (!valid_tensor(t))
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: not a tensor", fn);
    if (!ad_is_param(t))
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: tensor is not a parameter", fn);
    return ADAPT_OK;
}

adapt_status adapt_param_set_requires_grad(adapt_tensor *param, int enabled)
{
    adapt_status st = check_param(param, "adapt_param_set_requires_grad");
    if (st)
        return st;
    if (enabled)
        param->flags |= AD_TENSOR_REQUIRES_GRAD;
    else
        param->flags &= ~(uint32_t)AD_TENSOR_REQUIRES_GRAD;
    return ADAPT_OK;
}

adapt_status adapt_param_write(adapt_tensor *param, const float *src, int64_t count)
{
    adapt_status st = check_param(param, "adapt_param_write");
    if (st)
        return st;
    if (!src)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "adapt_param_write: src is NULL");
    if (count != param->numel)
        return ad_fail(ADAPT_ERR_SHAPE, "adapt_param_write: %lld values for %lld elements",
                       (long long)count, (long long)param->numel);
    if (!ad_all_finite(src, count))
        return ad_fail(ADAPT_ERR_NONFINITE, "adapt_param_write: source has NaN or inf");
    memcpy(param->data, src, (size_t)count * sizeof(float));
    return ADAPT_OK;
}

adapt_status adapt_param_zero_grad(adapt_tensor *param)
{
    adapt_status st = check_param(param, "adapt_param_zero_grad");
    if (st)
        return st;
    memset(param->grad, 0, (size_t)param->numel * sizeof(float));
    return ADAPT_OK;
}

int32_t adapt_tensor_ndim(const adapt_tensor *tensor)
{
    return valid_tensor(tensor) ? tensor->ndim : 0;
}

int64_t adapt_tensor_dim(const adapt_tensor *tensor, int32_t dim)
{
    if (!valid_tensor(tensor))
        return 0;
    int32_t axis = ad_axis(dim, tensor->ndim);
    return axis < 0 ? 0 : tensor->shape[axis];
}

int64_t adapt_tensor_numel(const adapt_tensor *tensor)
{
    return valid_tensor(tensor) ? tensor->numel : 0;
}

float *adapt_tensor_data(const adapt_tensor *tensor)
{
    return valid_tensor(tensor) ? tensor->data : NULL;
}

float *adapt_tensor_grad(const adapt_tensor *tensor)
{
    if (!valid_tensor(tensor))
        return NULL;
    return ad_is_param(tensor) ? tensor->grad : tensor->pass_grad;
}

adapt_status adapt_tensor_read(const adapt_tensor *tensor, float *dst, int64_t count)
{
    if (!valid_tensor(tensor))
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "adapt_tensor_read: not a tensor");
    if (!dst)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "adapt_tensor_read: dst is NULL");
    if (count != tensor->numel)
        return ad_fail(ADAPT_ERR_SHAPE, "adapt_tensor_read: room for %lld values, tensor has %lld",
                       (long long)count, (long long)tensor->numel);
    memcpy(dst, tensor->data, (size_t)count * sizeof(float));
    return ADAPT_OK;
}
