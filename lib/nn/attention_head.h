/* The two forward products of one attention head, shared by the taped core and the untaped
 * path so that training and inference run the same arithmetic: scores = q k^T over some query
 * rows, and mix = p v.
 *
 * Under the default backend on AVX-512 they run on the small-product kernel (gemm_small.h). A
 * GEMM library's fixed cost per call is most of a product of a few dozen query rows by one
 * head: at batch 1 on 2 threads the benchmark ViT's attention core took 39 µs per block on
 * oneDNN's sgemm and 25 µs on the small kernel. The small kernel also gives each row the same
 * bits however rows are grouped into work items, so the untaped output does not depend on the
 * thread count. It reads B by rows, so the keys of a head are transposed once into a scratch
 * the caller provides (at batch 256 that costs 7 % of the core, well under 1 % of the ViT).
 * Other backends, and machines without AVX-512, run both products through ad_gemm. */
#ifndef AD_NN_ATTENTION_HEAD_H
#define AD_NN_ATTENTION_HEAD_H

#include <stdbool.h>
#include <stdint.h>

#include "adapt.h"

typedef struct {
    adapt_backend backend;
    bool small;           /* the products run on the small-product kernel */
    int64_t t, head_dim;  /* keys per head, columns per head */
    float *keys_t;        /* [head_dim, t] scratch of one range, when small */
    const float *keys_of; /* the keys keys_t holds now, or NULL */
} ad_head_products;

/* Products of heads of t keys and head_dim columns under `backend`; keys_t still to be set. */
ad_head_products ad_head_products_for(adapt_backend backend, int64_t t, int64_t head_dim);

/* Floats of the keys scratch one range needs: head_dim x t with the small kernel, else 0. */
int64_t ad_head_keys_floats(const ad_head_products *h);

/* scores[rows, t] = q[rows] k^T, q's rows ldq apart and k's t rows ldk apart. */
adapt_status ad_head_scores(ad_head_products *h, int64_t rows, const float *q, int64_t ldq,
                            const float *k, int64_t ldk, float *scores);

/* out[rows] = p[rows, t] v, v's t rows ldv apart, out's rows ldo apart. */
adapt_status ad_head_mix(const ad_head_products *h, int64_t rows, const float *p,
                         const float *v, int64_t ldv, float *out, int64_t ldo);

#endif
