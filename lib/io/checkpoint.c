/* Model checkpoints: the parameters under their PyTorch names (checkpoint_tensors.h), and in
 * __metadata__ the architecture text that rebuilds the model. */
#include <stdio.h>
#include <string.h>

#include "lib/core/error.h"
#include "lib/io/checkpoint.h"
#include "lib/io/checkpoint_tensors.h"
#include "lib/models/model.h"

#define CKPT_FORMAT "libadapt"

static adapt_tensor *model_tensor(const void *model, int32_t i)
{
    return ad_model_param((adapt_model *)model, i);
}

static const char *model_tensor_name(const void *model, int32_t i)
{
    return adapt_model_param_name(model, i);
}

/* The model's parameters as a checkpoint's tensors. */
static ad_ckpt_tensors model_tensors(const adapt_model *model)
{
    return (ad_ckpt_tensors){model, "model", adapt_model_param_count(model), model_tensor,
                             model_tensor_name};
}

/* The model `arch` describes; the message of a refusal names the file. */
static adapt_status ckpt_build(adapt_model **model, const ad_safetensors *st, const char *arch,
                               const char *fn)
{
    adapt_status status = ad_model_from_architecture(model, arch, ad_ckpt_value_budget(st));
    if (status) {
        char why[256];
        snprintf(why, sizeof why, "%s", adapt_last_error());
        return ad_fail(status, "%s: %s: %s", fn, st->src.name, why);
    }
    return ADAPT_OK;
}

/* Rebuilds the model from the metadata of an open file and loads its weights. */
static adapt_status ckpt_load(adapt_model **out, const ad_safetensors *st, const char *fn)
{
    const char *format, *version, *arch;
    adapt_status status = ad_ckpt_meta(&format, st, "format", fn);
    if (!status && strcmp(format, CKPT_FORMAT) != 0)
        status = ad_fail(ADAPT_ERR_FORMAT, "%s: %s has format \"%s\", not \"" CKPT_FORMAT
                         "\"", fn, st->src.name, format);
    if (!status)
        status = ad_ckpt_meta(&version, st, "libadapt_version", fn);
    if (!status)
        status = ad_ckpt_meta(&arch, st, "architecture", fn);
    adapt_model *model = NULL;
    if (!status)
        status = ckpt_build(&model, st, arch, fn);
    if (!status) {
        const ad_ckpt_tensors tensors = model_tensors(model);
        status = ad_ckpt_read(&tensors, st, fn);
    }
    if (status) {
        adapt_model_free(model);
        return status;
    }
    *out = model;
    return ADAPT_OK;
}

/* Where a checkpoint comes from: a file (`path`) or memory (the fuzz targets). */
typedef struct ckpt_input {
    const char *path;
    const void *bytes;
    size_t size;
} ckpt_input;

/* Opens the input and either rebuilds a model into *out or, with `out` NULL, loads the
 * weights into `into`. */
static adapt_status ckpt_run(adapt_model **out, adapt_model *into, const ckpt_input *in,
                             const char *fn)
{
    ad_safetensors *st = NULL;
    adapt_status status = in->path ? ad_safetensors_open(&st, in->path, fn)
                                   : ad_safetensors_open_memory(&st, in->bytes, in->size, fn);
    if (status)
        return status;
    if (out) {
        status = ckpt_load(out, st, fn);
    } else {
        const ad_ckpt_tensors tensors = model_tensors(into);
        status = ad_ckpt_read(&tensors, st, fn);
    }
    ad_safetensors_close(st);
    return ad_prefix(status, fn); /* the model builders cannot name the caller */
}

adapt_status adapt_model_load(adapt_model **out, const char *path)
{
    const char *fn = "adapt_model_load";
    if (!out || !path)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: %s is NULL", fn, !out ? "out" : "path");
    return ckpt_run(out, NULL, &(ckpt_input){.path = path}, fn);
}

adapt_status adapt_model_load_weights(adapt_model *model, const char *path)
{
    const char *fn = "adapt_model_load_weights";
    if (!model || !path)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: %s is NULL", fn,
                       !model ? "model" : "path");
    ad_hold hold;
    adapt_status st = ad_model_enter(&hold, model, AD_WRITE, fn);
    if (!st)
        st = ckpt_run(NULL, model, &(ckpt_input){.path = path}, fn);
    ad_busy_leave(&hold);
    return st;
}

adapt_status ad_checkpoint_load_memory(adapt_model **out, const void *bytes, size_t size)
{
    const char *fn = "adapt_model_load";
    if (!out || (!bytes && size))
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: out or bytes is NULL", fn);
    return ckpt_run(out, NULL, &(ckpt_input){.bytes = bytes, .size = size}, fn);
}

adapt_status ad_checkpoint_load_weights_memory(adapt_model *model, const void *bytes,
                                               size_t size)
{
    const char *fn = "adapt_model_load_weights";
    if (!model || (!bytes && size))
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: model or bytes is NULL", fn);
    return ckpt_run(NULL, model, &(ckpt_input){.bytes = bytes, .size = size}, fn);
}

static adapt_status save(const adapt_model *model, const char *path, const char *fn)
{
    const char *arch = ad_model_architecture(model);
    if (!arch)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: the model has no architecture", fn);
    const ad_ckpt_tensors tensors = model_tensors(model);
    const ad_st_meta meta[] = {{"format", CKPT_FORMAT}, {"architecture", arch}};
    return ad_ckpt_write(path, &tensors, meta, 2, fn);
}

adapt_status adapt_model_save(const adapt_model *model, const char *path)
{
    const char *fn = "adapt_model_save";
    if (!model || !path)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: %s is NULL", fn,
                       !model ? "model" : "path");
    ad_hold hold; /* the hold is all a save changes */
    adapt_status st = ad_model_enter(&hold, (adapt_model *)model, AD_READ, fn);
    if (!st)
        st = save(model, path, fn);
    ad_busy_leave(&hold);
    return ad_prefix(st, fn); /* layers and kernels cannot name the caller */
}
