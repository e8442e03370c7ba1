"""Tensors: activations (Tensor), which live in a context until its reset, and parameters
(Parameter), which persist and expose their values and gradient as numpy views."""
import ctypes as C
import numbers

import numpy as np

from . import _arrays
from ._handle import Handle, Owned
from ._native import lib
from ._structs import adapt_tensor
from .errors import ShapeError, StateError


def _address(float_pointer):
    return C.cast(float_pointer, C.c_void_p).value


def _shape(raw):
    return tuple(lib.adapt_tensor_dim(raw, i) for i in range(lib.adapt_tensor_ndim(raw)))


def _copy_out(raw):
    values = np.empty(_shape(raw), dtype=np.float32)
    lib.adapt_tensor_read(raw, _arrays.pointer(values, C.c_float), values.size)
    return values


class _TensorLike:
    """What activations and parameters share: shape queries and copies out."""
    __slots__ = ()

    @property
    def shape(self):
        return _shape(self._ptr())

    @property
    def ndim(self):
        return lib.adapt_tensor_ndim(self._ptr())

    @property
    def size(self):
        return lib.adapt_tensor_numel(self._ptr())

    def numpy(self):
        """A copy of the values."""
        return _copy_out(self._ptr())

    def __array__(self, dtype=None):
        values = self.numpy()
        return values if dtype is None else values.astype(dtype)

    def item(self):
        if self.size != 1:
            raise ShapeError(f"item() needs exactly one element, the tensor has {self.size}")
        return float(self.numpy().reshape(()))


class Tensor(_TensorLike):
    """An activation: made by an operation or Context.input(), owned by its context and
    valid until Context.reset() or close(). Using it after that raises StateError."""
    __slots__ = ("_raw", "_context", "_generation")
    # numpy defers `array + tensor` and friends to the reflected methods below, so mixed
    # expressions stay on the tape instead of silently becoming numpy arithmetic.
    __array_ufunc__ = None

    def __init__(self, raw, context):
        self._raw = raw
        self._context = context
        self._generation = context._generation

    def _ptr(self):
        # The arena reuses a reset step's memory for new tensors, so a stale handle could
        # alias a live tensor: C cannot always tell, the generation count can.
        if self._context.closed:
            raise StateError("the tensor's context is closed")
        if self._generation != self._context._generation:
            raise StateError("the tensor was released by Context.reset()")
        return self._raw

    @property
    def context(self):
        return self._context

    @property
    def valid(self):
        return not self._context.closed and self._generation == self._context._generation

    @property
    def grad(self):
        """A copy of d(loss)/d(this tensor) from the last backward pass, or None."""
        raw = self._ptr()
        grad = lib.adapt_tensor_grad(raw)
        if not grad:
            return None
        return _arrays.view(_address(grad), _shape(raw), None, writable=False).copy()

    def backward(self):
        """Back-propagates from this one-element loss; see libadapt.backward."""
        from .ops import backward
        backward(self)

    def __repr__(self):
        if not self.valid:
            return "<libadapt.Tensor (released)>"
        return f"<libadapt.Tensor shape={self.shape}>"

    def _binary(self, other, name, swap=False):
        from . import ops
        a, b = (other, self) if swap else (self, other)
        return getattr(ops, name)(self._context, a, b)

    def __add__(self, other):
        return self._binary(other, "add")

    def __radd__(self, other):
        return self._binary(other, "add", swap=True)

    def __sub__(self, other):
        from . import ops
        return ops.add(self._context, self, ops.scale(self._context, other, -1.0))

    def __mul__(self, other):
        from . import ops
        if isinstance(other, numbers.Real):
            return ops.scale(self._context, self, other)
        return self._binary(other, "mul")

    def __rmul__(self, other):
        from . import ops
        if isinstance(other, numbers.Real):
            return ops.scale(self._context, self, other)
        return self._binary(other, "mul", swap=True)

    def __neg__(self):
        from . import ops
        return ops.scale(self._context, self, -1.0)

    def __matmul__(self, other):
        return self._binary(other, "matmul")

    def __rmatmul__(self, other):
        return self._binary(other, "matmul", swap=True)


class Parameter(_TensorLike, Owned):
    """A persistent tensor with a gradient buffer: made here (requiring gradients) or
    borrowed from a model. `data` and `grad` are numpy views of its C memory (writable,
    e.g. for an optimizer step); the memory stays allocated while any view exists, even
    after close()."""
    _kind = "parameter"

    def __init__(self, shape):
        dims, ndim = _arrays.shape(shape, "Parameter shape")
        raw = C.POINTER(adapt_tensor)()
        lib.adapt_param_create(C.byref(raw), ndim, dims)
        self._handle = Handle(raw, lib.adapt_tensor_free)
        self._raw = raw
        self.name = None

    @classmethod
    def from_numpy(cls, values):
        """A new parameter holding a copy of `values` (converted to float32)."""
        values = _arrays.float32(values, "Parameter.from_numpy")
        param = cls(values.shape)
        param.write(values)
        return param

    @classmethod
    def _of_model(cls, model_handle, raw, name):
        param = cls.__new__(cls)
        param._handle, param._raw, param.name = model_handle, raw, name
        return param

    def _ptr(self):
        Owned._ptr(self)
        return self._raw

    def _view(self, address):
        return _arrays.view(address, self.shape, self._handle)

    @property
    def data(self):
        """The values, as a writable float32 view."""
        return self._view(_address(lib.adapt_tensor_data(self._ptr())))

    @data.setter
    def data(self, values):
        self.write(values)

    @property
    def grad(self):
        """The accumulated gradient, as a writable float32 view."""
        return self._view(_address(lib.adapt_tensor_grad(self._ptr())))

    def write(self, values):
        """Copies `values` (same shape, finite) into the parameter."""
        raw = self._ptr()
        values = _arrays.float32(values, "Parameter.write")
        if values.shape != _shape(raw):
            raise ShapeError(f"Parameter.write: values of shape {values.shape} for a "
                             f"parameter of shape {_shape(raw)}")
        lib.adapt_param_write(raw, _arrays.pointer(values, C.c_float), values.size)

    def zero_grad(self):
        lib.adapt_param_zero_grad(self._ptr())

    def set_requires_grad(self, enabled=True):
        """Whether backward passes add into this parameter's gradient (False freezes it)."""
        lib.adapt_param_set_requires_grad(self._ptr(), bool(enabled))

    def __repr__(self):
        if self.closed:
            return "<libadapt.Parameter (closed)>"
        name = f" {self.name!r}" if self.name else ""
        return f"<libadapt.Parameter{name} shape={self.shape}>"

