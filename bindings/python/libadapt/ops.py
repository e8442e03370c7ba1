"""Operations on tensors, each with its backward pass (adapt_op_* in adapt.h).

Every function takes the context first and returns a new Tensor in it. Inputs may be
Tensors, Parameters or anything numpy can turn into a float32 array (copied in). With
`ctx.grad` on, the operation is recorded for backward(). Axes may be negative.
"""
import ctypes as C
import math

from . import _arrays, _scalars
from ._native import lib
from ._structs import adapt_tensor
from .context import operand, optional_operand
from .enums import UpsampleMode, coerce
from .errors import ShapeError
from .tensor import Tensor

MATMUL_TRANS_A = 1  # ADAPT_MATMUL_TRANS_A
MATMUL_TRANS_B = 2  # ADAPT_MATMUL_TRANS_B
AXIS_ALL = 127      # ADAPT_AXIS_ALL


def _run(ctx, function, *arguments):
    out = C.POINTER(adapt_tensor)()
    function(C.byref(out), ctx._ptr(), *arguments)
    return Tensor(out, ctx)


def _float(value, what):
    return _scalars.checked_float(value, what)


def matmul(ctx, a, b, *, trans_a=False, trans_b=False):
    """a[..., M, K] @ b[..., K, N]; `b` 2-D (shared by the batch) or with a's batch dims."""
    flags = (MATMUL_TRANS_A if trans_a else 0) | (MATMUL_TRANS_B if trans_b else 0)
    return _run(ctx, lib.adapt_op_matmul, operand(ctx, a, "a"), operand(ctx, b, "b"), flags)


def _binary(function):
    def op(ctx, a, b):
        return _run(ctx, function, operand(ctx, a, "a"), operand(ctx, b, "b"))
    return op


add = _binary(lib.adapt_op_add)
add.__doc__ = "a + b; b's shape equals a's or is a suffix of it."
mul = _binary(lib.adapt_op_mul)
mul.__doc__ = "a * b elementwise; b's shape equals a's or is a suffix of it."
minimum = _binary(lib.adapt_op_minimum)
maximum = _binary(lib.adapt_op_maximum)
mse = _binary(lib.adapt_op_mse)
mse.__doc__ = "Mean squared error of two tensors of one shape; one element."


def _unary(function):
    def op(ctx, x):
        return _run(ctx, function, operand(ctx, x, "x"))
    return op


relu = _unary(lib.adapt_op_relu)
gelu = _unary(lib.adapt_op_gelu)
gelu.__doc__ = "Exact (erf) GELU."
sigmoid = _unary(lib.adapt_op_sigmoid)
tanh = _unary(lib.adapt_op_tanh)
abs = _unary(lib.adapt_op_abs)  # noqa: A001 - the operation's name
softmax = _unary(lib.adapt_op_softmax)
softmax.__doc__ = "Softmax over the last axis."
log_softmax = _unary(lib.adapt_op_log_softmax)
log_softmax.__doc__ = "Log-softmax over the last axis."


def scale(ctx, x, factor):
    return _run(ctx, lib.adapt_op_scale, operand(ctx, x, "x"), _float(factor, "factor"))


def clamp(ctx, x, lo, hi):
    return _run(ctx, lib.adapt_op_clamp, operand(ctx, x, "x"), _float(lo, "lo"),
                _float(hi, "hi"))


def layernorm(ctx, x, gamma=None, beta=None, eps=1e-5):
    """Layer normalisation over the last axis; gamma, beta ([D]) optional."""
    return _run(ctx, lib.adapt_op_layernorm, operand(ctx, x, "x"),
                optional_operand(ctx, gamma, "gamma"), optional_operand(ctx, beta, "beta"),
                _float(eps, "eps"))


def batchnorm(ctx, x, gamma=None, beta=None, running_mean=None, running_var=None,
              momentum=0.1, eps=1e-5):
    """Batch normalisation over axis 1 of x[N, C, ...]; in training mode it updates the
    running statistics (Parameters of shape [C] that do not require gradients)."""
    return _run(ctx, lib.adapt_op_batchnorm, operand(ctx, x, "x"),
                optional_operand(ctx, gamma, "gamma"), optional_operand(ctx, beta, "beta"),
                optional_operand(ctx, running_mean, "running_mean"),
                optional_operand(ctx, running_var, "running_var"),
                _float(momentum, "momentum"), _float(eps, "eps"))


def conv2d(ctx, x, weight, bias=None, stride=1, padding=0):
    """x[N, Cin, H, W] * weight[Cout, Cin, KH, KW] (+ bias[Cout]) -> [N, Cout, OH, OW]."""
    return _run(ctx, lib.adapt_op_conv2d, operand(ctx, x, "x"), operand(ctx, weight, "weight"),
                optional_operand(ctx, bias, "bias"), _scalars.i32(stride, "stride"),
                _scalars.i32(padding, "padding"))


def _pool(function):
    def op(ctx, x, kernel, stride=None, padding=0):
        stride = kernel if stride is None else stride
        return _run(ctx, function, operand(ctx, x, "x"), _scalars.i32(kernel, "kernel"),
                    _scalars.i32(stride, "stride"), _scalars.i32(padding, "padding"))
    op.__doc__ = "Pooling over x[N, C, H, W]; stride defaults to the kernel size."
    return op


maxpool2d = _pool(lib.adapt_op_maxpool2d)
avgpool2d = _pool(lib.adapt_op_avgpool2d)


def upsample2d(ctx, x, scale, mode=UpsampleMode.NEAREST):
    """x[N, C, H, W] -> [N, C, H * scale, W * scale] for an integer scale >= 1: PyTorch's
    interpolate(x, scale_factor=scale, mode=mode), mode "nearest" or "bilinear" (with
    align_corners=False)."""
    return _run(ctx, lib.adapt_op_upsample2d, operand(ctx, x, "x"), _scalars.i32(scale, "scale"),
                int(coerce(UpsampleMode, mode, "mode")))


def conv_transpose2d(ctx, x, weight, bias=None, stride=1, padding=0):
    """x[N, Cin, H, W] with weight[Cin, Cout, K, K] (+ bias[Cout]) -> [N, Cout, OH, OW],
    OH = (H - 1) * stride - 2 * padding + K: PyTorch's conv_transpose2d."""
    return _run(ctx, lib.adapt_op_conv_transpose2d, operand(ctx, x, "x"),
                operand(ctx, weight, "weight"), optional_operand(ctx, bias, "bias"),
                _scalars.i32(stride, "stride"), _scalars.i32(padding, "padding"))


def reshape(ctx, x, shape):
    """Same data, new shape; one dimension may be -1 (inferred)."""
    x = operand(ctx, x, "x")
    shape = [_scalars.i64(d, "shape entry") for d in shape]
    if shape.count(-1) == 1:
        known = math.prod(d for d in shape if d != -1)
        numel = lib.adapt_tensor_numel(x)
        if known <= 0 or numel % known:
            raise ShapeError(f"reshape: cannot infer -1 in {shape} for {numel} elements")
        shape[shape.index(-1)] = numel // known
    dims, ndim = _arrays.shape(shape, "shape")
    return _run(ctx, lib.adapt_op_reshape, x, ndim, dims)


def transpose(ctx, x, axis0, axis1):
    return _run(ctx, lib.adapt_op_transpose, operand(ctx, x, "x"), _scalars.i32(axis0, "axis0"),
                _scalars.i32(axis1, "axis1"))


def permute(ctx, x, perm):
    """out.shape[i] = x.shape[perm[i]]."""
    x = operand(ctx, x, "x")
    ndim = lib.adapt_tensor_ndim(x)
    perm = [_scalars.i32(p, "perm entry") for p in perm]
    if len(perm) != ndim:  # C reads exactly ndim entries
        raise ShapeError(f"permute: {len(perm)} axes for a {ndim}-D tensor")
    return _run(ctx, lib.adapt_op_permute, x, (C.c_int32 * max(ndim, 1))(*perm))


def slice(ctx, x, axis, start, end):  # noqa: A001 - the operation's name
    """Elements [start, end) along `axis`."""
    return _run(ctx, lib.adapt_op_slice, operand(ctx, x, "x"), _scalars.i32(axis, "axis"),
                _scalars.i64(start, "start"), _scalars.i64(end, "end"))


def concat(ctx, tensors, axis=0):
    """Joins tensors along `axis`; the other dims must match."""
    pointers = [operand(ctx, t, f"tensors[{i}]") for i, t in enumerate(tensors)]
    array = (C.POINTER(adapt_tensor) * max(len(pointers), 1))(*pointers)
    return _run(ctx, lib.adapt_op_concat, array, _scalars.i32(len(pointers), "count"),
                _scalars.i32(axis, "axis"))


def gather_rows(ctx, x, index):
    """out[i] = x[index[i]] along axis 0."""
    x = operand(ctx, x, "x")
    index = _arrays.integers(index, C.c_int64, "index")
    return _run(ctx, lib.adapt_op_gather_rows, x, _arrays.pointer(index, C.c_int64),
                index.shape[0])


def scatter_add_rows(ctx, x, index, n_rows):
    """out = zeros[n_rows, ...]; out[index[i]] += x[i] for every row i of x."""
    x = operand(ctx, x, "x")
    rows = lib.adapt_tensor_dim(x, 0) if lib.adapt_tensor_ndim(x) else 0
    index = _arrays.integers(index, C.c_int64, "index", count=rows)
    return _run(ctx, lib.adapt_op_scatter_add_rows, x, _arrays.pointer(index, C.c_int64),
                _scalars.i64(n_rows, "n_rows"))


def _reduce(function):
    def op(ctx, x, axis=None):
        axis = AXIS_ALL if axis is None else _scalars.i32(axis, "axis")
        return _run(ctx, function, operand(ctx, x, "x"), axis)
    op.__doc__ = "Reduces over `axis` (removed from the shape), or over every axis if None."
    return op


sum = _reduce(lib.adapt_op_sum)  # noqa: A001 - the operation's name
mean = _reduce(lib.adapt_op_mean)


def dropout(ctx, x, p):
    """Inverted dropout, active only in training mode."""
    return _run(ctx, lib.adapt_op_dropout, operand(ctx, x, "x"), _float(p, "p"))


def cross_entropy(ctx, logits, labels, label_smoothing=0.0):
    """Mean cross-entropy of logits[N, C] against N integer labels in [0, C)."""
    logits = operand(ctx, logits, "logits")
    count = lib.adapt_tensor_dim(logits, 0) if lib.adapt_tensor_ndim(logits) == 2 else None
    labels = _arrays.integers(labels, C.c_int32, "labels", count=count)
    if labels.size == 0:  # C checks the logits first; it must still get a valid pointer
        labels = _arrays.integers([0], C.c_int32, "labels")
    return _run(ctx, lib.adapt_op_cross_entropy, logits, _arrays.pointer(labels, C.c_int32),
                _float(label_smoothing, "label_smoothing"))


def one_vs_all_loss(ctx, logits, labels):
    """Mean of SLOVA's one-vs-all loss of logits[N, C] against N integer labels in [0, C):
    sum_j softplus(z_j) - z_y per row (docs/slova.md)."""
    logits = operand(ctx, logits, "logits")
    count = lib.adapt_tensor_dim(logits, 0) if lib.adapt_tensor_ndim(logits) == 2 else None
    labels = _arrays.integers(labels, C.c_int32, "labels", count=count)
    if labels.size == 0:  # C checks the logits first; it must still get a valid pointer
        labels = _arrays.integers([0], C.c_int32, "labels")
    return _run(ctx, lib.adapt_op_one_vs_all_loss, logits, _arrays.pointer(labels, C.c_int32))


def backward(loss):
    """Adds d(loss)/d(p) into the gradient of every parameter p the recorded operations
    reached. `loss` has one finite element; the tape is consumed."""
    if not isinstance(loss, Tensor):
        raise TypeError(f"backward needs a Tensor, not {type(loss).__name__}")
    raw = loss._ptr()
    lib.adapt_backward(loss.context._ptr(), raw)
