#include "lib/core/context.h"

#include <stdlib.h>
#include <string.h>

#include "lib/core/error.h"
#include "lib/core/handle.h"
#include "lib/core/struct_io.h"
#include "lib/core/tensor.h"
#include "lib/kernels/gemm.h"

#define AD_CONTEXT_MAGIC_SEED 0x5eed5eed5eedull

void adapt_context_params_init(adapt_context_params *params, size_t size)
{
    static const adapt_context_params defaults = {.n_threads = 0, .backend = ADAPT_BACKEND_DEFAULT,
                                                  .seed = AD_CONTEXT_MAGIC_SEED};
    ad_struct_init(params, size, &defaults, sizeof defaults);
}

static adapt_status read_params(adapt_context_params *p, const adapt_context_params *user)
{
    adapt_context_params_init(p, sizeof *p);
    return ad_struct_read(p, sizeof *p, user, "adapt_context_params", "adapt_context_create");
}

static adapt_status resolve_threads(int32_t *out, int32_t requested, const char *fn)
{
    if (requested < 0 || requested > ADAPT_MAX_THREADS)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: n_threads %d is outside [0, %d]", fn,
                       (int)requested, ADAPT_MAX_THREADS);
    *out = requested ? requested : ad_cpu_count();
    return ADAPT_OK;
}

adapt_status adapt_context_create(adapt_context **out, const adapt_context_params *params)
{
    if (!out)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "adapt_context_create: out is NULL");
    adapt_context_params p;
    adapt_status st = read_params(&p, params);
    int32_t n_threads = 1;
    if (!st)
        st = resolve_threads(&n_threads, p.n_threads, "adapt_context_create");
    if (!st)
        st = ad_gemm_check_backend((adapt_backend)p.backend, "adapt_context_create");
    if (st)
        return st;
    adapt_context *ctx = calloc(1, sizeof *ctx);
    if (!ctx)
        return ad_fail(ADAPT_ERR_OUT_OF_MEMORY, "adapt_context_create");
    ctx->pool = ad_pool_create(n_threads);
    if (n_threads > 1 && !ctx->pool) {
        free(ctx);
        return ad_fail(ADAPT_ERR_OUT_OF_MEMORY, "adapt_context_create: no memory for threads");
    }
    ad_arena_init(&ctx->arena, p.arena_initial_bytes, p.arena_limit_bytes);
    ctx->seed = p.seed;
    ctx->backend = (adapt_backend)p.backend;
    ctx->n_threads = n_threads;
    *out = ctx;
    return ADAPT_OK;
}

void adapt_context_free(adapt_context *ctx)
{
    if (!ctx)
        return;
    ad_pool_free(ctx->pool);
    ad_arena_release(&ctx->arena);
    free(ctx);
}

void adapt_context_reset(adapt_context *ctx)
{
    if (!ctx)
        return;
    ad_arena_reset(&ctx->arena);
    ctx->tape = NULL;
    ctx->sparsity_sum = NULL, ctx->sparsity_count = 0;
    ctx->generation++;
}

adapt_status ad_check_context(const adapt_context *ctx, const char *fn)
{
    return ctx ? ADAPT_OK : ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: context is NULL", fn);
}

adapt_status adapt_context_set_grad(adapt_context *ctx, int enabled)
{
    adapt_status st = ad_check_context(ctx, "adapt_context_set_grad");
    if (!st)
        ctx->grad_enabled = enabled != 0;
    return st;
}

adapt_status adapt_context_set_training(adapt_context *ctx, int enabled)
{
    adapt_status st = ad_check_context(ctx, "adapt_context_set_training");
    if (!st)
        ctx->training = enabled != 0;
    return st;
}

adapt_status adapt_context_set_recompute(adapt_context *ctx, int enabled)
{
    adapt_status st = ad_check_context(ctx, "adapt_context_set_recompute");
    if (!st)
        ctx->recompute = enabled != 0;
    return st;
}

adapt_status adapt_context_set_backend(adapt_context *ctx, adapt_backend backend)
{
    adapt_status st = ad_check_context(ctx, "adapt_context_set_backend");
    if (!st)
        st = ad_gemm_check_backend(backend, "adapt_context_set_backend");
    if (!st)
        ctx->backend = backend;
    return st;
}

adapt_status adapt_context_set_threads(adapt_context *ctx, int32_t n_threads)
{
    adapt_status st = ad_check_context(ctx, "adapt_context_set_threads");
    int32_t n = 1;
    if (!st)
        st = resolve_threads(&n, n_threads, "adapt_context_set_threads");
    if (st || n == ctx->n_threads)
        return st;
    ad_pool *pool = ad_pool_create(n);
    if (n > 1 && !pool)
        return ad_fail(ADAPT_ERR_OUT_OF_MEMORY, "adapt_context_set_threads: no threads");
    ad_pool_free(ctx->pool);
    ctx->pool = pool;
    ctx->n_threads = n;
    return ADAPT_OK;
}

size_t adapt_context_peak_bytes(const adapt_context *ctx)
{
    return ctx ? ctx->arena.peak : 0;
}

size_t adapt_context_reserved_bytes(const adapt_context *ctx)
{
    return ctx ? ctx->arena.reserved : 0;
}

adapt_status ad_check_tensor(const adapt_context *ctx, const adapt_tensor *t, const char *fn,
                             const char *what)
{
    if (!t)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: %s is NULL", fn, what);
    if (t->magic != AD_TENSOR_MAGIC)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: %s is not a live tensor", fn, what);
    if (ad_is_param(t))
        return ADAPT_OK;
    if (t->ctx != ctx)
        return ad_fail(ADAPT_ERR_STATE, "%s: %s belongs to another context", fn, what);
    if (t->generation != ctx->generation)
        return ad_fail(ADAPT_ERR_STATE, "%s: %s was released by adapt_context_reset", fn, what);
    return ADAPT_OK;
}

adapt_status ad_inference_input(adapt_tensor **x, const adapt_context *ctx,
                                adapt_tensor *input, const char *fn)
{
    if (ctx->grad_enabled)
        return ad_fail(ADAPT_ERR_STATE, "%s: the context records gradients; this is inference",
                       fn);
    adapt_status st = ad_tensor_from_handle(x, input, fn, "input");
    return st ? st : ad_check_tensor(ctx, *x, fn, "input");
}

adapt_status ad_scratch(void **out, adapt_context *ctx, size_t bytes, const char *fn)
{
    void *block = ad_arena_alloc(&ctx->arena, bytes);
    if (!block)
        return ad_fail(ADAPT_ERR_OUT_OF_MEMORY, "%s: arena cannot grow by %zu bytes%s", fn, bytes,
                       ctx->arena.limit ? " (arena_limit_bytes reached)" : "");
    *out = block;
    return ADAPT_OK;
}

adapt_status ad_tensor_view(adapt_tensor **out, adapt_context *ctx, int32_t ndim,
                            const int64_t *shape, int64_t numel, float *data, const char *fn)
{
    adapt_tensor *t = ad_arena_slot(&ctx->arena);
    if (!t)
        return ad_fail(ADAPT_ERR_OUT_OF_MEMORY, "%s: no room for a tensor record%s", fn,
                       ctx->arena.limit ? " (arena_limit_bytes reached)" : "");
    *t = (adapt_tensor){.magic = AD_TENSOR_MAGIC, .ndim = ndim, .numel = numel, .data = data,
                        .ctx = ctx, .generation = ctx->generation};
    if (ndim)
        memcpy(t->shape, shape, (size_t)ndim * sizeof *shape);
    *out = t;
    return ADAPT_OK;
}

adapt_status ad_tensor_new(adapt_tensor **out, adapt_context *ctx, int32_t ndim,
                           const int64_t *shape)
{
    int64_t numel;
    adapt_status st = ad_shape_numel(&numel, ndim, shape);
    void *data = NULL;
    if (!st)
        st = ad_scratch(&data, ctx, (size_t)numel * sizeof(float), "tensor");
    return st ? st : ad_tensor_view(out, ctx, ndim, shape, numel, data, "tensor");
}

adapt_status adapt_tensor_input(adapt_tensor **out, adapt_context *ctx, int32_t ndim,
                                const int64_t *shape, const float *data)
{
    const char *fn = "adapt_tensor_input";
    adapt_status st = ad_check_context(ctx, fn);
    if (st)
        return st;
    if (!out || !data)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: %s is NULL", fn, out ? "data" : "out");
    adapt_tensor *t = NULL;
    st = ad_tensor_new(&t, ctx, ndim, shape);
    if (st)
        return ad_prefix(st, fn); /* the shape checks are shared with the operations */
    if (!ad_all_finite(data, t->numel))
        return ad_fail(ADAPT_ERR_NONFINITE, "%s: data has NaN or inf", fn);
    memcpy(t->data, data, (size_t)t->numel * sizeof(float));
    *out = ad_tensor_hand_out(t);
    return ADAPT_OK;
}
