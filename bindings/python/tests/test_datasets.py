"""Datasets over numpy arrays (borrowed) and IDX files."""
import gc

import numpy as np
import pytest
from conftest import FASHION_MNIST

import libadapt as ad


def test_from_numpy_borrows_the_arrays_without_copying(rng):
    x = rng.normal(size=(6, 2, 3)).astype(np.float32)
    y = np.arange(6, dtype=np.int32) % 3
    ds = ad.Dataset.from_numpy(x, y, copy=False)
    assert len(ds) == 6 and ds.sample_shape == (2, 3)
    sample, label = ds[4]
    assert np.array_equal(sample, x[4]) and label == 1
    x[4] = 9.0                              # the dataset reads the caller's memory
    assert np.all(ds[4][0] == 9.0) and ds[-2][1] == 1


def test_the_dataset_keeps_its_arrays_alive(rng):
    x = rng.normal(size=(4, 3)).astype(np.float32)
    ds = ad.Dataset.from_numpy(x, np.array([0, 1, 0, 1], np.int32))
    want = x.copy()
    del x
    gc.collect()
    np.testing.assert_array_equal(np.stack([ds[i][0] for i in range(4)]), want)


def test_other_dtypes_and_layouts_are_copied_once_or_refused(rng):
    x = rng.normal(size=(3, 4))                         # float64
    y = np.array([2, 0, 1], dtype=np.int64)
    ds = ad.Dataset.from_numpy(x, y)
    assert np.allclose(ds[0][0], x[0]) and [ds[i][1] for i in range(3)] == [2, 0, 1]
    with pytest.raises(TypeError, match="copied"):
        ad.Dataset.from_numpy(x, y, copy=False)
    with pytest.raises(TypeError, match="copied"):
        ad.Dataset.from_numpy(x.astype(np.float32).T, np.arange(4, dtype=np.int32), copy=False)
    copied = ad.Dataset.from_numpy(x.astype(np.float32), y.astype(np.int32), copy=True)
    assert copied[1][1] == 0


def test_labels_are_checked(rng):
    x = np.zeros((3, 2), np.float32)
    with pytest.raises(TypeError, match="integers"):
        ad.Dataset.from_numpy(x, np.array([0.0, 1.0, 2.0]))
    with pytest.raises(ad.ShapeError, match="3 expected"):
        ad.Dataset.from_numpy(x, [0, 1])
    with pytest.raises(ad.InvalidArgumentError, match="outside"):
        ad.Dataset.from_numpy(x, np.array([0, 1, 2 ** 40]))
    with pytest.raises(ad.InvalidArgumentError):
        ad.Dataset.from_numpy(x, [0, -1, 2])  # refused by the library
    with pytest.raises(ad.ShapeError):
        ad.Dataset.from_numpy(np.float32(1.0), [0])


def test_index_errors(rng):
    ds = ad.Dataset.from_numpy(np.zeros((2, 2), np.float32), [0, 1])
    with pytest.raises(IndexError):
        ds[2]
    with pytest.raises(IndexError):
        ds[-3]


def test_split_sizes_and_lifetime(rng):
    parent = ad.Dataset.from_numpy(rng.normal(size=(100, 4)).astype(np.float32),
                                   np.arange(100) % 5)
    finalizer = parent._handle.finalizer
    train, val = parent.split(0.2, seed=3)
    assert (len(train), len(val)) == (80, 20)
    parent.close()
    assert finalizer.alive                    # the splits index into it
    labels = sorted(train[i][1] for i in range(80)) + sorted(val[i][1] for i in range(20))
    assert sorted(labels) == sorted(np.arange(100) % 5)
    del train, val
    assert not finalizer.alive
    with pytest.raises(ad.InvalidArgumentError):
        ad.Dataset.from_numpy(np.zeros((4, 1), np.float32), [0] * 4).split(1.5)


@pytest.mark.skipif(not (FASHION_MNIST / "t10k-images-idx3-ubyte.gz").is_file(),
                    reason="Fashion-MNIST (dataset-fashion-mnist) not installed")
def test_fashion_mnist_from_idx():
    with ad.Dataset.load_idx(FASHION_MNIST / "t10k-images-idx3-ubyte.gz",
                             FASHION_MNIST / "t10k-labels-idx1-ubyte.gz") as ds:
        assert len(ds) == 10000 and ds.sample_shape == (1, 28, 28)
        image, label = ds[0]
        assert 0 <= label < 10 and 0.0 <= image.min() and image.max() <= 1.0
        assert image.max() > 0.5


def test_idx_errors(tmp_path):
    with pytest.raises(ad.IOError):
        ad.Dataset.load_idx(tmp_path / "none", tmp_path / "none")
    (tmp_path / "bad").write_bytes(b"\x00\x00\x08\x03" + b"\x00" * 5)
    with pytest.raises(ad.FormatError):
        ad.Dataset.load_idx(tmp_path / "bad", tmp_path / "bad")
