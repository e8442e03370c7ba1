"""10 000 create/free cycles of each object must not grow the process.

Each cycle's C allocations are sized so that leaking them would add far more than the bound:
a context with a 64 KiB input (arena), a 5 KiB-parameter MLP, a parameter of 2 x 4 KiB
(values and gradient), an early-exit head of 2 x 2.6 KiB. Half of the cycles free through
close()/with, half by dropping the last reference (weakref.finalize).

Memory that was freed but that malloc keeps (fragmentation left by the tests before these)
is handed back with glibc's malloc_trim before each reading, so that only live memory
counts: without it the bound was crossed by free memory alone, depending on which tests
ran first.
"""
import ctypes
import ctypes.util
import gc
import os

import numpy as np
import pytest

import libadapt as ad

CYCLES = 10_000
BOUND = 4 << 20  # bytes; a leak of the smallest object above would add ~80 MiB


def _malloc_trim():
    try:
        trim = ctypes.CDLL(ctypes.util.find_library("c")).malloc_trim
    except (AttributeError, OSError, TypeError):  # not glibc
        return lambda: None
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    return lambda: trim(0)


release_free_memory = _malloc_trim()


def resident_bytes():
    gc.collect()
    release_free_memory()
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def growth(cycle):
    for i in range(CYCLES // 10):  # warm up the allocators
        cycle(i)
    gc.collect()
    before = resident_bytes()
    for i in range(CYCLES):
        cycle(i)
    gc.collect()
    return resident_bytes() - before


INPUT = np.ones((128, 128), np.float32)


def context_cycle(i):
    if i % 2:
        with ad.Context(n_threads=1) as ctx:
            ctx.input(INPUT)
    else:
        ad.Context(n_threads=1).input(INPUT)


def model_cycle(i):
    if i % 2:
        with ad.Model.mlp([32, 32, 10], seed=i):
            pass
    else:
        ad.Model.mlp([32, 32, 10], seed=i).parameters()["0.weight"].data.sum()


def parameter_cycle(i):
    if i % 2:
        ad.Parameter([32, 32]).close()
    else:
        ad.Parameter([32, 32]).grad.sum()


def head_cycle(i):
    # A 650-value head (x 2 with its gradient) each cycle: held and freed with its model,
    # moved between models, or freed detached.
    model = ad.Model.mlp([32, 64, 10], seed=i)
    if i % 2:
        model.add_head(block=0, seed=i)
        ad.Model.mlp([32, 64, 10]).add_head(model.remove_head(0))
        model.add_head(block=0)
    else:
        ad.Head.create(model, block=0, seed=i).info


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="needs /proc")
@pytest.mark.parametrize("cycle", [context_cycle, model_cycle, parameter_cycle, head_cycle],
                         ids=["context", "model", "parameter", "head"])
def test_no_leak_over_10k_cycles(cycle):
    grown = growth(cycle)
    assert grown < BOUND, f"resident memory grew by {grown / 2**20:.1f} MiB"
