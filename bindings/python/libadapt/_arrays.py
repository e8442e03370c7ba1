"""numpy arrays in and out of C.

Arrays reach C as the pointer of an aligned, C-contiguous array of the exact element type:
the caller's own memory when it already is one (zero copy), a converted copy otherwise.
Values that cannot be converted without changing their meaning (complex, text, objects,
fractional labels) are refused, never reinterpreted.
"""
import ctypes as C
import numbers

import numpy as np

from . import _scalars
from .errors import InvalidArgumentError, ShapeError

MAX_DIMS = 8
_REQUIREMENTS = ("C_CONTIGUOUS", "ALIGNED")


def float32(x, what, copy=None):
    """`x` as float32 ready for C. copy=None converts only when needed, False refuses to
    convert (for memory C will borrow), True always copies."""
    array = np.asarray(x)
    if array.dtype.kind not in "biuf":
        raise TypeError(f"{what}: {array.dtype} data cannot be used as float32")
    if array.ndim > MAX_DIMS:
        raise ShapeError(f"{what}: {array.ndim} dims, at most {MAX_DIMS}")
    ready = np.require(array, np.float32, _REQUIREMENTS)
    converted = array.size > 0 and not np.may_share_memory(ready, array)
    if copy is False and converted:
        raise TypeError(f"{what}: a {array.dtype} array{_layout(array)} would have to be "
                        f"copied; pass an aligned C-contiguous float32 array, or copy=None")
    return ready.copy() if copy and not converted else ready


def features(x, what, copy=None):
    """`x` as float32 model inputs (samples, a dataset's features). Integers are refused:
    8-bit pixels 0..255 fed as they are would train and predict on the wrong scale."""
    array = np.asarray(x)
    if array.dtype.kind in "iu":
        raise TypeError(f"{what}: {array.dtype} values cannot be model inputs as they are; "
                        f"scale them to float first, e.g. {what}.astype(numpy.float32) / 255 "
                        f"for 8-bit pixels (as Dataset.load_idx does)")
    return float32(array, what, copy=copy)


def _layout(array):
    if not array.flags.c_contiguous:
        return " that is not C-contiguous"
    return "" if array.flags.aligned else " that is not aligned"


def integers(x, ctype, what, count=None, copy=None):
    """A 1-D array of integers as `ctype` (int32 labels, int64 indices), with `count`
    entries when given. Floats are refused rather than truncated."""
    array = np.asarray(x)
    if array.size == 0 and array.dtype.kind == "f":
        array = array.astype(np.int64)  # np.asarray([]) is float64
    if array.dtype.kind not in "iu":
        raise TypeError(f"{what} must be integers, not {array.dtype}")
    if array.ndim != 1:
        raise ShapeError(f"{what} must be 1-D, not {array.ndim}-D")
    if count is not None and array.shape[0] != count:
        raise ShapeError(f"{what} has {array.shape[0]} entries, {count} expected")
    lo, hi = _scalars.int_range(ctype)
    if array.size and (int(array.min()) < lo or int(array.max()) > hi):
        raise InvalidArgumentError(f"{what}: values outside [{lo}, {hi}]")
    dtype = np.dtype(f"=i{C.sizeof(ctype)}")
    ready = np.require(array, dtype, _REQUIREMENTS)
    converted = array.size > 0 and not np.may_share_memory(ready, array)
    if copy is False and converted:
        raise TypeError(f"{what}: {array.dtype} values would have to be copied to {dtype}")
    return ready.copy() if copy and not converted else ready


def pointer(array, ctype):
    return array.ctypes.data_as(C.POINTER(ctype))


def shape(dims, what):
    """A shape (an int or a sequence of ints) as a C int64 array and its length."""
    if isinstance(dims, numbers.Integral):
        dims = (dims,)
    dims = [_scalars.i64(d, f"{what}[{i}]") for i, d in enumerate(dims)]
    if len(dims) > MAX_DIMS:
        raise ShapeError(f"{what}: {len(dims)} dims, at most {MAX_DIMS}")
    return (C.c_int64 * max(len(dims), 1))(*dims), len(dims)


class _Borrowed:
    """C memory presented to numpy; holding `owner` keeps that memory allocated for as
    long as any array made from it exists."""

    def __init__(self, address, dims, owner, writable):
        self.__array_interface__ = {"version": 3, "typestr": "<f4", "shape": tuple(dims),
                                    "data": (address, not writable)}
        self.owner = owner


def view(address, dims, owner, writable=True):
    """A float32 numpy array over C memory at `address`, keeping `owner` alive."""
    return np.asarray(_Borrowed(address, dims, owner, writable))
