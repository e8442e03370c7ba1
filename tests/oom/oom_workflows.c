#include "tests/oom/oom_workflows.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

/* ---- results ------------------------------------------------------------ */

static adapt_status append(oom_fixture *f, const void *bytes, size_t n)
{
    unsigned char *grown = realloc(f->out, f->out_bytes + n);
    if (!grown)
        return ADAPT_ERR_OUT_OF_MEMORY;
    memcpy(grown + f->out_bytes, bytes, n);
    f->out = grown;
    f->out_bytes += n;
    return ADAPT_OK;
}

static adapt_status append_tensor(oom_fixture *f, const adapt_tensor *t)
{
    const int64_t n = adapt_tensor_numel(t);
    float *values = malloc((size_t)n * sizeof *values);
    adapt_status st = values ? adapt_tensor_read(t, values, n) : ADAPT_ERR_OUT_OF_MEMORY;
    if (!st)
        st = append(f, values, (size_t)n * sizeof *values);
    free(values);
    return st;
}

static adapt_status append_params(oom_fixture *f, const adapt_model *m)
{
    adapt_status st = ADAPT_OK;
    for (int32_t i = 0; !st && i < adapt_model_param_count(m); i++)
        st = append_tensor(f, adapt_model_param(m, i));
    return st;
}

static adapt_status append_models(oom_fixture *f)
{
    adapt_status st = ADAPT_OK;
    for (int i = 0; !st && i < 3; i++)
        if (f->models[i])
            st = append_params(f, f->models[i]);
    return st;
}

static adapt_status read_file(unsigned char **bytes, size_t *n, const char *path)
{
    FILE *file = fopen(path, "rb");
    if (!file)
        return ADAPT_ERR_IO;
    *bytes = NULL;
    *n = 0;
    unsigned char chunk[1 << 16];
    size_t got;
    adapt_status st = ADAPT_OK;
    while (!st && (got = fread(chunk, 1, sizeof chunk, file)) > 0) {
        unsigned char *grown = realloc(*bytes, *n + got);
        if (!grown)
            st = ADAPT_ERR_OUT_OF_MEMORY;
        else {
            memcpy(grown + *n, chunk, got);
            *bytes = grown;
            *n += got;
        }
    }
    fclose(file);
    return st;
}

static adapt_status append_file(oom_fixture *f, const char *path)
{
    unsigned char *bytes;
    size_t n;
    adapt_status st = read_file(&bytes, &n, path);
    if (!st)
        st = append(f, bytes, n);
    free(bytes);
    return st;
}

static void path_in(char *out, size_t size, const char *dir, const char *name)
{
    snprintf(out, size, "%s/%s", dir, name);
}

/* ---- damage checks -------------------------------------------------------- */

/* Fails when the directory holds a file other than `allowed` (a temporary file a
 * failed write did not remove). */
static int only_file(const char *dir, const char *allowed, char *why, size_t size)
{
    DIR *d = opendir(dir);
    if (!d)
        return snprintf(why, size, "cannot list %s", dir), 1;
    int bad = 0;
    for (struct dirent *e; !bad && (e = readdir(d));) {
        if (e->d_name[0] == '.' || (allowed && !strcmp(e->d_name, allowed)))
            continue;
        bad = 1;
        snprintf(why, size, "a failed write left %s/%s", dir, e->d_name);
    }
    closedir(d);
    return bad;
}

/* ---- create ----------------------------------------------------------------- */

static void free_models(oom_fixture *f)
{
    for (int i = 0; i < 3; i++) {
        adapt_model_free(f->models[i]);
        f->models[i] = NULL;
    }
}

static adapt_status create_run(oom_fixture *f)
{
    free_models(f);
    adapt_status st = oom_mlp(&f->models[0], 1, 64);
    if (!st)
        st = oom_cnn_with_heads(&f->models[1], 1);
    if (!st)
        st = oom_vit(&f->models[2], 1);
    return st;
}

/* ---- load ------------------------------------------------------------------- */

/* A model of the checkpoint's architecture with other weights, to load into. */
static adapt_status load_setup(oom_fixture *f) { return oom_cnn_with_heads(&f->models[2], 5); }

static adapt_status take_snapshot(oom_fixture *f, adapt_status (*what)(oom_fixture *))
{
    free(f->out);
    f->out = NULL;
    f->out_bytes = 0;
    adapt_status st = what(f);
    free(f->snapshot);
    f->snapshot = f->out;
    f->snapshot_bytes = f->out_bytes;
    f->out = NULL;
    f->out_bytes = 0;
    return st;
}

static adapt_status loaded_into(oom_fixture *f) { return append_params(f, f->models[2]); }

static adapt_status load_snapshot(oom_fixture *f) { return take_snapshot(f, loaded_into); }

static adapt_status load_run(oom_fixture *f)
{
    char path[600];
    path_in(path, sizeof path, f->files, "cnn.safetensors");
    adapt_model_free(f->models[0]);
    f->models[0] = NULL;
    adapt_status st = adapt_model_load(&f->models[0], path);
    if (!st)
        st = adapt_model_load_weights(f->models[2], path);
    return st;
}

/* load_weights leaves the model as it was on any error. */
static int load_after_failure(oom_fixture *f, char *why, size_t size)
{
    free(f->out);
    f->out = NULL;
    f->out_bytes = 0;
    const int bad = loaded_into(f) != ADAPT_OK || f->out_bytes != f->snapshot_bytes ||
                    memcmp(f->out, f->snapshot, f->out_bytes);
    if (bad)
        snprintf(why, size, "a failed adapt_model_load_weights changed the model");
    return bad;
}

/* ---- forward ----------------------------------------------------------------- */

static adapt_status forward_setup(oom_fixture *f)
{
    f->x = malloc(OOM_SAMPLES * OOM_SAMPLE_VALUES * sizeof *f->x);
    if (!f->x)
        return ADAPT_ERR_OUT_OF_MEMORY;
    oom_fill(f->x, OOM_SAMPLES * OOM_SAMPLE_VALUES, 3);
    adapt_status st = oom_mlp(&f->models[0], 1, OOM_WIDE);
    if (!st)
        st = oom_cnn_with_heads(&f->models[1], 1);
    if (!st)
        st = oom_vit(&f->models[2], 1);
    return st;
}

static adapt_status open_context(oom_fixture *f, adapt_backend backend)
{
    adapt_context_params cp;
    adapt_context_params_init(&cp, sizeof cp);
    cp.n_threads = 2;
    cp.backend = backend;
    return adapt_context_create(&f->ctx, &cp);
}

static adapt_status forward_on(oom_fixture *f, adapt_backend backend)
{
    const int64_t shape[] = {OOM_SAMPLES, OOM_CHANNELS, OOM_IMAGE, OOM_IMAGE};
    adapt_status st = open_context(f, backend);
    for (int i = 0; !st && i < 3; i++) {
        adapt_tensor *input = NULL;
        st = adapt_tensor_input(&input, f->ctx, 4, shape, f->x);
        if (!st)
            st = adapt_model_forward(&f->logits[i], f->ctx, f->models[i], input);
    }
    return st;
}

static adapt_status forward_default(oom_fixture *f) { return forward_on(f, ADAPT_BACKEND_DEFAULT); }
static adapt_status forward_onednn(oom_fixture *f) { return forward_on(f, ADAPT_BACKEND_ONEDNN); }
static adapt_status forward_openblas(oom_fixture *f)
{
    return forward_on(f, ADAPT_BACKEND_OPENBLAS);
}
static adapt_status forward_reference(oom_fixture *f)
{
    return forward_on(f, ADAPT_BACKEND_REFERENCE);
}

static adapt_status forward_collect(oom_fixture *f)
{
    adapt_status st = ADAPT_OK;
    for (int i = 0; !st && i < 3; i++)
        st = append_tensor(f, f->logits[i]);
    return st;
}

/* ---- training ------------------------------------------------------------------ */

static adapt_status train_setup(oom_fixture *f)
{
    adapt_status st = oom_dataset(&f->data, &f->x, &f->labels);
    if (!st)
        st = oom_cnn(&f->models[0], 1);
    if (!st)
        st = oom_mlp(&f->models[1], 1, 64);
    if (!st)
        st = oom_cnn_with_heads(&f->models[2], 1);
    return st;
}

static adapt_train_params one_epoch(int32_t optimizer)
{
    adapt_train_params tp;
    adapt_train_params_init(&tp, sizeof tp);
    tp.epochs = 1;
    tp.batch_size = 8;
    tp.n_threads = 2;
    tp.optimizer = optimizer;
    tp.seed = 1;
    return tp;
}

static adapt_status train_run(oom_fixture *f)
{
    adapt_train_params sgd = one_epoch(ADAPT_OPTIMIZER_SGD);
    adapt_train_params adamw = one_epoch(ADAPT_OPTIMIZER_ADAMW);
    adapt_status st = adapt_model_train(f->models[0], f->data, NULL, &adamw);
    if (!st)
        st = adapt_model_train(f->models[1], f->data, NULL, &sgd);
    adapt_exit_train_params ep;
    adapt_exit_train_params_init(&ep, sizeof ep);
    ep.regime = ADAPT_REGIME_MIXED;
    ep.backbone_phase = &sgd;
    ep.exit_phase = &adamw;
    if (!st)
        st = adapt_model_train_exits(f->models[2], f->data, f->data, &ep);
    return st;
}

/* ---- early exits ------------------------------------------------------------------ */

static adapt_status exits_setup(oom_fixture *f)
{
    adapt_status st = oom_dataset(&f->data, &f->x, &f->labels);
    if (!st)
        st = oom_cnn_with_heads(&f->models[0], 1);
    return st;
}

static adapt_status exits_run(oom_fixture *f)
{
    const int64_t shape[] = {OOM_SAMPLES, OOM_CHANNELS, OOM_IMAGE, OOM_IMAGE};
    adapt_exit_policy policy;
    adapt_exit_policy_init(&policy, sizeof policy);
    policy.threshold = 0.15f;
    const adapt_exit_outputs outputs = {sizeof outputs, f->predictions, f->exits, f->confidences,
                                        f->flops};
    adapt_tensor *input = NULL;
    adapt_status st = open_context(f, ADAPT_BACKEND_DEFAULT);
    if (!st)
        st = adapt_tensor_input(&input, f->ctx, 4, shape, f->x);
    if (!st)
        st = adapt_model_infer_exits(&outputs, f->ctx, f->models[0], input, &policy);
    if (!st)
        st = adapt_model_exit_logits(f->exit_logits, 3 * OOM_SAMPLES * 10, f->models[0], f->data,
                                     8, 2);
    return st;
}

static adapt_status exits_collect(oom_fixture *f)
{
    adapt_status st = append(f, f->predictions, sizeof f->predictions);
    if (!st)
        st = append(f, f->exits, sizeof f->exits);
    if (!st)
        st = append(f, f->confidences, sizeof f->confidences);
    if (!st)
        st = append(f, f->flops, sizeof f->flops);
    if (!st)
        st = append(f, f->exit_logits, sizeof f->exit_logits);
    return st;
}

/* ---- Mixture-of-Experts ------------------------------------------------------------ */

/* The D2DMoE steps on a small ViT and an MLP (docs/moe.md). The run builds the model itself, so every
 * run starts from the same weights and its result can be compared after a failure. */
enum { MOE_FORWARD = 4 }; /* images of the metered forward pass */

static adapt_status moe_setup(oom_fixture *f)
{
    return oom_small_dataset(&f->data, &f->x, &f->labels);
}

static adapt_train_params moe_epoch(int32_t n_threads)
{
    adapt_train_params tp;
    adapt_train_params_init(&tp, sizeof tp);
    tp.epochs = 1;
    tp.batch_size = 8;
    tp.n_threads = n_threads;
    tp.optimizer = ADAPT_OPTIMIZER_ADAMW;
    tp.seed = 1;
    return tp;
}

/* Replaces `path` of `model` by `module`, which the model then owns (freed on failure). */
static adapt_status moe_replace(adapt_model *model, const char *path, adapt_model *module)
{
    const adapt_status st = adapt_model_replace(model, path, module, NULL);
    if (st)
        adapt_model_free(module);
    return st;
}

/* 4 experts, routers 8 wide. */
static adapt_moe_params small_moe(uint64_t seed)
{
    adapt_moe_params mp;
    adapt_moe_params_init(&mp, sizeof mp);
    mp.experts = 4;
    mp.router_width = 8;
    mp.seed = seed;
    return mp;
}

/* The ViT with a ReLU MLP in block 0 and 4 experts in block 1, routed dynamic-k. */
static adapt_status moe_build(oom_fixture *f)
{
    adapt_moe_params mp = small_moe(1);
    adapt_model *relu = NULL, *moe = NULL;
    adapt_status st = oom_small_vit(&f->models[0], 1);
    if (!st)
        st = adapt_ffn_module(&relu, f->models[0], "blocks.0.mlp", ADAPT_ACTIVATION_RELU);
    if (!st)
        st = moe_replace(f->models[0], "blocks.0.mlp", relu);
    if (!st)
        st = adapt_moe_from_ffn(&moe, f->models[0], "blocks.1.mlp", &mp);
    mp.seed = 2; /* the module whose router is trained on a recording */
    if (!st)
        st = adapt_moe_from_ffn(&f->models[1], f->models[0], "blocks.1.mlp", &mp);
    if (!st)
        st = moe_replace(f->models[0], "blocks.1.mlp", moe);
    else /* the split above is not the model's yet */
        adapt_model_free(moe);
    if (!st)
        st = adapt_model_set_routing(f->models[0], ADAPT_ROUTING_DYNAMIC_K, 0.3f, 1,
                                     &f->moe_layers);
    return st;
}

/* An untaped forward of a few images, metering each one's FLOPs. */
static adapt_status moe_forward(oom_fixture *f)
{
    const int64_t shape[] = {MOE_FORWARD, 1, OOM_MOE_IMAGE, OOM_MOE_IMAGE};
    adapt_tensor *input = NULL;
    adapt_status st = open_context(f, ADAPT_BACKEND_DEFAULT);
    if (!st)
        st = adapt_context_set_grad(f->ctx, 0);
    if (!st)
        st = adapt_tensor_input(&input, f->ctx, 4, shape, f->x);
    if (!st)
        st = adapt_model_forward_flops(&f->logits[0], f->flops, f->ctx, f->models[0], input);
    return st;
}

/* Router training on what block 1's MoE receives, and the experts each token then runs. */
static adapt_status moe_routers(oom_fixture *f)
{
    adapt_record_params rp;
    adapt_record_params_init(&rp, sizeof rp);
    rp.batch_size = 8;
    rp.n_threads = 2;
    adapt_train_params tp = moe_epoch(2);
    adapt_recording *recording = NULL;
    adapt_tensor *x = NULL;
    int32_t ndim = 0;
    int64_t shape[ADAPT_MAX_DIMS];
    adapt_status st = adapt_model_record(&recording, f->models[0], "blocks.1.mlp", f->data, &rp);
    if (!st)
        st = adapt_moe_train_routers(&f->models[1],
                                     (const adapt_recording *const *)&recording, 1, &tp);
    if (!st)
        st = adapt_model_set_routing(f->models[1], ADAPT_ROUTING_DYNAMIC_K, 0.3f, 1, NULL);
    const float *inputs = st ? NULL : adapt_recording_data(recording, 0, &ndim, shape);
    if (!st)
        st = adapt_tensor_input(&x, f->ctx, ndim, shape, inputs);
    if (!st)
        st = adapt_moe_expert_counts(f->expert_counts, f->ctx, f->models[1], x);
    adapt_recording_free(recording);
    return st;
}

/* A recording copied through adapt_recording_create, as regression data is made. */
static adapt_status copy_recording(const adapt_recording *r)
{
    int32_t in_ndim = 0, out_ndim = 0;
    int64_t in_shape[ADAPT_MAX_DIMS], out_shape[ADAPT_MAX_DIMS];
    const float *inputs = adapt_recording_data(r, 0, &in_ndim, in_shape);
    const float *outputs = adapt_recording_data(r, 1, &out_ndim, out_shape);
    adapt_recording *copy = NULL;
    adapt_status st = adapt_recording_create(&copy, inputs, in_ndim - 1, in_shape + 1, outputs,
                                             out_ndim - 1, out_shape + 1, in_shape[0]);
    adapt_recording_free(copy);
    return st;
}

/* An MLP's slice "0:3" split into experts in place, recorded over the dataset, the recording
 * copied. */
static adapt_status moe_slice(oom_fixture *f)
{
    adapt_mlp_params p;
    adapt_mlp_params_init(&p, sizeof p);
    p.n_sizes = 4;
    p.sizes = (int64_t[]){OOM_MOE_SAMPLE_VALUES, 16, 16, 3};
    p.seed = 3;
    const adapt_moe_params mp = small_moe(0);
    adapt_record_params rp;
    adapt_record_params_init(&rp, sizeof rp);
    rp.batch_size = 8;
    adapt_model *moe = NULL;
    adapt_recording *recording = NULL;
    adapt_status st = adapt_model_create_mlp(&f->models[2], &p);
    if (!st)
        st = adapt_moe_from_ffn(&moe, f->models[2], "0:3", &mp);
    if (!st)
        st = moe_replace(f->models[2], "0:3", moe);
    if (!st)
        st = adapt_model_record(&recording, f->models[2], "0:3", f->data, &rp);
    if (!st)
        st = copy_recording(recording);
    adapt_recording_free(recording);
    return st;
}

static adapt_status moe_run(oom_fixture *f)
{
    free_models(f);
    adapt_status st = moe_build(f);
    if (!st)
        st = moe_slice(f);
    if (!st)
        st = moe_forward(f);
    /* One thread here; the forward, the recording and the router training run on two. */
    adapt_train_params tp = moe_epoch(1);
    tp.sparsity_penalty = 0.1f;
    if (!st)
        st = adapt_model_train(f->models[0], f->data, NULL, &tp);
    if (!st)
        st = moe_routers(f);
    return st;
}

static adapt_status moe_collect(oom_fixture *f)
{
    adapt_status st = append_tensor(f, f->logits[0]);
    if (!st)
        st = append(f, f->flops, MOE_FORWARD * sizeof *f->flops);
    if (!st)
        st = append(f, &f->moe_layers, sizeof f->moe_layers);
    if (!st)
        st = append(f, f->expert_counts, sizeof f->expert_counts);
    if (!st)
        st = append_models(f);
    return st;
}

/* ---- Adaptive Computation Modules ------------------------------------------------------ */

/* The three ACM phases on the small ViT's block 1 MLP (docs/acm.md), then a metered forward and
 * each token's learner count. The run builds the model itself, as the MoE workflow does. */
static adapt_status acm_phases(oom_fixture *f)
{
    adapt_record_params rp;
    adapt_record_params_init(&rp, sizeof rp);
    rp.batch_size = 8;
    rp.n_threads = 2;
    adapt_acm_params ap;
    adapt_acm_params_init(&ap, sizeof ap);
    ap.gate_width = 4;
    adapt_train_params tp = moe_epoch(2);
    adapt_recording *recording = NULL;
    adapt_model *acm = NULL;
    adapt_status st = oom_small_vit(&f->models[0], 1);
    if (!st)
        st = adapt_model_record(&recording, f->models[0], "blocks.1.mlp", f->data, &rp);
    if (!st)
        st = adapt_acm_for(&acm, f->models[0], "blocks.1.mlp", &ap);
    const adapt_recording *const *recordings = (const adapt_recording *const *)&recording;
    if (!st)
        st = adapt_acm_distill(&acm, recordings, 1, &tp);
    if (!st)
        st = adapt_acm_train_gates(&acm, recordings, 1, 1.2f, &tp);
    adapt_recording_free(recording);
    if (!st)
        return moe_replace(f->models[0], "blocks.1.mlp", acm);
    adapt_model_free(acm);
    return st;
}

static adapt_status acm_run(oom_fixture *f)
{
    free_models(f);
    adapt_status st = acm_phases(f);
    adapt_train_params tp = moe_epoch(1);
    tp.acm_budget = 0.4f;
    if (!st)
        st = adapt_model_train(f->models[0], f->data, NULL, &tp);
    if (!st)
        st = moe_forward(f);
    return st;
}

static adapt_status acm_collect(oom_fixture *f)
{
    adapt_status st = append_tensor(f, f->logits[0]);
    if (!st)
        st = append(f, f->flops, MOE_FORWARD * sizeof *f->flops);
    if (!st)
        st = append_models(f);
    return st;
}

/* ---- save ----------------------------------------------------------------------- */

/* The target holds an older checkpoint, which a failed save must leave as it is. */
static adapt_status save_setup(oom_fixture *f)
{
    char old[600], target[600];
    path_in(old, sizeof old, f->files, "old.safetensors");
    path_in(target, sizeof target, f->dir, "model.safetensors");
    unsigned char *bytes = NULL;
    size_t n = 0;
    adapt_status st = read_file(&bytes, &n, old);
    FILE *file = st ? NULL : fopen(target, "wb");
    if (!file || fwrite(bytes, 1, n, file) != n)
        st = ADAPT_ERR_IO;
    if (file && fclose(file))
        st = ADAPT_ERR_IO;
    free(bytes);
    if (!st)
        st = oom_cnn_with_heads(&f->models[0], 3);
    return st;
}

static adapt_status save_run(oom_fixture *f)
{
    char target[600];
    path_in(target, sizeof target, f->dir, "model.safetensors");
    return adapt_model_save(f->models[0], target);
}

static adapt_status save_collect(oom_fixture *f)
{
    char target[600];
    path_in(target, sizeof target, f->dir, "model.safetensors");
    return append_file(f, target);
}

/* The target's bytes and its inode: a save that renamed its new file into place changed
 * the inode even when the bytes are the same (the warm-up run saved the same model). */
static adapt_status target_state(oom_fixture *f)
{
    char target[600];
    path_in(target, sizeof target, f->dir, "model.safetensors");
    struct stat s;
    adapt_status st = stat(target, &s) ? ADAPT_ERR_IO : append(f, &s.st_ino, sizeof s.st_ino);
    return st ? st : append_file(f, target);
}

static adapt_status save_snapshot(oom_fixture *f) { return take_snapshot(f, target_state); }

static int save_after_failure(oom_fixture *f, char *why, size_t size)
{
    free(f->out);
    f->out = NULL;
    f->out_bytes = 0;
    if (target_state(f) || f->out_bytes != f->snapshot_bytes ||
        memcmp(f->out, f->snapshot, f->out_bytes))
        return snprintf(why, size, "a failed save replaced or changed its target"), 1;
    return only_file(f->dir, "model.safetensors", why, size);
}

/* ---- IDX and NPY ------------------------------------------------------------------- */

static adapt_status io_run(oom_fixture *f)
{
    char images[600], labels[600], npy[600], out[600];
    path_in(images, sizeof images, f->files, "images.idx.gz");
    path_in(labels, sizeof labels, f->files, "labels.idx.gz");
    path_in(npy, sizeof npy, f->files, "x.npy");
    path_in(out, sizeof out, f->dir, "y.npy");
    adapt_dataset_free(f->data);
    f->data = NULL;
    free(f->read);
    f->read = NULL;
    int32_t ndim;
    int64_t shape[ADAPT_MAX_DIMS];
    adapt_status st = adapt_dataset_load_idx(&f->data, images, labels);
    if (!st)
        st = adapt_npy_read(&f->read, &ndim, shape, npy);
    if (!st)
        st = adapt_npy_write(out, f->read, ndim, shape);
    return st;
}

static adapt_status io_collect(oom_fixture *f)
{
    char out[600];
    path_in(out, sizeof out, f->dir, "y.npy");
    adapt_status st = ADAPT_OK;
    for (int64_t i = 0; !st && i < adapt_dataset_count(f->data); i++) {
        const float *x;
        int32_t label;
        st = adapt_dataset_sample(&x, &label, f->data, i);
        if (!st)
            st = append(f, x, OOM_IMAGE * OOM_IMAGE * sizeof *x);
        if (!st)
            st = append(f, &label, sizeof label);
    }
    if (!st)
        st = append_file(f, out);
    return st;
}

static int io_after_failure(oom_fixture *f, char *why, size_t size)
{
    return only_file(f->dir, "y.npy", why, size);
}

/* ---- the list ------------------------------------------------------------------------ */

static adapt_status no_setup(oom_fixture *f) { return ADAPT_OK; }

/* ---- probes and routing ------------------------------------------------------------------ */

/* A probe on both blocks of one MLP, fitted on their outputs, its threshold set for a
 * false-positive rate, a logistic probe beside it, and routers to a second MLP and to a copy
 * sharing the first block (docs/probes.md). */
enum { PROBE_HIDDEN = 64 };

static adapt_status probe_setup(oom_fixture *f)
{
    f->x = malloc(OOM_SAMPLES * OOM_SAMPLE_VALUES * sizeof *f->x);
    if (!f->x)
        return ADAPT_ERR_OUT_OF_MEMORY;
    oom_fill(f->x, OOM_SAMPLES * OOM_SAMPLE_VALUES, 7);
    adapt_status st = oom_mlp(&f->models[0], 1, PROBE_HIDDEN);
    if (!st)
        st = oom_mlp(&f->models[1], 2, PROBE_HIDDEN);
    if (!st) /* A's twin: its first block is shared */
        st = oom_mlp(&f->models[2], 1, PROBE_HIDDEN);
    return st;
}

/* An MLP probe on block 1's outputs, fitted and scored: its training and its scoring each
 * make a context of their own. */
static adapt_status probe_mlp(oom_fixture *f, const float *const *features,
                              const int64_t *widths, const int32_t *labels)
{
    adapt_probe_params p;
    adapt_probe_params_init(&p, sizeof p);
    p.kind = ADAPT_PROBE_MLP, p.hidden = 8, p.epochs = 1, p.n_threads = 2;
    adapt_probe *mlp = NULL;
    adapt_status st = adapt_probe_fit(&mlp, features + 1, widths + 1, 1, labels, OOM_SAMPLES,
                                      &p);
    if (!st)
        st = adapt_probe_score(mlp, f->confidences, NULL, features + 1, widths + 1, 1,
                               OOM_SAMPLES);
    adapt_probe_free(mlp);
    return st;
}

/* Fits the probes on A's block outputs for the images in `input`. */
static adapt_status probe_fit(adapt_probe **probe, adapt_probe **logistic, oom_fixture *f,
                              adapt_tensor *input)
{
    adapt_tensor *h0 = NULL, *h1 = NULL;
    adapt_status st = adapt_model_forward_blocks(&h0, f->ctx, f->models[0], input, 0, 1);
    if (!st)
        st = adapt_model_forward_blocks(&h1, f->ctx, f->models[0], h0, 1, 2);
    int32_t labels[OOM_SAMPLES];
    for (int i = 0; i < OOM_SAMPLES; i++)
        labels[i] = i % 3 == 0;
    const float *features[] = {st ? NULL : adapt_tensor_data(h0),
                               st ? NULL : adapt_tensor_data(h1)};
    const int64_t widths[] = {PROBE_HIDDEN, 10};
    adapt_probe_params p;
    adapt_probe_params_init(&p, sizeof p);
    if (!st)
        st = adapt_probe_fit(probe, features, widths, 2, labels, OOM_SAMPLES, NULL);
    if (!st)
        st = adapt_probe_set_threshold_for_fpr(*probe, features, widths, 2, OOM_SAMPLES, 0.25);
    p.kind = ADAPT_PROBE_LOGISTIC;
    if (!st)
        st = adapt_probe_fit(logistic, features, widths, 1, labels, OOM_SAMPLES, &p);
    return st ? st : probe_mlp(f, features, widths, labels);
}

static adapt_status route(oom_fixture *f, adapt_probe *probe, adapt_model *b, int32_t shared,
                          adapt_tensor *input, float *logits)
{
    adapt_router_params p;
    adapt_router_params_init(&p, sizeof p);
    p.n_blocks = 2, p.blocks = (const int32_t[]){0, 1}, p.shared_blocks = shared;
    adapt_router *router = NULL;
    adapt_route_outputs out = {sizeof out, logits, f->probe_scores, f->routed, f->flops};
    adapt_status st = adapt_router_create(&router, f->models[0], b, probe, &p);
    if (!st)
        st = adapt_router_run(&out, f->ctx, router, input);
    adapt_router_free(router);
    return st;
}

static adapt_status probe_run(oom_fixture *f)
{
    const int64_t shape[] = {OOM_SAMPLES, OOM_SAMPLE_VALUES};
    adapt_probe *probe = NULL, *logistic = NULL;
    adapt_tensor *input = NULL;
    adapt_status st = open_context(f, ADAPT_BACKEND_REFERENCE);
    if (!st)
        st = adapt_tensor_input(&input, f->ctx, 2, shape, f->x);
    if (!st)
        st = probe_fit(&probe, &logistic, f, input);
    if (!st)
        st = route(f, probe, f->models[1], 0, input, f->exit_logits);
    if (!st)
        st = route(f, probe, f->models[2], 1, input, f->exit_logits + OOM_SAMPLES * 10);
    adapt_probe_free(logistic);
    adapt_probe_free(probe);
    return st;
}

static adapt_status probe_collect(oom_fixture *f)
{
    adapt_status st = append(f, f->exit_logits, 2 * OOM_SAMPLES * 10 * sizeof(float));
    if (!st)
        st = append(f, f->probe_scores, sizeof f->probe_scores);
    if (!st)
        st = append(f, f->routed, sizeof f->routed);
    if (!st)
        st = append(f, f->flops, OOM_SAMPLES * sizeof *f->flops);
    if (!st)
        st = append(f, f->confidences, sizeof f->confidences);
    return st;
}

/* ---- model merging ---------------------------------------------------------------------- */

/* AXIS, TIES and singular-value fine-tuning of a narrow MLP from two sources
 * (docs/transfer.md). */
enum { MERGE_HIDDEN = 8 };

static adapt_status merge_setup(oom_fixture *f)
{
    adapt_status st = oom_mlp(&f->models[0], 1, MERGE_HIDDEN);
    for (int s = 1; s < 3 && !st; s++) {
        st = oom_mlp(&f->models[s], 1, MERGE_HIDDEN);
        adapt_model *delta = NULL;
        if (!st)
            st = oom_mlp(&delta, 10 + (uint64_t)s, MERGE_HIDDEN);
        for (int32_t i = 0; !st && i < adapt_model_param_count(delta); i++) {
            float *v = adapt_tensor_data(adapt_model_param(f->models[s], i));
            const float *d = adapt_tensor_data(adapt_model_param(delta, i));
            for (int64_t k = 0; k < adapt_tensor_numel(adapt_model_param(delta, i)); k++)
                v[k] += 0.1f * d[k];
        }
        adapt_model_free(delta);
    }
    return st;
}

static adapt_status merge_run(oom_fixture *f)
{
    adapt_model *sources[] = {f->models[1], f->models[2]};
    adapt_merge_params mp;
    adapt_merge_params_init(&mp, sizeof mp);
    adapt_tune_params tp;
    adapt_tune_params_init(&tp, sizeof tp);
    adapt_status st = oom_mlp(&f->made, 3, MERGE_HIDDEN);
    if (!st)
        st = adapt_models_merge(f->made, f->models[0], sources, 2, &mp);
    mp.method = ADAPT_MERGE_TIES;
    if (!st)
        st = adapt_models_merge(f->made, f->models[0], sources, 2, &mp);
    if (!st)
        st = adapt_model_low_rank_tune(f->made, f->models[0], sources, 2, &tp);
    return st;
}

static adapt_status merge_collect(oom_fixture *f) { return append_params(f, f->made); }

/* ---- normalizing flows ------------------------------------------------------------------ */

/* A conditioned flow made, trained one epoch with an attribute and identities, run forward in
 * training and inference, and used to edit (docs/flows.md). */
enum { FLOW_DIM = 6, FLOW_COND = 2 };

static adapt_status flow_setup(oom_fixture *f)
{
    f->x = malloc(OOM_SAMPLES * (FLOW_DIM + FLOW_COND + 1) * sizeof *f->x);
    f->labels = malloc(OOM_SAMPLES * sizeof *f->labels);
    if (!f->x || !f->labels)
        return ADAPT_ERR_OUT_OF_MEMORY;
    oom_fill(f->x, OOM_SAMPLES * (FLOW_DIM + FLOW_COND + 1), 9);
    for (int i = 0; i < OOM_SAMPLES; i++)
        f->labels[i] = i / 4;
    return ADAPT_OK;
}

static adapt_status flow_run(oom_fixture *f)
{
    const float *w = f->x, *cond = w + OOM_SAMPLES * FLOW_DIM;
    const float *a = cond + OOM_SAMPLES * FLOW_COND;
    adapt_flow_params fp;
    adapt_flow_params_init(&fp, sizeof fp);
    fp.dim = FLOW_DIM, fp.cond_dim = FLOW_COND, fp.couplings = 3, fp.hidden = 8, fp.blocks = 1;
    adapt_flow_prior prior;
    adapt_flow_prior_init(&prior, sizeof prior);
    prior.attributes = 1, prior.identity_weight = 1.0f;
    const adapt_train_params tp = moe_epoch(2);
    adapt_flow *flow = NULL;
    adapt_status st = adapt_flow_create(&flow, &fp);
    if (!st)
        st = adapt_flow_train(flow, w, cond, a, f->labels, OOM_SAMPLES, &prior, &tp);
    if (!st)
        st = adapt_flow_edit(f->exit_logits, flow, w, cond, OOM_SAMPLES, (int32_t[]){0}, 1, a);
    adapt_flow_free(flow);
    return st;
}

static adapt_status flow_collect(oom_fixture *f)
{
    return append(f, f->exit_logits, OOM_SAMPLES * FLOW_DIM * sizeof(float));
}

/* ---- segmentation and pipelines ---------------------------------------------------------- */

/* A U-Net trained an epoch on per-pixel labels, used to predict and scored; then a pipeline of
 * it and a crop stage run, saved and loaded (docs/segmentation.md, docs/pipeline.md). */
enum { SEG_PIXELS = OOM_MOE_SAMPLE_VALUES };

static adapt_status segment_setup(oom_fixture *f)
{
    f->x = malloc(OOM_SAMPLES * SEG_PIXELS * sizeof *f->x);
    f->labels = malloc(OOM_SAMPLES * SEG_PIXELS * sizeof *f->labels);
    if (!f->x || !f->labels)
        return ADAPT_ERR_OUT_OF_MEMORY;
    oom_fill(f->x, OOM_SAMPLES * SEG_PIXELS, 11);
    for (int i = 0; i < OOM_SAMPLES * SEG_PIXELS; i++)
        f->labels[i] = f->x[i] > 0.0f;
    return ADAPT_OK;
}

/* fg: the U-Net on the image; parts: a U-Net on crops of fg's components. */
static adapt_status segment_pipeline(oom_fixture *f, adapt_pipeline *p)
{
    adapt_stage_params s;
    adapt_stage_params_init(&s, sizeof s);
    s.name = "fg";
    adapt_status st = adapt_pipeline_add(p, &s, f->models[0]);
    if (!st)
        f->models[0] = NULL; /* the pipeline's now */
    s.name = "parts", s.input = ADAPT_STAGE_CROPS, s.source = "fg", s.min_pixels = 2;
    if (!st && !(st = oom_unet(&f->models[1], 5)) &&
        !(st = adapt_pipeline_add(p, &s, f->models[1])))
        f->models[1] = NULL;
    adapt_pipeline_result *r = NULL;
    if (!st)
        st = adapt_pipeline_run(&r, p, f->x, (const int64_t[]){1, OOM_MOE_IMAGE, OOM_MOE_IMAGE},
                                2);
    if (!st)
        memcpy(f->label_maps + SEG_PIXELS, adapt_pipeline_result_map(r, "parts", NULL, NULL),
               SEG_PIXELS * sizeof(int32_t));
    adapt_pipeline_result_free(r);
    return st;
}

static adapt_status segment_run(oom_fixture *f)
{
    free_models(f);
    const adapt_train_params tp = moe_epoch(2);
    adapt_segmentation_score score = {.struct_size = sizeof score};
    adapt_pipeline *p = NULL, *back = NULL;
    adapt_status st = oom_unet(&f->models[0], 3);
    if (!st)
        st = adapt_segmentation_train(f->models[0], f->x, f->labels, OOM_SAMPLES, &tp);
    if (!st)
        st = adapt_segmentation_predict(f->label_maps, f->models[0], f->x, 1, 2);
    if (!st)
        st = adapt_segmentation_scores(&score, NULL, f->label_maps, f->labels, SEG_PIXELS, 2);
    if (!st)
        st = adapt_pipeline_create(&p);
    if (!st)
        st = segment_pipeline(f, p);
    if (!st)
        st = adapt_pipeline_save(p, f->dir);
    if (!st)
        st = adapt_pipeline_load(&back, f->dir);
    adapt_pipeline_free(back);
    adapt_pipeline_free(p);
    return st;
}

static adapt_status segment_collect(oom_fixture *f)
{
    return append(f, f->label_maps, sizeof f->label_maps);
}

static const oom_workflow workflows[] = {
    {"create", no_setup, create_run, append_models, true, NULL, NULL},
    {"load", load_setup, load_run, append_models, true, load_snapshot, load_after_failure},
    {"forward_default", forward_setup, forward_default, forward_collect, true, NULL, NULL},
    {"forward_onednn", forward_setup, forward_onednn, forward_collect, true, NULL, NULL},
    {"forward_openblas", forward_setup, forward_openblas, forward_collect, true, NULL, NULL},
    {"forward_reference", forward_setup, forward_reference, forward_collect, true, NULL, NULL},
    {"train", train_setup, train_run, append_models, false, NULL, NULL},
    {"exits", exits_setup, exits_run, exits_collect, true, NULL, NULL},
    {"moe", moe_setup, moe_run, moe_collect, true, NULL, NULL},
    {"acm", moe_setup, acm_run, acm_collect, true, NULL, NULL},
    {"probe", probe_setup, probe_run, probe_collect, true, NULL, NULL},
    {"merge", merge_setup, merge_run, merge_collect, true, NULL, NULL},
    {"flow", flow_setup, flow_run, flow_collect, true, NULL, NULL},
    {"segment", segment_setup, segment_run, segment_collect, false, NULL, NULL},
    {"save", save_setup, save_run, save_collect, true, save_snapshot, save_after_failure},
    {"io", no_setup, io_run, io_collect, true, NULL, io_after_failure},
};

const oom_workflow *oom_find(const char *name)
{
    for (size_t i = 0; i < sizeof workflows / sizeof *workflows; i++)
        if (!strcmp(workflows[i].name, name))
            return &workflows[i];
    return NULL;
}

void oom_end_run(oom_fixture *f)
{
    adapt_context_free(f->ctx);
    f->ctx = NULL;
    adapt_model_free(f->made);
    f->made = NULL;
}

void oom_fixture_free(oom_fixture *f)
{
    oom_end_run(f);
    free_models(f);
    adapt_dataset_free(f->data);
    free(f->x);
    free(f->labels);
    free(f->read);
    free(f->snapshot);
    free(f->out);
}

/* ---- input files ------------------------------------------------------------------------ */

static adapt_status write_gz(const char *path, const unsigned char *header, size_t header_bytes,
                             const unsigned char *body, size_t body_bytes)
{
    gzFile gz = gzopen(path, "wb");
    if (!gz)
        return ADAPT_ERR_IO;
    const int ok = gzwrite(gz, header, (unsigned)header_bytes) == (int)header_bytes &&
                   gzwrite(gz, body, (unsigned)body_bytes) == (int)body_bytes;
    return gzclose(gz) == Z_OK && ok ? ADAPT_OK : ADAPT_ERR_IO;
}

static adapt_status write_idx(const char *dir)
{
    enum { N = OOM_SAMPLES, SIDE = OOM_IMAGE };
    const unsigned char image_header[] = {0, 0, 8, 3, 0, 0, 0, N, 0, 0, 0, SIDE, 0, 0, 0, SIDE};
    const unsigned char label_header[] = {0, 0, 8, 1, 0, 0, 0, N};
    unsigned char pixels[N * SIDE * SIDE], labels[N];
    for (int i = 0; i < N * SIDE * SIDE; i++)
        pixels[i] = (unsigned char)(i * 37 % 251);
    for (int i = 0; i < N; i++)
        labels[i] = (unsigned char)(i % 10);
    char path[600];
    path_in(path, sizeof path, dir, "images.idx.gz");
    adapt_status st = write_gz(path, image_header, sizeof image_header, pixels, sizeof pixels);
    path_in(path, sizeof path, dir, "labels.idx.gz");
    if (!st)
        st = write_gz(path, label_header, sizeof label_header, labels, sizeof labels);
    return st;
}

static adapt_status save_model(adapt_status (*make)(adapt_model **, uint64_t), uint64_t seed,
                               const char *dir, const char *name)
{
    char path[600];
    path_in(path, sizeof path, dir, name);
    adapt_model *m = NULL;
    adapt_status st = make(&m, seed);
    if (!st)
        st = adapt_model_save(m, path);
    adapt_model_free(m);
    return st;
}

adapt_status oom_prepare_files(const char *dir)
{
    adapt_status st = save_model(oom_cnn_with_heads, 1, dir, "cnn.safetensors");
    if (!st)
        st = save_model(oom_cnn_with_heads, 9, dir, "old.safetensors");
    if (!st)
        st = write_idx(dir);
    float x[6 * 5];
    oom_fill(x, 30, 11);
    char path[600];
    path_in(path, sizeof path, dir, "x.npy");
    if (!st)
        st = adapt_npy_write(path, x, 2, (const int64_t[]){6, 5});
    return st;
}
