/* oneDNN's sgemm, the library's one oneDNN call, made safe for C callers.
 * oneDNN reports most failures as statuses, but an allocation that fails
 * inside it throws std::bad_alloc through its C API, and an exception
 * reaching the library's C frames ends the process. The wrapper catches it on
 * the calling thread and returns dnnl_out_of_memory (any other exception:
 * dnnl_runtime_error). */
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

#ifdef __cplusplus
}
#endif

#endif
