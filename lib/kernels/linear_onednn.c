#include "lib/kernels/linear_onednn.h"

#include "adapt_config.h"
#include "lib/core/error.h"

#if AD_HAVE_ONEDNN
#include "lib/kernels/onednn_guard.h"
#include <omp.h>
#include <pthread.h>

/* Crossovers measured on AVX-512 with 2 threads (docs/benchmarks.md): the
 * primitive wins from a few dozen to a few hundred rows when the weights
 * are large enough to amortise its setup; sgemm wins at one row and at
 * thousands. */
#define LINEAR_MIN_ROWS 16
#define LINEAR_MAX_ROWS 512
#define LINEAR_MIN_WEIGHTS (1 << 19)

bool ad_onednn_linear_suits(adapt_backend backend, int64_t m, int64_t n, int64_t k)
{
    const bool onednn = backend == ADAPT_BACKEND_ONEDNN || backend == ADAPT_BACKEND_DEFAULT;
    return onednn && m >= LINEAR_MIN_ROWS && m <= LINEAR_MAX_ROWS && n * k >= LINEAR_MIN_WEIGHTS;
}

/* One CPU engine for the process: the primitives it makes are shared by all contexts
 * through oneDNN's primitive cache and are safe to execute concurrently. */
static dnnl_engine_t engine;
static dnnl_status_t engine_status = dnnl_runtime_error;
static pthread_once_t engine_once = PTHREAD_ONCE_INIT;

static void engine_create(void) { engine_status = ad_dnnl_engine_create(&engine, dnnl_cpu, 0); }

static adapt_status failure(dnnl_status_t st, const char *what)
{
    if (st == dnnl_unimplemented)
        return ADAPT_ERR_UNSUPPORTED; /* the caller falls back; no message */
    if (st == dnnl_out_of_memory)
        return ad_fail(ADAPT_ERR_OUT_OF_MEMORY, "oneDNN matmul: out of memory (%s)", what);
    return ad_fail(ADAPT_ERR_INTERNAL, "oneDNN matmul: %s failed with status %d", what, (int)st);
}

/* The primitive for `a`: a user-managed scratchpad, so that nothing is shared between
 * concurrent executions and no memory is allocated behind the arena's back. */
static dnnl_status_t describe(dnnl_primitive_desc_t *pd, const ad_linear_args *a)
{
    dnnl_memory_desc_t x, w, b, y;
    dnnl_status_t st = dnnl_memory_desc_init_by_tag(&x, 2, (dnnl_dims_t){a->m, a->k}, dnnl_f32,
                                                     dnnl_ab);
    if (st == dnnl_success) /* [k, n] read as the transpose of the stored [n, k] */
        st = dnnl_memory_desc_init_by_strides(&w, 2, (dnnl_dims_t){a->k, a->n}, dnnl_f32,
                                              (dnnl_dims_t){1, a->k});
    if (st == dnnl_success)
        st = dnnl_memory_desc_init_by_tag(&b, 2, (dnnl_dims_t){1, a->n}, dnnl_f32, dnnl_ab);
    if (st == dnnl_success)
        st = dnnl_memory_desc_init_by_tag(&y, 2, (dnnl_dims_t){a->m, a->n}, dnnl_f32, dnnl_ab);
    dnnl_matmul_desc_t desc;
    if (st == dnnl_success)
        st = dnnl_matmul_desc_init(&desc, &x, &w, a->bias ? &b : NULL, &y);
    dnnl_primitive_attr_t attr = NULL;
    dnnl_post_ops_t post = NULL;
    if (st == dnnl_success)
        st = ad_dnnl_primitive_attr_create(&attr);
    if (st == dnnl_success)
        st = ad_dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user);
    if (st == dnnl_success && a->act != AD_ACT_NONE) {
        st = ad_dnnl_post_ops_create(&post);
        if (st == dnnl_success)
            st = ad_dnnl_post_ops_append_eltwise(
                post, 1.0f, a->act == AD_ACT_RELU ? dnnl_eltwise_relu : dnnl_eltwise_gelu_erf,
                0.0f, 0.0f);
        if (st == dnnl_success)
            st = ad_dnnl_primitive_attr_set_post_ops(attr, post);
    }
    if (st == dnnl_success)
        st = ad_dnnl_primitive_desc_create(pd, &desc, attr, engine, NULL);
    dnnl_post_ops_destroy(post);
    dnnl_primitive_attr_destroy(attr);
    return st;
}

static dnnl_status_t execute(dnnl_primitive_t prim, const dnnl_primitive_desc_t pd,
                             const ad_linear_args *a, void *scratch)
{
    const int kinds[] = {DNNL_ARG_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_DST, DNNL_ARG_SCRATCHPAD,
                         DNNL_ARG_BIAS};
    const dnnl_query_t queries[] = {dnnl_query_src_md, dnnl_query_weights_md,
                                    dnnl_query_dst_md, dnnl_query_scratchpad_md,
                                    dnnl_query_weights_md};
    void *data[] = {(void *)a->x, (void *)a->w, a->y, scratch, (void *)a->bias};
    const int n_args = a->bias ? 5 : 4;
    dnnl_exec_arg_t args[5];
    dnnl_stream_t stream = NULL;
    dnnl_status_t st = ad_dnnl_stream_create(&stream, engine, dnnl_stream_default_flags);
    int made = 0;
    for (; st == dnnl_success && made < n_args; made++) {
        const dnnl_memory_desc_t *md = dnnl_primitive_desc_query_md(pd, queries[made],
                                                                     made == 4 ? 1 : 0);
        args[made].arg = kinds[made];
        st = ad_dnnl_memory_create(&args[made].memory, md, engine, data[made]);
    }
    if (st == dnnl_success)
        st = ad_dnnl_primitive_execute(prim, stream, n_args, args);
    if (st == dnnl_success)
        st = ad_dnnl_stream_wait(stream);
    for (int i = 0; i < made; i++)
        dnnl_memory_destroy(args[i].memory);
    dnnl_stream_destroy(stream);
    return st;
}

adapt_status ad_onednn_linear(int32_t n_threads, const ad_linear_args *a, ad_arena *scratch)
{
    pthread_once(&engine_once, engine_create);
    if (engine_status != dnnl_success)
        return failure(engine_status, "engine");
    omp_set_num_threads(n_threads);
    dnnl_primitive_desc_t pd = NULL;
    dnnl_primitive_t prim = NULL;
    dnnl_status_t st = describe(&pd, a);
    if (st == dnnl_success)
        st = ad_dnnl_primitive_create(&prim, pd);
    if (st != dnnl_success) {
        dnnl_primitive_desc_destroy(pd);
        return failure(st, "setup");
    }
    const size_t bytes = dnnl_memory_desc_get_size(
        dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0));
    const ad_arena_mark mark = ad_arena_mark_now(scratch);
    void *space = bytes ? ad_arena_alloc(scratch, bytes) : NULL;
    adapt_status result = ADAPT_OK;
    if (bytes && !space)
        result = ad_fail(ADAPT_ERR_OUT_OF_MEMORY, "oneDNN matmul: no %zu bytes of scratch",
                         bytes);
    else if ((st = execute(prim, pd, a, space)) != dnnl_success)
        result = failure(st, "execution");
    ad_arena_rewind(scratch, mark);
    dnnl_primitive_destroy(prim);
    dnnl_primitive_desc_destroy(pd);
    return result;
}
#else
bool ad_onednn_linear_suits(adapt_backend backend, int64_t m, int64_t n, int64_t k)
{
    (void)backend, (void)m, (void)n, (void)k;
    return false;
}

adapt_status ad_onednn_linear(int32_t n_threads, const ad_linear_args *a, ad_arena *scratch)
{
    (void)n_threads, (void)a, (void)scratch;
    return ADAPT_ERR_UNSUPPORTED;
}
#endif
