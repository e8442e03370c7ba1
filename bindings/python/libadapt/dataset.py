"""Dataset: N float32 samples of one shape with integer labels, for training and evaluation."""
from __future__ import annotations

import ctypes as C
import os
from typing import Mapping, Optional, Sequence, Tuple, Union

import numpy as np
from numpy.typing import ArrayLike

from . import _arrays, _scalars
from ._handle import Handle, Owned
from ._native import lib
from ._structs import MAX_DIMS, adapt_dataset
from .errors import InvalidArgumentError, ShapeError


class Dataset(Owned):
    """Made by Dataset.from_numpy(), Dataset.load_idx() or split()."""
    _kind = "dataset"

    def __init__(self, raw, keep=()):
        if not isinstance(raw, C.POINTER(adapt_dataset)):
            raise TypeError("use Dataset.from_numpy(), Dataset.load_idx() or split()")
        self._handle = Handle(raw, lib.adapt_dataset_free, keep)

    @classmethod
    def from_numpy(cls, x: ArrayLike, labels: ArrayLike, copy: Optional[bool] = None) -> Dataset:
        """Samples x[N, ...] and N integer labels, borrowed without copying: the arrays
        are kept alive while the dataset (or a split of it) lives, and later writes to
        them are seen by training. Data that is not aligned C-contiguous float32 (labels:
        int32) is copied once when copy=None, refused when copy=False."""
        x = _arrays.features(x, "x", copy=copy)
        if x.ndim < 1:
            raise ShapeError("x needs a first (sample) dimension")
        labels = _arrays.integers(labels, C.c_int32, "labels", count=x.shape[0], copy=copy)
        dims, ndim = _arrays.shape(x.shape, "x shape")
        raw = C.POINTER(adapt_dataset)()
        lib.adapt_dataset_wrap(C.byref(raw), _arrays.pointer(x, C.c_float), ndim, dims,
                               _arrays.pointer(labels, C.c_int32))
        return cls(raw, keep=(x, labels))

    @classmethod
    def load_idx(cls, images: Union[str, os.PathLike],
                 labels: Union[str, os.PathLike]) -> Dataset:
        """An IDX image file and its label file (gzip or plain), e.g. Fashion-MNIST:
        pixels become float32 in [0, 1] as [N, 1, H, W]."""
        raw = C.POINTER(adapt_dataset)()
        lib.adapt_dataset_load_idx(C.byref(raw), _scalars.path_bytes(images, "images"),
                                   _scalars.path_bytes(labels, "labels"))
        return cls(raw)

    def split(self, validation_fraction: float, seed: int = 0) -> Tuple[Dataset, Dataset]:
        """(train, validation): a seeded shuffle, the last `validation_fraction` of it for
        validation. Both borrow from this dataset, which stays allocated while they live."""
        train, validation = C.POINTER(adapt_dataset)(), C.POINTER(adapt_dataset)()
        lib.adapt_dataset_split(C.byref(train), C.byref(validation), self._ptr(),
                                _scalars.checked_float(validation_fraction,
                                                       "validation_fraction"),
                                _scalars.u64(seed, "seed"))
        return (Dataset(train, keep=(self._handle,)),
                Dataset(validation, keep=(self._handle,)))

    def select_classes(self, class_map: Union[Mapping[int, int], Sequence[int]],
                       task_classes: int = 0) -> Dataset:
        """The samples of the classes `class_map` keeps, relabelled: a mapping {class:
        label}, or a sequence whose entry c is class c's label (-1: dropped). A task of a
        class-incremental benchmark. task_classes > 0 makes the labels task-incremental:
        the model's logits form tasks of that many consecutive classes and each sample is
        trained, evaluated and certified over its own task's (one head per task)."""
        if isinstance(class_map, Mapping):
            size = max(class_map, default=-1) + 1
            dense = [-1] * size
            for c, label in class_map.items():
                if c < 0:
                    raise InvalidArgumentError(f"select_classes: class {c} is negative")
                dense[c] = label
            class_map = dense
        table = _arrays.integers(list(class_map), C.c_int32, "class_map")
        raw = C.POINTER(adapt_dataset)()
        lib.adapt_dataset_select_classes(C.byref(raw), self._ptr(),
                                         _arrays.pointer(table, C.c_int32),
                                         _scalars.i32(len(table), "class_map length"),
                                         _scalars.i32(task_classes, "task_classes"))
        return Dataset(raw, keep=(self._handle,))

    def __len__(self) -> int:
        return lib.adapt_dataset_count(self._ptr())

    @property
    def sample_shape(self) -> Tuple[int, ...]:
        """Shape of one sample (without N)."""
        dims = (C.c_int64 * MAX_DIMS)()
        ndim = lib.adapt_dataset_sample_shape(self._ptr(), dims)
        return tuple(dims[:ndim])

    @property
    def features(self) -> np.ndarray:
        """Every sample's values, a float32 copy [N, *sample_shape] (also numpy.asarray(ds))."""
        return self._copy_out()[0]

    @property
    def labels(self) -> np.ndarray:
        """Every sample's label, an int32 copy [N]."""
        return self._copy_out()[1]

    def __array__(self, dtype=None, copy: Optional[bool] = None) -> np.ndarray:
        values = self.features
        return values if dtype is None else values.astype(dtype, copy=False)

    def _copy_out(self):
        """(features, labels) copied sample by sample: a split's samples are scattered
        over its parent, so there is no one array to view."""
        dataset = self._ptr()
        count, shape = len(self), self.sample_shape
        values = np.empty((count, *shape), dtype=np.float32)
        labels = np.empty(count, dtype=np.int32)
        row_bytes = values[0].nbytes if count else 0
        pointer, label = C.POINTER(C.c_float)(), C.c_int32()
        for index in range(count):
            lib.adapt_dataset_sample(C.byref(pointer), C.byref(label), dataset, index)
            C.memmove(values[index].ctypes.data, pointer, row_bytes)
            labels[index] = label.value
        return values, labels

    def __getitem__(self, index: int) -> Tuple[np.ndarray, int]:
        """(copy of sample `index`'s values, its label)."""
        dataset = self._ptr()
        index = _scalars.i64(index, "index")
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(f"sample {index} of a dataset of {len(self)}")
        values, label = C.POINTER(C.c_float)(), C.c_int32()
        lib.adapt_dataset_sample(C.byref(values), C.byref(label), dataset, index)
        address = C.cast(values, C.c_void_p).value
        sample = _arrays.view(address, self.sample_shape, self._handle, writable=False)
        return np.array(sample), label.value

    def __repr__(self):
        if self.closed:
            return "<libadapt.Dataset (closed)>"
        return f"<libadapt.Dataset {len(self)} samples of {self.sample_shape}>"


#: What training and evaluation take: a Dataset, or an (x, labels) pair of arrays.
DataLike = Union[Dataset, Tuple[ArrayLike, ArrayLike]]
