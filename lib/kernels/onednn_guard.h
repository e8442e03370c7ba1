/* The oneDNN calls that allocate, made safe for C callers. oneDNN reports
 * most failures as statuses, but an allocation that fails inside it throws
 * std::bad_alloc through its C API, and an exception reaching the library's
 * C frames ends the process. These wrappers catch it on the calling thread
 * and return dnnl_out_of_memory (any other exception: dnnl_runtime_error).
 * Call sites use them wherever oneDNN may allocate. */
#ifndef AD_KERNELS_ONEDNN_GUARD_H
#define AD_KERNELS_ONEDNN_GUARD_H

#include <oneapi/dnnl/dnnl.h>

#ifdef __cplusplus
extern "C" {
#define AD_NOEXCEPT noexcept
#else
#define AD_NOEXCEPT
#endif

dnnl_status_t ad_dnnl_sgemm(char transa, char transb, dnnl_dim_t m, dnnl_dim_t n, dnnl_dim_t k,
                            float alpha, const float *a, dnnl_dim_t lda, const float *b,
                            dnnl_dim_t ldb, float beta, float *c, dnnl_dim_t ldc) AD_NOEXCEPT;
dnnl_status_t ad_dnnl_engine_create(dnnl_engine_t *engine, dnnl_engine_kind_t kind,
                                    size_t index) AD_NOEXCEPT;
dnnl_status_t ad_dnnl_primitive_attr_create(dnnl_primitive_attr_t *attr) AD_NOEXCEPT;
dnnl_status_t ad_dnnl_primitive_attr_set_scratchpad_mode(dnnl_primitive_attr_t attr,
                                                         dnnl_scratchpad_mode_t mode) AD_NOEXCEPT;
dnnl_status_t ad_dnnl_post_ops_create(dnnl_post_ops_t *post_ops) AD_NOEXCEPT;
dnnl_status_t ad_dnnl_post_ops_append_eltwise(dnnl_post_ops_t post_ops, float scale,
                                              dnnl_alg_kind_t alg, float alpha,
                                              float beta) AD_NOEXCEPT;
dnnl_status_t ad_dnnl_primitive_attr_set_post_ops(dnnl_primitive_attr_t attr,
                                                  const_dnnl_post_ops_t post_ops) AD_NOEXCEPT;
dnnl_status_t ad_dnnl_primitive_desc_create(dnnl_primitive_desc_t *pd, const_dnnl_op_desc_t desc,
                                            const_dnnl_primitive_attr_t attr,
                                            dnnl_engine_t engine,
                                            const_dnnl_primitive_desc_t hint) AD_NOEXCEPT;
dnnl_status_t ad_dnnl_primitive_create(dnnl_primitive_t *primitive,
                                       const_dnnl_primitive_desc_t pd) AD_NOEXCEPT;
dnnl_status_t ad_dnnl_stream_create(dnnl_stream_t *stream, dnnl_engine_t engine,
                                    unsigned flags) AD_NOEXCEPT;
dnnl_status_t ad_dnnl_memory_create(dnnl_memory_t *memory, const dnnl_memory_desc_t *md,
                                    dnnl_engine_t engine, void *handle) AD_NOEXCEPT;
dnnl_status_t ad_dnnl_primitive_execute(const_dnnl_primitive_t primitive, dnnl_stream_t stream,
                                        int nargs, const dnnl_exec_arg_t *args) AD_NOEXCEPT;
dnnl_status_t ad_dnnl_stream_wait(dnnl_stream_t stream) AD_NOEXCEPT;

#ifdef __cplusplus
}
#endif

#endif
