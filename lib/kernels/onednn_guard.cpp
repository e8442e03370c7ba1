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
