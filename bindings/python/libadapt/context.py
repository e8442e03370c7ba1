"""Context: one thread's execution state (arena, tape, random stream, threads, backend)."""
import ctypes as C

from . import _arrays, _scalars
from ._handle import Handle, Owned
from ._native import lib
from ._params import new_params
from ._structs import ContextParams, adapt_context, adapt_tensor
from .enums import Backend, coerce
from .tensor import Parameter, Tensor


class Context(Owned):
    """Runs operations and models. Tensors it makes stay valid until reset() or close().

    Use it from one thread at a time. grad=True records operations for backward();
    training=True makes dropout active and batch norm use batch statistics.
    """
    _kind = "context"

    def __init__(self, n_threads=0, backend=Backend.DEFAULT, seed=None, arena_initial_bytes=0,
                 arena_limit_bytes=0, *, grad=False, training=False):
        backend = coerce(Backend, backend, "backend")
        params = new_params(ContextParams)
        fields = {"n_threads": n_threads, "backend": backend,
                  "arena_initial_bytes": arena_initial_bytes,
                  "arena_limit_bytes": arena_limit_bytes}
        if seed is not None:
            fields["seed"] = seed
        _scalars.assign(params, fields, "Context")
        raw = C.POINTER(adapt_context)()
        lib.adapt_context_create(C.byref(raw), C.byref(params))
        self._handle = Handle(raw, lib.adapt_context_free)
        self._generation = 0
        # Handles of parameters and models the tape may reach: kept until the next reset.
        self._kept = set()
        self._backend, self._n_threads = backend, n_threads
        self._grad = self._training = self._recompute = False
        self.grad, self.training = grad, training

    def keep(self, handle):
        """Keeps an object's C memory alive until the next reset (the tape points into it)."""
        self._kept.add(handle)

    def reset(self):
        """Ends a step: releases every tensor this context made, and the tape."""
        lib.adapt_context_reset(self._ptr())
        self._generation += 1
        self._kept.clear()

    def close(self):
        self._generation += 1
        self._kept.clear()
        super().close()

    @property
    def grad(self):
        """Whether operations are recorded for backward()."""
        return self._grad

    @grad.setter
    def grad(self, enabled):
        lib.adapt_context_set_grad(self._ptr(), bool(enabled))
        self._grad = bool(enabled)

    @property
    def training(self):
        """Training behaviour: dropout active, batch norm on batch statistics."""
        return self._training

    @training.setter
    def training(self, enabled):
        lib.adapt_context_set_training(self._ptr(), bool(enabled))
        self._training = bool(enabled)

    @property
    def recompute(self):
        """Activation checkpointing of models' blocks (adapt_context_set_recompute)."""
        return self._recompute

    @recompute.setter
    def recompute(self, enabled):
        lib.adapt_context_set_recompute(self._ptr(), bool(enabled))
        self._recompute = bool(enabled)

    @property
    def backend(self):
        return self._backend

    @backend.setter
    def backend(self, backend):
        backend = coerce(Backend, backend, "backend")
        lib.adapt_context_set_backend(self._ptr(), backend)
        self._backend = backend

    @property
    def n_threads(self):
        """Threads for this context's kernels as requested; 0 = all cores."""
        return self._n_threads

    @n_threads.setter
    def n_threads(self, n_threads):
        lib.adapt_context_set_threads(self._ptr(), _scalars.i32(n_threads, "n_threads"))
        self._n_threads = n_threads

    @property
    def peak_bytes(self):
        """Highest arena use since creation."""
        return lib.adapt_context_peak_bytes(self._ptr())

    @property
    def reserved_bytes(self):
        """Bytes the arena holds from the system now."""
        return lib.adapt_context_reserved_bytes(self._ptr())

    def input(self, values, what="input"):
        """A new activation holding a copy of `values` (converted to float32; NaN and
        infinity are refused with NonFiniteError)."""
        ctx = self._ptr()
        values = _arrays.float32(values, what)
        dims, ndim = _arrays.shape(values.shape, f"{what} shape")
        raw = C.POINTER(adapt_tensor)()
        lib.adapt_tensor_input(C.byref(raw), ctx, ndim, dims,
                               _arrays.pointer(values, C.c_float))
        return Tensor(raw, self)

    def __repr__(self):
        if self.closed:
            return "<libadapt.Context (closed)>"
        return (f"<libadapt.Context backend={self._backend.name.lower()} "
                f"n_threads={self._n_threads} grad={self._grad} training={self._training}>")


def operand(context, x, what):
    """The C tensor for an operation's input: a Tensor as is, a Parameter (kept alive by
    the context until its next reset, since the tape may still reach it), anything else
    copied in with Context.input()."""
    if not isinstance(context, Context):
        raise TypeError(f"expected a Context first, not {type(context).__name__}")
    if isinstance(x, Tensor):
        return x._ptr()
    if isinstance(x, Parameter):
        raw = x._ptr()
        context.keep(x._handle)
        return raw
    if x is None:
        raise TypeError(f"{what} is None")
    return context.input(x, what)._ptr()


def optional_operand(context, x, what):
    return C.POINTER(adapt_tensor)() if x is None else operand(context, x, what)
