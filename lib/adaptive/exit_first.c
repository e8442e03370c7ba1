/* A CNN's exits pooled in the pass that makes what they read. At batch 256 the stem writes
 * 16 x 28 x 28 values per image, and its SDN head read them all back in a pass of its own,
 * which made the first exit cost more than twice its share of FLOPs where often most images
 * leave. Here the stem's convolution hands each finished plane to the head's pooling while it
 * is in cache. Where the head is a plain linear layer, each sample's logits are made and its
 * exit decided in the same pass, and only the samples that go on are stored, already
 * compacted: no copy of the survivors, no store of the others. Later SDN heads pool their
 * residual block's output likewise, as its last convolution makes it. The same kernels, row
 * for row: the same bits as the layers, the pooling and the head run one after the other. */
#include <stdatomic.h>
#include <string.h>

#include "lib/adaptive/exit_infer.h"
#include "lib/adaptive/head.h"
#include "lib/core/context.h"
#include "lib/core/meter.h"
#include "lib/core/tensor.h"
#include "lib/eval/score_rows.h"
#include "lib/kernels/gemm_narrow.h"
#include "lib/models/model_impl.h"
#include "lib/nn/batchnorm.h"
#include "lib/nn/layer_kinds.h"
#include "lib/nn/residual.h"

static const char *const fn = "adapt_model_infer_exits";

/* The stem's layers when the plan fuses the first head with them and `input` is a batch of
 * the images they take; else NULL. */
static const ad_layer *stem_layers(const adapt_model *model, const adapt_tensor *input)
{
    if (ad_head_count(model) < 1 || ad_head_at(model, 0)->fusion != AD_FUSE_STEM)
        return NULL;
    const ad_block *b = &model->blocks[0];
    bool ok = input->ndim == 4 && input->shape[0] >= 1;
    for (int32_t i = 0; ok && i < 3; i++)
        ok = input->shape[i + 1] == b->in.d[i];
    return ok ? b->layers : NULL;
}

/* The stem's convolution over the whole batch with its batch norm and ReLU fused, handing its
 * output to `sink`, into y (NULL when the sink takes whole samples). */
static adapt_status run_stem(adapt_context *ctx, const ad_layer *layers, adapt_tensor *input,
                             const ad_conv_sink *sink, float *y)
{
    const ad_conv2d *conv = AD_LAYER_STATE(&layers[0], const ad_conv2d);
    const ad_batchnorm2d *bn = AD_LAYER_STATE(&layers[1], const ad_batchnorm2d);
    const ad_conv_epilogue e = {bn->weight->data, bn->bias->data, bn->running_mean->data,
                                bn->running_var->data, AD_BATCHNORM_EPS, NULL, true, NULL};
    const ad_conv_call call = {
        .g = ad_stem_geom(&layers[0]), .batch = input->shape[0],
        .out_channels = layers[0].out.d[0], .x = input->data,
        .weight = conv->weight->data, .bias = conv->bias ? conv->bias->data : NULL,
        .epilogue = &e, .y = y, .sink = sink};
    return ad_conv_direct(ctx, &call, fn);
}

/* The width c * h * w of SDN head h's pooling of planes out [c, oh, ow]. */
static int64_t pooled_width(const adapt_head *h, const ad_dims *out)
{
    return out->d[0] * (out->d[1] / h->window) * (out->d[2] / h->window);
}

adapt_status ad_first_head_features(adapt_tensor **f, adapt_tensor **stem, adapt_context *ctx,
                                    const adapt_model *model, adapt_tensor *input)
{
    *f = NULL;
    const ad_layer *layers = stem_layers(model, input);
    if (!layers)
        return ADAPT_OK;
    const adapt_head *h = ad_head_at(model, 0);
    const ad_dims *out = &layers[0].out;
    const int64_t n = input->shape[0];
    adapt_tensor *pooled, *y;
    adapt_status st = ad_tensor_new(&pooled, ctx, 2, (int64_t[]){n, pooled_width(h, &layers[0].out)});
    if (!st)
        st = ad_tensor_new(&y, ctx, 4, (int64_t[]){n, out->d[0], out->d[1], out->d[2]});
    if (st)
        return st;
    ad_sdn_plane_pool pool;
    ad_sdn_plane_pool_init(&pool, h, out->d[0], out->d[1], out->d[2], pooled->data);
    st = run_stem(ctx, layers, input, &pool.sink, y->data);
    if (st)
        return st;
    ad_meter_charge(ctx, n, model->blocks[0].own_flops);
    *f = pooled, *stem = y;
    return ADAPT_OK;
}

adapt_status ad_head_features_in_block(adapt_tensor **f, adapt_tensor **x, adapt_context *ctx,
                                       const adapt_model *model, int32_t k)
{
    *f = NULL;
    const adapt_head *h = ad_head_at(model, k);
    const ad_block *b = &model->blocks[h->params.block];
    const ad_dims *in = &b->in, *out = &b->out;
    if (h->fusion != AD_FUSE_BLOCK || (*x)->ndim != 4 || (*x)->shape[1] != in->d[0] ||
        (*x)->shape[2] != in->d[1] || (*x)->shape[3] != in->d[2])
        return ADAPT_OK;
    const ad_residual_block *r = AD_LAYER_STATE(&b->layers[0], const ad_residual_block);
    adapt_tensor *pooled, *y;
    adapt_status st =
        ad_tensor_new(&pooled, ctx, 2, (int64_t[]){(*x)->shape[0], pooled_width(h, out)});
    if (st)
        return st;
    ad_sdn_plane_pool pool;
    ad_sdn_plane_pool_init(&pool, h, out->d[0], out->d[1], out->d[2], pooled->data);
    st = ad_residual_block_forward(&y, ctx, r, *x, &pool.sink);
    if (st)
        return st;
    ad_meter_charge(ctx, y->shape[0], b->own_flops);
    *f = pooled, *x = y;
    return ADAPT_OK;
}

/* The decided pass: pooling first in the sink's argument, so that the pooling's plane
 * function reads it as its own. Each thread reserves a row of the compact batch for the
 * sample in hand and keeps it for its next sample if this one leaves; a thread's last
 * reservation may stay empty, and the rows are closed up at the end. */
typedef struct {
    ad_sdn_plane_pool pool;
    ad_infer_state *s;
    ad_narrow_product head; /* every sample's logits from its pooled row */
    size_t pool_bytes;      /* the pooling's part of the sink's scratch; then p [classes], then
                               the thread's reserved row + 1 (0: none) */
    int64_t sample_floats;  /* the stem's output per sample */
    float *stem, *logits;   /* [rows][sample_floats], [rows][classes] */
    int64_t spent;          /* what the stem and the head cost each sample */
    bool *kept;             /* [rows] whether a row holds a sample that goes on */
    _Atomic int64_t rows;   /* rows reserved */
} decided_pass;

static int64_t *reservation(const decided_pass *d, void *scratch)
{
    return (int64_t *)((char *)scratch + d->pool_bytes + (size_t)d->s->classes * sizeof(double));
}

static float *place_sample(void *arg, int64_t n, void *scratch)
{
    decided_pass *d = arg;
    int64_t *mine = reservation(d, scratch);
    if (*mine == 0)
        *mine = atomic_fetch_add(&d->rows, 1) + 1;
    return d->stem + (*mine - 1) * d->sample_floats;
}

/* Sample n, pooled and in place (planes, its reserved row): its logits, its exit; the row
 * kept if it goes on. */
static void decide_sample(void *arg, int64_t n, const float *planes, void *scratch)
{
    (void)planes;
    decided_pass *d = arg;
    ad_infer_state *s = d->s;
    double *p = (double *)((char *)scratch + d->pool_bytes);
    ad_gemm_narrow_rows(&d->head, n, n + 1);
    const float *z = d->head.y + n * s->classes;
    for (int32_t j = 0; j < s->classes; j++)
        p[j] = z[j];
    ad_probabilities_in_place(p, s->classes, (adapt_score_kind)s->policy.scores);
    int32_t streak = 0, last = -1;
    if (!ad_infer_settle(s, 0, false, p, n, d->spent, &streak, &last))
        return;
    int64_t *mine = reservation(d, scratch);
    const int64_t row = *mine - 1;
    memcpy(d->logits + row * s->classes, z, (size_t)s->classes * sizeof *z);
    s->sample[row] = n, s->streak[row] = streak, s->last[row] = last;
    d->kept[row] = true, *mine = 0;
}

/* Moves the last kept rows into the empty ones below them; returns the rows kept. */
static int64_t close_up(decided_pass *d)
{
    ad_infer_state *s = d->s;
    int64_t lo = 0, hi = atomic_load(&d->rows) - 1;
    for (;; lo++, hi--) {
        while (lo <= hi && d->kept[lo])
            lo++;
        while (hi > lo && !d->kept[hi])
            hi--;
        if (lo >= hi)
            return lo;
        memcpy(d->stem + lo * d->sample_floats, d->stem + hi * d->sample_floats,
               (size_t)d->sample_floats * sizeof *d->stem);
        memcpy(d->logits + lo * s->classes, d->logits + hi * s->classes,
               (size_t)s->classes * sizeof *d->logits);
        s->sample[lo] = s->sample[hi], s->streak[lo] = s->streak[hi], s->last[lo] = s->last[hi];
        d->kept[lo] = true, d->kept[hi] = false;
    }
}

/* Whether the first head's logits are its linear layer's product on the pooling, by the
 * narrow kernel, decided on their probabilities as the policy reads them. */
static bool head_decides_alone(const adapt_context *ctx, const adapt_head *h,
                               const ad_infer_state *s, int64_t width)
{
    const ad_linear *fc = &h->fc1;
    const ad_gemm_args g = {.trans_b = true, .m = 1, .n = fc->out_features, .k = width,
                            .alpha = 1.0f, .lda = width, .ldb = width,
                            .ldc = fc->out_features};
    return !h->params.cascade && !h->fc2.weight && fc->in_features == width &&
           fc->out_features == s->classes && ad_gemm_narrow_suits(ctx->backend, &g) &&
           !(s->policy.calibrators && s->policy.calibrators[0]);
}

adapt_status ad_first_exit_decided(bool *decided, adapt_tensor **stem, adapt_tensor **logits,
                                   adapt_context *ctx, const adapt_model *model,
                                   ad_infer_state *s, adapt_tensor *input)
{
    *decided = false;
    const ad_layer *layers = stem_layers(model, input);
    const adapt_head *h = layers ? ad_head_at(model, 0) : NULL;
    const ad_dims *out = layers ? &layers[0].out : NULL;
    const int64_t width = h ? pooled_width(h, out) : 0;
    if (!h || !head_decides_alone(ctx, h, s, width))
        return ADAPT_OK;
    const int64_t n = input->shape[0], c = s->classes;
    adapt_tensor *pooled, *y, *z;
    float *all_logits;
    adapt_status st = ad_tensor_new(&pooled, ctx, 2, (int64_t[]){n, width});
    if (!st)
        st = ad_tensor_new(&y, ctx, 4, (int64_t[]){n, out->d[0], out->d[1], out->d[2]});
    if (!st)
        st = ad_tensor_new(&z, ctx, 2, (int64_t[]){n, c});
    bool *kept;
    if (!st)
        st = ad_scratch((void **)&all_logits, ctx, (size_t)(n * c) * sizeof *all_logits, fn);
    if (!st)
        st = ad_scratch((void **)&kept, ctx, (size_t)n * sizeof *kept, fn);
    if (st)
        return st;
    memset(kept, 0, (size_t)n * sizeof *kept);
    decided_pass d = {.s = s, .sample_floats = y->numel / n, .stem = y->data, .logits = z->data,
                      .spent = ad_add_sat(model->blocks[0].own_flops, h->flops), .kept = kept};
    ad_sdn_plane_pool_init(&d.pool, h, out->d[0], out->d[1], out->d[2], pooled->data);
    d.head = (ad_narrow_product){n, c, width, pooled->data, h->fc1.weight->data,
                                 h->fc1.bias ? h->fc1.bias->data : NULL, AD_ACT_NONE,
                                 all_logits, c};
    d.pool_bytes = d.pool.sink.scratch_bytes;
    atomic_init(&d.rows, 0);
    const ad_conv_sink sink = {
        .plane = d.pool.sink.plane, .place = place_sample, .sample = decide_sample, .arg = &d,
        .scratch_bytes = d.pool_bytes + (size_t)c * sizeof(double) + sizeof(int64_t)};
    st = run_stem(ctx, layers, input, &sink, NULL);
    if (st)
        return st;
    s->active = close_up(&d);
    ad_meter_charge(ctx, n, d.spent); /* every row alike, so the kept ones need no moving */
    ctx->meter_rows = s->active;
    y->shape[0] = z->shape[0] = s->active;
    y->numel = s->active * d.sample_floats, z->numel = s->active * c;
    *stem = y, *logits = z, *decided = true;
    return ADAPT_OK;
}
