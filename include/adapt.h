/*
 * adapt.h — public interface of libadapt, a C library for adaptive-computation
 * neural networks trained and run on the CPU.
 *
 * This header is the whole stable API. It follows four rules:
 *
 *  - Errors. Every fallible call returns an adapt_status (ADAPT_OK == 0, errors
 *    negative). On error, out-parameters and caller buffers are left untouched,
 *    the objects involved stay usable, and adapt_last_error() returns a message
 *    for the calling thread. The library never aborts, exits or prints because
 *    of caller input.
 *
 *  - Ownership. Every pointer the library hands out is either *owned* by the
 *    caller (release it with the named free function; free(NULL) is a no-op) or
 *    *borrowed* (valid until the event named in its comment).
 *
 *  - Threading. Objects are not locked. A context must be used by one thread at
 *    a time. Parameters may be read by several contexts on several threads at
 *    once (concurrent inference); writing them (training) needs a single writer.
 *
 *  - Compatibility. Functions and enum values are only ever appended. Params
 *    structs start with `struct_size`; fill them with the matching
 *    `_params_init()` and the library reads only the fields the caller knows.
 *
 * Arrays cross the boundary as float32, row-major (C order), with int64_t dims.
 */
#ifndef ADAPT_H
#define ADAPT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------ */
/* Version                                                                   */
/* ------------------------------------------------------------------------ */

#define ADAPT_VERSION_MAJOR 0
#define ADAPT_VERSION_MINOR 1
#define ADAPT_VERSION_PATCH 0
#define ADAPT_VERSION_NUMBER \
    (ADAPT_VERSION_MAJOR * 10000 + ADAPT_VERSION_MINOR * 100 + ADAPT_VERSION_PATCH)

#if defined(_WIN32) && defined(ADAPT_BUILDING_SHARED)
#define ADAPT_API __declspec(dllexport)
#elif defined(__GNUC__) || defined(__clang__)
#define ADAPT_API __attribute__((visibility("default")))
#else
#define ADAPT_API
#endif

/** Version of the library actually linked, as ADAPT_VERSION_NUMBER. */
ADAPT_API unsigned adapt_version_number(void);
/** Version of the library actually linked, "MAJOR.MINOR.PATCH"; static text. */
ADAPT_API const char *adapt_version_string(void);

/* ------------------------------------------------------------------------ */
/* Errors                                                                    */
/* ------------------------------------------------------------------------ */

typedef enum adapt_status {
    ADAPT_OK = 0,
    ADAPT_ERR_INVALID_ARGUMENT = -1, /* NULL pointer or value out of range */
    ADAPT_ERR_SHAPE = -2,            /* shapes invalid or incompatible */
    ADAPT_ERR_NONFINITE = -3,        /* NaN or infinity in input data */
    ADAPT_ERR_OUT_OF_MEMORY = -4,    /* allocation failed or arena limit hit */
    ADAPT_ERR_OVERFLOW = -5,         /* a size or count does not fit */
    ADAPT_ERR_STATE = -6,            /* call not valid in the current state */
    ADAPT_ERR_UNSUPPORTED = -7,      /* feature or backend not available */
    ADAPT_ERR_IO = -8,               /* operating-system I/O failure */
    ADAPT_ERR_FORMAT = -9,           /* corrupt, truncated or hostile file */
    ADAPT_ERR_CANCELLED = -10,       /* stopped by a caller callback */
    ADAPT_ERR_INTERNAL = -11         /* a library bug; please report it */
} adapt_status;

/** Static text naming a status ("invalid argument", ...); never NULL. */
ADAPT_API const char *adapt_status_string(adapt_status status);

/**
 * Detail of the last error raised on the calling thread; "" if none.
 * Borrowed: valid until the next libadapt call on this thread.
 */
ADAPT_API const char *adapt_last_error(void);

/* ------------------------------------------------------------------------ */
/* Contexts                                                                  */
/* ------------------------------------------------------------------------ */

/** Matrix-multiply implementations; selectable per context at run time. */
typedef enum adapt_backend {
    ADAPT_BACKEND_DEFAULT = 0,   /* the fastest built: oneDNN if present, else OpenBLAS */
    ADAPT_BACKEND_REFERENCE = 1, /* portable C, slow; the numerical reference */
    ADAPT_BACKEND_OPENBLAS = 2,
    ADAPT_BACKEND_ONEDNN = 3     /* only when built with -Donednn=enabled|auto */
} adapt_backend;

/** Non-zero if `backend` is compiled into this build. */
ADAPT_API int adapt_backend_available(adapt_backend backend);

/**
 * A context is the per-thread execution state: the activation arena, the
 * autograd tape, the random stream, the thread count and the GEMM backend.
 * Tensors produced by operations live in the context's arena and stay valid
 * until adapt_context_reset() or adapt_context_free().
 */
typedef struct adapt_context adapt_context;

typedef struct adapt_context_params {
    size_t struct_size;
    /** Threads for this context's kernels, BLAS included; 0 = all cores. */
    int32_t n_threads;
    /** GEMM implementation (adapt_backend). */
    int32_t backend;
    /** Seed of the context's random stream (dropout). */
    uint64_t seed;
    /** Arena bytes reserved up front; 0 = grow on demand. */
    size_t arena_initial_bytes;
    /** Hard cap on arena bytes; 0 = no cap. Exceeding it is OUT_OF_MEMORY. */
    size_t arena_limit_bytes;
} adapt_context_params;

ADAPT_API void adapt_context_params_init(adapt_context_params *params);

/**
 * Creates a context. `params` may be NULL for defaults.
 * Owned: free with adapt_context_free(). Starts with gradient recording off
 * and inference behaviour (see adapt_context_set_grad / _set_training).
 */
ADAPT_API adapt_status adapt_context_create(adapt_context **out,
                                            const adapt_context_params *params);
ADAPT_API void adapt_context_free(adapt_context *ctx);

/**
 * Ends a step: releases every tensor produced in this context and the tape.
 * The arena keeps its memory, so a steady loop allocates nothing.
 */
ADAPT_API void adapt_context_reset(adapt_context *ctx);

/** Records operations on the tape for adapt_backward() when non-zero. */
ADAPT_API adapt_status adapt_context_set_grad(adapt_context *ctx, int enabled);

/** Training behaviour (batch statistics, dropout active) when non-zero. */
ADAPT_API adapt_status adapt_context_set_training(adapt_context *ctx, int enabled);

ADAPT_API adapt_status adapt_context_set_backend(adapt_context *ctx, adapt_backend backend);

/** 0 = all cores. */
ADAPT_API adapt_status adapt_context_set_threads(adapt_context *ctx, int32_t n_threads);

/** Highest arena use, in bytes, since creation. */
ADAPT_API size_t adapt_context_peak_bytes(const adapt_context *ctx);

/** Bytes the arena currently holds from the system. */
ADAPT_API size_t adapt_context_reserved_bytes(const adapt_context *ctx);

/* ------------------------------------------------------------------------ */
/* Tensors                                                                   */
/* ------------------------------------------------------------------------ */

#define ADAPT_MAX_DIMS 8

/**
 * A dense float32 tensor. Two kinds:
 *  - parameters, made by adapt_param_create(): persistent, owned by the caller,
 *    with a gradient buffer when they require gradients;
 *  - activations, made by operations and adapt_tensor_input(): borrowed from
 *    their context, valid until adapt_context_reset()/adapt_context_free().
 */
typedef struct adapt_tensor adapt_tensor;

/**
 * Creates a zero-filled parameter of the given shape that requires gradients.
 * Owned: free with adapt_tensor_free().
 */
ADAPT_API adapt_status adapt_param_create(adapt_tensor **out, int32_t ndim,
                                          const int64_t *shape);

/** Frees a parameter; NULL is a no-op. Activations are released by reset. */
ADAPT_API void adapt_tensor_free(adapt_tensor *tensor);

/** Whether adapt_backward() accumulates into this parameter's gradient. */
ADAPT_API adapt_status adapt_param_set_requires_grad(adapt_tensor *param, int enabled);

/**
 * Copies caller data (row-major, `shape` dims) into a new activation of `ctx`.
 * Non-finite values are refused (ADAPT_ERR_NONFINITE).
 */
ADAPT_API adapt_status adapt_tensor_input(adapt_tensor **out, adapt_context *ctx,
                                          int32_t ndim, const int64_t *shape,
                                          const float *data);

/** Number of dimensions, or 0 for NULL. */
ADAPT_API int32_t adapt_tensor_ndim(const adapt_tensor *tensor);
/** Size of dimension `dim` (negative counts from the end), or 0 if invalid. */
ADAPT_API int64_t adapt_tensor_dim(const adapt_tensor *tensor, int32_t dim);
/** Number of elements, or 0 for NULL. */
ADAPT_API int64_t adapt_tensor_numel(const adapt_tensor *tensor);

/**
 * The tensor's values, row-major. Borrowed: valid as long as the tensor.
 * Writing through it is allowed for parameters (e.g. an optimizer step).
 */
ADAPT_API float *adapt_tensor_data(const adapt_tensor *tensor);

/**
 * The accumulated gradient, same layout as the data, or NULL if the tensor
 * has none. Borrowed: valid as long as the tensor.
 */
ADAPT_API float *adapt_tensor_grad(const adapt_tensor *tensor);

/** Copies `count` == numel values from the tensor into `dst`. */
ADAPT_API adapt_status adapt_tensor_read(const adapt_tensor *tensor, float *dst, int64_t count);

/** Copies `count` == numel finite values from `src` into a parameter. */
ADAPT_API adapt_status adapt_param_write(adapt_tensor *param, const float *src, int64_t count);

/** Sets a parameter's gradient to zero. */
ADAPT_API adapt_status adapt_param_zero_grad(adapt_tensor *param);

/* ------------------------------------------------------------------------ */
/* Operations                                                                */
/*                                                                           */
/* Each produces a new activation in `ctx` (borrowed, valid until reset).    */
/* With gradient recording on, the operation is taped for adapt_backward().  */
/* Axes may be negative (counted from the end). "Broadcast" means the second */
/* operand's shape equals the first's or a suffix of it (bias, row vector).  */
/* ------------------------------------------------------------------------ */

#define ADAPT_MATMUL_TRANS_A 1u /* use the last two dims of `a` transposed */
#define ADAPT_MATMUL_TRANS_B 2u /* use the last two dims of `b` transposed */

/**
 * Batched matrix product: a[..., M, K] x b[..., K, N] -> [..., M, N].
 * `b` is either 2-D (shared by every batch) or has a's batch dims.
 */
ADAPT_API adapt_status adapt_op_matmul(adapt_tensor **out, adapt_context *ctx,
                                       adapt_tensor *a, adapt_tensor *b, uint32_t flags);

ADAPT_API adapt_status adapt_op_add(adapt_tensor **out, adapt_context *ctx,
                                    adapt_tensor *a, adapt_tensor *b);
ADAPT_API adapt_status adapt_op_mul(adapt_tensor **out, adapt_context *ctx,
                                    adapt_tensor *a, adapt_tensor *b);
/** Elementwise minimum / maximum of two tensors of the same shape. */
ADAPT_API adapt_status adapt_op_minimum(adapt_tensor **out, adapt_context *ctx,
                                        adapt_tensor *a, adapt_tensor *b);
ADAPT_API adapt_status adapt_op_maximum(adapt_tensor **out, adapt_context *ctx,
                                        adapt_tensor *a, adapt_tensor *b);
/** x * factor. */
ADAPT_API adapt_status adapt_op_scale(adapt_tensor **out, adapt_context *ctx,
                                      adapt_tensor *x, float factor);

ADAPT_API adapt_status adapt_op_relu(adapt_tensor **out, adapt_context *ctx, adapt_tensor *x);
/** Exact (erf) GELU, as PyTorch's default. */
ADAPT_API adapt_status adapt_op_gelu(adapt_tensor **out, adapt_context *ctx, adapt_tensor *x);
ADAPT_API adapt_status adapt_op_sigmoid(adapt_tensor **out, adapt_context *ctx, adapt_tensor *x);
ADAPT_API adapt_status adapt_op_tanh(adapt_tensor **out, adapt_context *ctx, adapt_tensor *x);
ADAPT_API adapt_status adapt_op_abs(adapt_tensor **out, adapt_context *ctx, adapt_tensor *x);
/** min(max(x, lo), hi); lo <= hi. */
ADAPT_API adapt_status adapt_op_clamp(adapt_tensor **out, adapt_context *ctx,
                                      adapt_tensor *x, float lo, float hi);

/** Softmax / log-softmax over the last axis. */
ADAPT_API adapt_status adapt_op_softmax(adapt_tensor **out, adapt_context *ctx, adapt_tensor *x);
ADAPT_API adapt_status adapt_op_log_softmax(adapt_tensor **out, adapt_context *ctx,
                                            adapt_tensor *x);

/** Layer normalisation over the last axis; `gamma`, `beta` ([D]) may be NULL. */
ADAPT_API adapt_status adapt_op_layernorm(adapt_tensor **out, adapt_context *ctx,
                                          adapt_tensor *x, adapt_tensor *gamma,
                                          adapt_tensor *beta, float eps);

/**
 * Batch normalisation over axis 1 of x[N, C, ...]. In training mode it uses
 * batch statistics and updates `running_mean`/`running_var` (parameters of
 * shape [C] that should not require gradients; may be NULL) with `momentum`
 * (PyTorch convention, unbiased variance); otherwise it uses the running
 * statistics. `gamma`, `beta` ([C]) may be NULL.
 */
ADAPT_API adapt_status adapt_op_batchnorm(adapt_tensor **out, adapt_context *ctx,
                                          adapt_tensor *x, adapt_tensor *gamma,
                                          adapt_tensor *beta, adapt_tensor *running_mean,
                                          adapt_tensor *running_var, float momentum,
                                          float eps);

/**
 * 2-D convolution (cross-correlation, as PyTorch): x[N, Cin, H, W],
 * weight[Cout, Cin, KH, KW], bias[Cout] or NULL -> [N, Cout, OH, OW].
 */
ADAPT_API adapt_status adapt_op_conv2d(adapt_tensor **out, adapt_context *ctx,
                                       adapt_tensor *x, adapt_tensor *weight,
                                       adapt_tensor *bias, int32_t stride, int32_t padding);

/** Pooling over x[N, C, H, W]; padded cells are ignored (max) or count as 0 (avg). */
ADAPT_API adapt_status adapt_op_maxpool2d(adapt_tensor **out, adapt_context *ctx,
                                          adapt_tensor *x, int32_t kernel, int32_t stride,
                                          int32_t padding);
ADAPT_API adapt_status adapt_op_avgpool2d(adapt_tensor **out, adapt_context *ctx,
                                          adapt_tensor *x, int32_t kernel, int32_t stride,
                                          int32_t padding);

/** Same data, new shape (same element count). */
ADAPT_API adapt_status adapt_op_reshape(adapt_tensor **out, adapt_context *ctx,
                                        adapt_tensor *x, int32_t ndim, const int64_t *shape);
/** Swaps two axes. */
ADAPT_API adapt_status adapt_op_transpose(adapt_tensor **out, adapt_context *ctx,
                                          adapt_tensor *x, int32_t axis0, int32_t axis1);
/** out.shape[i] = x.shape[perm[i]]; `perm` has ndim(x) entries. */
ADAPT_API adapt_status adapt_op_permute(adapt_tensor **out, adapt_context *ctx,
                                        adapt_tensor *x, const int32_t *perm);
/** Elements [start, end) along `axis`. */
ADAPT_API adapt_status adapt_op_slice(adapt_tensor **out, adapt_context *ctx,
                                      adapt_tensor *x, int32_t axis, int64_t start,
                                      int64_t end);
/** Joins `count` tensors along `axis`; other dims must match. */
ADAPT_API adapt_status adapt_op_concat(adapt_tensor **out, adapt_context *ctx,
                                       adapt_tensor *const *inputs, int32_t count,
                                       int32_t axis);

/**
 * Row gather: out[i] = x[index[i]] along axis 0, for i < count.
 * `index` is copied; every entry must be in [0, dim(x, 0)).
 */
ADAPT_API adapt_status adapt_op_gather_rows(adapt_tensor **out, adapt_context *ctx,
                                            adapt_tensor *x, const int64_t *index,
                                            int64_t count);
/**
 * Row scatter-add: out = zeros[n_rows, x.shape[1:]], out[index[i]] += x[i]
 * for every row i of x; `index` has dim(x, 0) entries in [0, n_rows).
 */
ADAPT_API adapt_status adapt_op_scatter_add_rows(adapt_tensor **out, adapt_context *ctx,
                                                 adapt_tensor *x, const int64_t *index,
                                                 int64_t n_rows);

/** Reduce over every axis (result has one element) instead of one axis. */
#define ADAPT_AXIS_ALL 127

/** Sum / mean over `axis` (removed from the shape) or over ADAPT_AXIS_ALL. */
ADAPT_API adapt_status adapt_op_sum(adapt_tensor **out, adapt_context *ctx,
                                    adapt_tensor *x, int32_t axis);
ADAPT_API adapt_status adapt_op_mean(adapt_tensor **out, adapt_context *ctx,
                                     adapt_tensor *x, int32_t axis);

/**
 * Inverted dropout with drop probability p in [0, 1): active only in training
 * mode, identity otherwise. Masks come from the context's seeded stream.
 */
ADAPT_API adapt_status adapt_op_dropout(adapt_tensor **out, adapt_context *ctx,
                                        adapt_tensor *x, float p);

/**
 * Mean cross-entropy of logits[N, C] against class `labels` (N entries in
 * [0, C)), with label smoothing in [0, 1). Result has one element.
 */
ADAPT_API adapt_status adapt_op_cross_entropy(adapt_tensor **out, adapt_context *ctx,
                                              adapt_tensor *logits, const int32_t *labels,
                                              float label_smoothing);

/** Mean squared error between tensors of the same shape; one element. */
ADAPT_API adapt_status adapt_op_mse(adapt_tensor **out, adapt_context *ctx,
                                    adapt_tensor *a, adapt_tensor *b);

/* ------------------------------------------------------------------------ */
/* Autograd                                                                  */
/* ------------------------------------------------------------------------ */

/**
 * Back-propagates from the one-element tensor `loss` through the operations
 * taped since the last reset, adding d(loss)/d(p) into the gradient of every
 * parameter p that requires it. Consumes the tape. A non-finite loss is
 * refused (ADAPT_ERR_NONFINITE) before any gradient is touched.
 */
ADAPT_API adapt_status adapt_backward(adapt_context *ctx, adapt_tensor *loss);

/* ------------------------------------------------------------------------ */
/* Models                                                                    */
/*                                                                           */
/* A model is a sequence of blocks (layers or groups of layers such as a     */
/* residual block or a transformer block) that maps a batch of inputs to     */
/* logits. It owns its parameters. Early-exit heads, MoE and ACM modules     */
/* attach to and replace blocks, so the blocks are visible through the API.  */
/* Inference from several threads at once is safe, each with its own         */
/* context; training a model is single-writer.                               */
/* ------------------------------------------------------------------------ */

typedef struct adapt_model adapt_model;

typedef enum adapt_activation {
    ADAPT_ACTIVATION_RELU = 0,
    ADAPT_ACTIVATION_GELU = 1
} adapt_activation;

/** Multi-layer perceptron: linear layers with an activation between them. */
typedef struct adapt_mlp_params {
    size_t struct_size;
    /** Number of entries of `sizes`: input, hidden..., classes (>= 2). */
    int32_t n_sizes;
    /** Borrowed during adapt_model_create_mlp(). Inputs of any shape whose
     * trailing dims multiply to sizes[0] are flattened. */
    const int64_t *sizes;
    int32_t activation; /* adapt_activation */
    float dropout;      /* after each hidden activation; 0 = none */
    uint64_t seed;      /* parameter initialisation */
} adapt_mlp_params;

/**
 * ResNet-style CNN on [N, C, H, W] images: a 3x3 stem convolution with
 * batch norm and ReLU, then stages of basic residual blocks (two 3x3
 * convolutions; the first block of a stage may downsample by its stride),
 * global average pooling and a linear classifier.
 */
typedef struct adapt_cnn_params {
    size_t struct_size;
    int32_t in_channels, image_size, n_classes;
    int32_t stem_channels;
    int32_t n_stages;
    /** Each borrowed during create, n_stages entries. */
    const int32_t *stage_channels, *stage_blocks, *stage_strides;
    uint64_t seed;
} adapt_cnn_params;

/**
 * Vision transformer: patch embedding with a class token and learned
 * positional embedding, `depth` pre-norm encoder blocks (multi-head
 * self-attention and a GELU MLP), a final layer norm and a linear head on
 * the class token.
 */
typedef struct adapt_vit_params {
    size_t struct_size;
    int32_t image_size, in_channels, patch, dim, depth, heads;
    float mlp_ratio; /* hidden size of the MLP = mlp_ratio * dim */
    int32_t n_classes;
    float dropout;
    uint64_t seed;
} adapt_vit_params;

ADAPT_API void adapt_mlp_params_init(adapt_mlp_params *params);
ADAPT_API void adapt_cnn_params_init(adapt_cnn_params *params);
ADAPT_API void adapt_vit_params_init(adapt_vit_params *params);

/** Owned: free with adapt_model_free(). */
ADAPT_API adapt_status adapt_model_create_mlp(adapt_model **out, const adapt_mlp_params *params);
ADAPT_API adapt_status adapt_model_create_cnn(adapt_model **out, const adapt_cnn_params *params);
ADAPT_API adapt_status adapt_model_create_vit(adapt_model **out, const adapt_vit_params *params);
ADAPT_API void adapt_model_free(adapt_model *model);

/** Layers of the custom sequential builder. */
typedef enum adapt_layer_kind {
    ADAPT_LAYER_LINEAR = 0,      /* out_features; flattens trailing dims if needed */
    ADAPT_LAYER_CONV2D = 1,      /* out_channels, kernel, stride, padding; with bias */
    ADAPT_LAYER_BATCHNORM2D = 2,
    ADAPT_LAYER_LAYERNORM = 3,   /* over the last axis */
    ADAPT_LAYER_MAXPOOL2D = 4,   /* kernel, stride, padding */
    ADAPT_LAYER_AVGPOOL2D = 5,   /* kernel, stride, padding */
    ADAPT_LAYER_GLOBAL_AVGPOOL = 6, /* [N, C, H, W] -> [N, C] */
    ADAPT_LAYER_DROPOUT = 7,     /* p */
    ADAPT_LAYER_RELU = 8,
    ADAPT_LAYER_GELU = 9,
    ADAPT_LAYER_FLATTEN = 10,    /* [N, ...] -> [N, prod(...)] */
    ADAPT_LAYER_RESIDUAL_BLOCK = 11, /* out_channels, stride: a ResNet basic block */
    ADAPT_LAYER_PATCH_EMBED = 12,    /* out_features = dim, kernel = patch */
    ADAPT_LAYER_TRANSFORMER_BLOCK = 13, /* heads, mlp_ratio, p */
    ADAPT_LAYER_CLASS_TOKEN = 14     /* [N, T, D] -> [N, D]: token 0 */
} adapt_layer_kind;

typedef struct adapt_layer_params {
    size_t struct_size;
    int32_t kind; /* adapt_layer_kind */
    int64_t out_features; /* linear / conv / residual / patch embedding width */
    int32_t kernel, stride, padding;
    int32_t heads;
    float mlp_ratio;
    float p; /* dropout probability */
} adapt_layer_params;

ADAPT_API void adapt_layer_params_init(adapt_layer_params *params);

/**
 * Starts an empty sequential model for inputs of shape [N, input_shape...]
 * (`input_ndim` dims, batch excluded). Owned: free with adapt_model_free().
 */
ADAPT_API adapt_status adapt_model_create_sequential(adapt_model **out, int32_t input_ndim,
                                                     const int64_t *input_shape, uint64_t seed);
/** Appends a layer as a new block; its input shape is the last block's output. */
ADAPT_API adapt_status adapt_model_append(adapt_model *model, const adapt_layer_params *layer);

/** What a block does to one sample. */
typedef struct adapt_block_info {
    size_t struct_size;
    int32_t kind;              /* adapt_layer_kind */
    int32_t out_ndim;          /* output dims, batch excluded */
    int64_t out_shape[ADAPT_MAX_DIMS];
    int64_t flops;             /* forward FLOPs per sample (multiply-add = 2) */
    int64_t n_params;          /* parameter values owned by the block */
} adapt_block_info;

ADAPT_API int32_t adapt_model_block_count(const adapt_model *model);
ADAPT_API adapt_status adapt_model_block_info(adapt_block_info *info, const adapt_model *model,
                                              int32_t block);
/** Forward FLOPs per sample of the whole model. */
ADAPT_API int64_t adapt_model_flops(const adapt_model *model);

/**
 * Runs blocks [first, last) on `input` (the output of block first-1, or the
 * model input when first == 0). Taped when the context records gradients.
 */
ADAPT_API adapt_status adapt_model_forward_blocks(adapt_tensor **out, adapt_context *ctx,
                                                  adapt_model *model, adapt_tensor *input,
                                                  int32_t first, int32_t last);
/** All blocks: input [N, input_shape...] -> logits [N, classes]. */
ADAPT_API adapt_status adapt_model_forward(adapt_tensor **logits, adapt_context *ctx,
                                           adapt_model *model, adapt_tensor *input);

/** Parameters (buffers such as running statistics included, in a fixed order,
 * named as PyTorch's state_dict names the equivalent module's entries). */
ADAPT_API int32_t adapt_model_param_count(const adapt_model *model);
/** Borrowed: valid as long as the model. NULL if out of range. */
ADAPT_API adapt_tensor *adapt_model_param(const adapt_model *model, int32_t index);
ADAPT_API const char *adapt_model_param_name(const adapt_model *model, int32_t index);

/* ------------------------------------------------------------------------ */
/* Datasets                                                                  */
/* ------------------------------------------------------------------------ */

/** Samples x[N, ...] with integer labels in [0, n_classes). */
typedef struct adapt_dataset adapt_dataset;

/**
 * Wraps caller arrays without copying. `x` has `ndim` dims (N first),
 * `labels` N entries. Borrowed: the arrays must outlive the dataset.
 * Owned: free with adapt_dataset_free().
 */
ADAPT_API adapt_status adapt_dataset_wrap(adapt_dataset **out, const float *x, int32_t ndim,
                                          const int64_t *shape, const int32_t *labels);
/**
 * Reads an IDX image file and its IDX label file (gzip-compressed or not),
 * e.g. Fashion-MNIST. Pixels become float32 in [0, 1] as [N, 1, H, W].
 */
ADAPT_API adapt_status adapt_dataset_load_idx(adapt_dataset **out, const char *images_path,
                                              const char *labels_path);
/**
 * Splits into a shuffled training part and the last `validation_fraction`
 * of a seeded permutation. Both borrow from `dataset`, which must outlive them.
 */
ADAPT_API adapt_status adapt_dataset_split(adapt_dataset **train, adapt_dataset **validation,
                                           const adapt_dataset *dataset,
                                           float validation_fraction, uint64_t seed);
ADAPT_API void adapt_dataset_free(adapt_dataset *dataset);
ADAPT_API int64_t adapt_dataset_count(const adapt_dataset *dataset);
/** Sample shape without the batch dim; returns its rank. */
ADAPT_API int32_t adapt_dataset_sample_shape(const adapt_dataset *dataset, int64_t *shape);
/** Borrowed pointers to sample i's values and label. */
ADAPT_API adapt_status adapt_dataset_sample(const float **x, int32_t *label,
                                            const adapt_dataset *dataset, int64_t index);

/** NPY (format 1.0/2.0, little-endian float32, C order). Owned *data: free(). */
ADAPT_API adapt_status adapt_npy_read(float **data, int32_t *ndim, int64_t *shape,
                                      const char *path);
ADAPT_API adapt_status adapt_npy_write(const char *path, const float *data, int32_t ndim,
                                       const int64_t *shape);

/* ------------------------------------------------------------------------ */
/* Training                                                                  */
/* ------------------------------------------------------------------------ */

typedef enum adapt_optimizer_kind {
    ADAPT_OPTIMIZER_SGD = 0,  /* momentum, nesterov, coupled weight decay */
    ADAPT_OPTIMIZER_ADAMW = 1 /* decoupled weight decay */
} adapt_optimizer_kind;

typedef enum adapt_schedule_kind {
    ADAPT_SCHEDULE_CONSTANT = 0,
    ADAPT_SCHEDULE_STEP = 1,  /* lr * gamma^(epoch / step_epochs) */
    ADAPT_SCHEDULE_COSINE = 2 /* to min_lr at the last step */
} adapt_schedule_kind;

/** Progress of a running training; the callback returns nothing. */
typedef struct adapt_progress {
    int32_t epoch, epochs;
    int64_t step, steps;  /* optimizer steps so far / in total */
    float loss;           /* running mean over the epoch so far */
    float learning_rate;
    double samples_per_second;
    double eta_seconds;
    float val_accuracy;   /* -1 until the epoch's validation ran */
} adapt_progress;

typedef void (*adapt_progress_fn)(const adapt_progress *progress, void *user_data);
/** Return non-zero to stop training (the call then returns ADAPT_ERR_CANCELLED). */
typedef int (*adapt_cancel_fn)(void *user_data);

typedef struct adapt_train_params {
    size_t struct_size;
    int32_t epochs;
    int32_t batch_size;
    int32_t optimizer; /* adapt_optimizer_kind */
    float learning_rate;
    float momentum;
    int32_t nesterov;
    float weight_decay;
    float beta1, beta2, adam_eps;
    int32_t schedule; /* adapt_schedule_kind */
    int32_t warmup_steps;
    int32_t step_epochs;
    float step_gamma;
    float min_learning_rate;
    float grad_clip_norm; /* 0 = no clipping */
    float label_smoothing;
    uint64_t seed;     /* shuffling and dropout */
    int32_t n_threads; /* 0 = all cores */
    /** Default (NULL): one updating line on a terminal, nothing otherwise. */
    adapt_progress_fn progress;
    adapt_cancel_fn cancel;
    void *user_data;
} adapt_train_params;

ADAPT_API void adapt_train_params_init(adapt_train_params *params);

/**
 * Trains `model` on `train` with mini-batches reshuffled every epoch,
 * evaluating on `validation` (may be NULL) after each epoch. The same seed
 * and thread count give bit-identical weights.
 */
ADAPT_API adapt_status adapt_model_train(adapt_model *model, const adapt_dataset *train,
                                         const adapt_dataset *validation,
                                         const adapt_train_params *params);

/** Result of an evaluation. */
typedef struct adapt_eval_result {
    size_t struct_size;
    double accuracy;
    double loss; /* mean cross-entropy */
    int64_t count;
} adapt_eval_result;

/**
 * Evaluates in inference mode. `confusion` (may be NULL) receives
 * classes x classes counts, row = true label, column = prediction.
 */
ADAPT_API adapt_status adapt_model_evaluate(adapt_eval_result *result, int64_t *confusion,
                                            adapt_model *model, const adapt_dataset *dataset,
                                            int32_t batch_size, int32_t n_threads);

/** Number of output classes of the model. */
ADAPT_API int32_t adapt_model_classes(const adapt_model *model);

/* ------------------------------------------------------------------------ */
/* Checkpoints (safetensors)                                                 */
/* ------------------------------------------------------------------------ */

/**
 * Saves parameters under their PyTorch names, with the architecture and the
 * library version in __metadata__. Atomic: a temporary file is written,
 * synced and renamed, so `path` never holds a partial file.
 */
ADAPT_API adapt_status adapt_model_save(const adapt_model *model, const char *path);

/** Rebuilds the model a checkpoint describes. Owned: adapt_model_free(). */
ADAPT_API adapt_status adapt_model_load(adapt_model **out, const char *path);

/**
 * Loads weights into an existing model (e.g. exported from PyTorch): every
 * parameter must be present with its exact shape; extra entries such as
 * num_batches_tracked are ignored. The model is unchanged on error.
 */
ADAPT_API adapt_status adapt_model_load_weights(adapt_model *model, const char *path);

#ifdef __cplusplus
}
#endif

#endif /* ADAPT_H */
