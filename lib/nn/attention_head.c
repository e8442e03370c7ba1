#include "lib/nn/attention_head.h"

#include "lib/kernels/gemm.h"
#include "lib/kernels/gemm_small.h"
#include "lib/kernels/vector_math.h"

ad_head_products ad_head_products_for(adapt_backend backend, int64_t t, int64_t head_dim)
{
    return (ad_head_products){backend, backend == ADAPT_BACKEND_DEFAULT && ad_has_avx512(), t,
                              head_dim, NULL, NULL};
}

int64_t ad_head_keys_floats(const ad_head_products *h)
{
    return h->small ? h->head_dim * h->t : 0;
}

/* keys_t[c][i] = k[i][c], once per head: consecutive query blocks of a head reuse it. */
static void transpose_keys(ad_head_products *h, const float *k, int64_t ldk)
{
    if (h->keys_of == k)
        return;
    for (int64_t i = 0; i < h->t; i++)
        for (int64_t c = 0; c < h->head_dim; c++)
            h->keys_t[c * h->t + i] = k[i * ldk + c];
    h->keys_of = k;
}

adapt_status ad_head_scores(ad_head_products *h, int64_t rows, const float *q, int64_t ldq,
                            const float *k, int64_t ldk, float *scores)
{
    if (!h->small)
        return ad_gemm(h->backend, &(ad_gemm_args){.trans_b = true, .m = rows, .n = h->t,
                                                   .k = h->head_dim, .alpha = 1.0f, .a = q,
                                                   .lda = ldq, .b = k, .ldb = ldk,
                                                   .c = scores, .ldc = h->t});
    transpose_keys(h, k, ldk);
    ad_gemm_small(rows, h->t, h->head_dim, q, ldq, h->keys_t, h->t, scores, h->t, false);
    return ADAPT_OK;
}

adapt_status ad_head_mix(const ad_head_products *h, int64_t rows, const float *p,
                         const float *v, int64_t ldv, float *out, int64_t ldo)
{
    if (!h->small)
        return ad_gemm(h->backend, &(ad_gemm_args){.m = rows, .n = h->head_dim, .k = h->t,
                                                   .alpha = 1.0f, .a = p, .lda = h->t,
                                                   .b = v, .ldb = ldv, .c = out, .ldc = ldo});
    ad_gemm_small(rows, h->head_dim, h->t, p, h->t, v, ldv, out, ldo, false);
    return ADAPT_OK;
}
