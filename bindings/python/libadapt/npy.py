"""NPY files through the library's own reader and writer (float32, C order)."""
from __future__ import annotations

import ctypes as C
import os
from typing import Union

import numpy as np
from numpy.typing import ArrayLike

from . import _arrays, _scalars
from ._native import lib, libc
from ._structs import MAX_DIMS


def npy_read(path: Union[str, os.PathLike]) -> np.ndarray:
    """The float32 array stored in an NPY file (version 1.0/2.0, '<f4', C order)."""
    data, ndim, dims = C.POINTER(C.c_float)(), C.c_int32(), (C.c_int64 * MAX_DIMS)()
    lib.adapt_npy_read(C.byref(data), C.byref(ndim), dims, _scalars.path_bytes(path, "npy_read"))
    shape = tuple(dims[:ndim.value])
    try:
        address = C.cast(data, C.c_void_p).value
        if not address:
            return np.zeros(shape, dtype=np.float32)
        return np.array(_arrays.view(address, shape, None, writable=False))
    finally:
        libc.free(C.cast(data, C.c_void_p))


def npy_write(path: Union[str, os.PathLike], array: ArrayLike) -> None:
    """Writes `array` (converted to float32) atomically as an NPY 1.0 file."""
    array = _arrays.float32(array, "npy_write")
    dims, ndim = _arrays.shape(array.shape, "npy_write shape")
    lib.adapt_npy_write(_scalars.path_bytes(path, "npy_write"),
                        _arrays.pointer(array, C.c_float), ndim, dims)
