/* adapt_segmentation_train: the per-pixel cross-entropy of a segmentation model's scores, on
 * the library's training loop. */
#include <string.h>

#include "lib/core/context.h"
#include "lib/core/error.h"
#include "lib/core/struct_io.h"
#include "lib/core/tensor.h"
#include "lib/models/model_impl.h"
#include "lib/ops/ops.h"
#include "lib/segment/segment.h"
#include "lib/train/trainer.h"

static const char *const fn = "adapt_segmentation_train";

typedef struct {
    adapt_model *model;
    const float *images;
    const int32_t *masks;
    ad_dims in, out;
    float label_smoothing;
} segment_training;

/* Rows `rows` of the images as a batch, and their label maps flattened. */
static adapt_status gather(adapt_tensor **x, int32_t **labels, adapt_context *ctx,
                           const segment_training *t, const int64_t *rows, int64_t m)
{
    const int64_t image = ad_dims_numel(&t->in), pixels = t->out.d[1] * t->out.d[2];
    const int64_t shape[] = {m, t->in.d[0], t->in.d[1], t->in.d[2]};
    adapt_status st = ad_tensor_new(x, ctx, 4, shape);
    if (!st)
        st = ad_scratch((void **)labels, ctx, (size_t)(m * pixels) * sizeof **labels, fn);
    for (int64_t i = 0; i < m && !st; i++) {
        memcpy((*x)->data + i * image, t->images + rows[i] * image,
               (size_t)image * sizeof(float));
        memcpy(*labels + i * pixels, t->masks + rows[i] * pixels,
               (size_t)pixels * sizeof(int32_t));
    }
    return st;
}

/* Mean cross-entropy over every pixel of the batch: scores [m, K, H, W] as rows [m H W, K]. */
static adapt_status batch_loss(adapt_tensor **loss, adapt_context *ctx, void *arg,
                               const int64_t *rows, int64_t m)
{
    const segment_training *t = arg;
    adapt_tensor *x = NULL, *y = NULL;
    int32_t *labels = NULL;
    adapt_status st = gather(&x, &labels, ctx, t, rows, m);
    if (!st)
        st = ad_model_forward(&y, ctx, t->model, x);
    if (!st)
        st = ad_op_permute(&y, ctx, y, (const int32_t[]){0, 2, 3, 1});
    if (!st)
        st = ad_op_reshape(&y, ctx, y, 2, (const int64_t[]){y->numel / t->out.d[0],
                                                              t->out.d[0]});
    return st ? st : ad_op_cross_entropy(loss, ctx, y, labels, t->label_smoothing);
}

static adapt_status check_data(const segment_training *t, int64_t n)
{
    if (!t->images || !t->masks || n < 1)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: %s", fn,
                       !t->images ? "images is NULL" : !t->masks ? "masks is NULL" : "n < 1");
    const int64_t image = ad_dims_numel(&t->in), pixels = t->out.d[1] * t->out.d[2];
    if (n > INT64_MAX / image || n > INT64_MAX / pixels)
        return ad_fail(ADAPT_ERR_OVERFLOW, "%s: %lld images", fn, (long long)n);
    if (!ad_all_finite(t->images, n * image))
        return ad_fail(ADAPT_ERR_NONFINITE, "%s: the images hold NaN or infinity", fn);
    for (int64_t i = 0; i < n * pixels; i++)
        if (t->masks[i] < 0 || t->masks[i] >= t->out.d[0])
            return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: mask value %d at %lld is not a "
                           "class of the model's %lld", fn, (int)t->masks[i], (long long)i,
                           (long long)t->out.d[0]);
    return ADAPT_OK;
}

static adapt_status train(adapt_model *model, const float *images, const int32_t *masks,
                          int64_t n, const adapt_train_params *params)
{
    segment_training t = {.model = model, .images = images, .masks = masks};
    adapt_status st = ad_segmenter_shapes(&t.in, &t.out, model, fn);
    if (!st)
        st = check_data(&t, n);
    adapt_train_params p;
    adapt_train_params_init(&p, sizeof p);
    if (!st)
        st = ad_struct_read(&p, sizeof p, params, "adapt_train_params", fn);
    t.label_smoothing = p.label_smoothing;
    const ad_train_objective objective = {.arg = &t, .rows_loss = batch_loss, .rows = n};
    return st ? st : ad_train_run(model, NULL, NULL, &p, &objective, fn);
}

adapt_status adapt_segmentation_train(adapt_model *model, const float *images,
                                      const int32_t *masks, int64_t n,
                                      const adapt_train_params *params)
{
    ad_hold hold;
    adapt_status st = ad_model_enter(&hold, model, AD_WRITE, fn);
    if (!st)
        st = train(model, images, masks, n, params);
    ad_busy_leave(&hold);
    return ad_prefix(st, fn);
}
