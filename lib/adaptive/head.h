/* The head object behind adapt_head: an internal classifier reading one block's output, with
 * its own parameters. Shared by the early-exit files of lib/adaptive. */
#ifndef AD_ADAPTIVE_HEAD_H
#define AD_ADAPTIVE_HEAD_H

#include "adapt.h"
#include "lib/kernels/sdn_pool.h"
#include "lib/models/attachment.h"
#include "lib/nn/dims.h"
#include "lib/nn/layer.h"
#include "lib/nn/linear.h"
#include "lib/nn/params.h"

/* How a head's exit runs in early-stopping inference (exit_plan.c). */
typedef enum {
    AD_FUSE_NONE,  /* its block, then the head */
    AD_FUSE_STEM,  /* the first head on a CNN's stem: pooled, even decided, in the stem's pass */
    AD_FUSE_BLOCK, /* an SDN head pooling its residual block's output as it is made */
} ad_head_fusion;

struct adapt_head {
    adapt_head_params params; /* as created; hidden resolved for CLS_MLP */
    ad_dims in;               /* the block output it reads, per sample */
    int32_t classes;
    int32_t window;           /* SDN pooling window and stride */
    ad_param_list list;       /* its parameters, named "exits.<position>.<name>" */
    adapt_tensor *alpha;      /* SDN: weight of max pooling in the mix */
    adapt_tensor *norm_weight, *norm_bias; /* cascading: layer norm of the previous logits */
    ad_linear fc1, fc2;       /* fc2 only for CLS_MLP */
    int64_t flops, n_params;
    const adapt_model *owner; /* the model holding it, or NULL */
    ad_head_fusion fusion;    /* planned by the model holding it */
};

/* Heads as a model's attachments (head_attachment.c). */
extern const ad_attachment_type ad_exit_head_type;

/* The model's heads, in block order among its attachments. */
int32_t ad_head_count(const adapt_model *model);
adapt_head *ad_head_at(const adapt_model *model, int32_t k);

/* Plans head h of m (ad_head_fusion), or every head of m: when a head joins or leaves, and
 * when the model changes (the attachment's refresh). */
void ad_head_plan(adapt_head *h, const adapt_model *m);
void ad_exit_plan(const adapt_model *m);

/* The geometry of a stem convolution layer. */
ad_conv_geom ad_stem_geom(const ad_layer *conv);

/* adapt_head_create() holding at most `max_values` parameter values: more is FORMAT, for
 * heads described by a file (INT64_MAX: no limit). */
adapt_status ad_head_new(adapt_head **out, const adapt_model *model,
                         const adapt_head_params *params, int64_t max_values);

/* "pooled_linear", "sdn", "cls_linear", "cls_mlp"; NULL for an unknown kind. */
const char *ad_head_kind_name(int32_t kind);

/* Inverse of ad_head_kind_name; -1 for an unknown name. */
int32_t ad_head_kind_from_name(const char *name);

/* Frees a head whatever holds it: for the model that owns it. */
void ad_head_destroy(adapt_head *head);

/* Renames the head's parameters for position `position` among its model's heads. */
adapt_status ad_head_set_position(adapt_head *head, int32_t position);

/* SDN's pooling of x [N, C, H, W] into [N, C * h * w] for inference, bit for bit what the
 * taped ops compute (sdn_pool.c). */
adapt_status ad_sdn_pool_untaped(adapt_tensor **out, adapt_context *ctx, const adapt_head *h,
                                 adapt_tensor *x);


/* Pooling of planes [C = channels, height, width] into y [N, C * h * w]. */
void ad_sdn_plane_pool_init(ad_sdn_plane_pool *p, const adapt_head *h, int64_t channels,
                            int64_t height, int64_t width, float *y);

/* Logits [N, classes] of the head on its block's output x [N, in...]; `previous` is the
 * previous head's logits when the head cascades (NULL for the first head). Recorded for
 * backward when the context records; the previous logits never are. */
adapt_status ad_head_forward(adapt_tensor **logits, adapt_context *ctx, const adapt_head *head,
                             adapt_tensor *x, adapt_tensor *previous);

/* The part of ad_head_forward after the head's features f [N, features] were made. */
adapt_status ad_head_logits(adapt_tensor **logits, adapt_context *ctx, const adapt_head *head,
                            adapt_tensor *f, adapt_tensor *previous);

#endif
