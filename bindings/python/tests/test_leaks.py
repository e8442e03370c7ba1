"""10 000 create/free cycles of each object must not grow the process.

Each cycle's C allocations are sized so that leaking them would add far more than the bound:
a context with a 64 KiB input (arena), a 5 KiB-parameter MLP, a parameter of 2 x 4 KiB
(values and gradient). Half of the cycles free through close()/with, half by dropping the
last reference (weakref.finalize).
"""
import gc
import os

import numpy as np
import pytest

import libadapt as ad

CYCLES = 10_000
BOUND = 4 << 20  # bytes; a leak of the smallest object above would add ~80 MiB


def resident_bytes():
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


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="needs /proc")
@pytest.mark.parametrize("cycle", [context_cycle, model_cycle, parameter_cycle],
                         ids=["context", "model", "parameter"])
def test_no_leak_over_10k_cycles(cycle):
    grown = growth(cycle)
    assert grown < BOUND, f"resident memory grew by {grown / 2**20:.1f} MiB"
