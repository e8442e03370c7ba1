#include "lib/kernels/onednn_guard.h"

#include <new>

template <typename Call> static dnnl_status_t guarded(Call call) noexcept
{
    try {
        return call();
    } catch (const std::bad_alloc &) {
        return dnnl_out_of_memory;
    } catch (...) {
        return dnnl_runtime_error;
    }
}

dnnl_status_t ad_dnnl_sgemm(char transa, char transb, dnnl_dim_t m, dnnl_dim_t n, dnnl_dim_t k,
                            float alpha, const float *a, dnnl_dim_t lda, const float *b,
                            dnnl_dim_t ldb, float beta, float *c, dnnl_dim_t ldc) noexcept
{
    return guarded([&] {
        return dnnl_sgemm(transa, transb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    });
}

dnnl_status_t ad_dnnl_engine_create(dnnl_engine_t *engine, dnnl_engine_kind_t kind,
                                    size_t index) noexcept
{
    return guarded([&] { return dnnl_engine_create(engine, kind, index); });
}

dnnl_status_t ad_dnnl_primitive_attr_create(dnnl_primitive_attr_t *attr) noexcept
{
    return guarded([&] { return dnnl_primitive_attr_create(attr); });
}

dnnl_status_t ad_dnnl_primitive_attr_set_scratchpad_mode(dnnl_primitive_attr_t attr,
                                                         dnnl_scratchpad_mode_t mode) noexcept
{
    return guarded([&] { return dnnl_primitive_attr_set_scratchpad_mode(attr, mode); });
}

dnnl_status_t ad_dnnl_post_ops_create(dnnl_post_ops_t *post_ops) noexcept
{
    return guarded([&] { return dnnl_post_ops_create(post_ops); });
}

dnnl_status_t ad_dnnl_post_ops_append_eltwise(dnnl_post_ops_t post_ops, float scale,
                                              dnnl_alg_kind_t alg, float alpha,
                                              float beta) noexcept
{
    return guarded([&] { return dnnl_post_ops_append_eltwise(post_ops, scale, alg, alpha, beta); });
}

dnnl_status_t ad_dnnl_primitive_attr_set_post_ops(dnnl_primitive_attr_t attr,
                                                  const_dnnl_post_ops_t post_ops) noexcept
{
    return guarded([&] { return dnnl_primitive_attr_set_post_ops(attr, post_ops); });
}

dnnl_status_t ad_dnnl_primitive_desc_create(dnnl_primitive_desc_t *pd, const_dnnl_op_desc_t desc,
                                            const_dnnl_primitive_attr_t attr,
                                            dnnl_engine_t engine,
                                            const_dnnl_primitive_desc_t hint) noexcept
{
    return guarded([&] { return dnnl_primitive_desc_create(pd, desc, attr, engine, hint); });
}

dnnl_status_t ad_dnnl_primitive_create(dnnl_primitive_t *primitive,
                                       const_dnnl_primitive_desc_t pd) noexcept
{
    return guarded([&] { return dnnl_primitive_create(primitive, pd); });
}

dnnl_status_t ad_dnnl_stream_create(dnnl_stream_t *stream, dnnl_engine_t engine,
                                    unsigned flags) noexcept
{
    return guarded([&] { return dnnl_stream_create(stream, engine, flags); });
}

dnnl_status_t ad_dnnl_memory_create(dnnl_memory_t *memory, const dnnl_memory_desc_t *md,
                                    dnnl_engine_t engine, void *handle) noexcept
{
    return guarded([&] { return dnnl_memory_create(memory, md, engine, handle); });
}

dnnl_status_t ad_dnnl_primitive_execute(const_dnnl_primitive_t primitive, dnnl_stream_t stream,
                                        int nargs, const dnnl_exec_arg_t *args) noexcept
{
    return guarded([&] { return dnnl_primitive_execute(primitive, stream, nargs, args); });
}

dnnl_status_t ad_dnnl_stream_wait(dnnl_stream_t stream) noexcept
{
    return guarded([&] { return dnnl_stream_wait(stream); });
}
