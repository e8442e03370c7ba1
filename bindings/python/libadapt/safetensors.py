"""safetensors files from numpy, without the safetensors package: writing them (PyTorch
weights become a file Model.load_weights() reads) and reading one tensor back through the
library's own checked reader (features exported from PyTorch, for a Probe)."""
from __future__ import annotations

import ctypes as C
import json
import os
import struct
from typing import Mapping, Union

import numpy as np
from numpy.typing import ArrayLike

from . import _arrays, _scalars
from ._native import lib, libc
from ._structs import MAX_DIMS
from .errors import InvalidArgumentError

# Integer tensors (a state_dict's num_batches_tracked) are kept as I64: no parameter asks
# for them, and the loader skips entries no parameter asks for.
_INTEGER = ("I64", np.dtype("<i8"))
_FLOAT = ("F32", np.dtype("<f4"))


def _stored(name, value):
    """(dtype name, little-endian C-contiguous array) of one tensor."""
    if not isinstance(name, str) or not name or name == "__metadata__":
        raise InvalidArgumentError(f"save_safetensors: {name!r} cannot name a tensor")
    array = np.asarray(value)
    kind = {"f": _FLOAT, "i": _INTEGER, "u": _INTEGER}.get(array.dtype.kind)
    if kind is None:
        raise TypeError(f"save_safetensors: {name} holds {array.dtype} values, not numbers "
                        f"to store as float32")
    return kind[0], np.ascontiguousarray(array, dtype=kind[1])


def save_safetensors(tensors: Mapping[str, ArrayLike],
                     path: Union[str, os.PathLike]) -> None:
    """Writes {name: array} as a safetensors file: an 8-byte little-endian header length,
    the JSON header (dtype, shape, data_offsets of each tensor, padded with spaces to a
    multiple of 8), then the data. Real arrays are stored as float32 ("F32"), integer ones
    as int64 ("I64"). A PyTorch model's weights, for Model.load_weights():

        save_safetensors({k: v.numpy() for k, v in module.state_dict().items()}, path)
    """
    header, blobs, offset = {}, [], 0
    for name, value in tensors.items():
        dtype, array = _stored(name, value)
        blob = array.tobytes()
        header[name] = {"dtype": dtype, "shape": list(array.shape),
                        "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        f.writelines(blobs)


def read_safetensors(path: Union[str, os.PathLike], name: str) -> np.ndarray:
    """The float32 tensor called `name` in a safetensors file (F32 entries only), read and
    checked by the library."""
    data, ndim, dims = C.POINTER(C.c_float)(), C.c_int32(), (C.c_int64 * MAX_DIMS)()
    lib.adapt_safetensors_read(C.byref(data), C.byref(ndim), dims,
                               _scalars.path_bytes(path, "read_safetensors"),
                               _scalars.text(name, "name"))
    try:
        return np.array(_arrays.view(C.cast(data, C.c_void_p).value,
                                     tuple(dims[:ndim.value]), None, writable=False))
    finally:
        libc.free(C.cast(data, C.c_void_p))
