/* What follows a matrix product in a linear layer at inference, fused into
 * one pass over its output while it is still warm: add the bias, apply the
 * activation, in place. Element for element the same arithmetic as the
 * separate add and activation ops, so results do not change. */
#ifndef AD_KERNELS_EPILOGUE_H
#define AD_KERNELS_EPILOGUE_H

#include <stdint.h>

typedef enum { AD_ACT_NONE, AD_ACT_RELU, AD_ACT_GELU } ad_act;

/* y[r * ld + j] = act(y[r * ld + j] + bias[j]) for r < rows, j < cols; bias may be NULL. */
void ad_bias_act_rows(int64_t rows, int64_t cols, int64_t ld, const float *bias, ad_act act,
                      float *y);

#endif
