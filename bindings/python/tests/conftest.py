import os
import sys
from pathlib import Path

import numpy as np
import pytest

PACKAGE_ROOT = Path(__file__).resolve().parents[1]
REPOSITORY = PACKAGE_ROOT.parents[1]
HEADER = REPOSITORY / "include" / "adapt.h"
FASHION_MNIST = Path(os.environ.get("FMNIST_DIR", "/usr/share/datasets/fashion-mnist"))

# The tests exercise the package in this tree, not an installed copy.
sys.path.insert(0, str(PACKAGE_ROOT))

import libadapt as ad  # noqa: E402


@pytest.fixture
def ctx():
    """A single-threaded context on the reference backend, freed after the test."""
    with ad.Context(n_threads=1, backend="reference") as context:
        yield context


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


def needs_header():
    return pytest.mark.skipif(not HEADER.is_file(), reason="adapt.h is not beside the bindings")


def blobs(rng, n, classes=3, features=8, spread=0.3):
    """A small separable classification problem: Gaussian blobs around random centres."""
    centres = rng.normal(0.0, 2.0, (classes, features))
    labels = rng.integers(0, classes, n)
    x = centres[labels] + rng.normal(0.0, spread, (n, features))
    return x.astype(np.float32), labels.astype(np.int32)
