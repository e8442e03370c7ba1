/* Flow checkpoints: the parameters and running statistics under their names
 * (checkpoint_tensors.h), and in __metadata__ the settings that rebuild the flow, one key
 * each ("flow.dim" = "24", "flow.coupling" = "affine", ...). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/core/error.h"
#include "lib/flow/flow.h"
#include "lib/flow/flow_checkpoint.h"
#include "lib/io/checkpoint_tensors.h"

#define FLOW_FORMAT "libadapt-flow"

static const char *const coupling_names[] = {"affine", "additive"};

static adapt_tensor *flow_tensor(const void *flow, int32_t i)
{
    return ((const adapt_flow *)flow)->params.items[i].tensor;
}

static const char *flow_tensor_name(const void *flow, int32_t i)
{
    return ((const adapt_flow *)flow)->params.items[i].name;
}

static ad_ckpt_tensors flow_tensors(const adapt_flow *f)
{
    return (ad_ckpt_tensors){f, "flow", f->params.count, flow_tensor, flow_tensor_name};
}

adapt_status adapt_flow_save(const adapt_flow *flow, const char *path)
{
    const char *fn = "adapt_flow_save";
    if (!flow || !path)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: %s is NULL", fn, !flow ? "flow" : "path");
    const adapt_flow_params *p = &flow->p;
    char text[5][24];
    snprintf(text[0], sizeof text[0], "%lld", (long long)p->dim);
    snprintf(text[1], sizeof text[1], "%lld", (long long)p->cond_dim);
    snprintf(text[2], sizeof text[2], "%d", (int)p->couplings);
    snprintf(text[3], sizeof text[3], "%lld", (long long)p->hidden);
    snprintf(text[4], sizeof text[4], "%d", (int)p->blocks);
    const ad_st_meta meta[] = {
        {"format", FLOW_FORMAT},     {"flow.dim", text[0]},
        {"flow.cond_dim", text[1]},  {"flow.couplings", text[2]},
        {"flow.coupling", coupling_names[p->coupling]},
        {"flow.hidden", text[3]},    {"flow.blocks", text[4]},
        {"flow.batch_norm", p->batch_norm ? "1" : "0"}};
    const ad_ckpt_tensors tensors = flow_tensors(flow);
    return ad_ckpt_write(path, &tensors, meta, (int32_t)(sizeof meta / sizeof *meta), fn);
}

/* The integer setting `key` in [lo, hi]. */
static adapt_status read_setting(int64_t *out, const ad_safetensors *st, const char *key,
                                 int64_t lo, int64_t hi, const char *fn)
{
    const char *text = NULL;
    adapt_status status = ad_ckpt_meta(&text, st, key, fn);
    if (status)
        return status;
    char *end = NULL;
    errno = 0;
    const long long value = strtoll(text, &end, 10);
    if (errno || end == text || *end || value < lo || value > hi)
        return ad_fail(ADAPT_ERR_FORMAT, "%s: %s: \"%s\" is \"%s\", not an integer in [%lld, "
                       "%lld]", fn, st->src.name, key, text, (long long)lo, (long long)hi);
    *out = value;
    return ADAPT_OK;
}

static adapt_status read_coupling(int32_t *out, const ad_safetensors *st, const char *fn)
{
    const char *text = NULL;
    adapt_status status = ad_ckpt_meta(&text, st, "flow.coupling", fn);
    for (int32_t k = 0; !status && k < 2; k++)
        if (!strcmp(text, coupling_names[k])) {
            *out = k;
            return ADAPT_OK;
        }
    return status ? status : ad_fail(ADAPT_ERR_FORMAT, "%s: %s: \"flow.coupling\" is \"%s\", "
                                     "not \"affine\" or \"additive\"", fn, st->src.name, text);
}

/* The settings the file's metadata records. */
static adapt_status read_settings(adapt_flow_params *p, const ad_safetensors *st, const char *fn)
{
    adapt_flow_params_init(p, sizeof *p);
    const char *format = NULL;
    adapt_status status = ad_ckpt_meta(&format, st, "format", fn);
    if (!status && strcmp(format, FLOW_FORMAT))
        status = ad_fail(ADAPT_ERR_FORMAT, "%s: %s has format \"%s\", not \"" FLOW_FORMAT "\"",
                         fn, st->src.name, format);
    int64_t v[6] = {0};
    static const char *const keys[] = {"flow.dim", "flow.cond_dim", "flow.couplings",
                                       "flow.hidden", "flow.blocks", "flow.batch_norm"};
    static const int64_t hi[] = {INT64_MAX, INT64_MAX, INT32_MAX, INT64_MAX, INT32_MAX, 1};
    for (int k = 0; k < 6 && !status; k++)
        status = read_setting(&v[k], st, keys[k], 0, hi[k], fn);
    if (!status)
        status = read_coupling(&p->coupling, st, fn);
    p->dim = v[0], p->cond_dim = v[1], p->couplings = (int32_t)v[2], p->hidden = v[3];
    p->blocks = (int32_t)v[4], p->batch_norm = (int32_t)v[5];
    return status;
}

/* A refusal of the flow the file describes, as a FORMAT error naming the file. */
static adapt_status refuse(adapt_status status, const ad_safetensors *st, const char *fn)
{
    char why[256];
    snprintf(why, sizeof why, "%s", adapt_last_error());
    return ad_fail(status == ADAPT_ERR_INVALID_ARGUMENT ? ADAPT_ERR_FORMAT : status,
                   "%s: %s: %s", fn, st->src.name, why);
}

/* The flow the file describes, its tensors read, checked invertible. */
static adapt_status load(adapt_flow **out, const ad_safetensors *st, const char *fn)
{
    adapt_flow_params p;
    adapt_status status = read_settings(&p, st, fn);
    const int64_t budget = ad_ckpt_value_budget(st);
    if (!status && p.couplings > budget)
        status = ad_fail(ADAPT_ERR_FORMAT, "%s: %s: %d couplings, more than its tensors hold",
                         fn, st->src.name, (int)p.couplings);
    adapt_flow *f = NULL;
    if (!status && (status = ad_flow_make(&f, &p, budget)))
        status = refuse(status, st, fn);
    if (!status) {
        const ad_ckpt_tensors tensors = flow_tensors(f);
        status = ad_ckpt_read(&tensors, st, fn);
    }
    if (!status && (status = ad_flow_check_invertible(f, fn)))
        status = refuse(status, st, fn);
    if (status) {
        adapt_flow_free(f);
        return status;
    }
    *out = f;
    return ADAPT_OK;
}

static adapt_status load_from(adapt_flow **out, const char *path, const void *bytes,
                              size_t size)
{
    const char *fn = "adapt_flow_load";
    if (!out || (!path && !bytes && size))
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: %s is NULL", fn, !out ? "out" : "path");
    ad_safetensors *st = NULL;
    adapt_status status = path ? ad_safetensors_open(&st, path, fn)
                               : ad_safetensors_open_memory(&st, bytes, size, fn);
    if (!status)
        status = load(out, st, fn);
    ad_safetensors_close(st);
    return status;
}

adapt_status adapt_flow_load(adapt_flow **out, const char *path)
{
    if (!path)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "adapt_flow_load: path is NULL");
    return load_from(out, path, NULL, 0);
}

adapt_status ad_flow_load_memory(adapt_flow **out, const void *bytes, size_t size)
{
    return load_from(out, NULL, bytes, size);
}
