/* The operations of adapt.h on records rather than handles, for the library's own use: each
 * checks and computes exactly as the public adapt_op_* of the same name, documented there, whose
 * definitions (handles.c) convert the caller's handles and call these. */
#ifndef AD_OPS_OPS_H
#define AD_OPS_OPS_H

#include <stdbool.h>

#include "adapt.h"

adapt_status ad_op_matmul(adapt_tensor **out, adapt_context *ctx, adapt_tensor *a, adapt_tensor *b,
                          uint32_t flags);
adapt_status ad_op_add(adapt_tensor **out, adapt_context *ctx, adapt_tensor *a, adapt_tensor *b);
adapt_status ad_op_mul(adapt_tensor **out, adapt_context *ctx, adapt_tensor *a, adapt_tensor *b);
/* a - b, broadcast as ad_op_add; the library's own (adapt.h has no subtraction). */
adapt_status ad_op_sub(adapt_tensor **out, adapt_context *ctx, adapt_tensor *a, adapt_tensor *b);
adapt_status ad_op_minimum(adapt_tensor **out, adapt_context *ctx, adapt_tensor *a,
                           adapt_tensor *b);
adapt_status ad_op_maximum(adapt_tensor **out, adapt_context *ctx, adapt_tensor *a,
                           adapt_tensor *b);
adapt_status ad_op_scale(adapt_tensor **out, adapt_context *ctx, adapt_tensor *x, float factor);
adapt_status ad_op_relu(adapt_tensor **out, adapt_context *ctx, adapt_tensor *x);
adapt_status ad_op_gelu(adapt_tensor **out, adapt_context *ctx, adapt_tensor *x);
adapt_status ad_op_sigmoid(adapt_tensor **out, adapt_context *ctx, adapt_tensor *x);
adapt_status ad_op_tanh(adapt_tensor **out, adapt_context *ctx, adapt_tensor *x);
adapt_status ad_op_abs(adapt_tensor **out, adapt_context *ctx, adapt_tensor *x);
adapt_status ad_op_clamp(adapt_tensor **out, adapt_context *ctx, adapt_tensor *x, float lo,
                         float hi);
adapt_status ad_op_softmax(adapt_tensor **out, adapt_context *ctx, adapt_tensor *x);
adapt_status ad_op_log_softmax(adapt_tensor **out, adapt_context *ctx, adapt_tensor *x);
adapt_status ad_op_layernorm(adapt_tensor **out, adapt_context *ctx, adapt_tensor *x,
                             adapt_tensor *gamma, adapt_tensor *beta, float eps);
adapt_status ad_op_batchnorm(adapt_tensor **out, adapt_context *ctx, adapt_tensor *x,
                             adapt_tensor *gamma, adapt_tensor *beta, adapt_tensor *running_mean,
                             adapt_tensor *running_var, float momentum, float eps);
adapt_status ad_op_conv2d(adapt_tensor **out, adapt_context *ctx, adapt_tensor *x,
                          adapt_tensor *weight, adapt_tensor *bias, int32_t stride,
                          int32_t padding);
adapt_status ad_op_maxpool2d(adapt_tensor **out, adapt_context *ctx, adapt_tensor *x,
                             int32_t kernel, int32_t stride, int32_t padding);
adapt_status ad_op_avgpool2d(adapt_tensor **out, adapt_context *ctx, adapt_tensor *x,
                             int32_t kernel, int32_t stride, int32_t padding);
adapt_status ad_op_upsample2d(adapt_tensor **out, adapt_context *ctx, adapt_tensor *x,
                              int32_t scale, int32_t mode);
adapt_status ad_op_conv_transpose2d(adapt_tensor **out, adapt_context *ctx, adapt_tensor *x,
                                    adapt_tensor *weight, adapt_tensor *bias, int32_t stride,
                                    int32_t padding);
adapt_status ad_op_reshape(adapt_tensor **out, adapt_context *ctx, adapt_tensor *x, int32_t ndim,
                           const int64_t *shape);
adapt_status ad_op_transpose(adapt_tensor **out, adapt_context *ctx, adapt_tensor *x, int32_t axis0,
                             int32_t axis1);
adapt_status ad_op_permute(adapt_tensor **out, adapt_context *ctx, adapt_tensor *x,
                           const int32_t *perm);
adapt_status ad_op_slice(adapt_tensor **out, adapt_context *ctx, adapt_tensor *x, int32_t axis,
                         int64_t start, int64_t end);
adapt_status ad_op_concat(adapt_tensor **out, adapt_context *ctx, adapt_tensor *const *inputs,
                          int32_t count, int32_t axis);
adapt_status ad_op_gather_rows(adapt_tensor **out, adapt_context *ctx, adapt_tensor *x,
                               const int64_t *index, int64_t count);
adapt_status ad_op_scatter_add_rows(adapt_tensor **out, adapt_context *ctx, adapt_tensor *x,
                                    const int64_t *index, int64_t n_rows);
adapt_status ad_op_sum(adapt_tensor **out, adapt_context *ctx, adapt_tensor *x, int32_t axis);
adapt_status ad_op_mean(adapt_tensor **out, adapt_context *ctx, adapt_tensor *x, int32_t axis);
adapt_status ad_op_dropout(adapt_tensor **out, adapt_context *ctx, adapt_tensor *x, float p);
adapt_status ad_op_cross_entropy(adapt_tensor **out, adapt_context *ctx, adapt_tensor *logits,
                                 const int32_t *labels, float label_smoothing);
/* SLOVA's one-vs-all loss: mean over rows of sum_j softplus(f_j) - f_y (one_vs_all.c). */
adapt_status ad_op_one_vs_all_loss(adapt_tensor **out, adapt_context *ctx, adapt_tensor *logits,
                                   const int32_t *labels);
adapt_status ad_op_mse(adapt_tensor **out, adapt_context *ctx, adapt_tensor *a, adapt_tensor *b);
/* Worst-case logits of the box [lo, hi]: lo at each row's label, hi elsewhere
 * (lib/ops/worst_case.c). */
adapt_status ad_op_worst_case_logits(adapt_tensor **out, adapt_context *ctx, adapt_tensor *lo,
                                     adapt_tensor *hi, const int32_t *labels);
/* Squared Hoyer measure ||a||_1^2 / ||a||_2^2 of each row of the last axis, mean over rows:
 * a scalar (lib/ops/hoyer.c). */
adapt_status ad_op_hoyer(adapt_tensor **out, adapt_context *ctx, adapt_tensor *x);
/* The straight-through Gumbel-softmax over the last axis: one-hot of argmax((logits + g) /
 * tau) forward, the gradient of softmax((logits + g) / tau) backward; g Gumbel noise from the
 * context's stream when `sample`, else 0 (lib/ops/straight_through.c). INVALID_ARGUMENT for
 * tau <= 0, NONFINITE for a NaN or infinite logit. */
adapt_status ad_op_straight_through(adapt_tensor **out, adapt_context *ctx,
                                    adapt_tensor *logits, float tau, bool sample);

/* Normalizing flows (lib/ops/flow_coupling.c, flow_losses.c). The coupling step: x [N, d] with
 * the columns [lo, hi) of ad_coupling_columns() replaced by x * exp(s) + t (s, t [N, hi - lo];
 * s NULL: x + t). */
void ad_coupling_columns(int64_t *lo, int64_t *hi, int64_t d, int32_t parity);
adapt_status ad_op_coupling(adapt_tensor **out, adapt_context *ctx, adapt_tensor *x,
                            adapt_tensor *s, adapt_tensor *t, int32_t parity);
/* Its exact inverse on plain arrays: x [rows, d] from y (x may be y). */
void ad_coupling_inverse(float *x, const float *y, const float *s, const float *t, int64_t rows,
                         int64_t d, int32_t parity);
/* log |det| of batch normalisation of x [N, C] per row, a scalar: sum_j log |gamma_j| -
 * log(var_j + eps) / 2, var the batch's (biased) in training, else running_var. */
adapt_status ad_op_batchnorm_logdet(adapt_tensor **out, adapt_context *ctx, adapt_tensor *x,
                                    adapt_tensor *gamma, const adapt_tensor *running_var,
                                    float eps);
/* Mean over rows of -log N(z; mean, std^2) summed over columns; mean and std [N, d] constants. */
adapt_status ad_op_gaussian_nll(adapt_tensor **out, adapt_context *ctx, adapt_tensor *z,
                                const float *mean, const float *std);
/* Mean over rows of |z_i - centre_i|^2 over columns [first, last), centre_i the mean of the
 * rows of group groups[i] (a row of group < 0 is alone: 0). */
adapt_status ad_op_group_spread(adapt_tensor **out, adapt_context *ctx, adapt_tensor *z,
                                const int32_t *groups, int64_t first, int64_t last);

#endif
