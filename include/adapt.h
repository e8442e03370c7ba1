/**
 * @file
 * adapt.h — public interface of libadapt, a C library for adaptive-computation
 * neural networks trained and run on the CPU.
 *
 * This header is the whole API: a stable part, and an experimental tier that
 * a program sees only when it defines ADAPT_EXPERIMENTAL (@ref experimental).
 * The stable part follows four rules:
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
 *  - Threading. A context must be used by one thread at a time. A model may be
 *    run by several threads at once (concurrent inference, each with its own
 *    context); training or changing it needs a single writer, and the library
 *    enforces that without waiting: a call that would change a model another
 *    thread is running or changing, or run one another thread is changing,
 *    fails with ADAPT_ERR_STATE (@ref models lists the calls).
 *
 *  - Compatibility. Functions and enum values are only ever appended. Structs
 *    start with `struct_size` and only grow at their end. Fill a params struct
 *    with its init, giving its size: `adapt_mlp_params_init(&p, sizeof p)`
 *    writes exactly `sizeof p` bytes (the library's defaults for the fields it
 *    knows, zeros after them) and sets struct_size, and the calls that take the
 *    struct read only the fields the caller knows. A struct larger than the
 *    library's (from a newer header) is accepted only when every byte past the
 *    library's own size is zero, since a field appended later means "as
 *    before" when zero; otherwise the call fails with ADAPT_ERR_UNSUPPORTED.
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
/** @defgroup version Version */
/* ------------------------------------------------------------------------ */
/** @{ */

/** Major version of this header; changes only with an incompatible API. */
#define ADAPT_VERSION_MAJOR 1
/** Minor version of this header; grows when declarations are appended. */
#define ADAPT_VERSION_MINOR 0
/** Patch version of this header; fixes that leave the API as it is. */
#define ADAPT_VERSION_PATCH 0
/**
 * Version of this header as one number, MAJOR * 10000 + MINOR * 100 + PATCH.
 * Compare with adapt_version_number() to see which library a program runs
 * with: a library of the same major version and at least this number serves
 * a program compiled against this header.
 */
#define ADAPT_VERSION_NUMBER \
    (ADAPT_VERSION_MAJOR * 10000 + ADAPT_VERSION_MINOR * 100 + ADAPT_VERSION_PATCH)

/**
 * @def ADAPT_API
 * Marks the functions the shared library exports. The library is built with
 * hidden visibility, so nothing without this mark is exported, and it exports
 * no data.
 */
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

/** @} */
/* ------------------------------------------------------------------------ */
/** @defgroup errors Errors */
/* ------------------------------------------------------------------------ */
/** @{ */

/**
 * Result of every fallible call: ADAPT_OK or a negative error code. The
 * codes are fixed and new ones are only appended, so a caller may store and
 * compare them; adapt_status_string() names them and adapt_last_error() says
 * what went wrong.
 */
typedef enum adapt_status {
    ADAPT_OK = 0,                    /**< success */
    ADAPT_ERR_INVALID_ARGUMENT = -1, /**< NULL pointer, value out of range, unknown
                                          enum value or flag */
    ADAPT_ERR_SHAPE = -2,            /**< shapes invalid or incompatible */
    ADAPT_ERR_NONFINITE = -3,        /**< NaN or infinity in input data or a float argument */
    ADAPT_ERR_OUT_OF_MEMORY = -4,    /**< allocation failed or arena limit hit */
    ADAPT_ERR_OVERFLOW = -5,         /**< a size or count does not fit */
    ADAPT_ERR_STATE = -6,            /**< call not valid in the current state (a released
                                          activation, an empty tape, a model another
                                          thread's call is training or running) */
    ADAPT_ERR_UNSUPPORTED = -7,      /**< feature or backend not available */
    ADAPT_ERR_IO = -8,               /**< operating-system I/O failure */
    ADAPT_ERR_FORMAT = -9,           /**< corrupt, truncated or hostile file */
    ADAPT_ERR_CANCELLED = -10,       /**< stopped by a caller callback */
    ADAPT_ERR_INTERNAL = -11         /**< a library bug; please report it */
} adapt_status;

/**
 * Static text naming a status ("invalid argument", ...); never NULL, also
 * for codes this library does not know ("unknown status").
 */
ADAPT_API const char *adapt_status_string(adapt_status status);

/**
 * Detail of the last error raised on the calling thread; "" if none. It
 * names the function and the cause, as in "adapt_op_matmul: cannot multiply
 * [4, 5] by [4, 5] (flags 0x0)". A successful call does not clear it: read it
 * right after a call returned an error. Borrowed: valid until the next
 * libadapt call on this thread.
 */
ADAPT_API const char *adapt_last_error(void);

/** @} */
/* ------------------------------------------------------------------------ */
/** @defgroup contexts Contexts */
/* ------------------------------------------------------------------------ */
/** @{ */

/** Matrix-multiply implementations; selectable per context at run time. */
typedef enum adapt_backend {
    ADAPT_BACKEND_DEFAULT = 0,   /**< the fastest built: oneDNN if present, else OpenBLAS */
    ADAPT_BACKEND_REFERENCE = 1, /**< portable C, slow; the numerical reference */
    ADAPT_BACKEND_OPENBLAS = 2,  /**< the CBLAS found at build time (OpenBLAS by default) */
    ADAPT_BACKEND_ONEDNN = 3     /**< only when built with -Donednn=enabled|auto */
} adapt_backend;

/**
 * Non-zero if `backend` is compiled into this build: always for DEFAULT,
 * REFERENCE and OPENBLAS, for ONEDNN only in a build with oneDNN; 0 for a
 * value this library does not know.
 */
ADAPT_API int adapt_backend_available(adapt_backend backend);

/**
 * A context is the per-thread execution state: the activation arena, the
 * autograd tape, the random stream, the thread count and the GEMM backend.
 * Tensors produced by operations live in the context's arena and stay valid
 * until adapt_context_reset() or adapt_context_free().
 */
typedef struct adapt_context adapt_context;

/**
 * Most threads a context takes: a larger n_threads is a mistake (a count
 * of samples, say), refused with ADAPT_ERR_INVALID_ARGUMENT rather than
 * started.
 */
#define ADAPT_MAX_THREADS 1024

/**
 * Settings of a new context, for adapt_context_create(). Fill with
 * adapt_context_params_init(), then change what you need.
 */
typedef struct adapt_context_params {
    /** sizeof(adapt_context_params); set by adapt_context_params_init(). */
    size_t struct_size;
    /**
     * Threads for this context's kernels, BLAS included; 0 = all cores (the
     * online processors); negative or above ADAPT_MAX_THREADS is
     * ADAPT_ERR_INVALID_ARGUMENT.
     */
    int32_t n_threads;
    /** GEMM implementation (adapt_backend). */
    int32_t backend;
    /**
     * Seed of the context's random stream (dropout). The default is a fixed
     * value, so two runs draw the same masks.
     */
    uint64_t seed;
    /** Arena bytes reserved up front; 0 = grow on demand. */
    size_t arena_initial_bytes;
    /**
     * Hard cap on the bytes the arena holds from the system; 0 = no cap. An
     * operation that would exceed it fails with ADAPT_ERR_OUT_OF_MEMORY and
     * the context stays usable.
     */
    size_t arena_limit_bytes;
} adapt_context_params;

/**
 * Fills `params` with the defaults: all cores, ADAPT_BACKEND_DEFAULT, a fixed
 * seed, no reservation, no cap.
 * `size` is sizeof *params as compiled by the caller: exactly that many bytes
 * are written (zeros past the fields this library knows) and struct_size is
 * set to it. NULL or a size below sizeof(size_t) is a no-op.
 */
ADAPT_API void adapt_context_params_init(adapt_context_params *params, size_t size);

/**
 * Creates a context. `params` may be NULL for defaults.
 * Owned: free with adapt_context_free(). Starts with gradient recording off
 * and inference behaviour (see adapt_context_set_grad / _set_training).
 * Errors: ADAPT_ERR_INVALID_ARGUMENT (NULL `out`, struct_size not set,
 * negative n_threads, unknown backend), ADAPT_ERR_UNSUPPORTED (oneDNN asked
 * for but not built), ADAPT_ERR_OUT_OF_MEMORY.
 */
ADAPT_API adapt_status adapt_context_create(adapt_context **out,
                                            const adapt_context_params *params);
/**
 * Frees a context: its arena, tape and threads. Every activation it produced
 * becomes invalid, and unlike after a reset its handle must not be passed to
 * any call; parameters and models it used are not touched. NULL is a no-op.
 */
ADAPT_API void adapt_context_free(adapt_context *ctx);

/**
 * Ends a step: releases every tensor produced in this context and the tape.
 * The arena keeps its memory, so a steady loop allocates nothing. Passing a
 * released activation to a later call is ADAPT_ERR_STATE (an accessor
 * returns its error value), also when a new activation now lives where it
 * did: a handle carries the count of resets of its context when it was made,
 * 22 bits of it (6 where the library's memory lies above 2^48 or on a 32-bit
 * target), so a released handle is taken for a live one only when a multiple
 * of 2^22 resets separate them. NULL is a no-op.
 */
ADAPT_API void adapt_context_reset(adapt_context *ctx);

/**
 * Records operations on the tape for adapt_backward() when non-zero. Only
 * operations with an input that requires a gradient are recorded. Off by
 * default.
 */
ADAPT_API adapt_status adapt_context_set_grad(adapt_context *ctx, int enabled);

/**
 * Training behaviour (batch statistics, dropout active) when non-zero;
 * inference behaviour (running statistics, dropout the identity) otherwise,
 * the default.
 */
ADAPT_API adapt_status adapt_context_set_training(adapt_context *ctx, int enabled);

/**
 * Selects the GEMM implementation for this context's later operations.
 * ADAPT_ERR_UNSUPPORTED if it is not built (see adapt_backend_available()),
 * ADAPT_ERR_INVALID_ARGUMENT for an unknown value; the context keeps its
 * backend on error.
 */
ADAPT_API adapt_status adapt_context_set_backend(adapt_context *ctx, adapt_backend backend);

/**
 * Resizes the context's thread pool; 0 = all cores. Negative or above
 * ADAPT_MAX_THREADS is ADAPT_ERR_INVALID_ARGUMENT; if the threads cannot be
 * started (ADAPT_ERR_OUT_OF_MEMORY) the context keeps its previous pool.
 */
ADAPT_API adapt_status adapt_context_set_threads(adapt_context *ctx, int32_t n_threads);

/** Highest arena use, in bytes, since creation; 0 for NULL. */
ADAPT_API size_t adapt_context_peak_bytes(const adapt_context *ctx);

/** Bytes the arena currently holds from the system; 0 for NULL. */
ADAPT_API size_t adapt_context_reserved_bytes(const adapt_context *ctx);

/** @} */
/* ------------------------------------------------------------------------ */
/** @defgroup tensors Tensors */
/* ------------------------------------------------------------------------ */
/** @{ */

/** Highest rank of a tensor (and of a model input or dataset, N included). */
#define ADAPT_MAX_DIMS 8

/**
 * A dense float32 tensor. Two kinds:
 *  - parameters, made by adapt_param_create(): persistent, owned by the caller,
 *    with a gradient buffer when they require gradients;
 *  - activations, made by operations and adapt_tensor_input(): borrowed from
 *    their context, valid until adapt_context_reset()/adapt_context_free().
 * Handles are opaque values: an activation's is not the address of anything
 * a caller may read, and two activations made by different steps at the same
 * place have different handles.
 */
typedef struct adapt_tensor adapt_tensor;

/**
 * Creates a zero-filled parameter of the given shape (`ndim` in
 * [0, ADAPT_MAX_DIMS], dims >= 0) that requires gradients; its gradient
 * starts at zero too. Owned: free with adapt_tensor_free().
 */
ADAPT_API adapt_status adapt_param_create(adapt_tensor **out, int32_t ndim,
                                          const int64_t *shape);

/**
 * Frees a parameter made by adapt_param_create(); NULL is a no-op.
 * Activations are released by reset and ignored here. A model's parameters
 * (adapt_model_param()) belong to the model: they are left as they are and
 * adapt_last_error() says so.
 */
ADAPT_API void adapt_tensor_free(adapt_tensor *tensor);

/**
 * Whether adapt_backward() accumulates into this parameter's gradient and
 * adapt_model_train() updates it; 0 freezes it. ADAPT_ERR_INVALID_ARGUMENT
 * for an activation.
 */
ADAPT_API adapt_status adapt_param_set_requires_grad(adapt_tensor *param, int enabled);

/**
 * Copies caller data (row-major, `shape` dims) into a new activation of `ctx`;
 * the caller's buffer may be reused at once. Non-finite values are refused
 * (ADAPT_ERR_NONFINITE).
 */
ADAPT_API adapt_status adapt_tensor_input(adapt_tensor **out, adapt_context *ctx,
                                          int32_t ndim, const int64_t *shape,
                                          const float *data);

/**
 * Number of dimensions, or 0 for NULL or an activation released by a reset
 * (adapt_last_error() then says which). The accessors below do the same.
 */
ADAPT_API int32_t adapt_tensor_ndim(const adapt_tensor *tensor);
/** Size of dimension `dim` (negative counts from the end), or 0 if invalid. */
ADAPT_API int64_t adapt_tensor_dim(const adapt_tensor *tensor, int32_t dim);
/** Number of elements, or 0 for NULL or a released activation. */
ADAPT_API int64_t adapt_tensor_numel(const adapt_tensor *tensor);

/**
 * The tensor's values, row-major, or NULL for NULL or a released activation.
 * Borrowed: valid as long as the tensor. Writing through it is allowed for
 * parameters (e.g. an optimizer step); the library cannot see such writes,
 * so they are the caller's to keep apart from other threads running the
 * model.
 */
ADAPT_API float *adapt_tensor_data(const adapt_tensor *tensor);

/**
 * The gradient, same layout as the data, or NULL if the tensor has none (or
 * is NULL or a released activation).
 * For a parameter, the gradient accumulated by adapt_backward() since the
 * last adapt_param_zero_grad(); for an activation, d(loss)/d(activation) of
 * the last adapt_backward() in its context (NULL before one). Borrowed:
 * valid as long as the tensor.
 */
ADAPT_API float *adapt_tensor_grad(const adapt_tensor *tensor);

/**
 * Copies `count` == numel values from the tensor into `dst`
 * (ADAPT_ERR_SHAPE if `count` differs).
 */
ADAPT_API adapt_status adapt_tensor_read(const adapt_tensor *tensor, float *dst, int64_t count);

/**
 * Copies `count` == numel finite values from `src` into a parameter; on
 * error (ADAPT_ERR_SHAPE, ADAPT_ERR_NONFINITE, an activation) the parameter
 * is unchanged. This and the other parameter setters change a model's
 * parameter like training does: ADAPT_ERR_STATE while another thread's call
 * runs or changes the model.
 */
ADAPT_API adapt_status adapt_param_write(adapt_tensor *param, const float *src, int64_t count);

/** Sets a parameter's gradient to zero. */
ADAPT_API adapt_status adapt_param_zero_grad(adapt_tensor *param);

/** @} */
/* ------------------------------------------------------------------------ */
/**
 * @defgroup operations Operations
 *
 * Each produces a new activation in `ctx` (borrowed, valid until reset).
 * With gradient recording on, the operation is taped for adapt_backward().
 * Axes may be negative (counted from the end). "Broadcast" means the second
 * operand's shape equals the first's or a suffix of it (bias, row vector).
 * Inputs are activations of `ctx` or parameters; an activation of another
 * context or one released by reset is ADAPT_ERR_STATE.
 */
/* ------------------------------------------------------------------------ */
/** @{ */

#define ADAPT_MATMUL_TRANS_A 1u /**< use the last two dims of `a` transposed */
#define ADAPT_MATMUL_TRANS_B 2u /**< use the last two dims of `b` transposed */

/**
 * Batched matrix product: a[..., M, K] x b[..., K, N] -> [..., M, N].
 * `b` is either 2-D (shared by every batch) or has a's batch dims exactly.
 * `flags` combines ADAPT_MATMUL_TRANS_A and ADAPT_MATMUL_TRANS_B; any other
 * bit is ADAPT_ERR_INVALID_ARGUMENT. Matrix dims above INT32_MAX are
 * ADAPT_ERR_OVERFLOW (the BLAS takes int).
 */
ADAPT_API adapt_status adapt_op_matmul(adapt_tensor **out, adapt_context *ctx,
                                       adapt_tensor *a, adapt_tensor *b, uint32_t flags);

/** a + b, with `b` broadcast over `a`; the result has a's shape. */
ADAPT_API adapt_status adapt_op_add(adapt_tensor **out, adapt_context *ctx,
                                    adapt_tensor *a, adapt_tensor *b);
/** a * b elementwise, with `b` broadcast over `a`; the result has a's shape. */
ADAPT_API adapt_status adapt_op_mul(adapt_tensor **out, adapt_context *ctx,
                                    adapt_tensor *a, adapt_tensor *b);
/**
 * Elementwise minimum of two tensors of the same shape. On ties the
 * gradient goes to `a`.
 */
ADAPT_API adapt_status adapt_op_minimum(adapt_tensor **out, adapt_context *ctx,
                                        adapt_tensor *a, adapt_tensor *b);
/**
 * Elementwise maximum of two tensors of the same shape. On ties the
 * gradient goes to `a`.
 */
ADAPT_API adapt_status adapt_op_maximum(adapt_tensor **out, adapt_context *ctx,
                                        adapt_tensor *a, adapt_tensor *b);
/** x * factor; a non-finite factor is ADAPT_ERR_NONFINITE. */
ADAPT_API adapt_status adapt_op_scale(adapt_tensor **out, adapt_context *ctx,
                                      adapt_tensor *x, float factor);

/** max(x, 0) elementwise. */
ADAPT_API adapt_status adapt_op_relu(adapt_tensor **out, adapt_context *ctx, adapt_tensor *x);
/** Exact (erf) GELU, as PyTorch's default. */
ADAPT_API adapt_status adapt_op_gelu(adapt_tensor **out, adapt_context *ctx, adapt_tensor *x);
/** 1 / (1 + exp(-x)) elementwise. */
ADAPT_API adapt_status adapt_op_sigmoid(adapt_tensor **out, adapt_context *ctx, adapt_tensor *x);
/** Hyperbolic tangent elementwise. */
ADAPT_API adapt_status adapt_op_tanh(adapt_tensor **out, adapt_context *ctx, adapt_tensor *x);
/** |x| elementwise. */
ADAPT_API adapt_status adapt_op_abs(adapt_tensor **out, adapt_context *ctx, adapt_tensor *x);
/** min(max(x, lo), hi); lo <= hi, both finite. */
ADAPT_API adapt_status adapt_op_clamp(adapt_tensor **out, adapt_context *ctx,
                                      adapt_tensor *x, float lo, float hi);

/** Softmax over the last axis (rank >= 1). */
ADAPT_API adapt_status adapt_op_softmax(adapt_tensor **out, adapt_context *ctx, adapt_tensor *x);
/** Log-softmax over the last axis (rank >= 1), computed stably. */
ADAPT_API adapt_status adapt_op_log_softmax(adapt_tensor **out, adapt_context *ctx,
                                            adapt_tensor *x);

/**
 * Layer normalisation over the last axis; `gamma`, `beta` ([D]) may be NULL.
 * `eps` > 0.
 */
ADAPT_API adapt_status adapt_op_layernorm(adapt_tensor **out, adapt_context *ctx,
                                          adapt_tensor *x, adapt_tensor *gamma,
                                          adapt_tensor *beta, float eps);

/**
 * Batch normalisation over axis 1 of x[N, C, ...]. In training mode it uses
 * batch statistics and updates `running_mean`/`running_var` (parameters of
 * shape [C] that should not require gradients; may be NULL) with `momentum`
 * (PyTorch convention, unbiased variance); otherwise it uses the running
 * statistics. `gamma`, `beta` ([C]) may be NULL. The running statistics are
 * given both or neither, and are required outside training mode; `momentum`
 * in [0, 1], `eps` > 0. Training needs more than one value per channel.
 * The running statistics are updated during this call, even if a later
 * step of the caller fails.
 */
ADAPT_API adapt_status adapt_op_batchnorm(adapt_tensor **out, adapt_context *ctx,
                                          adapt_tensor *x, adapt_tensor *gamma,
                                          adapt_tensor *beta, adapt_tensor *running_mean,
                                          adapt_tensor *running_var, float momentum,
                                          float eps);

/**
 * 2-D convolution (cross-correlation, as PyTorch): x[N, Cin, H, W],
 * weight[Cout, Cin, KH, KW], bias[Cout] or NULL -> [N, Cout, OH, OW], with
 * OH = (H + 2 padding - KH) / stride + 1 (floor), likewise OW. `stride` >= 1,
 * `padding` >= 0 (zeros on every side).
 */
ADAPT_API adapt_status adapt_op_conv2d(adapt_tensor **out, adapt_context *ctx,
                                       adapt_tensor *x, adapt_tensor *weight,
                                       adapt_tensor *bias, int32_t stride, int32_t padding);

/**
 * Max pooling over square `kernel` windows of x[N, C, H, W]; padded cells
 * are ignored. Output size as for adapt_op_conv2d(); `kernel`, `stride` >= 1
 * and 0 <= `padding` <= kernel / 2.
 */
ADAPT_API adapt_status adapt_op_maxpool2d(adapt_tensor **out, adapt_context *ctx,
                                          adapt_tensor *x, int32_t kernel, int32_t stride,
                                          int32_t padding);
/**
 * Average pooling, as adapt_op_maxpool2d(); padded cells count as 0 and
 * every window is divided by kernel * kernel.
 */
ADAPT_API adapt_status adapt_op_avgpool2d(adapt_tensor **out, adapt_context *ctx,
                                          adapt_tensor *x, int32_t kernel, int32_t stride,
                                          int32_t padding);

/** Same data, new shape (same element count; no -1 placeholder). */
ADAPT_API adapt_status adapt_op_reshape(adapt_tensor **out, adapt_context *ctx,
                                        adapt_tensor *x, int32_t ndim, const int64_t *shape);
/** Swaps two axes (the result is a copy in the new layout). */
ADAPT_API adapt_status adapt_op_transpose(adapt_tensor **out, adapt_context *ctx,
                                          adapt_tensor *x, int32_t axis0, int32_t axis1);
/** out.shape[i] = x.shape[perm[i]]; `perm` is a permutation of ndim(x) entries. */
ADAPT_API adapt_status adapt_op_permute(adapt_tensor **out, adapt_context *ctx,
                                        adapt_tensor *x, const int32_t *perm);
/** Elements [start, end) along `axis`; 0 <= start <= end <= the axis size. */
ADAPT_API adapt_status adapt_op_slice(adapt_tensor **out, adapt_context *ctx,
                                      adapt_tensor *x, int32_t axis, int64_t start,
                                      int64_t end);
/** Joins `count` >= 1 tensors along `axis`; other dims must match. */
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

/** Sum over `axis` (removed from the shape) or over ADAPT_AXIS_ALL. */
ADAPT_API adapt_status adapt_op_sum(adapt_tensor **out, adapt_context *ctx,
                                    adapt_tensor *x, int32_t axis);
/**
 * Mean over `axis` (removed from the shape) or over ADAPT_AXIS_ALL; a mean
 * over an empty axis is ADAPT_ERR_SHAPE.
 */
ADAPT_API adapt_status adapt_op_mean(adapt_tensor **out, adapt_context *ctx,
                                     adapt_tensor *x, int32_t axis);

/**
 * Inverted dropout with drop probability p in [0, 1): active only in training
 * mode, identity otherwise. Masks come from the context's seeded stream and
 * differ from call to call, also across resets.
 */
ADAPT_API adapt_status adapt_op_dropout(adapt_tensor **out, adapt_context *ctx,
                                        adapt_tensor *x, float p);

/**
 * Mean cross-entropy of logits[N, C] against class `labels` (N entries in
 * [0, C), read during the call), with label smoothing in [0, 1). Result has
 * one element.
 */
ADAPT_API adapt_status adapt_op_cross_entropy(adapt_tensor **out, adapt_context *ctx,
                                              adapt_tensor *logits, const int32_t *labels,
                                              float label_smoothing);

/** Mean squared error between non-empty tensors of the same shape; one element. */
ADAPT_API adapt_status adapt_op_mse(adapt_tensor **out, adapt_context *ctx,
                                    adapt_tensor *a, adapt_tensor *b);

/** @} */
/* ------------------------------------------------------------------------ */
/** @defgroup autograd Autograd */
/* ------------------------------------------------------------------------ */
/** @{ */

/**
 * Back-propagates from the one-element tensor `loss` through the operations
 * taped since the last reset, adding d(loss)/d(p) into the gradient of every
 * parameter p that requires it. Consumes the tape. A non-finite loss is
 * refused (ADAPT_ERR_NONFINITE) before any gradient is touched; a loss that
 * was not recorded (recording off, no parameter requiring gradients, tape
 * already consumed) is ADAPT_ERR_STATE. All or nothing: if the pass fails
 * (e.g. the arena is full), no parameter gradient has changed.
 */
ADAPT_API adapt_status adapt_backward(adapt_context *ctx, adapt_tensor *loss);

/** @} */
/* ------------------------------------------------------------------------ */
/**
 * @defgroup models Models
 *
 * A model is a sequence of blocks (layers or groups of layers such as a
 * residual block or a transformer block) that maps a batch of inputs to
 * logits. It owns its parameters. Early-exit heads, MoE and ACM modules
 * attach to and replace blocks, so the blocks are visible through the API.
 *
 * Threads. Inference from several threads at once is safe, each with its own
 * context; training a model is single-writer, and enforced. Calls that change
 * a model: adapt_model_train() and the other training functions, a forward
 * pass in a context in training mode (batch-norm running statistics),
 * adapt_model_record() (its tap sits in the model meanwhile),
 * adapt_model_load_weights(), adapt_model_append(), adapt_model_replace()
 * (both models), adding and removing heads, and adapt_param_write(),
 * adapt_param_zero_grad() and adapt_param_set_requires_grad() on its
 * parameters. Calls that run it: the other forward passes, evaluation, the
 * exits' logits and early-exit inference, adapt_model_save() and
 * adapt_head_create(). While a call changes a model, any call of another
 * thread that runs or changes it fails at once with ADAPT_ERR_STATE ("...:
 * the model is being trained or changed by another call"); while calls run
 * it, any that would change it does ("...: the model is being run by another
 * call"). Nothing waits and nothing races. The thread whose call changes the
 * model may use it in that call's callbacks (a progress callback evaluating
 * it). A model that replaces a submodule of another counts as part of that
 * one. Not seen by the library, and so the caller's to keep apart:
 * adapt_backward() accumulating into a model's gradients, writes through
 * adapt_tensor_data() or adapt_tensor_grad(), adapt_model_free(), and the
 * queries of a model's structure (counts, infos, parameters and their names,
 * heads), which take no hold: safe beside training, not beside a call that
 * changes the structure (appending, replacing, adding or removing heads).
 */
/* ------------------------------------------------------------------------ */
/** @{ */

/**
 * A network of blocks with its parameters; it keeps no per-call state, so
 * behaviour (training or inference, recording) comes from the context it runs
 * in. Owned: free with adapt_model_free().
 */
typedef struct adapt_model adapt_model;

/** Activation between the linear layers of an MLP. */
typedef enum adapt_activation {
    ADAPT_ACTIVATION_RELU = 0, /**< max(x, 0) */
    ADAPT_ACTIVATION_GELU = 1, /**< exact (erf) GELU */
    ADAPT_ACTIVATION_IDENTITY = 2 /**< none: the learners of an ACM standing for a
                                       projection (@ref acm); not for MLPs */
} adapt_activation;

/** Multi-layer perceptron: linear layers with an activation between them. */
typedef struct adapt_mlp_params {
    /** sizeof(adapt_mlp_params); set by adapt_mlp_params_init(). */
    size_t struct_size;
    /** Number of entries of `sizes`: input, hidden..., classes (>= 2). */
    int32_t n_sizes;
    /** Borrowed during adapt_model_create_mlp(). Inputs of any shape whose
     * trailing dims multiply to sizes[0] are flattened. */
    const int64_t *sizes;
    int32_t activation; /**< adapt_activation; default ReLU */
    float dropout;      /**< after each hidden activation, in [0, 1); 0 = none */
    uint64_t seed;      /**< parameter initialisation: same seed, same weights */
} adapt_mlp_params;

/**
 * ResNet-style CNN on [N, C, H, W] images: a 3x3 stem convolution with
 * batch norm and ReLU, then stages of basic residual blocks (two 3x3
 * convolutions; the first block of a stage may downsample by its stride),
 * global average pooling and a linear classifier. The three stage arrays
 * have `n_stages` entries each and are borrowed during
 * adapt_model_create_cnn().
 */
typedef struct adapt_cnn_params {
    /** sizeof(adapt_cnn_params); set by adapt_cnn_params_init(). */
    size_t struct_size;
    int32_t in_channels, /**< channels C of the input images (default 3) */
            image_size,  /**< height and width of the input images (default 32) */
            n_classes;   /**< outputs of the classifier (default 10) */
    int32_t stem_channels; /**< output channels of the stem convolution (default 16) */
    int32_t n_stages;      /**< number of stages; no default, >= 1 */
    const int32_t *stage_channels, /**< output channels of each stage */
                  *stage_blocks,   /**< residual blocks in each stage */
                  *stage_strides;  /**< stride of each stage's first block */
    uint64_t seed; /**< parameter initialisation: same seed, same weights */
} adapt_cnn_params;

/**
 * Vision transformer: patch embedding with a class token and learned
 * positional embedding, `depth` pre-norm encoder blocks (multi-head
 * self-attention and a GELU MLP), a final layer norm and a linear head on
 * the class token.
 */
typedef struct adapt_vit_params {
    /** sizeof(adapt_vit_params); set by adapt_vit_params_init(). */
    size_t struct_size;
    int32_t image_size,  /**< height and width of the input images (default 32) */
            in_channels, /**< channels of the input images (default 3) */
            patch,       /**< patch side; must divide image_size (default 4) */
            dim,         /**< token width; must be a multiple of heads (default 192) */
            depth,       /**< number of encoder blocks (default 6) */
            heads;       /**< attention heads (default 3) */
    float mlp_ratio; /**< hidden size of the MLP = floor(mlp_ratio * dim) (default 4) */
    int32_t n_classes; /**< outputs of the head (default 10) */
    float dropout;     /**< in [0, 1), after attention and after the MLP of each block */
    uint64_t seed;     /**< parameter initialisation: same seed, same weights */
} adapt_vit_params;

/**
 * Fills `params` with the defaults: ReLU, no dropout, seed 0. There are no
 * default sizes: set `n_sizes` and `sizes`.
 * `size` is sizeof *params as compiled by the caller: exactly that many bytes
 * are written (zeros past the fields this library knows) and struct_size is
 * set to it. NULL or a size below sizeof(size_t) is a no-op.
 */
ADAPT_API void adapt_mlp_params_init(adapt_mlp_params *params, size_t size);
/**
 * Fills `params` with the defaults (3 channels, 32x32 images, 10 classes,
 * stem 16, seed 0). There are no default stages: set `n_stages` and the
 * three stage arrays. `size` as for adapt_mlp_params_init().
 */
ADAPT_API void adapt_cnn_params_init(adapt_cnn_params *params, size_t size);
/**
 * Fills `params` with the defaults: 32x32x3 images, patch 4, dim 192,
 * depth 6, 3 heads, mlp_ratio 4, 10 classes, no dropout, seed 0. `size` as
 * for adapt_mlp_params_init().
 */
ADAPT_API void adapt_vit_params_init(adapt_vit_params *params, size_t size);

/**
 * Builds an MLP with freshly initialised weights (PyTorch's default
 * initialisation). `params` is required. Owned: free with adapt_model_free().
 * Errors: ADAPT_ERR_INVALID_ARGUMENT (a size below 1, an unknown activation,
 * dropout outside [0, 1)), ADAPT_ERR_NONFINITE, ADAPT_ERR_OVERFLOW,
 * ADAPT_ERR_OUT_OF_MEMORY.
 */
ADAPT_API adapt_status adapt_model_create_mlp(adapt_model **out, const adapt_mlp_params *params);
/**
 * Builds a ResNet-style CNN, as adapt_model_create_mlp(); inputs are
 * [N, in_channels, image_size, image_size].
 */
ADAPT_API adapt_status adapt_model_create_cnn(adapt_model **out, const adapt_cnn_params *params);
/**
 * Builds a vision transformer, as adapt_model_create_mlp(); inputs are
 * [N, in_channels, image_size, image_size]. A patch that does not divide
 * image_size or heads that do not divide dim are ADAPT_ERR_SHAPE.
 */
ADAPT_API adapt_status adapt_model_create_vit(adapt_model **out, const adapt_vit_params *params);
/**
 * Frees a model and its parameters; NULL is a no-op. No context may still
 * run it, and a context that recorded operations on it must be reset first
 * (its tape points at the parameters).
 */
ADAPT_API void adapt_model_free(adapt_model *model);

/** Layers of the custom sequential builder. */
typedef enum adapt_layer_kind {
    ADAPT_LAYER_LINEAR = 0,      /**< out_features; flattens trailing dims if needed */
    ADAPT_LAYER_CONV2D = 1,      /**< out_features (channels), kernel, stride, padding;
                                      with bias */
    ADAPT_LAYER_BATCHNORM2D = 2, /**< over the channels; momentum 0.1, eps 1e-5 */
    ADAPT_LAYER_LAYERNORM = 3,   /**< over the last axis; eps 1e-5 */
    ADAPT_LAYER_MAXPOOL2D = 4,   /**< kernel, stride, padding */
    ADAPT_LAYER_AVGPOOL2D = 5,   /**< kernel, stride, padding */
    ADAPT_LAYER_GLOBAL_AVGPOOL = 6, /**< [N, C, H, W] -> [N, C] */
    ADAPT_LAYER_DROPOUT = 7,     /**< p */
    ADAPT_LAYER_RELU = 8,        /**< max(x, 0) */
    ADAPT_LAYER_GELU = 9,        /**< exact (erf) GELU */
    ADAPT_LAYER_FLATTEN = 10,    /**< [N, ...] -> [N, prod(...)] */
    ADAPT_LAYER_RESIDUAL_BLOCK = 11, /**< out_features (channels), stride: a ResNet
                                          basic block */
    ADAPT_LAYER_PATCH_EMBED = 12,    /**< out_features = dim, kernel = patch */
    ADAPT_LAYER_TRANSFORMER_BLOCK = 13, /**< heads, mlp_ratio, p */
    ADAPT_LAYER_CLASS_TOKEN = 14,    /**< [N, T, D] -> [N, D]: token 0 */
    ADAPT_LAYER_TOKEN_LINEAR = 15,   /**< out_features: torch.nn.Linear on the last axis,
                                          [N, ..., D] -> [N, ..., out_features] */
    ADAPT_LAYER_MOE = 16, /**< experimental (@ref moe): out_features, experts, expert_width,
                               router_width, activation, routing, tau, top_k: a dynamic-k
                               Mixture-of-Experts on the last axis */
    ADAPT_LAYER_ACM = 17, /**< experimental (@ref acm): out_features, learners,
                               learner_width, gate_width, min_learners, activation: an
                               Adaptive Computation Module on the last axis */
    ADAPT_LAYER_INTERVAL_LINEAR = 18, /**< experimental (@ref intervals): out_features: a
                                           linear layer whose weights are nested boxes
                                           (interval continual learning) */
    ADAPT_LAYER_LOW_RANK_LINEAR = 19, /**< experimental (@ref transfer): out_features, rank:
                                           x W^T + b + ((x R^T) * s) L^T with L [out, rank],
                                          s [rank], R [rank, in], parameters "weight",
                                          "bias", "left", "scales", "right" */
    ADAPT_LAYER_UPSAMPLE2D = 20, /**< experimental (@ref segmentation): scale, upsample:
                                      torch.nn.Upsample on [C, H, W] */
    ADAPT_LAYER_CONV_TRANSPOSE2D = 21, /**< experimental (@ref segmentation): out_features,
                                            kernel, stride, padding:
                                            torch.nn.ConvTranspose2d */
    ADAPT_LAYER_CONCAT = 22 /**< experimental (@ref segmentation): source: a skip
                                 connection; its block takes the previous output with block
                                 `source`'s output appended on the channel axis (both
                                 [C, H, W] of one H and W) */
} adapt_layer_kind;

/**
 * One layer for adapt_model_append(): its `kind` and the fields that kind
 * reads (listed at adapt_layer_kind); the others are ignored.
 */
typedef struct adapt_layer_params {
    /** sizeof(adapt_layer_params); set by adapt_layer_params_init(). */
    size_t struct_size;
    int32_t kind; /**< adapt_layer_kind; default LINEAR */
    int64_t out_features; /**< linear / conv / residual / patch embedding width */
    int32_t kernel,  /**< window side of convolutions and pooling, patch side (default 3) */
            stride,  /**< step of convolutions, pooling and residual blocks (default 1) */
            padding; /**< zeros added on every side (default 0) */
    int32_t heads;     /**< attention heads of a transformer block (default 1) */
    float mlp_ratio;   /**< MLP width / token width in a transformer block (default 4) */
    float p; /**< dropout probability, in [0, 1) (default 0) */
    /* Fields of the experimental tier's ADAPT_LAYER_MOE (@ref moe). */
    int32_t experts;      /**< number of experts (default 1) */
    int32_t router_width; /**< hidden width of the router (default 128) */
    int64_t expert_width; /**< hidden units of each expert (no default) */
    int32_t activation;   /**< adapt_activation of the experts (default RELU) */
    int32_t routing;      /**< adapt_routing_rule (default DYNAMIC_K) */
    float tau;            /**< routing threshold in [0, 1] (default 0: every expert) */
    int32_t top_k;        /**< experts per token under TOP_K routing (default 1) */
    /* Fields of the experimental tier's ADAPT_LAYER_ACM (@ref acm). */
    int32_t learners;      /**< learners (default 4) */
    int64_t learner_width; /**< hidden units of each learner (no default) */
    int32_t gate_width;    /**< hidden width of the gate (default 16) */
    int32_t min_learners;  /**< learners every token runs, 0 or 1 (default 0) */
    /* Field of the experimental tier's ADAPT_LAYER_LOW_RANK_LINEAR (@ref transfer). */
    int64_t rank; /**< columns of L and rows of R (no default) */
    /* Fields of the experimental tier's encoder-decoder layers (@ref segmentation). */
    int32_t scale;    /**< ADAPT_LAYER_UPSAMPLE2D: the factor, >= 1 (default 2) */
    int32_t upsample; /**< ADAPT_LAYER_UPSAMPLE2D: adapt_upsample_mode (default NEAREST) */
    int32_t source;   /**< ADAPT_LAYER_CONCAT: the earlier block joined (no default) */
} adapt_layer_params;

/**
 * Fills `params` with the defaults (LINEAR, kernel 3, stride 1, padding 0,
 * 1 head, mlp_ratio 4, p 0; 1 expert, router_width 128, RELU, DYNAMIC_K,
 * tau 0, top_k 1; 4 learners, gate_width 16, min_learners 0; scale 2,
 * NEAREST). Set `kind` and the fields it reads.
 * `size` is sizeof *params as compiled by the caller: exactly that many bytes
 * are written (zeros past the fields this library knows) and struct_size is
 * set to it. NULL or a size below sizeof(size_t) is a no-op.
 */
ADAPT_API void adapt_layer_params_init(adapt_layer_params *params, size_t size);

/**
 * Starts an empty sequential model for inputs of shape [N, input_shape...]
 * (`input_ndim` dims, batch excluded, at most ADAPT_MAX_DIMS - 1, each >= 1).
 * Owned: free with adapt_model_free().
 */
ADAPT_API adapt_status adapt_model_create_sequential(adapt_model **out, int32_t input_ndim,
                                                     const int64_t *input_shape, uint64_t seed);
/**
 * Appends a layer as a new block; its input shape is the last block's output.
 * A layer that cannot take that shape is ADAPT_ERR_SHAPE; appending to a
 * model not made by adapt_model_create_sequential() is ADAPT_ERR_STATE. On
 * error the model is unchanged.
 */
ADAPT_API adapt_status adapt_model_append(adapt_model *model, const adapt_layer_params *layer);

/** What a block does to one sample. */
typedef struct adapt_block_info {
    /**
     * Set by the caller to sizeof(adapt_block_info); the library writes only
     * that many bytes.
     */
    size_t struct_size;
    int32_t kind;              /**< adapt_layer_kind */
    int32_t out_ndim;          /**< output dims, batch excluded */
    int64_t out_shape[ADAPT_MAX_DIMS]; /**< output shape, first `out_ndim` entries */
    int64_t flops;             /**< forward FLOPs per sample (multiply-add = 2) */
    int64_t n_params;          /**< parameter values owned by the block */
} adapt_block_info;

/** Number of blocks; 0 for NULL or an empty sequential model. */
ADAPT_API int32_t adapt_model_block_count(const adapt_model *model);
/**
 * Describes block `block` (from 0). ADAPT_ERR_INVALID_ARGUMENT for NULL,
 * an unset struct_size or a block out of range; `info` is untouched then.
 */
ADAPT_API adapt_status adapt_model_block_info(adapt_block_info *info, const adapt_model *model,
                                              int32_t block);
/**
 * Forward FLOPs per sample of the whole model: matrix products only, a
 * multiply-add counting 2 (docs/models.md). 0 for NULL.
 */
ADAPT_API int64_t adapt_model_flops(const adapt_model *model);

/**
 * Runs blocks [first, last) on `input` (the output of block first-1, or the
 * model input when first == 0). Taped when the context records gradients.
 * With first == last the result is `input` itself. Without recording, each
 * block's intermediate activations are released as the block ends. A block
 * of the range that joins (ADAPT_LAYER_CONCAT) the output of a block before
 * `first` is ADAPT_ERR_INVALID_ARGUMENT: the pass never computed it (so
 * exit heads and routers that split a model inside a skip connection fail).
 */
ADAPT_API adapt_status adapt_model_forward_blocks(adapt_tensor **out, adapt_context *ctx,
                                                  adapt_model *model, adapt_tensor *input,
                                                  int32_t first, int32_t last);
/**
 * All blocks: input [N, input_shape...] -> logits [N, classes]. A model
 * without blocks is ADAPT_ERR_STATE, an input of the wrong shape
 * ADAPT_ERR_SHAPE; logits with NaN or infinity (weights that hold them, or
 * an overflow) are ADAPT_ERR_NONFINITE, naming such a parameter.
 */
ADAPT_API adapt_status adapt_model_forward(adapt_tensor **logits, adapt_context *ctx,
                                           adapt_model *model, adapt_tensor *input);

/** Parameters (buffers such as running statistics included, in a fixed order,
 * named as PyTorch's state_dict names the equivalent module's entries): the
 * backbone's, then those of each head (adapt_model_add_head()). */
ADAPT_API int32_t adapt_model_param_count(const adapt_model *model);
/**
 * Parameter `index` of the model. Borrowed: valid as long as the model
 * (adapt_tensor_free() refuses it). NULL if out of range. Writing its values
 * (adapt_param_write(), adapt_tensor_data()) changes the model.
 */
ADAPT_API adapt_tensor *adapt_model_param(const adapt_model *model, int32_t index);
/**
 * Name of parameter `index`, as PyTorch's state_dict names it ("0.weight",
 * "stem.1.running_var").
 * Borrowed: valid until the model is freed or its heads change. NULL if out
 * of range.
 */
ADAPT_API const char *adapt_model_param_name(const adapt_model *model, int32_t index);

/** @} */
/* ------------------------------------------------------------------------ */
/** @defgroup datasets Datasets */
/* ------------------------------------------------------------------------ */
/** @{ */

/** Samples x[N, ...] with integer labels in [0, n_classes). */
typedef struct adapt_dataset adapt_dataset;

/**
 * Wraps caller arrays without copying. `x` has `ndim` dims (N first),
 * `labels` N entries. Borrowed: the arrays must outlive the dataset.
 * Owned: free with adapt_dataset_free(). The values are not scanned here;
 * a batch holding NaN or infinity is refused when training or evaluation
 * assembles it. Negative labels are ADAPT_ERR_INVALID_ARGUMENT.
 */
ADAPT_API adapt_status adapt_dataset_wrap(adapt_dataset **out, const float *x, int32_t ndim,
                                          const int64_t *shape, const int32_t *labels);
/**
 * Reads an IDX image file and its IDX label file (gzip-compressed or not),
 * such as Fashion-MNIST's. Pixels become float32 in [0, 1] as [N, 1, H, W].
 * The dataset holds its own copy. Owned: free with adapt_dataset_free().
 * Files that disagree on N, or are corrupt, are ADAPT_ERR_FORMAT.
 */
ADAPT_API adapt_status adapt_dataset_load_idx(adapt_dataset **out, const char *images_path,
                                              const char *labels_path);
/**
 * Splits into a shuffled training part and the last `validation_fraction`
 * of a seeded permutation. Both share the samples of `dataset` without
 * copying them: the samples of a loaded dataset (adapt_dataset_load_idx())
 * live until the last dataset sharing them is freed, in any order; those of
 * a wrapped one stay the caller's arrays, which must outlive every part.
 * @param train receives the training part. Owned: free with adapt_dataset_free().
 * @param validation receives round(validation_fraction * N) samples, possibly
 *        none. Owned: free with adapt_dataset_free().
 * @param dataset the dataset to split; it is not changed.
 * @param validation_fraction in [0, 1).
 * @param seed the same seed gives the same split.
 */
ADAPT_API adapt_status adapt_dataset_split(adapt_dataset **train, adapt_dataset **validation,
                                           const adapt_dataset *dataset,
                                           float validation_fraction, uint64_t seed);
/**
 * Frees a dataset; NULL is a no-op. Datasets split from it stay valid: the
 * samples they share are freed with the last of them. The arrays of a
 * wrapped dataset stay the caller's.
 */
ADAPT_API void adapt_dataset_free(adapt_dataset *dataset);
/** Number of samples N; 0 for NULL. */
ADAPT_API int64_t adapt_dataset_count(const adapt_dataset *dataset);
/**
 * Sample shape without the batch dim; returns its rank (0 for NULL).
 * `shape` receives rank entries (room for ADAPT_MAX_DIMS - 1 suffices) and
 * may be NULL to ask for the rank only.
 */
ADAPT_API int32_t adapt_dataset_sample_shape(const adapt_dataset *dataset, int64_t *shape);
/**
 * Borrowed pointers to sample i's values and label, valid as long as the
 * dataset and the memory it borrows. `index` in [0, N).
 */
ADAPT_API adapt_status adapt_dataset_sample(const float **x, int32_t *label,
                                            const adapt_dataset *dataset, int64_t index);

/**
 * Reads an NPY file (format 1.0/2.0, little-endian float32, C order); other
 * dtypes or Fortran order are ADAPT_ERR_UNSUPPORTED.
 * @param data receives the values. Owned: release with free().
 * @param ndim receives the rank, 0 to ADAPT_MAX_DIMS.
 * @param shape receives the dims; room for ADAPT_MAX_DIMS entries.
 * @param path the file to read.
 */
ADAPT_API adapt_status adapt_npy_read(float **data, int32_t *ndim, int64_t *shape,
                                      const char *path);
/**
 * Writes `data` ([shape], row-major float32) as an NPY 1.0 file, byte for
 * byte what numpy.save writes. Atomic, like adapt_model_save(). Values are
 * written as they are, NaN included.
 */
ADAPT_API adapt_status adapt_npy_write(const char *path, const float *data, int32_t ndim,
                                       const int64_t *shape);
/**
 * Reads the tensor called `name` of a safetensors file (a checkpoint, or
 * features exported from PyTorch with safetensors.torch.save_file) as
 * float32, F32 entries only; other dtypes are ADAPT_ERR_UNSUPPORTED, a
 * missing name ADAPT_ERR_INVALID_ARGUMENT, a corrupt file ADAPT_ERR_FORMAT.
 * The outputs as for adapt_npy_read(); untouched on error.
 */
ADAPT_API adapt_status adapt_safetensors_read(float **data, int32_t *ndim, int64_t *shape,
                                              const char *path, const char *name);

/** @} */
/* ------------------------------------------------------------------------ */
/** @defgroup training Training */
/* ------------------------------------------------------------------------ */
/** @{ */

/** Optimizers of adapt_model_train(); both follow torch.optim step for step. */
typedef enum adapt_optimizer_kind {
    ADAPT_OPTIMIZER_SGD = 0,  /**< momentum, nesterov, coupled weight decay */
    ADAPT_OPTIMIZER_ADAMW = 1 /**< decoupled weight decay */
} adapt_optimizer_kind;

/**
 * Learning-rate schedules of adapt_model_train(), applied before every step;
 * warmup_steps multiply any of them by a linear ramp.
 */
typedef enum adapt_schedule_kind {
    ADAPT_SCHEDULE_CONSTANT = 0, /**< lr throughout */
    ADAPT_SCHEDULE_STEP = 1,  /**< lr * gamma^floor(epoch / step_epochs) */
    ADAPT_SCHEDULE_COSINE = 2 /**< cosine from lr to min_lr at the last step */
} adapt_schedule_kind;

/** State of a running training, reported after every optimizer step. */
typedef struct adapt_progress {
    int32_t epoch,        /**< current epoch, counted from 1 */
            epochs;       /**< epochs in total */
    int64_t step,         /**< optimizer steps done so far, 1 after the first */
            steps;        /**< optimizer steps in total: epochs x ceil(N / batch_size) */
    float loss;           /**< running mean over the epoch so far */
    float learning_rate;  /**< rate used for this step */
    double samples_per_second; /**< training throughput over the epoch so far */
    double eta_seconds;   /**< remaining steps times the mean time per step so far */
    float val_accuracy;   /**< on an epoch's last step with validation data, its
                               accuracy; -1 otherwise */
} adapt_progress;

/**
 * Progress callback: called after every optimizer step on the thread that
 * called adapt_model_train(), with the params' `user_data`. `progress` is
 * borrowed for the duration of the call.
 */
typedef void (*adapt_progress_fn)(const adapt_progress *progress, void *user_data);
/**
 * Cancel callback: called before every step with the params' `user_data`.
 * Return non-zero to stop training (the call then returns ADAPT_ERR_CANCELLED).
 */
typedef int (*adapt_cancel_fn)(void *user_data);

/** The classification loss adapt_model_train() minimises. */
typedef enum adapt_loss_kind {
    ADAPT_LOSS_CROSS_ENTROPY = 0, /**< softmax cross-entropy (label_smoothing applies) */
    ADAPT_LOSS_ONE_VS_ALL = 1     /**< SLOVA's one-vs-all loss (@ref slova,
                                       adapt_op_one_vs_all_loss()) */
} adapt_loss_kind;

/** EWC's or SI's importance of a model's weights (@ref continual). */
typedef struct adapt_consolidation adapt_consolidation;

/**
 * Settings of adapt_model_train(). Fill with adapt_train_params_init(),
 * then change what you need. A NaN or infinite float is ADAPT_ERR_NONFINITE,
 * any other value out of range ADAPT_ERR_INVALID_ARGUMENT.
 */
typedef struct adapt_train_params {
    /** sizeof(adapt_train_params); set by adapt_train_params_init(). */
    size_t struct_size;
    int32_t epochs;     /**< passes over the training set, >= 1 (default 10) */
    int32_t batch_size; /**< samples per step, >= 1 (default 64); an epoch's last
                             batch may be smaller */
    int32_t optimizer; /**< adapt_optimizer_kind (default SGD) */
    float learning_rate; /**< peak rate, > 0 (default 0.01) */
    float momentum;      /**< SGD momentum, >= 0 (default 0.9) */
    int32_t nesterov;    /**< non-zero: Nesterov momentum (default 0); needs SGD and
                              momentum > 0 */
    float weight_decay;  /**< >= 0 (default 0); coupled for SGD, decoupled for AdamW */
    float beta1,    /**< AdamW first-moment decay, in [0, 1) (default 0.9) */
          beta2,    /**< AdamW second-moment decay, in [0, 1) (default 0.999) */
          adam_eps; /**< AdamW denominator term, > 0 (default 1e-8) */
    int32_t schedule; /**< adapt_schedule_kind (default CONSTANT) */
    int32_t warmup_steps; /**< steps of linear warm-up, >= 0 (default 0) */
    int32_t step_epochs;  /**< STEP schedule: epochs per decay, >= 1 (default 10) */
    float step_gamma;     /**< STEP schedule: decay factor, > 0 (default 0.1) */
    float min_learning_rate; /**< COSINE schedule: rate at the last step, >= 0 (default 0) */
    float grad_clip_norm; /**< clip the global gradient norm to this, >= 0; 0 = no
                               clipping (default) */
    float label_smoothing; /**< of the cross-entropy, in [0, 1) (default 0) */
    uint64_t seed;     /**< shuffling and dropout (default 0) */
    int32_t n_threads; /**< threads of the training context, >= 0; 0 = all cores (default) */
    /**
     * Called after every step. Default (NULL): one updating line on stderr when
     * it is a terminal, nothing otherwise.
     */
    adapt_progress_fn progress;
    adapt_cancel_fn cancel; /**< NULL: never cancelled */
    void *user_data;        /**< passed to `progress` and `cancel` as is */
    /**
     * Non-zero: an epoch's last batch is skipped when it is smaller than
     * batch_size (a batch-norm model may not take a batch of one); a training
     * set smaller than one batch is then ADAPT_ERR_INVALID_ARGUMENT (default 0:
     * every sample is used).
     */
    int32_t drop_last;
    /**
     * Non-zero: activation checkpointing. Each block keeps only its output
     * during the forward pass and runs again in backward; gradients are
     * bit-identical, memory holds one block's activations at a time, a step
     * costs one more forward (default 0). See adapt_context_set_recompute().
     */
    int32_t recompute_blocks;
    /**
     * Weight alpha of the activation-sparsity penalty (D2DMoE's sparsification,
     * docs/moe.md): the output of every relu layer of the models that run
     * (fused after a linear layer or convolution or not; not the ReLUs inside
     * residual blocks, experts, routers or heads), row by row of its last axis,
     * is measured by the squared Hoyer measure ||a||_1^2 / ||a||_2^2, and the
     * loss gains alpha(t) times the mean of those measures over the outputs
     * (each averaged over its rows); the reported loss includes it. alpha(t)
     * rises linearly from 0 to alpha over the first `sparsity_warmup` of the
     * steps. Any training loop of the library applies it (distillation and
     * router training too). >= 0 (default 0: off); not with recompute_blocks.
     */
    float sparsity_penalty;
    /** Fraction of the steps over which the penalty's weight rises, in [0, 1] (default 0.5) */
    float sparsity_warmup;
    /**
     * Target budget beta of ACM end-to-end training (@ref acm, docs/acm.md), in
     * [0, 1] (default 0: off). When > 0, every ACM layer that runs its gate
     * notes its choices, and the loss gains acm_budget_weight |C / C_max -
     * beta| (the learners' cost per sample against every learner for every
     * token, mean over the batch), minus acm_entropy_weight times the mean
     * normalised entropy of each sample's choices per ACM, minus
     * acm_diversity_weight times 2 mean |u_i - u_j| over pairs of samples
     * (u_i: sample i's cost fraction); the reported loss includes them. A model
     * none of whose ACM layers ran its gate is ADAPT_ERR_INVALID_ARGUMENT; not
     * with recompute_blocks.
     */
    float acm_budget;
    float acm_budget_weight;    /**< >= 0 (default 0.1) */
    float acm_entropy_weight;   /**< >= 0 (default 0.05) */
    float acm_diversity_weight; /**< >= 0 (default 0.05) */
    /**
     * IBP training (@ref intervals, docs/intervals.md): the L-infinity radius
     * of the box around each training input, >= 0 (default 0: off). When > 0
     * the loss is kappa CE(clean logits) + (1 - kappa) CE(worst-case logits
     * of the box of radius eps), the box clipped to [ibp_input_min,
     * ibp_input_max] (which must hold every input). Between the fractions
     * ibp_ramp_start and ibp_ramp_end of the steps eps rises linearly from 0
     * to ibp_epsilon and kappa from 1 to ibp_kappa; before, the loss is the
     * plain cross-entropy. label_smoothing smooths the clean term only. Every
     * layer needs an interval forward, and batch norm or dropout with p > 0
     * have none in training: such a model is refused before the first step
     * (ADAPT_ERR_UNSUPPORTED). Not with recompute_blocks or
     * sparsity_penalty, nor in the library's other training loops
     * (ADAPT_ERR_INVALID_ARGUMENT). ibp_kappa and the
     * ramp act in IBP training only, the input range also in the contraction
     * (interval_tau); set where they would do nothing they are
     * ADAPT_ERR_INVALID_ARGUMENT.
     */
    float ibp_epsilon;
    float ibp_kappa;      /**< the clean loss's final weight, in [0, 1] (default 0.5) */
    float ibp_ramp_start; /**< in [0, 1] (default 0.1) */
    float ibp_ramp_end;   /**< in [ibp_ramp_start, 1] (default 0.6) */
    float ibp_input_min;  /**< (default 0) */
    float ibp_input_max;  /**< >= ibp_input_min (default 1) */
    /**
     * Contraction of interval continual learning (@ref intervals,
     * docs/intervals.md), in [0, 1] (default 0: off). When > 0 the loss is the
     * cross-entropy of the worst-case logits of the model's interval forward
     * (inputs as points, or boxes of radius ibp_epsilon, no ramp), and a step updates
     * the weights only while the mean worst-case accuracy of the last 10
     * batches is below interval_tau times their mean clean accuracy; the
     * other steps change nothing and report a loss of 0. Train the scales
     * (adapt_model_set_interval_phase()) with it.
     */
    float interval_tau;
    /**
     * EWC or SI (@ref continual, docs/continual.md): NULL (default), or a
     * consolidation made for this model. The loss gains consolidation_weight
     * times sum Omega (theta - theta*)^2 over the weights that train, Omega
     * and theta* the consolidation's importance and anchor; the reported loss
     * includes it. With SI every step also adds its share to the task's path
     * integral (collected at weight 0 too, as a first task needs). Not in the
     * library's other training loops (ADAPT_ERR_INVALID_ARGUMENT). Not shared
     * by trainings running at once.
     */
    adapt_consolidation *consolidation;
    float consolidation_weight; /**< >= 0 (default 0); > 0 needs a consolidation */
    /**
     * adapt_loss_kind (default CROSS_ENTROPY). ONE_VS_ALL trains a sigmoid per
     * class (docs/slova.md); not with label_smoothing, ibp_epsilon or
     * interval_tau, nor in the library's other training loops
     * (ADAPT_ERR_INVALID_ARGUMENT). Validation and adapt_model_evaluate()
     * report the cross-entropy whatever the loss; their accuracy is the same
     * for both, since the largest single-label probability of SLOVA is the
     * largest logit's.
     */
    int32_t loss;
} adapt_train_params;

/**
 * Fills `params` with the defaults (the "default" of each field).
 * `size` is sizeof *params as compiled by the caller: exactly that many bytes
 * are written (zeros past the fields this library knows) and struct_size is
 * set to it. NULL or a size below sizeof(size_t) is a no-op.
 */
ADAPT_API void adapt_train_params_init(adapt_train_params *params, size_t size);

/**
 * Trains `model` on `train` with mini-batches reshuffled every epoch,
 * evaluating on `validation` (may be NULL) after each epoch. Only the
 * backbone's parameters are trained: heads are left alone (see
 * adapt_model_train_exits()). The same seed
 * and thread count give bit-identical weights. `params` may be NULL for the
 * defaults. Runs on the calling thread with a context of its own
 * (`n_threads` workers); other threads' calls on the model meanwhile get
 * ADAPT_ERR_STATE, while `progress` and `cancel` may use it.
 *
 * A step changes the weights only once its forward pass, backward pass and
 * gradient check have succeeded, so on any error or cancellation the model
 * holds the weights of the last completed step (batch-norm running
 * statistics may already have moved). Gradients are zero when it returns.
 * Errors: ADAPT_ERR_INVALID_ARGUMENT (empty training set, a label >= the
 * model's classes, bad settings), ADAPT_ERR_STATE (the model does not end
 * in class logits, or another thread's call runs or changes it),
 * ADAPT_ERR_NONFINITE (NaN or infinity in a batch or the
 * gradients), ADAPT_ERR_CANCELLED, and any error of the forward pass,
 * prefixed with the epoch and step in adapt_last_error().
 */
ADAPT_API adapt_status adapt_model_train(adapt_model *model, const adapt_dataset *train,
                                         const adapt_dataset *validation,
                                         const adapt_train_params *params);

/** Result of an evaluation. */
typedef struct adapt_eval_result {
    /**
     * Set by the caller to sizeof(adapt_eval_result); the library writes only
     * that many bytes.
     */
    size_t struct_size;
    double accuracy; /**< fraction of samples whose first largest logit is the label */
    double loss;     /**< mean cross-entropy */
    int64_t count;   /**< samples evaluated: all of the dataset */
} adapt_eval_result;

/**
 * Evaluates in inference mode (dropout off, batch-norm running statistics),
 * in order, in a context of its own; it only reads the model, so several
 * threads may evaluate one model at once (ADAPT_ERR_STATE while another
 * thread's call changes it).
 * @param result receives the result; set its struct_size first.
 * @param confusion NULL, or room for classes x classes counts: row = true
 *        label, column = prediction.
 * @param model a model ending in class logits (else ADAPT_ERR_STATE).
 * @param dataset a non-empty dataset with labels below the model's classes.
 * @param batch_size samples per forward pass, >= 1.
 * @param n_threads threads of the evaluation's context; 0 = all cores.
 */
ADAPT_API adapt_status adapt_model_evaluate(adapt_eval_result *result, int64_t *confusion,
                                            adapt_model *model, const adapt_dataset *dataset,
                                            int32_t batch_size, int32_t n_threads);

/**
 * Number of output classes of the model: the width of the last block's
 * output when that is one-dimensional, else 0 (also for NULL).
 */
ADAPT_API int32_t adapt_model_classes(const adapt_model *model);

/** @} */
/* ------------------------------------------------------------------------ */
/** @defgroup checkpoints Checkpoints (safetensors) */
/* ------------------------------------------------------------------------ */
/** @{ */

/**
 * Saves parameters under their PyTorch names, with the architecture and the
 * library version in `__metadata__`. Atomic: a temporary file is written,
 * synced and renamed, so `path` never holds a partial file. A model holding
 * NaN or infinity is refused (ADAPT_ERR_NONFINITE); file errors are
 * ADAPT_ERR_IO.
 */
ADAPT_API adapt_status adapt_model_save(const adapt_model *model, const char *path);

/**
 * Rebuilds the model a checkpoint describes. Owned: adapt_model_free().
 * Errors: ADAPT_ERR_IO, ADAPT_ERR_FORMAT (not a libadapt checkpoint,
 * corrupt or inconsistent), ADAPT_ERR_NONFINITE (NaN or infinity in the
 * weights), ADAPT_ERR_UNSUPPORTED, ADAPT_ERR_OUT_OF_MEMORY.
 */
ADAPT_API adapt_status adapt_model_load(adapt_model **out, const char *path);

/**
 * Loads weights into an existing model, such as a PyTorch export: every
 * parameter must be present with its exact shape; extra entries such as
 * num_batches_tracked are ignored. The model is unchanged on error.
 */
ADAPT_API adapt_status adapt_model_load_weights(adapt_model *model, const char *path);

/** @} */

/* ------------------------------------------------------------------------ */
/**
 * @defgroup evaluation Calibration and failure prediction
 *
 * Measures of one classifier's outputs (N rows of `classes` scores, float32,
 * row-major) against int32 labels in [0, classes), as datasets hold them, and
 * calibrators fitted on validation logits. The prediction of a row is its
 * first largest score and its confidence the largest probability. Work is in
 * double; docs/metrics.md gives every definition with its bin edges, tie
 * rules and clamps. The functions keep no state and a fitted calibrator is
 * only read, so any number of threads may use them at once.
 */
/* ------------------------------------------------------------------------ */
/** @{ */

/** How the score rows given to adapt_metrics_compute() are to be read. */
typedef enum adapt_score_kind {
    ADAPT_SCORES_PROBABILITIES = 0, /**< probabilities: every value >= 0 and every row
                                         summing to 1 within 1e-3; used as given */
    ADAPT_SCORES_LOGITS = 1,        /**< logits: turned into probabilities by a softmax
                                         computed stably in double */
    ADAPT_SCORES_ONE_VS_ALL = 2,    /**< logits of a one-vs-all model (@ref slova): read as
                                         SLOVA's single-label probabilities q_k = e^{z_k} /
                                         prod_j (1 + e^{z_j}), in double; a row's q sum to
                                         at most 1 */
    ADAPT_SCORES_SUB_PROBABILITIES = 3 /**< probabilities whose rows may sum to less than 1,
                                            the rest meaning "none of the classes" (the rows
                                            of an exponential calibrator): every value >= 0
                                            and every row summing to at most 1 + 1e-3; used
                                            as given */
} adapt_score_kind;

/** The metrics of adapt_metrics_compute(). */
typedef struct adapt_metrics_report {
    /**
     * Set by the caller to sizeof(adapt_metrics_report); the library writes
     * only that many bytes.
     */
    size_t struct_size;
    double accuracy; /**< fraction of rows whose prediction is the label */
    double ece;      /**< expected calibration error of the confidence: 15 equal-width
                          bins (lo, hi], a confidence of 0 in the first */
    double ks_error; /**< Kolmogorov-Smirnov calibration error, the mean over classes */
    double nll;      /**< mean -log p(label), p clamped below at 1e-15 */
    double brier;    /**< mean over rows of sum_k (p_k - [label = k])^2, in [0, 2] */
    double auroc;    /**< area under the ROC curve of the confidence separating correct
                          (positive) from wrong predictions, ties counting 1/2; NaN when
                          all predictions are correct or all are wrong */
    double aurc;     /**< area under the risk-coverage curve, rows by confidence
                          descending, errors spread evenly over a group of equal
                          confidences */
    double eaurc;    /**< aurc minus the AURC of the ideal ranking with as many errors */
    double fpr_at_95_tpr; /**< fraction of wrong predictions at or above the highest
                               confidence threshold that keeps >= 95 % of the correct
                               ones; NaN when all are correct or all are wrong */
} adapt_metrics_report;

/**
 * Computes every metric of adapt_metrics_report for one classifier.
 * @param report receives the metrics; set its struct_size first.
 * @param scores `n` rows of `classes` scores, borrowed during the call.
 * @param labels `n` labels in [0, classes), borrowed during the call.
 * @param n number of rows, >= 1.
 * @param classes scores per row, >= 2.
 * @param kind how to read `scores` (adapt_score_kind).
 *
 * Errors, with `report` untouched: ADAPT_ERR_INVALID_ARGUMENT (a NULL
 * pointer, an unset struct_size, n < 1, classes < 2, an unknown kind, a
 * label out of range, a negative probability or a probability row whose sum
 * is not 1 within 1e-3), ADAPT_ERR_NONFINITE (NaN or infinity in `scores`),
 * ADAPT_ERR_OVERFLOW, ADAPT_ERR_OUT_OF_MEMORY. Undefined metrics are NaN,
 * not errors.
 */
ADAPT_API adapt_status adapt_metrics_compute(adapt_metrics_report *report, const float *scores,
                                             const int32_t *labels, int64_t n,
                                             int32_t classes, adapt_score_kind kind);

/** Calibration maps of adapt_calibrator_fit(). */
typedef enum adapt_calibration_method {
    ADAPT_CALIBRATION_TEMPERATURE = 0, /**< softmax(z / T) with one T in [1e-3, 1e3] */
    ADAPT_CALIBRATION_VECTOR = 1,      /**< softmax(a_k z_k + b_k), a scale and a shift per
                                            class */
    ADAPT_CALIBRATION_HISTOGRAM = 2,   /**< histogram binning of each class's probability,
                                            rows renormalised */
    ADAPT_CALIBRATION_ISOTONIC = 3,    /**< isotonic regression of each class's probability,
                                            rows renormalised */
    ADAPT_CALIBRATION_EXPONENTIAL = 4  /**< for the logits of a one-vs-all model (@ref
                                            slova): the confidence max q becomes (max q)^a,
                                            one a in [1e-3, 1e3] fitted by the binary NLL of
                                            the predictions' correctness; rows sum to at most
                                            1 (ADAPT_SCORES_SUB_PROBABILITIES) */
} adapt_calibration_method;

/**
 * A calibration map fitted on validation logits: turns a classifier's logits
 * into calibrated probabilities. Read-only once fitted. Owned: free with
 * adapt_calibrator_free().
 */
typedef struct adapt_calibrator adapt_calibrator;

/**
 * Settings of adapt_calibrator_fit(). Fill with
 * adapt_calibrator_params_init(), then change what you need.
 */
typedef struct adapt_calibrator_params {
    /** sizeof(adapt_calibrator_params); set by adapt_calibrator_params_init(). */
    size_t struct_size;
    int32_t method;         /**< adapt_calibration_method (default TEMPERATURE) */
    int32_t bins;           /**< HISTOGRAM: equal-width bins per class, in [1, 2^20]
                                 (default 15) */
    int32_t max_iterations; /**< VECTOR: L-BFGS iterations at most, >= 1 (default 500) */
    double tolerance;       /**< VECTOR: stop once no partial derivative of the mean NLL
                                 exceeds this in magnitude, >= 0 (default 1e-7) */
} adapt_calibrator_params;

/**
 * Fills `params` with the defaults (temperature scaling, 15 bins, 500
 * iterations, tolerance 1e-7).
 * `size` is sizeof *params as compiled by the caller: exactly that many bytes
 * are written (zeros past the fields this library knows) and struct_size is
 * set to it. NULL or a size below sizeof(size_t) is a no-op.
 */
ADAPT_API void adapt_calibrator_params_init(adapt_calibrator_params *params, size_t size);

/**
 * Fits a calibrator on validation logits by the chosen method. The same
 * input and settings give the same calibrator, bit for bit.
 * @param out receives the calibrator. Owned: free with adapt_calibrator_free().
 * @param params settings, or NULL for the defaults.
 * @param logits `n` rows of `classes` finite logits, borrowed during the call.
 * @param labels `n` labels in [0, classes), borrowed during the call.
 * @param n number of rows, >= 1.
 * @param classes logits per row, >= 2.
 *
 * Errors, with `out` untouched: ADAPT_ERR_INVALID_ARGUMENT (a NULL pointer,
 * bad settings, n < 1, classes < 2, a label out of range),
 * ADAPT_ERR_NONFINITE (NaN or infinity in `logits` or the tolerance),
 * ADAPT_ERR_OVERFLOW, ADAPT_ERR_OUT_OF_MEMORY.
 */
ADAPT_API adapt_status adapt_calibrator_fit(adapt_calibrator **out,
                                            const adapt_calibrator_params *params,
                                            const float *logits, const int32_t *labels,
                                            int64_t n, int32_t classes);

/**
 * Calibrated probabilities of `n` rows of logits; each row sums to 1 (to at
 * most 1 for ADAPT_CALIBRATION_EXPONENTIAL, whose largest value is the
 * calibrated confidence and whose prediction is that of the logits).
 * @param probabilities receives n x classes values; may be `logits` itself.
 * @param calibrator a fitted calibrator.
 * @param logits `n` rows of `classes` finite logits, borrowed during the call.
 * @param n number of rows, >= 0.
 * @param classes the number the calibrator was fitted with (else ADAPT_ERR_SHAPE).
 *
 * On error (ADAPT_ERR_INVALID_ARGUMENT, ADAPT_ERR_SHAPE, ADAPT_ERR_NONFINITE,
 * ADAPT_ERR_OVERFLOW, ADAPT_ERR_OUT_OF_MEMORY) nothing is written.
 */
ADAPT_API adapt_status adapt_calibrator_apply(float *probabilities,
                                              const adapt_calibrator *calibrator,
                                              const float *logits, int64_t n, int32_t classes);

/**
 * The fitted temperature T of a temperature-scaling calibrator.
 * ADAPT_ERR_STATE for a calibrator of another method, with `temperature`
 * untouched.
 */
ADAPT_API adapt_status adapt_calibrator_temperature(double *temperature,
                                                    const adapt_calibrator *calibrator);

/** Frees a calibrator; NULL is a no-op. */
ADAPT_API void adapt_calibrator_free(adapt_calibrator *calibrator);

/** @} */

/* ======================================================================== */
/**
 * @defgroup experimental Experimental tier
 *
 * Research-stage methods, declared only for a program that asks for them by
 * defining ADAPT_EXPERIMENTAL before it includes this header:
 *
 *     #define ADAPT_EXPERIMENTAL
 *     #include <adapt.h>
 *
 * They are built, tested and documented like the rest, but their functions,
 * types and values may change in any release until they settle and move to
 * the stable part: the compatibility rules above and the ABI baseline cover
 * only the stable part. A program that uses them should check at run time
 * that adapt_version_number() == ADAPT_VERSION_NUMBER. Today the tier holds
 * the early exits, the Mixture-of-Experts, the Adaptive Computation Modules,
 * the interval bounds and continual learning, one-vs-all classification,
 * model merging, hidden-state probes, normalizing flows, segmentation and
 * multi-model pipelines.
 */
/* ======================================================================== */
#ifdef ADAPT_EXPERIMENTAL

/* ------------------------------------------------------------------------ */
/**
 * @defgroup modules Submodules and their replacement
 *
 * Every layer of a model, and some parts of layers, is a submodule with a
 * PyTorch-style path, the prefix its parameters are named with:
 * "blocks.3" (a ViT's transformer block), "blocks.3.mlp" and "blocks.3.attn"
 * (its MLP after norm2, its attention after norm1), "blocks.3.attn.qkv" and
 * "blocks.3.attn.proj" (the attention's projections), "stages.1.0" (a CNN's
 * residual block), "stem.0", "fc", "2" (a sequential or MLP layer), and
 * slices of consecutive layers as Python slices an nn.Sequential, "0:3"
 * (layers 0, 1 and 2: an MLP's linear, ReLU, linear).
 * docs/modules.md lists them per architecture. A submodule can be replaced
 * by another model whose per-sample input and output shapes are the
 * submodule's, e.g. an MLP of token_linear layers for "blocks.3.mlp": it
 * then runs instead, its parameters are the model's, named under the path
 * ("blocks.3.mlp.0.weight"), trained, saved and loaded with it, and its
 * FLOPs replace the submodule's in adapt_model_flops().
 */
/* ------------------------------------------------------------------------ */
/** @{ */

/** What a submodule maps and costs: adapt_model_submodule(). */
typedef struct adapt_submodule_info {
    /**
     * Set by the caller to sizeof(adapt_submodule_info); the library writes
     * only that many bytes.
     */
    size_t struct_size;
    int32_t in_ndim;                  /**< input dims per sample */
    int64_t in_shape[ADAPT_MAX_DIMS]; /**< input shape, first `in_ndim` entries */
    int32_t out_ndim;                 /**< output dims per sample */
    int64_t out_shape[ADAPT_MAX_DIMS]; /**< output shape, first `out_ndim` entries */
    int64_t flops;    /**< forward FLOPs per sample as it runs now (its replacement's when
                           replaced; products only, multiply-add = 2) */
    int32_t replaced; /**< non-zero when a module replaces it */
} adapt_submodule_info;

/**
 * Describes the submodule at `path`. Errors, with `info` untouched:
 * ADAPT_ERR_INVALID_ARGUMENT (NULL, unset struct_size, a path that names no
 * submodule).
 */
ADAPT_API adapt_status adapt_model_submodule(adapt_submodule_info *info,
                                             const adapt_model *model, const char *path);

/**
 * Runs `module` in place of the submodule at `path` of `model`, which then
 * owns it (adapt_model_free() on it does nothing until it is handed back).
 * A path already replaced gets the new module; `module` NULL puts the
 * original submodule back. The module that replaced `path` before, if any,
 * goes to *previous, owned by the caller, or is freed when `previous` is
 * NULL (*previous is NULL when the original ran). Checkpoints record the
 * replacement: adapt_model_load() rebuilds it.
 *
 * Errors, with both models unchanged: ADAPT_ERR_INVALID_ARGUMENT (NULL model
 * or path, a path that names no submodule, nothing to put back, a module
 * that is the model itself or holds it, one that already replaces a
 * submodule, one with exit heads, a path inside, around or sharing layers
 * with another replacement, a slice across blocks while exit heads are
 * attached), ADAPT_ERR_SHAPE (a module without blocks, or whose input or
 * output shape per sample differs from the submodule's), ADAPT_ERR_OVERFLOW,
 * ADAPT_ERR_OUT_OF_MEMORY.
 */
ADAPT_API adapt_status adapt_model_replace(adapt_model *model, const char *path,
                                           adapt_model *module, adapt_model **previous);

/**
 * adapt_model_forward(), and the FLOPs each sample executed into flops[N]
 * (N = input's first dim; multiply-add = 2, products only): every module
 * charges what ran for each sample, so a module whose work depends on the
 * input reports it per sample. For a model of static modules every entry is
 * adapt_model_flops(). Errors as adapt_model_forward(), with `flops` untouched,
 * plus ADAPT_ERR_INVALID_ARGUMENT for NULL `flops`.
 */
ADAPT_API adapt_status adapt_model_forward_flops(adapt_tensor **logits, int64_t *flops,
                                                 adapt_context *ctx, adapt_model *model,
                                                 adapt_tensor *input);

/**
 * A submodule's inputs and outputs over a dataset, recorded by
 * adapt_model_record() for module-wise distillation. Owned: free with
 * adapt_recording_free().
 */
typedef struct adapt_recording adapt_recording;

/** How adapt_model_record() runs. */
typedef struct adapt_record_params {
    /** sizeof(adapt_record_params); set by adapt_record_params_init(). */
    size_t struct_size;
    int32_t batch_size; /**< samples per forward pass, >= 1 (default 256) */
    int32_t n_threads;  /**< as in adapt_context_params (default 0: all cores) */
    /**
     * NULL (default): the recording is held in memory. Otherwise it is
     * spooled to the NPY files "<spool_prefix>.inputs.npy" and
     * "<spool_prefix>.outputs.npy" (written atomically, readable by numpy)
     * and read back from them mapped into memory, for recordings larger
     * than memory; the files stay after adapt_recording_free(). Borrowed
     * during the call.
     */
    const char *spool_prefix;
} adapt_record_params;

/**
 * Fills `params` with the defaults above. `size` is sizeof *params as
 * compiled by the caller, as for adapt_context_params_init().
 */
ADAPT_API void adapt_record_params_init(adapt_record_params *params, size_t size);

/**
 * Runs `model` in inference mode over every sample of `data` and records
 * what the submodule at `path` receives and returns for each:
 * inputs [N, in...] and outputs [N, out...] (N = the dataset's size, the
 * shapes adapt_model_submodule() reports), bit for bit what a forward pass
 * computes there. The model is the same afterwards; other threads' calls on
 * it meanwhile get ADAPT_ERR_STATE. Errors: ADAPT_ERR_INVALID_ARGUMENT (NULL, a path that names
 * no submodule, an empty dataset, bad params), ADAPT_ERR_SHAPE (samples the
 * model does not take), ADAPT_ERR_NONFINITE, ADAPT_ERR_IO (spool files),
 * ADAPT_ERR_OVERFLOW, ADAPT_ERR_OUT_OF_MEMORY; *out untouched then.
 */
ADAPT_API adapt_status adapt_model_record(adapt_recording **out, adapt_model *model,
                                          const char *path, const adapt_dataset *data,
                                          const adapt_record_params *params);

/**
 * The recorded inputs (`outputs` 0) or outputs (`outputs` non-zero) of
 * `recording`, [N, ...] row-major: `ndim` (if not NULL) receives the rank
 * including N, `shape` (if not NULL, room for ADAPT_MAX_DIMS) the dims.
 * Borrowed: valid until adapt_recording_free(). NULL for a NULL recording.
 */
ADAPT_API const float *adapt_recording_data(const adapt_recording *recording, int32_t outputs,
                                            int32_t *ndim, int64_t *shape);

/**
 * A recording made from the caller's arrays: inputs [n, in_shape...] and
 * outputs [n, out_shape...] (per-sample shapes of in_ndim and out_ndim
 * dims, each >= 1 and < ADAPT_MAX_DIMS), copied. With it
 * adapt_modules_distill() fits a module to any regression data, e.g. an
 * autoencoder to its own inputs. Errors: ADAPT_ERR_INVALID_ARGUMENT (NULL,
 * n < 1, bad ranks or dims), ADAPT_ERR_NONFINITE (a NaN or infinite
 * value), ADAPT_ERR_OVERFLOW, ADAPT_ERR_OUT_OF_MEMORY; *out untouched then.
 */
ADAPT_API adapt_status adapt_recording_create(adapt_recording **out, const float *inputs,
                                              int32_t in_ndim, const int64_t *in_shape,
                                              const float *outputs, int32_t out_ndim,
                                              const int64_t *out_shape, int64_t n);

/** Frees a recording (spool files stay); NULL is a no-op. */
ADAPT_API void adapt_recording_free(adapt_recording *recording);

/**
 * Module-wise distillation: trains `modules[i]` to map the inputs of
 * `recordings[i]` to its outputs, i in [0, n), all at once as
 * adapt_model_train() trains (epochs of shuffled mini-batches, optimizer,
 * schedule, clipping, progress, cancel from `params`; NULL = defaults).
 * Each module sees its own recorded inputs (teacher forcing), and the loss
 * of a batch is the sum over modules of the mean squared error of their
 * outputs. The recordings must be of one dataset (the same N); every
 * module's per-sample input and output shapes must be its recording's.
 * Progress reports carry the loss and no validation accuracy (-1).
 * Errors: ADAPT_ERR_INVALID_ARGUMENT (NULL, n < 1, recordings of different
 * sizes, bad params), ADAPT_ERR_SHAPE, ADAPT_ERR_NONFINITE,
 * ADAPT_ERR_CANCELLED, ADAPT_ERR_OUT_OF_MEMORY, with every module's weights
 * those of the last completed step.
 */
ADAPT_API adapt_status adapt_modules_distill(adapt_model *const *modules,
                                             const adapt_recording *const *recordings,
                                             int32_t n, const adapt_train_params *params);

/** @} */

/* ------------------------------------------------------------------------ */
/**
 * @defgroup early_exits Early exits
 *
 * Internal classifiers (heads) attached after blocks of a model, so that an
 * easy input can be answered before the whole backbone has run. A model
 * with H heads has H + 1 *exits*: its heads in block order, then its own
 * final classifier. Exit k costs adapt_model_exit_flops()[k] per sample: the
 * blocks up to its own and every head up to it, since an input that reaches
 * a head has run all the heads before it. Costs are reported as a *budget*,
 * a fraction of the backbone's FLOPs (adapt_model_flops(), heads excluded).
 *
 * Three kinds of functions: heads on a model (add, remove, inspect; saved
 * in checkpoints), training regimes and inference that stops early, and
 * pure functions of recorded exit outputs (simulating a policy, sweeping
 * its threshold, choosing thresholds for a target) that keep no state.
 * docs/early_exits.md describes the methods.
 */
/* ------------------------------------------------------------------------ */
/** @{ */

/** An internal classifier; owned by the model it is added to. */
typedef struct adapt_head adapt_head;

/** Architectures of a head. */
typedef enum adapt_head_kind {
    ADAPT_HEAD_POOLED_LINEAR = 0, /**< features pooled to a vector (a feature map [C, H, W]
                                       averaged over positions, a token sequence [T, D]
                                       averaged over tokens, a vector as is), then one
                                       linear layer */
    ADAPT_HEAD_SDN = 1,           /**< feature maps [C, H, W] only: a * max + (1 - a) *
                                       average pooling, window and stride max(1, H / 4)
                                       (4 x 4 when H is a multiple of 4), a learnable scalar
                                       a (initially 0.5), flattened, then one linear layer */
    ADAPT_HEAD_CLS_LINEAR = 2,    /**< token sequences [T, D] only: token 0 (the class
                                       token), one linear layer */
    ADAPT_HEAD_CLS_MLP = 3        /**< token sequences [T, D] only: token 0, a linear layer
                                       to `hidden`, exact GELU, a linear layer */
} adapt_head_kind;

/** What adapt_head_create() builds. */
typedef struct adapt_head_params {
    /** sizeof(adapt_head_params); set by adapt_head_params_init(). */
    size_t struct_size;
    int32_t kind;    /**< adapt_head_kind (default POOLED_LINEAR) */
    int32_t block;   /**< reads the output of this block, in [0, blocks - 1): the last block
                          ends in the model's own classifier (default 0) */
    int32_t hidden;  /**< CLS_MLP: hidden width, >= 1; 0 = the token width (default 0) */
    int32_t cascade; /**< non-zero: the logits of the previous head, detached from
                          training and layer-normalised, are joined to this head's features
                          (a cascading head); the first head joins zeros (default 0) */
    uint64_t seed;   /**< parameter initialisation: same seed, same weights (default 0) */
} adapt_head_params;

/**
 * Fills `params` with the defaults above.
 * `size` is sizeof *params as compiled by the caller: exactly that many bytes
 * are written (zeros past the fields this library knows) and struct_size is
 * set to it. NULL or a size below sizeof(size_t) is a no-op.
 */
ADAPT_API void adapt_head_params_init(adapt_head_params *params, size_t size);

/**
 * Creates a head for the output of block params->block of `model`, with
 * freshly initialised parameters. The model is only read: the head is
 * *owned* by the caller until adapt_model_add_head() takes it (free it with
 * adapt_head_free() otherwise).
 *
 * Errors: ADAPT_ERR_INVALID_ARGUMENT (NULL, unknown kind, block out of
 * range, negative hidden width), ADAPT_ERR_SHAPE (a kind that cannot read
 * the block's output, e.g. SDN on tokens), ADAPT_ERR_STATE (the model does
 * not end in class logits), ADAPT_ERR_OVERFLOW, ADAPT_ERR_OUT_OF_MEMORY.
 */
ADAPT_API adapt_status adapt_head_create(adapt_head **out, const adapt_model *model,
                                         const adapt_head_params *params);

/** Frees a head that no model holds; NULL is a no-op, a held head is left alone. */
ADAPT_API void adapt_head_free(adapt_head *head);

/**
 * Hands `head` to `model`, which keeps its heads ordered by block (one per
 * block) and then owns it. `index`, if not NULL, receives its position.
 * Heads after it move up one position, and their parameters are renamed
 * ("exits.POSITION.NAME"), as the indices of adapt_model_param() shift.
 * Errors, with the head still the caller's: ADAPT_ERR_INVALID_ARGUMENT (NULL,
 * a head another model holds, a block that already has a head),
 * ADAPT_ERR_SHAPE (made for a block of another shape), ADAPT_ERR_OUT_OF_MEMORY.
 */
ADAPT_API adapt_status adapt_model_add_head(adapt_model *model, adapt_head *head,
                                            int32_t *index);

/**
 * Takes head `index` out of `model`: into *out, then owned by the caller, or
 * freed when `out` is NULL. Errors: ADAPT_ERR_INVALID_ARGUMENT.
 */
ADAPT_API adapt_status adapt_model_remove_head(adapt_head **out, adapt_model *model,
                                               int32_t index);

/** Number of heads; 0 for NULL. Exits are one more. */
ADAPT_API int32_t adapt_model_head_count(const adapt_model *model);

/** Head `index` of `model`, *borrowed* while the model holds it; NULL if invalid. */
ADAPT_API adapt_head *adapt_model_head(const adapt_model *model, int32_t index);

/** What a head is and costs. */
typedef struct adapt_head_info {
    /**
     * Set by the caller to sizeof(adapt_head_info); the library writes only
     * that many bytes.
     */
    size_t struct_size;
    int32_t kind;     /**< adapt_head_kind */
    int32_t block;    /**< the block whose output it reads */
    int32_t hidden;   /**< CLS_MLP hidden width; 0 for the other kinds */
    int32_t cascade;  /**< non-zero for a cascading head */
    int32_t classes;  /**< logits per sample */
    int64_t flops;    /**< the head's own forward FLOPs per sample (multiply-add = 2) */
    int64_t n_params; /**< parameter values */
} adapt_head_info;

/** Describes `head`. Errors: ADAPT_ERR_INVALID_ARGUMENT (NULL, unset struct_size). */
ADAPT_API adapt_status adapt_head_info_get(adapt_head_info *info, const adapt_head *head);

/**
 * Writes the cost of each of the model's heads + 1 exits, FLOPs per sample,
 * into `flops`, which holds `capacity` entries. Errors: ADAPT_ERR_INVALID_ARGUMENT (NULL, a
 * capacity below the exit count), ADAPT_ERR_STATE (no blocks).
 */
ADAPT_API adapt_status adapt_model_exit_flops(int64_t *flops, int32_t capacity,
                                              const adapt_model *model);

/**
 * Runs the model on `input` and returns the logits of every exit:
 * `logits[k]` [N, classes] for exit k, tensors of `ctx` like the result of
 * adapt_model_forward() (recorded for adapt_backward() when the context
 * records gradients). `capacity` must be at least the exit count.
 */
ADAPT_API adapt_status adapt_model_forward_exits(adapt_tensor **logits, int32_t capacity,
                                                 adapt_context *ctx, adapt_model *model,
                                                 adapt_tensor *input);

/**
 * Logits of every exit for a whole dataset in inference mode:
 * `logits[(k * N + i) * classes + c]` for exit k, sample i, class c, N the
 * dataset's size. `capacity` is the number of floats `logits` holds, at least
 * exits * N * classes; `batch_size` >= 1; `n_threads` as in
 * adapt_context_params. Feeds the metrics, calibrators and the pure policy
 * functions below.
 */
ADAPT_API adapt_status adapt_model_exit_logits(float *logits, int64_t capacity,
                                               adapt_model *model,
                                               const adapt_dataset *dataset,
                                               int32_t batch_size, int32_t n_threads);

/** Training regimes of adapt_model_train_exits() (arXiv 2407.14320). */
typedef enum adapt_exit_regime {
    ADAPT_REGIME_JOINT = 0,    /**< backbone and heads from their current weights together:
                                    the exit phase only */
    ADAPT_REGIME_DISJOINT = 1, /**< the backbone alone, then the heads alone with the
                                    backbone frozen in inference mode (batch-norm statistics
                                    included) */
    ADAPT_REGIME_MIXED = 2     /**< the backbone alone, then backbone and heads together */
} adapt_exit_regime;

/** How adapt_model_train_exits() trains. */
typedef struct adapt_exit_train_params {
    /** sizeof(adapt_exit_train_params); set by adapt_exit_train_params_init(). */
    size_t struct_size;
    int32_t regime; /**< adapt_exit_regime (default MIXED) */
    /**
     * The backbone phase of DISJOINT and MIXED: the backbone with its final
     * classifier, as adapt_model_train(). Borrowed during the call; NULL =
     * adapt_train_params defaults.
     */
    const adapt_train_params *backbone_phase;
    /**
     * The exit phase: the loss is the weighted mean over exits of each exit's
     * loss, the phase's `loss` (cross-entropy, or SLOVA's one-vs-all loss,
     * which takes no distillation) (DISJOINT: over the heads only). Borrowed
     * during the call; NULL = adapt_train_params defaults.
     */
    const adapt_train_params *exit_phase;
    /** Non-zero: exit k of E weighs (k + 1) / (E (E + 1) / 2) in the exit phase
     * instead of 1 / E (default 0). */
    int32_t proportional_weights;
    /**
     * Self-distillation: each head's term becomes (1 - w) CE + w T^2 CE(soft
     * targets softmax(z_final / T), detached; softmax(z_head / T)); w in
     * [0, 1], 0 = none (default 0).
     */
    float distillation;
    float distillation_temperature; /**< T > 0 (default 1) */
} adapt_exit_train_params;

/**
 * Fills `params` with the defaults above.
 * `size` is sizeof *params as compiled by the caller: exactly that many bytes
 * are written (zeros past the fields this library knows) and struct_size is
 * set to it. NULL or a size below sizeof(size_t) is a no-op.
 */
ADAPT_API void adapt_exit_train_params_init(adapt_exit_train_params *params, size_t size);

/**
 * Trains `model` and its heads in one of the regimes. Each phase runs as
 * adapt_model_train() with its own params (epochs, rate, schedule, progress,
 * cancel), optimising only the parameters the phase trains; validation
 * accuracy is the final exit's. Errors as adapt_model_train(), plus
 * ADAPT_ERR_STATE for a model without heads.
 */
ADAPT_API adapt_status adapt_model_train_exits(adapt_model *model, const adapt_dataset *train,
                                               const adapt_dataset *validation,
                                               const adapt_exit_train_params *params);

/** When an input leaves at a head. */
typedef enum adapt_exit_rule {
    ADAPT_EXIT_MAX_PROBABILITY = 0, /**< at the first head whose largest probability is
                                         >= its threshold */
    ADAPT_EXIT_ENTROPY = 1,         /**< at the first head whose entropy (nats) is <= its
                                         threshold */
    ADAPT_EXIT_PATIENCE = 2         /**< at the first head where the last `patience` exits
                                         up to it predicted the same class */
} adapt_exit_rule;

/** An exit policy. An input that no head lets out is answered by the final exit. */
typedef struct adapt_exit_policy {
    /** sizeof(adapt_exit_policy); set by adapt_exit_policy_init(). */
    size_t struct_size;
    int32_t rule;    /**< adapt_exit_rule (default MAX_PROBABILITY) */
    float threshold; /**< the threshold of every head (default 0.9) */
    /** One threshold per head, borrowed during calls; NULL = `threshold` for all. */
    const float *head_thresholds;
    int32_t patience; /**< PATIENCE: consecutive agreeing exits, >= 1 (default 2) */
    /**
     * One calibrator per exit turning its logits into probabilities, each
     * borrowed during calls and NULL for a plain softmax; NULL = plain softmax
     * everywhere (default).
     */
    const adapt_calibrator *const *calibrators;
    /**
     * How inference reads the exits' logits (adapt_score_kind): LOGITS, a
     * softmax (default), or ONE_VS_ALL, SLOVA's single-label probabilities q
     * of heads trained on the one-vs-all loss (@ref slova), whose largest is
     * then the confidence and whose entropy -sum q log q leaves out the mass
     * of "none". Calibrators must read the same: exponential calibrators for
     * ONE_VS_ALL, the others for LOGITS.
     */
    int32_t scores;
} adapt_exit_policy;

/**
 * Fills `policy` with the defaults above. `size` is sizeof *policy as
 * compiled by the caller: exactly that many bytes are written (zeros past the
 * fields this library knows) and struct_size is set to it. NULL or a size
 * below sizeof(size_t) is a no-op.
 */
ADAPT_API void adapt_exit_policy_init(adapt_exit_policy *policy, size_t size);

/** Per-sample results of adapt_model_infer_exits(); any array may be NULL. */
typedef struct adapt_exit_outputs {
    /** sizeof(adapt_exit_outputs); set by the caller. */
    size_t struct_size;
    int32_t *predictions; /**< [N] the class answered */
    int32_t *exits;       /**< [N] the exit that answered, in [0, heads] */
    float *confidences;   /**< [N] its largest probability (max q for ONE_VS_ALL) */
    int64_t *flops;       /**< [N] FLOPs spent on the sample: its exit's cost */
} adapt_exit_outputs;

/**
 * Inference that stops early: every sample runs blocks and heads until the
 * policy lets it out. Samples that leave drop out of the batch and the rest
 * continue as a smaller batch, so time follows the FLOPs spent; a batch of
 * one runs the same path. Leaves no tensors in `ctx` beyond its arena use.
 *
 * Errors: as adapt_model_forward(), plus ADAPT_ERR_INVALID_ARGUMENT for a
 * bad policy (unknown rule, NaN threshold, patience < 1, scores neither
 * LOGITS nor ONE_VS_ALL, a calibrator that reads the other kind) and
 * ADAPT_ERR_STATE for a context that records gradients.
 */
ADAPT_API adapt_status adapt_model_infer_exits(const adapt_exit_outputs *outputs,
                                               adapt_context *ctx, adapt_model *model,
                                               adapt_tensor *input,
                                               const adapt_exit_policy *policy);

/**
 * Recorded outputs of every exit on a labelled set (e.g. from
 * adapt_model_exit_logits()), the input of the pure policy functions. Every
 * field is required: a struct_size that does not reach reference_flops is
 * ADAPT_ERR_INVALID_ARGUMENT.
 */
typedef struct adapt_exit_records {
    /** sizeof(adapt_exit_records); set by the caller. */
    size_t struct_size;
    const float *scores;       /**< [exits][n][classes], borrowed during calls */
    int32_t kind;              /**< adapt_score_kind of `scores`, read as inference reads
                                    the same kind (adapt_exit_policy.scores) */
    const int32_t *labels;     /**< [n] in [0, classes), borrowed during calls */
    int64_t n;                 /**< samples, >= 1 */
    int32_t exits;             /**< >= 1 */
    int32_t classes;           /**< >= 2 */
    const int64_t *exit_flops; /**< [exits] cost of each exit (adapt_model_exit_flops()),
                                    >= 0 and non-decreasing */
    int64_t reference_flops;   /**< FLOPs of budget 1, >= 1: the backbone's
                                    (adapt_model_flops()) */
} adapt_exit_records;

/** What a policy achieves on recorded outputs. */
typedef struct adapt_exit_outcome {
    /**
     * Set by the caller to sizeof(adapt_exit_outcome); the library writes
     * only that many bytes.
     */
    size_t struct_size;
    double accuracy;   /**< fraction of samples whose answer is the label */
    double mean_flops; /**< mean over samples of their exit's cost */
    double budget;     /**< mean_flops / reference_flops */
} adapt_exit_outcome;

/**
 * Applies `policy` (NULL: the defaults of adapt_exit_policy_init()) to
 * recorded outputs, deciding exactly as adapt_model_infer_exits() would on
 * the same scores (the policy's calibrators and `scores` are ignored: the
 * records' kind says how to read them; calibrate the scores instead). `outcome` is required; `exit_counts`, if not NULL,
 * receives the samples answered by each exit ([exits]).
 *
 * Errors, with the outputs untouched: ADAPT_ERR_INVALID_ARGUMENT (NULL,
 * unset struct sizes, bad records, a bad policy), ADAPT_ERR_NONFINITE (NaN
 * or infinity in scores or thresholds), ADAPT_ERR_OVERFLOW,
 * ADAPT_ERR_OUT_OF_MEMORY.
 */
ADAPT_API adapt_status adapt_exit_simulate(adapt_exit_outcome *outcome, int64_t *exit_counts,
                                           const adapt_exit_records *records,
                                           const adapt_exit_policy *policy);

/** Summary of a threshold sweep (adapt_exit_sweep()). */
typedef struct adapt_exit_curve {
    /**
     * Set by the caller to sizeof(adapt_exit_curve); the library writes only
     * that many bytes.
     */
    size_t struct_size;
    /** Accuracy at 25, 50, 75 and 100 % budget: that of the sweep point of
     * largest threshold (MAX_PROBABILITY) or smallest threshold (ENTROPY)
     * whose budget fits, no interpolation; NaN when none fits. */
    double accuracy_at_budget[4];
    /** Trapezoidal area under accuracy over budget between the sweep's
     * cheapest and dearest points, divided by that width: the mean accuracy
     * over the budgets the sweep spans. */
    double area;
    double min_budget; /**< budget of the sweep's cheapest point */
    double max_budget; /**< budget of the sweep's dearest point */
} adapt_exit_curve;

/**
 * Sweeps one global threshold over `points` >= 2 evenly spaced values (max
 * probability: 0 to 1; entropy: log(classes) down to 0), each rounded to the
 * float a policy holds, and writes each point's threshold, budget and
 * accuracy into the arrays (each NULL or of `points` entries), with the
 * summary into `curve` (may be NULL). A policy with a written threshold
 * reproduces its point exactly. When all points have one budget, the area is
 * their mean accuracy.
 *
 * Errors, with the outputs untouched: ADAPT_ERR_INVALID_ARGUMENT (as
 * adapt_exit_simulate(), points < 2, or rule PATIENCE: simulate each patience
 * instead), ADAPT_ERR_NONFINITE, ADAPT_ERR_OVERFLOW, ADAPT_ERR_OUT_OF_MEMORY.
 */
ADAPT_API adapt_status adapt_exit_sweep(adapt_exit_curve *curve, double *thresholds,
                                        double *budgets, double *accuracies, int32_t points,
                                        const adapt_exit_records *records,
                                        adapt_exit_rule rule);

/** What adapt_exit_fit() aims at. */
typedef enum adapt_exit_target {
    ADAPT_TARGET_BUDGET = 0,  /**< the best accuracy whose budget is <= the value */
    ADAPT_TARGET_ACCURACY = 1 /**< the least budget whose accuracy is >= the value */
} adapt_exit_target;

/**
 * Chooses thresholds of `rule` (MAX_PROBABILITY or ENTROPY) on recorded
 * validation outputs for a target, budgets and accuracies compared with a
 * 1e-12 slack. Candidates are the values the rule's statistic takes on the
 * heads, thinned to 1024 quantiles when there are more (the choice is then
 * near the best rather than the best), plus a value that lets every sample
 * out at the first head and one that lets none out early (above 1 for max
 * probability, -1 for entropy). With `per_head` zero, one global threshold
 * into thresholds[0]; otherwise one per head (exits - 1 entries), refined
 * from the best global one by coordinate search. Ties go to the stricter
 * thresholds. `outcome`, if not NULL, receives what the returned thresholds
 * achieve on the records, which adapt_exit_simulate() reproduces exactly.
 *
 * Errors, with the outputs untouched: ADAPT_ERR_INVALID_ARGUMENT (bad records
 * or arguments, records of a single exit, a target no threshold reaches:
 * e.g. a budget below the first exit's cost, reported with the nearest value
 * reachable), ADAPT_ERR_NONFINITE (NaN value or scores), ADAPT_ERR_OVERFLOW,
 * ADAPT_ERR_OUT_OF_MEMORY.
 */
ADAPT_API adapt_status adapt_exit_fit(float *thresholds, adapt_exit_outcome *outcome,
                                      const adapt_exit_records *records,
                                      adapt_exit_rule rule, int32_t per_head,
                                      adapt_exit_target target, double value);

/** @} */

/* ------------------------------------------------------------------------ */
/**
 * @defgroup memory Training memory
 */
/* ------------------------------------------------------------------------ */
/** @{ */

/**
 * Activation checkpointing for this context's later forward passes with
 * gradient recording on: each block of a model (a ViT's transformer block, a
 * CNN's residual block, an MLP's layer with its activation) keeps only its
 * output, and adapt_backward() runs the block's forward again, on the same
 * inputs, random streams and mode, to take its gradients. The gradients are
 * bit-identical to those without it; the forward's activations shrink to
 * the blocks' outputs plus one block's; a step costs one more forward of
 * every block. Off by default. adapt_train_params.recompute_blocks turns it
 * on for training.
 */
ADAPT_API adapt_status adapt_context_set_recompute(adapt_context *ctx, int enabled);

/** @} */

/* ------------------------------------------------------------------------ */
/**
 * @defgroup moe Dynamic-k Mixture-of-Experts
 *
 * D2DMoE (arXiv 2310.04361, docs/moe.md): a token-wise two-layer network
 * [.., D] -> [.., out_features] split into `experts` experts of
 * `expert_width` hidden units each, y = sum over the experts e that run of
 * act(x W1_e + b1_e) W2_e, plus a shared bias. A router D -> router_width ->
 * experts (ReLU, no biases, |.| on its output) predicts the norm of each
 * expert's output, and the routing rule picks the experts each token runs
 * from the predictions. Only the chosen experts are computed (a grouped
 * kernel: tokens bucketed by expert, one product per expert), and every
 * sample is charged what ran for it (adapt_model_forward_flops());
 * adapt_model_flops() counts the router and every expert, the most a sample
 * can cost. A router output that is NaN or infinite (a NaN input, say) fails
 * the pass with ADAPT_ERR_NONFINITE.
 * Parameters, under the layer's path: router.0.weight [router_width, D],
 * router.2.weight [experts, router_width], experts.w1 [experts, D,
 * expert_width], experts.b1 [experts, expert_width], experts.w2 [experts,
 * expert_width, out_features], last_bias [out_features].
 */
/* ------------------------------------------------------------------------ */
/** @{ */

/** How a Mixture-of-Experts layer picks each token's experts from the router's predicted
 *  norms g_e (all >= 0). */
typedef enum adapt_routing_rule {
    /** Expert e runs when g_e >= tau * max_j g_j: tau 0 runs every expert, larger tau fewer,
     *  tau 1 only the largest (the authors' code writes the threshold as (1 - tau) max). */
    ADAPT_ROUTING_DYNAMIC_K = 0,
    /** The fewest experts of largest g whose sum reaches (1 - tau) * sum_j g_j, at least one:
     *  tau 0 runs every expert, larger tau fewer. */
    ADAPT_ROUTING_CUMULATIVE = 1,
    /** The top_k experts of largest g (MoEfication's static top-k); tau unused. */
    ADAPT_ROUTING_TOP_K = 2
} adapt_routing_rule;

/** How adapt_moe_from_ffn() splits a dense network into experts. */
typedef struct adapt_moe_params {
    /** sizeof(adapt_moe_params); set by adapt_moe_params_init(). */
    size_t struct_size;
    int32_t experts;      /**< experts, dividing the hidden width (default 8) */
    int32_t router_width; /**< router hidden width (default 128) */
    int32_t iterations;   /**< balanced k-means iterations, >= 1 (default 20) */
    uint64_t seed;        /**< of the clustering and the router's initial weights (default 0) */
} adapt_moe_params;

/**
 * Fills `params` with the defaults above. `size` is sizeof *params as
 * compiled by the caller; exactly that many bytes are written.
 */
ADAPT_API void adapt_moe_params_init(adapt_moe_params *params, size_t size);

/**
 * A copy of the dense two-layer network at `path` of `model` (what
 * adapt_moe_from_ffn() splits: a transformer block's built-in "mlp", or a
 * module of linear, ReLU or GELU, linear replacing it) as a module of three
 * layers, token_linear, `activation` (an adapt_activation), token_linear,
 * with the same weights, ready for adapt_model_replace(). D2DMoE's first step
 * swaps a ViT's GELU for ReLU this way, then fine-tunes with
 * adapt_train_params.sparsity_penalty. Owned: free with adapt_model_free().
 * `model` is unchanged. Errors, *ffn untouched: ADAPT_ERR_INVALID_ARGUMENT
 * (NULL, a path that names no such network, an unknown activation),
 * ADAPT_ERR_NONFINITE (NaN or infinite weights), ADAPT_ERR_OUT_OF_MEMORY.
 */
ADAPT_API adapt_status adapt_ffn_module(adapt_model **ffn, const adapt_model *model,
                                        const char *path, int32_t activation);

/**
 * Splits the dense two-layer network at `path` of `model` (as it runs now:
 * a transformer block's built-in "mlp", or a module replacing it of
 * [token_linear, relu or gelu, token_linear]) into a Mixture-of-Experts
 * module of the same per-sample shapes, ready for adapt_model_replace(): the
 * rows of the first layer's weight (one per hidden unit), scaled to unit
 * norm, are clustered by balanced k-means into `experts` clusters of equal
 * size, deterministically from the seed; expert e gets its units' rows of the
 * first weight and bias and their columns of the second weight, and the
 * second bias becomes the shared one. The router is freshly initialised
 * (train it before using any tau > 0). With every expert running (tau 0) the
 * module computes what the dense network does. Owned: free with
 * adapt_model_free(). `model` is unchanged.
 *
 * Errors, *moe untouched: ADAPT_ERR_INVALID_ARGUMENT (NULL, a path that names
 * no such network, experts < 1 or not dividing the hidden width, router_width
 * or iterations < 1), ADAPT_ERR_NONFINITE (NaN or infinite weights),
 * ADAPT_ERR_OUT_OF_MEMORY.
 */
ADAPT_API adapt_status adapt_moe_from_ffn(adapt_model **moe, const adapt_model *model,
                                          const char *path, const adapt_moe_params *params);

/**
 * Trains the routers of Mixture-of-Experts modules `moes[i]` (each one moe
 * layer, as adapt_moe_from_ffn() makes) on `recordings[i]`, what the path the
 * module stands at receives (adapt_model_record()), i in [0, n): router i
 * learns, for every token of its recorded inputs, the L2 norm of each
 * expert's output (every expert run, shared bias left out) by mean squared
 * error; the batch loss is the mean over modules. Only the routers' weights
 * change. Training runs as adapt_modules_distill() does (epochs, optimizer,
 * schedule, clipping, progress, cancel from `params`; NULL = defaults).
 * Errors: those of adapt_modules_distill(), and ADAPT_ERR_INVALID_ARGUMENT
 * for a module that is not a single moe layer.
 */
ADAPT_API adapt_status adapt_moe_train_routers(adapt_model *const *moes,
                                               const adapt_recording *const *recordings,
                                               int32_t n, const adapt_train_params *params);

/**
 * Runs `moe` (a module of one moe layer, as adapt_moe_from_ffn() makes) on x
 * in `ctx` as adapt_model_forward_blocks() does and writes how many experts
 * each token ran into counts[i], one entry per row of x's last axis (N times
 * the tokens per sample): what its routing chose, from 1 to `experts`. Apply
 * it to recordings of what a model's MoE layer receives to see the layer's
 * per-token compute. Errors, counts untouched: those of
 * adapt_model_forward_blocks(), and ADAPT_ERR_INVALID_ARGUMENT (NULL, a
 * module that is not one moe layer).
 */
ADAPT_API adapt_status adapt_moe_expert_counts(int32_t *counts, adapt_context *ctx,
                                               adapt_model *moe, adapt_tensor *x);

/**
 * Sets the routing of every Mixture-of-Experts layer of `model`, those of
 * its replacing modules included: `rule` (adapt_routing_rule), `tau` in
 * [0, 1] (DYNAMIC_K and CUMULATIVE), `top_k` in [1, experts] (TOP_K). Not
 * while the model runs in another thread. Returns the number of layers set
 * in *count (may be NULL). Routing is how a model runs, not what it is:
 * checkpoints do not record it, and a loaded model runs every expert until
 * this is called. Errors, nothing changed, checked even for a model without
 * such layers: ADAPT_ERR_INVALID_ARGUMENT (NULL model, an unknown rule, tau
 * outside [0, 1], top_k < 1 or, under TOP_K, above a layer's experts),
 * ADAPT_ERR_NONFINITE (a NaN tau).
 */
ADAPT_API adapt_status adapt_model_set_routing(adapt_model *model, int32_t rule, float tau,
                                               int32_t top_k, int32_t *count);

/** @} */

/* ------------------------------------------------------------------------ */
/**
 * @defgroup acm Adaptive Computation Modules
 *
 * ACM (arXiv 2312.10193, docs/acm.md): a token-wise module [.., D] ->
 * [.., out_features] of `learners` small networks, learner n h_n(x) =
 * act(x W1_n + b1_n) W2_n, and a gate D -> gate_width -> gate_width ->
 * choices (ReLU between, biases) that picks for each token how many learners
 * run, c in [min_learners, learners]: the output is h_1(x) + ... + h_c(x),
 * 0 when c = 0 (the branch it stands in is skipped). Inference runs each
 * token's c learners only (a grouped kernel over the tokens that run each
 * learner) and charges each sample its gate and the learners its tokens ran
 * (adapt_model_forward_flops()); adapt_model_flops() counts the gate and
 * every learner for every token. With a tape the gate's choice is a
 * straight-through one-hot (Gumbel-sampled at temperature 0.8 in training),
 * every learner runs, and the task's gradient reaches the gate. A gate output
 * that is NaN or infinite fails the pass with ADAPT_ERR_NONFINITE.
 * Parameters, under the layer's path: learners.w1 [learners, D,
 * learner_width], learners.b1 [learners, learner_width], learners.w2
 * [learners, learner_width, out_features], gate.0 / gate.2 / gate.4 .weight
 * and .bias (choices = learners + 1 - min_learners outputs).
 */
/* ------------------------------------------------------------------------ */
/** @{ */

/** How adapt_acm_for() builds an ACM. */
typedef struct adapt_acm_params {
    /** sizeof(adapt_acm_params); set by adapt_acm_params_init(). */
    size_t struct_size;
    int32_t learners;      /**< learners, >= 1 (default 4) */
    int32_t gate_width;    /**< hidden width of the gate, >= 1 (default 16) */
    int64_t learner_width; /**< hidden units per learner; 0 (default): FLOP-matched */
    uint64_t seed;         /**< of the initial weights (default 0) */
} adapt_acm_params;

/**
 * Fills `params` with the defaults above. `size` is sizeof *params as
 * compiled by the caller; exactly that many bytes are written.
 */
ADAPT_API void adapt_acm_params_init(adapt_acm_params *params, size_t size);

/**
 * A freshly initialised ACM module with the per-token shapes of the
 * submodule at `path` of `model`, ready for adapt_model_replace() once trained
 * (adapt_acm_distill()). For a two-layer network (a transformer block's
 * "mlp", or a module of linear, ReLU or GELU, linear) the learners take its
 * activation and, by default, an equal share of its hidden units (learners
 * must divide them), so all of them cost what it costs; min_learners is 0.
 * Any other token-wise submodule D -> out (a block's "attn.qkv" or
 * "attn.proj") gets identity learners of rank round((D out + out) / (learners
 * (D + out + 1))) by default and min_learners 1. Owned: free with
 * adapt_model_free(). `model` is unchanged. Errors, *acm untouched:
 * ADAPT_ERR_INVALID_ARGUMENT (NULL, a path that names no submodule or one that
 * mixes tokens, such as a whole attention or block, learners or gate_width
 * < 1, learner_width < 0, learners not dividing the hidden units),
 * ADAPT_ERR_NONFINITE, ADAPT_ERR_OUT_OF_MEMORY.
 */
ADAPT_API adapt_status adapt_acm_for(adapt_model **acm, const adapt_model *model,
                                     const char *path, const adapt_acm_params *params);

/**
 * How many learners every ACM layer of `model` runs, those of its replacing
 * modules included: -1 each token as its gate chooses (what a model made or
 * loaded does), or every token `learners` (then the gates do not run). Not
 * while the model runs in another thread; not recorded in checkpoints. Returns
 * the number of layers set in *count (may be NULL). Errors, nothing changed:
 * ADAPT_ERR_INVALID_ARGUMENT (NULL model, learners below -1, or outside a
 * layer's [min_learners, learners]).
 */
ADAPT_API adapt_status adapt_model_set_acm_learners(adapt_model *model, int32_t learners,
                                                    int32_t *count);

/**
 * Runs `acm` (a module of one ACM layer) on x in `ctx` as
 * adapt_model_forward_blocks() does and writes how many learners each token
 * ran into counts[i], one entry per row of x's last axis. Errors, counts
 * untouched: those of adapt_model_forward_blocks(), and
 * ADAPT_ERR_INVALID_ARGUMENT (NULL, a module that is not one ACM layer).
 */
ADAPT_API adapt_status adapt_acm_learner_counts(int32_t *counts, adapt_context *ctx,
                                                adapt_model *acm, adapt_tensor *x);

/**
 * ACM training, phase 1: trains the learners of `acms[i]` (each one ACM
 * layer, as adapt_acm_for() makes) on `recordings[i]`, what the path the
 * module stands at receives and returns (adapt_model_record()), i in [0, n).
 * A module's loss is the mean over its choices c of the mean squared error
 * of its first c learners' sum against the recorded output; learner c learns
 * from choice c alone, the sum of the learners before it a constant there, so
 * that each learner fits what the ones before it left. The batch loss is the
 * mean over modules; the gates do not change. Training runs as
 * adapt_modules_distill() does (epochs, optimizer, schedule, clipping,
 * progress, cancel from `params`; NULL = defaults). Errors: those of
 * adapt_modules_distill(), and ADAPT_ERR_INVALID_ARGUMENT for a module that is
 * not a single ACM layer.
 */
ADAPT_API adapt_status adapt_acm_distill(adapt_model *const *acms,
                                         const adapt_recording *const *recordings, int32_t n,
                                         const adapt_train_params *params);

/**
 * ACM training, phase 2: trains the gates of `acms[i]` on `recordings[i]`
 * as adapt_acm_distill() trains the learners. Each token's label is the
 * learner count c (from min_learners on) after which one more learner cuts
 * the error ||y_c - f|| by less than a factor `gamma` (the authors use 1.2):
 * the first c with e_c < gamma e_(c+1), the error of 0 learners being ||f||;
 * all learners if none. Every count, 0 and 1 included, can be a label. The
 * gate learns the labels by cross-entropy on its logits; the learners do not
 * change. Errors: those of adapt_acm_distill(), ADAPT_ERR_INVALID_ARGUMENT
 * (gamma below 1 or infinite), ADAPT_ERR_NONFINITE (a NaN gamma).
 */
ADAPT_API adapt_status adapt_acm_train_gates(adapt_model *const *acms,
                                             const adapt_recording *const *recordings,
                                             int32_t n, float gamma,
                                             const adapt_train_params *params);

/** @} */

/* ------------------------------------------------------------------------ */
/**
 * @defgroup intervals Interval bounds and certification
 *
 * Interval bound propagation (docs/intervals.md): for a box of inputs
 * lo <= x <= hi, bounds lo' <= f(x) <= hi' on every output of the model for
 * every x in the box, and f at one point inside it (mid). Linear,
 * convolution, batch norm (in inference mode), ReLU, max and average pooling,
 * global average pooling, flatten and dropout (outside training) layers have
 * an interval forward, so have the MLPs and CNNs built of them; other layers
 * (attention, layer norm, GELU, MoE, ACM) and replaced submodules are
 * ADAPT_ERR_UNSUPPORTED. The bounds are sound in float arithmetic: each
 * product's are widened by a bound on the rounding error of any summation
 * order. Run on a context that records, the bounds are taped like any
 * operation, so a loss on them trains the model (IBP training).
 */
/* ------------------------------------------------------------------------ */
/** @{ */

/**
 * The bounds of `model`'s output over the box [lo, hi] of inputs (shapes as
 * adapt_model_forward() takes), and its output at `mid` when `mid_out` is not
 * NULL (`mid` may be NULL otherwise). Results are activations of `ctx`
 * (owned by it, valid until its next reset). Errors, outputs untouched:
 * ADAPT_ERR_INVALID_ARGUMENT (NULL, lo > hi or mid outside [lo, hi]
 * anywhere), ADAPT_ERR_SHAPE (lo, mid, hi of different shapes, or not the
 * model's input), ADAPT_ERR_NONFINITE (NaN or infinity in the box),
 * ADAPT_ERR_UNSUPPORTED (a layer without an interval forward, named in
 * adapt_last_error(); batch norm or dropout in a training context),
 * ADAPT_ERR_STATE, ADAPT_ERR_OUT_OF_MEMORY.
 */
ADAPT_API adapt_status adapt_model_forward_interval(adapt_tensor **lo_out, adapt_tensor **mid_out,
                                                    adapt_tensor **hi_out, adapt_context *ctx,
                                                    adapt_model *model, adapt_tensor *lo,
                                                    adapt_tensor *mid, adapt_tensor *hi);

/**
 * Worst-case logits of the box [lo, hi] of logits, both [N, C]: lo at each
 * row's label, hi elsewhere. Cross-entropy on them bounds the cross-entropy
 * of every point of the box from above (IBP training's robust loss); their
 * argmax is the label only where every point is classified right. Errors:
 * ADAPT_ERR_SHAPE, ADAPT_ERR_INVALID_ARGUMENT (NULL, a label outside
 * [0, C)), ADAPT_ERR_STATE.
 */
ADAPT_API adapt_status adapt_op_worst_case_logits(adapt_tensor **out, adapt_context *ctx,
                                                  adapt_tensor *lo, adapt_tensor *hi,
                                                  const int32_t *labels);

/** Which parameters of interval_linear layers train: adapt_model_set_interval_phase(). */
typedef enum adapt_interval_phase {
    ADAPT_INTERVAL_CENTRES = 0, /**< weight and bias (a first task; made models start here) */
    ADAPT_INTERVAL_SHIFTS = 1,  /**< _shift and _bias_shift: the box moves inside its bounds */
    ADAPT_INTERVAL_SCALES = 2   /**< _scale and _bias_scale: the box contracts */
} adapt_interval_phase;

/**
 * Sets which parameters of every interval_linear layer of `model` (those of
 * its replacing modules included) adapt_model_train() updates: the
 * phase's, no other of those layers' (the radii never train). Other layers
 * are left alone. Writes the number of such layers to *count (may be NULL).
 * Errors, nothing changed: ADAPT_ERR_INVALID_ARGUMENT (NULL model, unknown
 * phase), ADAPT_ERR_STATE (the model runs in another thread).
 */
ADAPT_API adapt_status adapt_model_set_interval_phase(adapt_model *model, int32_t phase,
                                                      int32_t *count);

/**
 * Consolidates a task in every interval_linear layer: each weight's and
 * bias's current box becomes its bounds, W <- W + s R and R <- the
 * half-width c R (narrowed by ulps where rounding would let [W - R, W + R]
 * out of the box), _shift <- 0, _scale <- 5. Every box a later task trains
 * lies inside these bounds, exactly, in floats. *count as above. Errors,
 * nothing changed: ADAPT_ERR_INVALID_ARGUMENT, ADAPT_ERR_STATE,
 * ADAPT_ERR_OUT_OF_MEMORY.
 */
ADAPT_API adapt_status adapt_model_interval_consolidate(adapt_model *model, int32_t *count);

/** Result of adapt_model_certify(). */
typedef struct adapt_certify_result {
    /**
     * Set by the caller to sizeof(adapt_certify_result); the library writes
     * only that many bytes.
     */
    size_t struct_size;
    double accuracy;           /**< clean: share of samples classified right */
    double certified_accuracy; /**< share proven right for the whole box */
    int64_t count;             /**< samples: all of the dataset */
} adapt_certify_result;

/**
 * Certified accuracy at L-infinity radius `epsilon`: the share of samples x
 * whose every input in the box [max(x - epsilon, input_min), min(x + epsilon,
 * input_max)] the model's interval forward proves classified right (the
 * label's lower bound above every other class's upper bound). Pixels of
 * adapt_dataset_load_idx() lie in [0, 1]. Runs in inference mode, in order,
 * in a context of its own, reading the model only. Errors, *result
 * untouched: those of adapt_model_evaluate() and adapt_model_forward_interval(),
 * ADAPT_ERR_INVALID_ARGUMENT (epsilon < 0, input_min > input_max, a sample
 * outside [input_min, input_max]), ADAPT_ERR_NONFINITE.
 */
ADAPT_API adapt_status adapt_model_certify(adapt_certify_result *result, adapt_model *model,
                                           const adapt_dataset *dataset, float epsilon,
                                           float input_min, float input_max,
                                           int32_t batch_size, int32_t n_threads);

/** @} */

/* ------------------------------------------------------------------------ */
/**
 * @defgroup continual Continual learning
 *
 * The tasks of a class-incremental benchmark as views of one dataset, task
 * heads, and the two regularisers most used as baselines, EWC (Kirkpatrick et
 * al. 2017) and SI (Zenke et al. 2017), as one quadratic penalty with two ways
 * of weighing the parameters (docs/continual.md). Interval continual learning
 * is in @ref intervals.
 */
/* ------------------------------------------------------------------------ */
/** @{ */

/**
 * A view of the samples of `dataset` whose label c is below `n_classes` with
 * class_map[c] >= 0, labelled class_map[c] (-1 drops class c; several classes
 * may share a label). Shares the samples as adapt_dataset_split() does; the
 * view keeps its own copy of the map. `task_classes` > 0 makes the labels
 * task-incremental: the model's logits form tasks of that many consecutive
 * classes, label y belongs to task y / task_classes (known at test time), and
 * training's losses, evaluation and certification compare the logits of that
 * task only (one head per task, in one output layer). 0: every class competes.
 * Splits of the view keep its labels and task classes. Owned: free with
 * adapt_dataset_free(). Errors: ADAPT_ERR_INVALID_ARGUMENT (NULL, n_classes <
 * 1, task_classes < 0, a map entry below -1), ADAPT_ERR_OUT_OF_MEMORY. A model
 * whose class count is no multiple of task_classes is refused where the view
 * is used.
 */
ADAPT_API adapt_status adapt_dataset_select_classes(adapt_dataset **out,
                                                    const adapt_dataset *dataset,
                                                    const int32_t *class_map, int32_t n_classes,
                                                    int32_t task_classes);

/** How adapt_consolidation_end_task() weighs a model's weights. */
typedef enum adapt_consolidation_kind {
    /** Elastic weight consolidation: the diagonal of the empirical Fisher
        information of each task, the tasks' penalties summed */
    ADAPT_CONSOLIDATION_EWC = 0,
    /** Synaptic intelligence: each weight's share of the fall of the loss
        along the training path, over its squared move plus a damping */
    ADAPT_CONSOLIDATION_SI = 1
} adapt_consolidation_kind;

/**
 * A consolidation of `model`'s weights: zero importance, the anchor at the
 * weights now. `damping` is SI's xi (> 0; Zenke et al. use 0.1 or 1e-3); EWC
 * takes 0. Pass it to adapt_model_train() in `consolidation` while training
 * each task, and call adapt_consolidation_end_task() after it. Owned: free
 * with adapt_consolidation_free(). Errors: ADAPT_ERR_INVALID_ARGUMENT (NULL,
 * unknown kind, damping out of range), ADAPT_ERR_NONFINITE,
 * ADAPT_ERR_OUT_OF_MEMORY.
 */
ADAPT_API adapt_status adapt_consolidation_create(adapt_consolidation **out,
                                                  const adapt_model *model, int32_t kind,
                                                  float damping);
/** Frees a consolidation; NULL is a no-op. */
ADAPT_API void adapt_consolidation_free(adapt_consolidation *consolidation);

/**
 * Ends a task: adds its importance, and moves the anchor. EWC: the mean over
 * the samples of `task` of each sample's squared gradient of its
 * cross-entropy (task classes honoured), one backward pass per sample, in
 * inference mode on `n_threads` threads (0: all cores); the anchor becomes the
 * importance-weighted mean of the tasks' weights, which gives the summed
 * penalties' gradient. SI: path / (move^2 + damping) from the path integral
 * of the task's training, negative shares counted as 0; the anchor becomes
 * the weights now; `task` is not read (may be NULL). Errors, nothing changed:
 * ADAPT_ERR_INVALID_ARGUMENT (NULL, a consolidation of another model's
 * parameters, EWC with an empty task or labels beyond the model's classes),
 * ADAPT_ERR_STATE, the errors of a forward pass, ADAPT_ERR_OUT_OF_MEMORY.
 */
ADAPT_API adapt_status adapt_consolidation_end_task(adapt_consolidation *consolidation,
                                                    adapt_model *model,
                                                    const adapt_dataset *task,
                                                    int32_t n_threads);

/**
 * The penalty sum Omega (theta - theta*)^2 over all of `model`'s weights,
 * without the training's weight, into *value. Errors: ADAPT_ERR_INVALID_ARGUMENT
 * (NULL, a consolidation of another model's parameters), ADAPT_ERR_STATE.
 */
ADAPT_API adapt_status adapt_consolidation_penalty(double *value,
                                                   const adapt_consolidation *consolidation,
                                                   adapt_model *model);

/** @} */

/* ------------------------------------------------------------------------ */
/**
 * @defgroup slova One-vs-all classification (SLOVA)
 *
 * SLOVA (arXiv 2206.13923, docs/slova.md): a sigmoid p_k = sigmoid(f_k) per
 * class instead of a softmax, and the single-label probability q_k = p_k
 * prod_{j != k} (1 - p_j), whose sum over the classes may be well below 1: the
 * rest is the mass of "none of them, or several". Train with `loss` =
 * ADAPT_LOSS_ONE_VS_ALL in adapt_train_params.
 */
/* ------------------------------------------------------------------------ */
/** @{ */

/**
 * Mean over the rows of logits[N, C] of SLOVA's one-vs-all loss
 * -log p_y - sum_{j != y} log(1 - p_j) = sum_j softplus(f_j) - f_y, computed in
 * double (exact at logits of +-80, where float sigmoids saturate); `labels`: N
 * entries in [0, C), read during the call. Result has one element. Errors:
 * ADAPT_ERR_SHAPE, ADAPT_ERR_INVALID_ARGUMENT (NULL, a label out of range),
 * ADAPT_ERR_NONFINITE (NaN or infinity in the logits), ADAPT_ERR_STATE.
 */
ADAPT_API adapt_status adapt_op_one_vs_all_loss(adapt_tensor **out, adapt_context *ctx,
                                                adapt_tensor *logits, const int32_t *labels);

/**
 * The fitted exponent a of an exponential calibrator
 * (ADAPT_CALIBRATION_EXPONENTIAL): a < 1 raises SLOVA's confidences, a > 1
 * lowers them. ADAPT_ERR_STATE for a calibrator of another method, with
 * `exponent` untouched; ADAPT_ERR_INVALID_ARGUMENT for a NULL pointer.
 */
ADAPT_API adapt_status adapt_calibrator_exponent(double *exponent,
                                                 const adapt_calibrator *calibrator);

/** @} */

/* ------------------------------------------------------------------------ */
/**
 * @defgroup transfer Multi-source transfer (model merging)
 *
 * Models fine-tuned from one base model on different tasks, combined through
 * their task vectors Delta_i = theta_i - theta_base (docs/transfer.md): AXIS's
 * pooling of the task vectors' singular components (arXiv 2508.19353), task
 * arithmetic, and TIES-merging.
 */
/* ------------------------------------------------------------------------ */
/** @{ */

/** How adapt_models_merge() combines the task vectors. */
typedef enum adapt_merge_method {
    ADAPT_MERGE_AXIS = 0,            /**< per matrix parameter, every source's rank-one SVD
                                          components pooled and the K largest kept; the other
                                          parameters averaged */
    ADAPT_MERGE_TASK_ARITHMETIC = 1, /**< theta_base + scale * sum_i Delta_i */
    ADAPT_MERGE_TIES = 2             /**< TIES: each Delta_i trimmed to its largest
                                          magnitudes, a sign elected per entry, the agreeing
                                          entries averaged, times scale */
} adapt_merge_method;

/**
 * Settings of adapt_models_merge(). Fill with adapt_merge_params_init(), then
 * change what you need.
 */
typedef struct adapt_merge_params {
    /** sizeof(adapt_merge_params); set by adapt_merge_params_init(). */
    size_t struct_size;
    int32_t method;      /**< adapt_merge_method (default AXIS) */
    float keep_fraction; /**< AXIS: K = max(1, round(keep_fraction * min(rows, cols)))
                              components kept per matrix, in (0, 1] (default 0.1) */
    float scale;         /**< TASK_ARITHMETIC, TIES: the merged vector's factor, finite
                              (default 1; task arithmetic usually wants about 0.3) */
    float density;       /**< TIES: the fraction of each task vector's entries kept, the
                              largest magnitudes over all its parameters, in (0, 1]
                              (default 0.2) */
} adapt_merge_params;

/**
 * Fills `params` with the defaults above. `size` is sizeof *params as
 * compiled by the caller: exactly that many bytes are written (zeros past the
 * fields this library knows) and struct_size is set to it. NULL or a size
 * below sizeof(size_t) is a no-op.
 */
ADAPT_API void adapt_merge_params_init(adapt_merge_params *params, size_t size);

/**
 * Writes into `target` the base model's parameters plus the merged task
 * vectors of `n_sources` models fine-tuned from it. Every model must have the
 * base's parameters (names and shapes, in order); `target` is a model of its
 * own (adapt_model_load() of the base checkpoint, say), written only once
 * everything is computed. A parameter of two or more dimensions is a matrix
 * of shape[0] rows (a convolution's [out, in, kh, kw]: out x in kh kw).
 *
 * Errors, `target` unchanged: ADAPT_ERR_INVALID_ARGUMENT (NULL, n_sources < 1,
 * bad settings, models with other parameters, `target` among the others),
 * ADAPT_ERR_NONFINITE (NaN or infinity in a parameter, named),
 * ADAPT_ERR_STATE (a model in use), ADAPT_ERR_OUT_OF_MEMORY,
 * ADAPT_ERR_OVERFLOW.
 */
ADAPT_API adapt_status adapt_models_merge(adapt_model *target, adapt_model *base,
                                          adapt_model *const *sources, int32_t n_sources,
                                          const adapt_merge_params *params);

/** How adapt_model_low_rank_tune() prepares a model for fine-tuning. */
typedef enum adapt_tune_method {
    ADAPT_TUNE_SINGULAR_VALUES = 0, /**< AXIS: each linear layer's pooled components of the
                                         sources, re-orthogonalised, with only the largest
                                         singular values trainable */
    ADAPT_TUNE_LORA = 1             /**< LoRA on the base: each linear layer gains a trainable
                                         rank-r term B A scaled by alpha / r */
} adapt_tune_method;

/** Settings of adapt_model_low_rank_tune(); fill with adapt_tune_params_init(). */
typedef struct adapt_tune_params {
    /** sizeof(adapt_tune_params); set by adapt_tune_params_init(). */
    size_t struct_size;
    int32_t method;            /**< adapt_tune_method (default SINGULAR_VALUES) */
    float keep_fraction;       /**< SINGULAR_VALUES: components pooled per matrix, as in
                                    adapt_merge_params (default 0.1) */
    float trainable_fraction;  /**< SINGULAR_VALUES: N = max(1, round(f * K)) of the K
                                    singular values train, in (0, 1] (default 0.2) */
    int32_t zero_init;         /**< SINGULAR_VALUES: non-zero starts the trainable values at
                                    0 (the authors' code) instead of their own (default 0) */
    int32_t keep_pooled_basis; /**< SINGULAR_VALUES: non-zero skips the second SVD: the
                                    pooled components, not orthogonal, are the basis
                                    (default 0) */
    int64_t rank;              /**< LORA: r >= 1 (default 4) */
    float alpha;               /**< LORA: the term's scale is alpha / r, finite (default 8) */
    uint64_t seed;             /**< LORA: seed of A's initial values (default 0) */
} adapt_tune_params;

/**
 * Fills `params` with the defaults above (the usual size contract).
 */
ADAPT_API void adapt_tune_params_init(adapt_tune_params *params, size_t size);

/**
 * Prepares `target` (a model with the base's parameters, of its own) for
 * fine-tuning a few parameters: every unreplaced linear layer is replaced
 * (adapt_model_replace()) by a one-layer module of kind
 * ADAPT_LAYER_LOW_RANK_LINEAR, and every parameter of `target` stops
 * training (adapt_param_set_requires_grad()) but the method's:
 *
 * - SINGULAR_VALUES: the layer's K pooled components of the sources' task
 *   vectors (as ADAPT_MERGE_AXIS), re-orthogonalised by the SVD of their sum
 *   U S V^T; weight = theta_base + the components beyond the first N (frozen),
 *   left = U and right = V^T of the first N (frozen), scales = their
 *   singular values (or 0), trainable. The other parameters are merged as
 *   ADAPT_MERGE_AXIS merges them. `n_sources` >= 1.
 * - LORA: weight and bias the base's, left = B = 0 and right = A (seeded,
 *   PyTorch's linear initialisation) trainable, scales = alpha / r. The other
 *   parameters are the base's; `sources` is not read (may be NULL, n_sources
 *   0).
 *
 * Either way the model starts as the merge (SINGULAR_VALUES with its values)
 * or as the base (LORA) computes. Errors as adapt_models_merge(), and
 * ADAPT_ERR_INVALID_ARGUMENT for a model without linear layers; `target` is
 * unchanged but after ADAPT_ERR_OUT_OF_MEMORY while its layers are being
 * replaced, which leaves the layers before that one replaced.
 */
ADAPT_API adapt_status adapt_model_low_rank_tune(adapt_model *target, adapt_model *base,
                                                 adapt_model *const *sources,
                                                 int32_t n_sources,
                                                 const adapt_tune_params *params);

/** @} */

/* ------------------------------------------------------------------------ */
/**
 * @defgroup probes Hidden-state probes
 *
 * A probe flags inputs from a model's hidden states (docs/probes.md, after
 * arXiv 2502.16174): one binary classifier per layer on feature matrices
 * (rows: inputs; columns: a layer's hidden state, recorded from a libadapt
 * model by adapt_model_record() or adapt_model_forward_blocks(), or read
 * from a file by adapt_npy_read() or adapt_safetensors_read()), their
 * probabilities of "flagged" combined over the layers by L1-regularised
 * logistic regression, and a threshold chosen for a false-positive rate on
 * benign data. A router runs one model, scores its hidden states and sends
 * the inputs the probe flags to a second model. Labels are 0 (benign) and 1
 * (flagged). A fitted probe is read-only but for its threshold: several
 * threads may score with one probe at once, as long as none sets its
 * threshold meanwhile.
 */
/* ------------------------------------------------------------------------ */
/** @{ */

/** The classifier a probe fits on each layer. */
typedef enum adapt_probe_kind {
    ADAPT_PROBE_PROTOTYPES = 0, /**< Gaussian prototypes: class means mu_c, the pooled
                                     within-class covariance S / (n - 1) (S the scatter
                                     about each row's class mean) and the shrunk precision
                                     P = d ((n - 1) Sigma + tr(Sigma) I)^-1; logits
                                     mu_c^T P h - mu_c^T P mu_c / 2 + log prior_c. That P
                                     shrinks as n grows, so the scores stay near the prior
                                     and rank rather than measure: set the threshold for a
                                     false-positive rate, not at 0.5 */
    ADAPT_PROBE_LOGISTIC = 1,   /**< logistic regression: the summed log loss plus
                                     l2 |w|^2 / 2 (the bias unpenalised), fitted by
                                     L-BFGS in double */
    ADAPT_PROBE_MLP = 2         /**< an MLP d -> hidden -> 2 with ReLU, trained by Adam on
                                     the cross-entropy */
} adapt_probe_kind;

/**
 * Settings of adapt_probe_fit(). Fill with adapt_probe_params_init(), then
 * change what you need.
 */
typedef struct adapt_probe_params {
    /** sizeof(adapt_probe_params); set by adapt_probe_params_init(). */
    size_t struct_size;
    int32_t kind;           /**< adapt_probe_kind (default PROTOTYPES) */
    int32_t hidden;         /**< MLP: hidden width, >= 1 (default 64) */
    int32_t epochs;         /**< MLP: passes over the rows, >= 1 (default 30) */
    int32_t max_iterations; /**< LOGISTIC and the combination: iterations at most, >= 1
                                 (default 1000) */
    double l2;              /**< LOGISTIC: the L2 penalty l2 |w|^2 / 2 added to the summed
                                 log loss, >= 0: scikit-learn's 1 / C (default 1) */
    double l1;              /**< the combination over layers: the L1 penalty l1 |w|_1 added to
                                 its summed log loss, >= 0: scikit-learn's 1 / C (default 1,
                                 the reference code's C = 1) */
    double tolerance;       /**< LOGISTIC and the combination: stop once no partial
                                 derivative of the objective divided by n (for the
                                 combination: no entry of its smallest subgradient)
                                 exceeds this, > 0 (default 1e-7); the solvers also stop,
                                 without an error, after max_iterations or when no step
                                 decreases the objective any more */
    double learning_rate;   /**< MLP: Adam's rate, > 0 (default 1e-3) */
    uint64_t seed;          /**< MLP: initialisation and shuffling (default 0) */
    int32_t n_threads;      /**< MLP: threads of its training and of every scoring of
                                 it, >= 0; 0 = all cores (default) */
} adapt_probe_params;

/**
 * Fills `params` with the defaults above. `size` is sizeof *params as
 * compiled by the caller, as for adapt_context_params_init().
 */
ADAPT_API void adapt_probe_params_init(adapt_probe_params *params, size_t size);

/** A fitted probe. Owned: free with adapt_probe_free(). */
typedef struct adapt_probe adapt_probe;

/**
 * Fits one classifier per layer on `features` and, with two or more layers,
 * their combination (fitted on the same rows). The threshold starts at 0.5.
 * @param out receives the probe. Owned: free with adapt_probe_free().
 * @param features `n_layers` matrices of `n` rows, features[l] [n, widths[l]]
 *        row-major. Borrowed during the call.
 * @param widths the columns of each matrix, >= 1.
 * @param labels `n` labels, 0 or 1, both present.
 * @param params settings, or NULL for the defaults.
 *
 * Errors, with *out untouched: ADAPT_ERR_INVALID_ARGUMENT (NULL, n_layers
 * < 1 or > 4096, n < 2, a label other than 0 or 1, one class only,
 * settings out of range, a layer whose features do not vary within the
 * classes: its covariance is 0), ADAPT_ERR_SHAPE (a width < 1),
 * ADAPT_ERR_NONFINITE (NaN or infinity in a feature or a setting),
 * ADAPT_ERR_OVERFLOW, ADAPT_ERR_OUT_OF_MEMORY.
 */
ADAPT_API adapt_status adapt_probe_fit(adapt_probe **out, const float *const *features,
                                       const int64_t *widths, int32_t n_layers,
                                       const int32_t *labels, int64_t n,
                                       const adapt_probe_params *params);

/**
 * The probe's probability of "flagged" for `n` rows: `scores` [n] the
 * combination's (the only layer's for a one-layer probe) and, if not NULL,
 * `layer_scores` [n, n_layers] each layer's. `features` and `widths` as for
 * adapt_probe_fit(), with the fitted widths (`features` may be NULL when n
 * is 0). An input is flagged when its score exceeds the threshold.
 * Errors, with the outputs untouched: ADAPT_ERR_INVALID_ARGUMENT (NULL,
 * n < 0, the wrong number of layers), ADAPT_ERR_SHAPE (a width other than
 * the fitted one), ADAPT_ERR_NONFINITE, ADAPT_ERR_OUT_OF_MEMORY.
 */
ADAPT_API adapt_status adapt_probe_score(const adapt_probe *probe, float *scores,
                                         float *layer_scores, const float *const *features,
                                         const int64_t *widths, int32_t n_layers, int64_t n);

/**
 * Sets the threshold for a false-positive rate: scores `n` >= 1 benign rows
 * and takes the (floor(fpr n) + 1)-th largest score, so that at most
 * floor(fpr n) of them exceed it (fewer when scores tie there). `fpr` in
 * [0, 1). Errors as adapt_probe_score(), and ADAPT_ERR_INVALID_ARGUMENT or
 * ADAPT_ERR_NONFINITE for `fpr` out of range or NaN; the threshold is
 * unchanged then.
 */
ADAPT_API adapt_status adapt_probe_set_threshold_for_fpr(adapt_probe *probe,
                                                         const float *const *features,
                                                         const int64_t *widths,
                                                         int32_t n_layers, int64_t n,
                                                         double fpr);

/** Sets the threshold, a finite number. ADAPT_ERR_INVALID_ARGUMENT or ADAPT_ERR_NONFINITE. */
ADAPT_API adapt_status adapt_probe_set_threshold(adapt_probe *probe, double threshold);

/** The threshold; NaN for a NULL probe. */
ADAPT_API double adapt_probe_threshold(const adapt_probe *probe);

/** Layers the probe reads; 0 for a NULL probe. */
ADAPT_API int32_t adapt_probe_layer_count(const adapt_probe *probe);

/**
 * The combination's weights: `weights` [n_layers + 1], one per layer then the
 * bias, of logit = sum_l w_l p_l + b over the layers' probabilities p_l. A
 * one-layer probe has none: its score is its layer's probability itself,
 * and it reports 1 and 0. ADAPT_ERR_INVALID_ARGUMENT for NULL.
 */
ADAPT_API adapt_status adapt_probe_combination(const adapt_probe *probe, double *weights);

/**
 * The linear classifier of layer `layer` of a PROTOTYPES or LOGISTIC probe:
 * `weights` [width + 1], the logit of "flagged" being sum_j w_j h_j + w_width
 * (for prototypes, z_1 - z_0). ADAPT_ERR_INVALID_ARGUMENT (NULL, a layer out
 * of range), ADAPT_ERR_STATE for an MLP probe.
 */
ADAPT_API adapt_status adapt_probe_layer_weights(const adapt_probe *probe, int32_t layer,
                                                 double *weights);

/** Frees a probe; NULL is a no-op. */
ADAPT_API void adapt_probe_free(adapt_probe *probe);

/**
 * The probe's cost: FLOPs per input of scoring it (its
 * classifiers' products and the combination's), 0 for a NULL probe.
 */
ADAPT_API int64_t adapt_probe_flops(const adapt_probe *probe);

/**
 * Two models and a probe between them (docs/probes.md, "Routing"): model A
 * runs, the probe scores the outputs of some of its blocks, and the inputs
 * it flags go to model B; the others finish in A. A stops at its last
 * probed block for flagged inputs. Borrows A, B and the probe for its
 * whole life. Owned: free with adapt_router_free().
 */
typedef struct adapt_router adapt_router;

/** Settings of adapt_router_create(). Fill with adapt_router_params_init(). */
typedef struct adapt_router_params {
    /** sizeof(adapt_router_params); set by adapt_router_params_init(). */
    size_t struct_size;
    int32_t n_blocks;      /**< blocks of A the probe reads, one per probe layer */
    const int32_t *blocks; /**< their indices, increasing: the probe's layer l reads the
                                output of block blocks[l], flattened per input. Borrowed
                                during adapt_router_create() */
    int32_t shared_blocks; /**< 0 (default): B runs from the raw input. k >= 1: A's and B's
                                first k blocks are the same built-in layers with the same
                                settings and parameter values (checked; the values only
                                here, so keep them so) and B continues from A's output
                                of block k - 1 */
} adapt_router_params;

/** Fills `params` with the defaults above, as adapt_context_params_init(). */
ADAPT_API void adapt_router_params_init(adapt_router_params *params, size_t size);

/**
 * Makes a router. Errors, with *out untouched: ADAPT_ERR_INVALID_ARGUMENT
 * (NULL, no blocks, blocks out of range or not increasing, a probe reading
 * another number of layers, shared_blocks beyond either model or, when
 * k >= 1, a first k blocks that differ), ADAPT_ERR_SHAPE (a probe layer's
 * width other than its block's output size, models with other input shapes
 * or class counts), ADAPT_ERR_OUT_OF_MEMORY.
 */
ADAPT_API adapt_status adapt_router_create(adapt_router **out, adapt_model *a, adapt_model *b,
                                           const adapt_probe *probe,
                                           const adapt_router_params *params);

/** Per-input results of adapt_router_run(); any array may be NULL. */
typedef struct adapt_route_outputs {
    /** sizeof(adapt_route_outputs); set by the caller. */
    size_t struct_size;
    float *logits;   /**< [N, classes]: B's for the inputs routed to it, A's for the others */
    float *scores;   /**< [N] the probe's score */
    int32_t *routed; /**< [N] 1 when B answered (the score exceeded the threshold), else 0 */
    int64_t *flops;  /**< [N] FLOPs spent on the input: A's blocks it ran, the probe, and
                          B's blocks from shared_blocks when routed */
} adapt_route_outputs;

/**
 * Runs a batch `input` [N, ...] through the router in inference mode: A
 * through its last probed block (and block shared_blocks - 1), the probe,
 * then A's remaining blocks for the inputs it does not flag and B for those
 * it does, each as one smaller batch. Reads A and B as a forward pass does
 * (other threads may run them meanwhile). Leaves no tensors in `ctx` beyond
 * its arena use. Errors, with the outputs untouched: as
 * adapt_model_forward() (ADAPT_ERR_NONFINITE also for NaN or infinity in a
 * probed block's output), plus ADAPT_ERR_INVALID_ARGUMENT for NULL
 * arguments or an unset struct_size, and ADAPT_ERR_STATE for a context that
 * records gradients or models whose blocks changed since the router was
 * made (a replaced submodule, shared blocks no longer alike).
 */
ADAPT_API adapt_status adapt_router_run(const adapt_route_outputs *outputs, adapt_context *ctx,
                                        adapt_router *router, adapt_tensor *input);

/** Frees a router (not its models or probe); NULL is a no-op. */
ADAPT_API void adapt_router_free(adapt_router *router);

/** @} */

/* ------------------------------------------------------------------------ */
/**
 * @defgroup segmentation Segmentation (encoder-decoders)
 *
 * Encoder-decoder (U-Net-style) segmentation networks (docs/segmentation.md):
 * built as sequential models from the layer kinds ADAPT_LAYER_UPSAMPLE2D,
 * ADAPT_LAYER_CONV_TRANSPOSE2D and ADAPT_LAYER_CONCAT (the skip connection),
 * trained on per-pixel labels, scored by intersection over union. The
 * operations below grow feature maps back to the image's size. As the
 * operations of @ref operations, each produces a new activation in `ctx`
 * (borrowed, valid until reset), is taped for adapt_backward() when gradient
 * recording is on, and takes activations of `ctx` or parameters (an
 * activation of another context or one released by reset is
 * ADAPT_ERR_STATE). Their results, gradients included, are the same bits for
 * every thread count.
 */
/* ------------------------------------------------------------------------ */
/** @{ */

/** How adapt_op_upsample2d() fills the cells it adds. */
typedef enum adapt_upsample_mode {
    ADAPT_UPSAMPLE_NEAREST = 0, /**< each output copies one input cell: PyTorch's
                                     interpolate(x, scale_factor=scale, mode="nearest") */
    ADAPT_UPSAMPLE_BILINEAR = 1 /**< each output weighs the 2 x 2 input cells around
                                     it: interpolate(x, scale_factor=scale,
                                     mode="bilinear", align_corners=False) */
} adapt_upsample_mode;

/**
 * Upsampling by an integer factor: x[N, C, H, W] -> [N, C, H * scale,
 * W * scale], `scale` >= 1, `mode` an adapt_upsample_mode. Exactly PyTorch's
 * torch.nn.functional.interpolate(x, scale_factor=scale, mode=...), bilinear
 * with align_corners=False. Along each axis of n input cells, output o reads:
 *  - nearest: cell min(floor(o * r), n - 1), r = 1 / scale rounded to float
 *    and the product taken in float as PyTorch does (at scale 41 that maps
 *    output 41 to cell 0, not 1);
 *  - bilinear: cells i and min(i + 1, n - 1) with weights 1 - t and t, where
 *    s = max((o + 0.5) r - 0.5, 0), i = min(floor(s), n - 1), t = s - i;
 * a scale of 1 copies x. The gradient is the adjoint: each output's gradient
 * added to the cells it read, with the weights it read them with.
 * Errors: ADAPT_ERR_INVALID_ARGUMENT for a NULL ctx, out or x, a scale < 1 or
 * another mode; ADAPT_ERR_SHAPE unless x is 4-D with H, W >= 1;
 * ADAPT_ERR_OVERFLOW for an output too large to address; ADAPT_ERR_STATE and
 * ADAPT_ERR_OUT_OF_MEMORY as for every operation.
 */
ADAPT_API adapt_status adapt_op_upsample2d(adapt_tensor **out, adapt_context *ctx,
                                           adapt_tensor *x, int32_t scale, int32_t mode);

/**
 * Transposed 2-D convolution, PyTorch's
 * torch.nn.functional.conv_transpose2d(x, weight, bias, stride, padding) with
 * output_padding 0, groups 1 and dilation 1: x[N, Cin, H, W],
 * weight[Cin, Cout, K, K] (a square kernel, laid out as
 * torch.nn.ConvTranspose2d's weight), bias[Cout] or NULL ->
 * [N, Cout, OH, OW] with OH = (H - 1) * stride - 2 * padding + K, likewise
 * OW. Each input cell (h, w) adds x[n, ci, h, w] * weight[ci, co, ky, kx] to
 * output (h * stride - padding + ky, w * stride - padding + kx) where that
 * lies in the output; then the bias is added: the adjoint of
 * adapt_op_conv2d() with the same weight, stride and padding.
 * `stride` >= 1, `padding` >= 0.
 * Errors: ADAPT_ERR_INVALID_ARGUMENT for a NULL ctx, out, x or weight, a
 * stride < 1 or a padding < 0; ADAPT_ERR_SHAPE unless x and weight are 4-D
 * with x's channels equal to weight's first dim, a square kernel, every
 * weight dim and H, W >= 1, and bias is [Cout], or when OH or OW < 1;
 * ADAPT_ERR_OVERFLOW for sizes too large to address or for the GEMM's int;
 * ADAPT_ERR_STATE and ADAPT_ERR_OUT_OF_MEMORY as for every operation.
 */
ADAPT_API adapt_status adapt_op_conv_transpose2d(adapt_tensor **out, adapt_context *ctx,
                                                 adapt_tensor *x, adapt_tensor *weight,
                                                 adapt_tensor *bias, int32_t stride,
                                                 int32_t padding);

/** Per-pixel scores of adapt_segmentation_scores(). */
typedef struct adapt_segmentation_score {
    /** Set by the caller to sizeof(adapt_segmentation_score); the library writes only that
     *  many bytes. */
    size_t struct_size;
    double mean_iou;       /**< mean IoU over the classes seen (NaN if none) */
    double pixel_accuracy; /**< share of labelled pixels predicted right (NaN if none) */
    int64_t pixels;        /**< labelled pixels (truth >= 0) */
    int32_t classes_seen;  /**< classes in the truth or the prediction of labelled pixels */
} adapt_segmentation_score;

/**
 * Trains a segmentation model — one mapping images [C, H, W] to class
 * scores [K, H', W'] — on `n` images [n, C, H, W] and their label maps
 * masks [n, H', W'] (each value in [0, K)), minimising the mean per-pixel
 * cross-entropy (label_smoothing applies) on the loop of
 * adapt_model_train() with `params` (optimizer, schedule, clipping, epochs,
 * batches, seed, threads, progress, cancel; validation and exit settings do
 * not apply). Errors, with the model as the last completed step left it:
 * ADAPT_ERR_INVALID_ARGUMENT (NULL, n < 1, a mask value out of range, a
 * model without blocks), ADAPT_ERR_SHAPE (not such a model),
 * ADAPT_ERR_NONFINITE, ADAPT_ERR_STATE (the model busy on another thread),
 * ADAPT_ERR_CANCELLED, ADAPT_ERR_OVERFLOW, ADAPT_ERR_OUT_OF_MEMORY.
 */
ADAPT_API adapt_status adapt_segmentation_train(adapt_model *model, const float *images,
                                                const int32_t *masks, int64_t n,
                                                const adapt_train_params *params);

/**
 * Each pixel's class (the argmax of the model's scores; the first largest
 * wins) for `n` images [n, C, H, W] into masks [n, H', W'], in batches on
 * `n_threads` threads (0: all cores). Errors as adapt_segmentation_train()
 * (masks then partly written).
 */
ADAPT_API adapt_status adapt_segmentation_predict(int32_t *masks, adapt_model *model,
                                                  const float *images, int64_t n,
                                                  int32_t n_threads);

/**
 * Scores `n` predicted labels against the true ones: pixels whose truth is
 * negative are unlabelled and skipped. Class k's intersection over union is
 * |truth = k and predicted = k| / |truth = k or predicted = k|, NaN for a
 * class in neither; class_iou[classes] (NULL: not wanted) receives them,
 * `out` their mean over the classes seen and the pixel accuracy. Errors:
 * ADAPT_ERR_INVALID_ARGUMENT (NULL, struct_size unset, n < 0, classes < 1,
 * a label >= classes or a negative prediction), ADAPT_ERR_OUT_OF_MEMORY.
 */
ADAPT_API adapt_status adapt_segmentation_scores(adapt_segmentation_score *out,
                                                 double *class_iou, const int32_t *predicted,
                                                 const int32_t *truth, int64_t n,
                                                 int32_t classes);

/** @} */

/* ------------------------------------------------------------------------ */
/**
 * @defgroup pipelines Multi-model pipelines
 *
 * Named stages run in order on one image (docs/pipeline.md, after the
 * swappable inspection pipeline of arXiv 2210.05282): each stage is a model
 * the pipeline owns, taking the whole image, the image with the pixels an
 * earlier stage labels 0 set to 0, or one crop per connected component of
 * an earlier stage's label map, and segmenting or classifying it. Every
 * stage leaves a label map of the whole image. Any stage can be replaced at
 * run time by a model of the same signature. A pipeline runs on one thread
 * at a time.
 */
/** @{ */

/** What a stage runs on. */
typedef enum adapt_stage_input {
    ADAPT_STAGE_IMAGE = 0,  /**< the whole image */
    ADAPT_STAGE_MASKED = 1, /**< the image, pixels its source labels 0 set to 0 */
    ADAPT_STAGE_CROPS = 2   /**< each 4-connected component of one label of its source's map:
                                 its box, grown by `margin`, resized (bilinear) to the model's
                                 input */
} adapt_stage_input;

/** What a stage gives. */
typedef enum adapt_stage_output {
    ADAPT_STAGE_SEGMENT = 0, /**< a label map: the argmax of scores [K, h, w] (crops' maps
                                  pasted back over their component's pixels) */
    ADAPT_STAGE_CLASSIFY = 1 /**< a class: the argmax of scores [K]; its map holds class + 1
                                  on the component's pixels (the whole image: everywhere) */
} adapt_stage_output;

/** A stage for adapt_pipeline_add(). Fill with adapt_stage_params_init(). */
typedef struct adapt_stage_params {
    /** sizeof(adapt_stage_params); set by adapt_stage_params_init(). */
    size_t struct_size;
    const char *name;   /**< unique, 1 to 63 of [A-Za-z0-9_-]; borrowed during the call */
    int32_t input;      /**< adapt_stage_input (default IMAGE) */
    int32_t output;     /**< adapt_stage_output (default SEGMENT) */
    const char *source; /**< MASKED, CROPS: an earlier stage (NULL for IMAGE) */
    int32_t margin;     /**< CROPS: pixels added around each box, >= 0 (default 2) */
    int32_t min_pixels; /**< CROPS: smaller components are skipped, >= 1 (default 1) */
} adapt_stage_params;

/** Fills `params` with the defaults above, as adapt_context_params_init(). */
ADAPT_API void adapt_stage_params_init(adapt_stage_params *params, size_t size);

/** A pipeline of stages. */
typedef struct adapt_pipeline adapt_pipeline;

/** Makes an empty pipeline. Errors: ADAPT_ERR_INVALID_ARGUMENT, ADAPT_ERR_OUT_OF_MEMORY. */
ADAPT_API adapt_status adapt_pipeline_create(adapt_pipeline **out);

/** Frees a pipeline and its stages' models; NULL is a no-op. */
ADAPT_API void adapt_pipeline_free(adapt_pipeline *pipeline);

/**
 * Appends a stage running `model`, which the pipeline owns from then on
 * (on error it stays the caller's). The model must take [C, H, W]: for
 * IMAGE and MASKED stages the pipeline's image (the first such stage sets
 * it), segmenting it at its size ([K, H, W]) or classifying it ([K]); for
 * CROPS stages crops with the image's channels, of any size. Errors:
 * ADAPT_ERR_INVALID_ARGUMENT (NULL, a bad or taken name, a source that is
 * not an earlier stage — so no cycle can form —, a source for an IMAGE
 * stage, settings out of range, a model without blocks or owned elsewhere),
 * ADAPT_ERR_SHAPE (the model's signature), ADAPT_ERR_OUT_OF_MEMORY.
 */
ADAPT_API adapt_status adapt_pipeline_add(adapt_pipeline *pipeline,
                                          const adapt_stage_params *params, adapt_model *model);

/**
 * Puts `model` in place of stage `name`'s model. It must map the same
 * per-sample input shape to the same output shape, else ADAPT_ERR_SHAPE and
 * the pipeline is as it was. The old model goes to *previous (the caller's
 * to free), or is freed when `previous` is NULL. Errors:
 * ADAPT_ERR_INVALID_ARGUMENT (NULL, an unknown stage, a model owned
 * elsewhere), ADAPT_ERR_SHAPE.
 */
ADAPT_API adapt_status adapt_pipeline_replace(adapt_pipeline *pipeline, const char *name,
                                              adapt_model *model, adapt_model **previous);

/** Number of stages; 0 for NULL. */
ADAPT_API int32_t adapt_pipeline_stage_count(const adapt_pipeline *pipeline);

/** Stage `index`'s name, or NULL. Borrowed, valid while the pipeline lives. */
ADAPT_API const char *adapt_pipeline_stage_name(const adapt_pipeline *pipeline, int32_t index);

/** Stage `name`'s model, or NULL. Borrowed: the pipeline owns it. */
ADAPT_API adapt_model *adapt_pipeline_stage_model(const adapt_pipeline *pipeline,
                                                  const char *name);

/** The result of adapt_pipeline_run(). Owned: free with adapt_pipeline_result_free(). */
typedef struct adapt_pipeline_result adapt_pipeline_result;

/** A crop a stage ran on (or, for a whole-image classifier, the image). */
typedef struct adapt_pipeline_crop {
    /** Set by the caller to sizeof(adapt_pipeline_crop); the library writes only that many
     *  bytes. */
    size_t struct_size;
    int64_t row0; /**< its box in the image: first row */
    int64_t col0; /**< first column */
    int64_t row1; /**< the row after its last */
    int64_t col1; /**< the column after its last */
    int64_t pixels;   /**< the component's pixels */
    int32_t label;    /**< the source map's label on the component (0 for the image) */
    int32_t class_id; /**< CLASSIFY stages: the class; SEGMENT stages: -1 */
} adapt_pipeline_crop;

/** What a stage cost in a run. */
typedef struct adapt_stage_report {
    /** Set by the caller to sizeof(adapt_stage_report); the library writes only that many
     *  bytes. */
    size_t struct_size;
    double seconds; /**< wall-clock time of the stage, cutting and pasting included */
    int64_t flops;  /**< executed by its model over all its inputs (multiply-add = 2) */
    int64_t inputs; /**< images or crops the model ran on */
} adapt_stage_report;

/**
 * Runs every stage in order on image [C, H, W] (`shape` its 3 dims, which
 * must be the pipeline's) on `n_threads` threads (0: all cores). Errors:
 * ADAPT_ERR_INVALID_ARGUMENT (NULL, n_threads < 0), ADAPT_ERR_STATE (no
 * stages), ADAPT_ERR_SHAPE (another image size), ADAPT_ERR_NONFINITE,
 * ADAPT_ERR_OUT_OF_MEMORY, and a stage model's errors; *out untouched then.
 */
ADAPT_API adapt_status adapt_pipeline_run(adapt_pipeline_result **out, adapt_pipeline *pipeline,
                                          const float *image, const int64_t *shape,
                                          int32_t n_threads);

/**
 * Stage `stage`'s label map of the whole image, [height, width] row-major
 * (height and width may be NULL). Borrowed: valid until the result is
 * freed. NULL for an unknown stage or a NULL result.
 */
ADAPT_API const int32_t *adapt_pipeline_result_map(const adapt_pipeline_result *result,
                                                   const char *stage, int64_t *height,
                                                   int64_t *width);

/** Number of crops stage `stage` ran on; -1 for an unknown stage or a NULL result. */
ADAPT_API int64_t adapt_pipeline_result_crop_count(const adapt_pipeline_result *result,
                                                   const char *stage);

/**
 * Crop `index` of stage `stage`. Errors: ADAPT_ERR_INVALID_ARGUMENT (NULL,
 * struct_size unset, an unknown stage, index out of range).
 */
ADAPT_API adapt_status adapt_pipeline_result_crop(const adapt_pipeline_result *result,
                                                  const char *stage, int64_t index,
                                                  adapt_pipeline_crop *out);

/** Stage `stage`'s time and cost. Errors as adapt_pipeline_result_crop(). */
ADAPT_API adapt_status adapt_pipeline_result_report(const adapt_pipeline_result *result,
                                                    const char *stage,
                                                    adapt_stage_report *out);

/** Frees a result; NULL is a no-op. */
ADAPT_API void adapt_pipeline_result_free(adapt_pipeline_result *result);

/**
 * Saves the pipeline into the existing `directory`: each stage's model as
 * "<stage>.safetensors" (adapt_model_save()) and the stages in order as
 * "pipeline.json" (written last, atomically). Errors:
 * ADAPT_ERR_INVALID_ARGUMENT, ADAPT_ERR_IO, ADAPT_ERR_NONFINITE,
 * ADAPT_ERR_OUT_OF_MEMORY.
 */
ADAPT_API adapt_status adapt_pipeline_save(const adapt_pipeline *pipeline,
                                           const char *directory);

/**
 * Loads a pipeline adapt_pipeline_save() wrote. Every field is checked and
 * every stage added as adapt_pipeline_add() adds it, its model loaded as
 * adapt_model_load() loads it. Errors: ADAPT_ERR_INVALID_ARGUMENT (NULL),
 * ADAPT_ERR_IO (no such file), ADAPT_ERR_FORMAT (not a pipeline
 * description, a stage out of range, an unknown or later source, a model
 * of the wrong signature, or a checkpoint adapt_model_load() refuses),
 * ADAPT_ERR_NONFINITE, ADAPT_ERR_OUT_OF_MEMORY; *out untouched then.
 */
ADAPT_API adapt_status adapt_pipeline_load(adapt_pipeline **out, const char *directory);

/** @} */

/* ------------------------------------------------------------------------ */
/**
 * @defgroup flows Normalizing flows on latent vectors
 *
 * A conditional normalizing flow z = f(w) on a generator's latent vectors
 * (docs/flows.md, after PluGeN4Faces, arXiv 2309.12033): coupling layers
 * that alternate which half of the vector they transform (RealNVP's affine
 * x * exp(s) + t, or NICE's additive x + t), s and t computed by a residual
 * net from the other half and an optional conditioning vector, and batch
 * normalisation between couplings. The inverse is exact and
 * log |det df/dw| comes with every forward pass. Owned: free with
 * adapt_flow_free(). Training a flow is single-writer; inverses and
 * inference forward passes may run on several threads at once.
 */
/* ------------------------------------------------------------------------ */
/** @{ */

/** The coupling layers' transformation of their half. */
typedef enum adapt_coupling_kind {
    ADAPT_COUPLING_AFFINE = 0,  /**< RealNVP: x * exp(s) + t, s = tanh of the net's output */
    ADAPT_COUPLING_ADDITIVE = 1 /**< NICE: x + t (volume preserving) */
} adapt_coupling_kind;

/** Settings of adapt_flow_create(). Fill with adapt_flow_params_init(). */
typedef struct adapt_flow_params {
    /** sizeof(adapt_flow_params); set by adapt_flow_params_init(). */
    size_t struct_size;
    int64_t dim;        /**< width of the latent vectors, >= 2 (no default: 0 is refused) */
    int64_t cond_dim;   /**< width of the conditioning vector, >= 0 (default 0: none) */
    int32_t couplings;  /**< coupling layers, >= 1 (default 8) */
    int32_t coupling;   /**< adapt_coupling_kind (default AFFINE) */
    int64_t hidden;     /**< width of each coupling net, >= 1 (default 128) */
    int32_t blocks;     /**< residual blocks per coupling net, >= 0 (default 2) */
    int32_t batch_norm; /**< non-zero (default): batch normalisation before every coupling
                             but the first */
    uint64_t seed;      /**< initialisation (default 0) */
} adapt_flow_params;

/** Fills `params` with the defaults above, as adapt_context_params_init(). */
ADAPT_API void adapt_flow_params_init(adapt_flow_params *params, size_t size);

/** A normalizing flow. */
typedef struct adapt_flow adapt_flow;

/**
 * Makes a flow that starts as the identity (each coupling net's last layer
 * is zero). Errors: ADAPT_ERR_INVALID_ARGUMENT (NULL, settings out of
 * range), ADAPT_ERR_OVERFLOW, ADAPT_ERR_OUT_OF_MEMORY; *out untouched then.
 */
ADAPT_API adapt_status adapt_flow_create(adapt_flow **out, const adapt_flow_params *params);

/** Frees a flow; NULL is a no-op. */
ADAPT_API void adapt_flow_free(adapt_flow *flow);

/**
 * The settings the flow was made with (a loaded flow's included) into
 * `params`, whose struct_size the caller sets (adapt_flow_params_init()).
 * Errors: ADAPT_ERR_INVALID_ARGUMENT (NULL, struct_size unset).
 */
ADAPT_API adapt_status adapt_flow_settings(const adapt_flow *flow, adapt_flow_params *params);

/**
 * Saves the flow's parameters and running statistics with its settings to
 * a safetensors file (atomically: on error `path` is as it was), as
 * adapt_model_save() saves a model. Errors: ADAPT_ERR_INVALID_ARGUMENT
 * (NULL), ADAPT_ERR_NONFINITE (a NaN or infinite value), ADAPT_ERR_IO,
 * ADAPT_ERR_OUT_OF_MEMORY.
 */
ADAPT_API adapt_status adapt_flow_save(const adapt_flow *flow, const char *path);

/**
 * Rebuilds the flow a file of adapt_flow_save() describes. Every tensor is
 * checked (name, shape, checksum, finite values) and the flow invertible
 * before *out is set. Errors: ADAPT_ERR_INVALID_ARGUMENT (NULL), ADAPT_ERR_IO
 * (no such file), ADAPT_ERR_FORMAT (not a flow checkpoint, settings out of
 * range, a missing or damaged tensor, a non-invertible flow),
 * ADAPT_ERR_NONFINITE, ADAPT_ERR_OUT_OF_MEMORY; *out untouched then.
 */
ADAPT_API adapt_status adapt_flow_load(adapt_flow **out, const char *path);

/**
 * z = f(w) for w [N, dim] (and `cond` [N, cond_dim] when the flow has one,
 * else NULL) and `logdet` [N], log |det dz/dw| of each row. In a training
 * context batch normalisation uses the batch's statistics and updates its
 * running ones; otherwise the running ones. Taped when the context records
 * gradients. Errors: ADAPT_ERR_INVALID_ARGUMENT (NULL, a missing or
 * unexpected `cond`, a flow made non-invertible: a batch normalisation
 * scale of 0 or not finite, a negative running variance), ADAPT_ERR_SHAPE,
 * ADAPT_ERR_STATE (tensors of another context), ADAPT_ERR_OUT_OF_MEMORY.
 */
ADAPT_API adapt_status adapt_flow_forward(adapt_tensor **z, adapt_tensor **logdet,
                                          adapt_context *ctx, adapt_flow *flow,
                                          adapt_tensor *w, adapt_tensor *cond);

/**
 * w = f^-1(z) for `n` rows z [n, dim] (and cond [n, cond_dim], or NULL),
 * with batch normalisation's running statistics: the exact inverse of an
 * inference forward pass. `w` may be `z`. Errors: ADAPT_ERR_INVALID_ARGUMENT
 * (NULL, n < 0, a missing or unexpected `cond`, a non-invertible flow as
 * for adapt_flow_forward()), ADAPT_ERR_NONFINITE (NaN
 * or infinity in z or cond), ADAPT_ERR_OUT_OF_MEMORY; `w` untouched then.
 */
ADAPT_API adapt_status adapt_flow_inverse(float *w, adapt_flow *flow, const float *z,
                                          const float *cond, int64_t n);

/**
 * The prior and losses of adapt_flow_train() (PluGeN4Faces): the first
 * `attributes` coordinates of z are trained towards each row's attribute
 * values, z_k ~ N(a_k, sigma_e^2), with sigma_e = sigma * sigma_decay^e in
 * epoch e; the rest towards N(0, 1). With identities, the identity loss
 * pulls the rest of the codes of rows of one identity in a batch towards
 * their mean, |z_id - mean|^2, weighted by identity_weight times
 * min(1, (e + 1) / identity_warmup). Fill with adapt_flow_prior_init().
 */
typedef struct adapt_flow_prior {
    /** sizeof(adapt_flow_prior); set by adapt_flow_prior_init(). */
    size_t struct_size;
    int32_t attributes;     /**< attribute coordinates, in [0, dim) (default 0) */
    float sigma;            /**< > 0 (default 0.7) */
    float sigma_decay;      /**< in (0, 1] (default 0.9) */
    float identity_weight;  /**< >= 0 (default 0: no identity loss) */
    int32_t identity_warmup; /**< epochs, >= 1 (default 1) */
} adapt_flow_prior;

/** Fills `prior` with the defaults above, as adapt_context_params_init(). */
ADAPT_API void adapt_flow_prior_init(adapt_flow_prior *prior, size_t size);

/**
 * Trains the flow on `n` latents w [n, dim] (cond [n, cond_dim] or NULL as
 * the flow takes), attribute values [n, prior->attributes] (NULL when
 * there are none) and identities [n] (group ids >= 0, -1 for none; NULL:
 * no identity loss), minimising the negative log-likelihood under the
 * prior, minus the mean log-determinant, plus the identity loss: the loop
 * of adapt_model_train() with `params` (its optimizer, schedule, clipping,
 * epochs, batches, seed, threads, progress and cancel; its loss settings,
 * validation and exit settings do not apply; with batch normalisation an
 * epoch's last batch of a single sample is dropped). With identities the
 * loop's samples are identities, each with all its rows (a row of id -1 is
 * one of its own), so batch_size counts identities and an identity's rows
 * always share a batch. Errors, with the flow as the
 * last completed step left it: ADAPT_ERR_INVALID_ARGUMENT (NULL, n < 2,
 * prior or params out of range, batch_size 1 with batch normalisation and a
 * sample of one row), ADAPT_ERR_NONFINITE (NaN or infinity in
 * the data, or a diverging loss), ADAPT_ERR_CANCELLED, ADAPT_ERR_OVERFLOW,
 * ADAPT_ERR_OUT_OF_MEMORY.
 */
ADAPT_API adapt_status adapt_flow_train(adapt_flow *flow, const float *w, const float *cond,
                                        const float *attribute_values,
                                        const int32_t *identities, int64_t n,
                                        const adapt_flow_prior *prior,
                                        const adapt_train_params *params);

/**
 * Edits `n` latents: z = f(w) (inference, running statistics), z[i, dims[k]]
 * set to values[i * n_dims + k], w_out = f^-1(z). `w_out` may be `w`.
 * Errors, with w_out untouched: ADAPT_ERR_INVALID_ARGUMENT (NULL, n < 0,
 * n_dims < 1, a dim out of [0, dim), a missing or unexpected `cond`, a
 * non-invertible flow),
 * ADAPT_ERR_NONFINITE (NaN or infinity in w, cond or values),
 * ADAPT_ERR_OUT_OF_MEMORY.
 */
ADAPT_API adapt_status adapt_flow_edit(float *w_out, adapt_flow *flow, const float *w,
                                       const float *cond, int64_t n, const int32_t *dims,
                                       int32_t n_dims, const float *values);

/** Parameters of the flow (buffers included), in a fixed order; 0 for NULL. */
ADAPT_API int32_t adapt_flow_param_count(const adapt_flow *flow);
/** Parameter `index`. Borrowed: valid as long as the flow. NULL if out of range. */
ADAPT_API adapt_tensor *adapt_flow_param(const adapt_flow *flow, int32_t index);
/** Its name ("couplings.0.net.in.weight", "norms.1.running_var"); NULL if out of range. */
ADAPT_API const char *adapt_flow_param_name(const adapt_flow *flow, int32_t index);

/** @} */

#endif /* ADAPT_EXPERIMENTAL */

#ifdef __cplusplus
}
#endif

#endif /* ADAPT_H */
