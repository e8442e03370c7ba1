/* adapt_model_record: a tap runs in place of a submodule, calls what ran there and keeps the
 * rows that went in and came out, while the model runs over a dataset in inference mode. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/core/context.h"
#include "lib/core/error.h"
#include "lib/core/struct_io.h"
#include "lib/core/tensor.h"
#include "lib/models/model_impl.h"
#include "lib/train/batch.h"
#include "lib/train/dataset.h"
#include "lib/train/recording.h"

static const char *const fn = "adapt_model_record";

void adapt_record_params_init(adapt_record_params *params, size_t size)
{
    static const adapt_record_params defaults = {.batch_size = 256};
    ad_struct_init(params, size, &defaults, sizeof defaults);
}

typedef struct {
    ad_override inner; /* what ran at the site: a replacement, or nothing for the built-in */
    const ad_layer *layer;
    const ad_layer_part *part;
    adapt_recording *rec;
    bool inputs, outputs; /* which side it keeps: a slice's first layer and its last differ */
} tap;

static adapt_status run_inner(adapt_tensor **out, adapt_context *ctx, const tap *t,
                              adapt_tensor *x)
{
    if (t->inner.module)
        return t->inner.forward(out, ctx, t->inner.module, x);
    return t->part ? t->part->forward(out, ctx, t->layer, x)
                   : t->layer->kind->forward(out, ctx, t->layer, x);
}

static adapt_status keep_rows(adapt_recording *r, int k, const adapt_tensor *t)
{
    const int64_t n = t->shape[0], row = ad_dims_numel(&r->shape[k]);
    if (t->numel != n * row || r->filled + n > r->count)
        return ad_fail(ADAPT_ERR_INTERNAL, "%s: the submodule's rows are not as recorded", fn);
    if (!r->memory[k])
        return ad_npy_spool_append(&r->spool[k], t->data, n);
    memcpy(r->memory[k] + r->filled * row, t->data, (size_t)(n * row) * sizeof(float));
    return ADAPT_OK;
}

static adapt_status tap_forward(adapt_tensor **out, adapt_context *ctx, const void *self,
                                adapt_tensor *x)
{
    const tap *t = self;
    adapt_status st = run_inner(out, ctx, t, x);
    if (!st && t->inputs)
        st = keep_rows(t->rec, AD_REC_INPUTS, x);
    if (!st && t->outputs)
        st = keep_rows(t->rec, AD_REC_OUTPUTS, *out);
    if (!st && t->outputs)
        t->rec->filled += x->shape[0];
    return st;
}

/* Room for rows of side k in memory. */
static adapt_status open_memory(adapt_recording *r, int k, int64_t total, const char *caller)
{
    r->memory[k] = malloc((size_t)(total ? total : 1) * sizeof(float));
    if (!r->memory[k])
        return ad_fail(ADAPT_ERR_OUT_OF_MEMORY, "%s: %lld recorded values", caller,
                       (long long)total);
    r->data[k] = r->memory[k];
    return ADAPT_OK;
}

/* The spool file "<prefix>.inputs.npy" or ".outputs.npy" of side k, opened. */
static adapt_status open_spool(adapt_recording *r, int k, const char *prefix, const char *caller)
{
    const char *side = k ? "outputs" : "inputs";
    const size_t size = strlen(prefix) + strlen(side) + 6;
    if (!(r->spool_path[k] = malloc(size)))
        return ad_fail(ADAPT_ERR_OUT_OF_MEMORY, "%s: spool file name", caller);
    snprintf(r->spool_path[k], size, "%s.%s.npy", prefix, side);
    int64_t shape[ADAPT_MAX_DIMS + 1] = {r->count};
    memcpy(shape + 1, r->shape[k].d, (size_t)r->shape[k].ndim * sizeof *shape);
    return ad_npy_spool_open(&r->spool[k], r->spool_path[k], r->shape[k].ndim + 1, shape, caller);
}

adapt_status ad_recording_open(adapt_recording *r, const char *prefix, const char *caller)
{
    adapt_status st = ADAPT_OK;
    for (int k = 0; k < 2 && !st; k++) {
        const int64_t row = ad_dims_numel(&r->shape[k]), total = ad_mul_sat(row, r->count);
        if (total == INT64_MAX || (uint64_t)total > SIZE_MAX / sizeof(float) ||
            r->shape[k].ndim >= ADAPT_MAX_DIMS)
            return ad_fail(ADAPT_ERR_OVERFLOW, "%s: %lld samples of %lld values", caller,
                           (long long)r->count, (long long)row);
        st = prefix ? open_spool(r, k, prefix, caller) : open_memory(r, k, total, caller);
    }
    return st;
}

void adapt_recording_free(adapt_recording *recording)
{
    if (!recording)
        return;
    for (int k = 0; k < 2; k++) {
        free(recording->memory[k]);
        ad_npy_spool_close(&recording->spool[k]);
        free(recording->spool_path[k]);
    }
    free(recording);
}

const float *adapt_recording_data(const adapt_recording *recording, int32_t outputs,
                                  int32_t *ndim, int64_t *shape)
{
    if (!recording)
        return NULL;
    const ad_dims *d = &recording->shape[outputs ? AD_REC_OUTPUTS : AD_REC_INPUTS];
    if (ndim)
        *ndim = d->ndim + 1;
    if (shape) {
        shape[0] = recording->count;
        memcpy(shape + 1, d->d, (size_t)d->ndim * sizeof *shape);
    }
    return recording->data[outputs ? AD_REC_OUTPUTS : AD_REC_INPUTS];
}

/* The dataset through the model in batches, the tap keeping what passes the site. */
static adapt_status run_dataset(adapt_model *model, const adapt_dataset *data,
                                const adapt_record_params *p)
{
    adapt_context_params cp;
    adapt_context_params_init(&cp, sizeof cp);
    cp.n_threads = p->n_threads;
    adapt_context *ctx = NULL;
    adapt_status st = adapt_context_create(&ctx, &cp);
    int64_t *order = st ? NULL : malloc((size_t)p->batch_size * sizeof *order);
    if (!st && !order)
        st = ad_fail(ADAPT_ERR_OUT_OF_MEMORY, "%s: batch", fn);
    for (int64_t start = 0; !st && start < data->count; start += p->batch_size) {
        const int64_t n = data->count - start < p->batch_size ? data->count - start
                                                               : p->batch_size;
        for (int64_t i = 0; i < n; i++)
            order[i] = start + i;
        adapt_context_reset(ctx);
        adapt_tensor *x = NULL, *y = NULL;
        int32_t *labels = NULL;
        st = ad_batch_assemble(&x, &labels, ctx, data, order, n, fn);
        if (!st)
            st = ad_model_forward(&y, ctx, model, x);
    }
    free(order);
    adapt_context_free(ctx);
    return st;
}

/* Puts tap t in place of what runs at `slot`, keeping that as the tap's inner. */
static void tap_in(ad_override *slot, tap *t)
{
    t->inner = *slot;
    *slot = (ad_override){tap_forward, t};
}

/* The blocks from the site's first layer to its last planned again: no fused step skips a tap,
 * and once the taps are gone the fusions come back. */
static void replan(adapt_model *model, const ad_site *site)
{
    for (int32_t b = site->block; b <= ad_site_last_block(model, site); b++)
        ad_chain_plan_make(&model->blocks[b].plan, model->blocks[b].layers,
                           model->blocks[b].n_layers);
}

/* Runs the dataset with taps in place of the site's module (a slice's first layer keeps the
 * inputs, its last the outputs), then puts that back. */
static adapt_status record_site(adapt_recording *r, adapt_model *model, const ad_site *site,
                                const adapt_dataset *data, const adapt_record_params *p)
{
    ad_override *first = ad_site_slot(model, site);
    ad_layer *last = (ad_layer *)ad_site_covered(model, site, site->span - 1);
    const bool slice = site->span > 1;
    tap taps[2] = {{.layer = ad_site_layer(model, site), .part = site->part, .rec = r,
                    .inputs = true, .outputs = !slice},
                   {.layer = last, .rec = r, .outputs = true}};
    tap_in(first, &taps[0]);
    if (slice)
        tap_in(&last->replaced, &taps[1]);
    replan(model, site);
    adapt_status st = run_dataset(model, data, p);
    if (slice)
        last->replaced = taps[1].inner;
    *first = taps[0].inner;
    replan(model, site);
    for (int k = 0; k < 2 && !st && r->spool_path[k]; k++)
        st = ad_npy_spool_finish(&r->spool[k], &r->data[k]);
    return st;
}

static adapt_status check_call(adapt_recording **out, adapt_model *model, const char *path,
                               const adapt_dataset *data, const adapt_record_params *p)
{
    if (!out || !model || !path)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: %s is NULL", fn,
                       !out ? "out" : !model ? "model" : "path");
    adapt_status st = ad_dataset_check(data, fn, "data");
    if (!st && data->count < 1)
        st = ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: the dataset is empty", fn);
    if (!st && (p->batch_size < 1 || p->n_threads < 0))
        st = ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: batch_size %d must be >= 1 and "
                     "n_threads %d >= 0", fn, (int)p->batch_size, (int)p->n_threads);
    return st;
}

static adapt_status record(adapt_recording **out, adapt_model *model, const char *path,
                           const adapt_dataset *data, const adapt_record_params *params)
{
    adapt_record_params p;
    adapt_record_params_init(&p, sizeof p);
    adapt_status st = ad_struct_read(&p, sizeof p, params, "adapt_record_params", fn);
    if (!st)
        st = check_call(out, model, path, data, &p);
    ad_site site;
    if (!st)
        st = ad_model_site(&site, model, path, fn);
    if (!st && ad_layer_passed_over(ad_site_layer(model, &site)))
        st = ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: \"%s\" lies inside a replaced slice of "
                     "layers, which does not run", fn, path);
    if (st)
        return st;
    adapt_recording *r = calloc(1, sizeof *r);
    if (!r)
        return ad_fail(ADAPT_ERR_OUT_OF_MEMORY, "%s: recording", fn);
    r->count = data->count;
    ad_site_shapes(&r->shape[AD_REC_INPUTS], &r->shape[AD_REC_OUTPUTS], model, &site);
    st = ad_recording_open(r, p.spool_prefix, fn);
    if (!st)
        st = record_site(r, model, &site, data, &p);
    if (!st && r->filled != r->count)
        st = ad_fail(ADAPT_ERR_INTERNAL, "%s: %lld of %lld samples passed \"%s\"", fn,
                     (long long)r->filled, (long long)r->count, path);
    if (st) {
        adapt_recording_free(r);
        return st;
    }
    *out = r;
    return ADAPT_OK;
}

adapt_status adapt_model_record(adapt_recording **out, adapt_model *model, const char *path,
                                const adapt_dataset *data, const adapt_record_params *params)
{
    ad_hold hold; /* for writing: the tap sits in the model while the data passes */
    adapt_status st = ad_model_enter(&hold, model, AD_WRITE, fn);
    if (!st)
        st = record(out, model, path, data, params);
    ad_busy_leave(&hold);
    return ad_prefix(st, fn); /* layers and kernels cannot name the caller */
}
