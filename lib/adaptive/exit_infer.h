/* adapt_model_infer_exits' state, and the passes that take a CNN's first exit together with
 * its stem (exit_first.c). */
#ifndef AD_ADAPTIVE_EXIT_INFER_H
#define AD_ADAPTIVE_EXIT_INFER_H

#include <stdbool.h>
#include <stdint.h>

#include "adapt.h"

typedef struct {
    adapt_exit_policy policy;
    int32_t classes;
    int64_t active;         /* rows of the current batch */
    int64_t *sample;        /* [active] each row's position in the input */
    int32_t *streak, *last; /* [active] the patience rule's run of equal predictions */
    double *p;              /* [classes] one row's probabilities */
    float *probs;           /* [active * classes] calibrated probabilities, or NULL */
    /* Results by input position, handed to the caller only once all succeeded. */
    int32_t *prediction, *exit;
    float *confidence;
    int64_t *flops;
} ad_infer_state;

/* Settles a row at exit k from its probabilities p: if it leaves (every row leaves the final
 * exit) its results go to input position `at`, with `spent`, the FLOPs the context's meter
 * charged it. *streak and *last, its patience run, are updated. Returns whether the row goes
 * on. Touches no other row's results, so threads may settle different rows at once. */
bool ad_infer_settle(ad_infer_state *s, int32_t k, bool final, const double *p, int64_t at,
                     int64_t spent, int32_t *streak, int32_t *last);

/* The first exit decided in the stem's pass, when the model is a CNN whose first head is SDN
 * on a stem of convolution, batch norm and ReLU that the direct kernel runs, the head a plain
 * linear layer on the pooling, uncalibrated: each sample's stem output is pooled, its logits
 * made and its exit decided while it is in cache, and only the samples that go on are stored,
 * into *stem and their logits into *logits, in the order they were decided, with s->sample,
 * streak and last set for them and s->active their count. *decided is false, and the call OK,
 * when that does not apply. */
adapt_status ad_first_exit_decided(bool *decided, adapt_tensor **stem, adapt_tensor **logits,
                                   adapt_context *ctx, const adapt_model *model,
                                   ad_infer_state *s, adapt_tensor *input);

/* The first head's features and the first block's output *stem of every sample, both from
 * the model's input in one pass, under the conditions above but for the head's: each plane of
 * the stem's output is pooled while in cache. *f is NULL, and the call OK, when that does not
 * apply. */
adapt_status ad_first_head_features(adapt_tensor **f, adapt_tensor **stem, adapt_context *ctx,
                                    const adapt_model *model, adapt_tensor *input);

/* Head k's features and its block's output *x, made from the block's input *x in one pass,
 * when the head is SDN and its block one residual block whose last convolution the direct
 * kernel runs: each output plane is pooled as that convolution makes it. *f is NULL, *x
 * untouched and the call OK when that does not apply. */
adapt_status ad_head_features_in_block(adapt_tensor **f, adapt_tensor **x, adapt_context *ctx,
                                       const adapt_model *model, int32_t k);

#endif
