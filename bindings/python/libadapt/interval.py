"""Interval bounds and certification (docs/intervals.md): bounds on a model's outputs over a
box of inputs, the worst-case logits that IBP training minimises the cross-entropy of, and
certified accuracy at an L-infinity radius."""
import ctypes as C
from dataclasses import dataclass

from . import _arrays, _scalars
from ._native import lib
from ._structs import CertifyResult, adapt_tensor
from .context import operand
from .enums import IntervalPhase, coerce
from .ops import _run
from .tensor import Tensor


@dataclass
class Certification:
    accuracy: float            # clean
    certified_accuracy: float  # proven right for every input of the box
    count: int


def forward_interval(model, ctx, lo, hi, mid=None, *, as_tensor=False):
    """Bounds of model(x) for every lo <= x <= hi, and model(mid) when mid is given:
    (lo_out, mid_out or None, hi_out), numpy copies or, with as_tensor=True, Tensors of
    `ctx` (taped when ctx.grad is on, so a loss on them trains the model)."""
    raw = model._ptr()
    lo, hi = operand(ctx, lo, "lo"), operand(ctx, hi, "hi")
    mid = operand(ctx, mid, "mid") if mid is not None else None
    ctx.keep(model._handle)
    outs = [C.POINTER(adapt_tensor)() for _ in range(3)]
    lib.adapt_model_forward_interval(C.byref(outs[0]), C.byref(outs[1]) if mid else None,
                                     C.byref(outs[2]), ctx._ptr(), raw, lo, mid, hi)
    tensors = [Tensor(outs[0], ctx), Tensor(outs[1], ctx) if mid else None,
               Tensor(outs[2], ctx)]
    if as_tensor:
        return tuple(tensors)
    return tuple(t.numpy() if t is not None else None for t in tensors)


def worst_case_logits(ctx, lo, hi, labels):
    """Logits of the box [lo, hi] (both [N, C]) at their worst: lo at each row's label, hi
    elsewhere. cross_entropy on them is IBP training's robust loss."""
    lo, hi = operand(ctx, lo, "lo"), operand(ctx, hi, "hi")
    count = lib.adapt_tensor_dim(lo, 0) if lib.adapt_tensor_ndim(lo) == 2 else None
    labels = _arrays.integers(labels, C.c_int32, "labels", count=count)
    return _run(ctx, lib.adapt_op_worst_case_logits, lo, hi, _arrays.pointer(labels, C.c_int32))


def certify(model, dataset, epsilon, input_min=0.0, input_max=1.0, batch_size=256,
            n_threads=0):
    """Clean and certified accuracy at L-infinity radius epsilon, inputs kept within
    [input_min, input_max] (pixels of Fashion-MNIST: [0, 1])."""
    from .training import _dataset
    dataset = _dataset(dataset, "dataset")
    result = CertifyResult(struct_size=C.sizeof(CertifyResult))
    lib.adapt_model_certify(C.byref(result), model._ptr(), dataset._ptr(),
                            _scalars.checked_float(epsilon, "epsilon"),
                            _scalars.checked_float(input_min, "input_min"),
                            _scalars.checked_float(input_max, "input_max"),
                            _scalars.i32(batch_size, "batch_size"),
                            _scalars.i32(n_threads, "n_threads"))
    return Certification(result.accuracy, result.certified_accuracy, result.count)


def set_interval_phase(model, phase):
    """Which parameters of the model's interval_linear layers train: "centres" (weight and
    bias), "shifts" or "scales" (an IntervalPhase or its name). Returns how many such layers
    the model has."""
    count = C.c_int32()
    lib.adapt_model_set_interval_phase(model._ptr(), coerce(IntervalPhase, phase, "phase"),
                                       C.byref(count))
    return count.value


def interval_consolidate(model):
    """Ends a task of interval continual learning: every interval_linear layer's current box
    becomes the bounds later tasks stay inside. Returns how many such layers it changed."""
    count = C.c_int32()
    lib.adapt_model_interval_consolidate(model._ptr(), C.byref(count))
    return count.value
