/* Fully connected layer, torch.nn.Linear: y = x W^T + b over the last axis. */
#ifndef AD_NN_LINEAR_H
#define AD_NN_LINEAR_H

#include <stdbool.h>

#include "lib/kernels/epilogue.h"
#include "lib/nn/params.h"

typedef struct {
    adapt_tensor *weight; /* [out, in] */
    adapt_tensor *bias;   /* [out], or NULL */
    int64_t in_features, out_features;
} ad_linear;

/* Adds "<prefix>weight" and, with `bias`, "<prefix>bias". */
adapt_status ad_linear_init(ad_linear *l, ad_param_list *params, const char *prefix,
                            int64_t in_features, int64_t out_features, bool bias);

/* x[..., in] -> [..., out]. The weight is 2-D, so every leading dim folds into one GEMM. */
adapt_status ad_linear_forward(adapt_tensor **out, adapt_context *ctx, const ad_linear *l,
                               adapt_tensor *x);

/* The same followed by an activation. Without a tape (inference) bias and
 * activation run fused into the product's output, with identical results. */
adapt_status ad_linear_forward_act(adapt_tensor **out, adapt_context *ctx, const ad_linear *l,
                                   adapt_tensor *x, ad_act act);

/* x[N, ...] -> [N, prod(...)] as a view, torch.nn.Flatten(). */
adapt_status ad_flatten_rows(adapt_tensor **out, adapt_context *ctx, adapt_tensor *x);

/* Each sample of x[N, ...] as one row of features, like nn.Flatten() + nn.Linear. */
adapt_status ad_linear_forward_rows(adapt_tensor **out, adapt_context *ctx, const ad_linear *l,
                                    adapt_tensor *x, ad_act act);

/* The untaped part of it, for x[..., in] of this context (linear_untaped.c). */
adapt_status ad_linear_forward_untaped(adapt_tensor **out, adapt_context *ctx,
                                       const ad_linear *l, adapt_tensor *x, ad_act act);

/* The taped part: one record for product, bias and activation (linear_taped.c). */
adapt_status ad_linear_forward_taped(adapt_tensor **out, adapt_context *ctx,
                                     const ad_linear *l, adapt_tensor *x, ad_act act);

/* y = act(x W^T + b) into `y`, for weight [out, in], bias [out] or NULL and x[..., in]. */
adapt_status ad_linear_product(adapt_context *ctx, const adapt_tensor *weight,
                               const adapt_tensor *bias, const adapt_tensor *x, ad_act act,
                               float *y);

/* A new activation shaped like x with its last axis `out_features` long. */
adapt_status ad_linear_output(adapt_tensor **y, adapt_context *ctx, const adapt_tensor *x,
                              int64_t out_features);

/* FLOPs of `rows` input rows (multiply-add = 2). */
int64_t ad_linear_flops(const ad_linear *l, int64_t rows);

#endif
