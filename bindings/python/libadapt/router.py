"""Router: model A, a Probe on its blocks' outputs, and model B for the inputs the probe
flags (adapt_router_*, docs/probes.md, "Routing"); block_features gives the probe's training
rows."""
import ctypes as C
from collections import namedtuple

import numpy as np

from . import _arrays, _scalars
from ._handle import Handle, Owned
from ._native import lib
from ._params import new_params
from ._structs import RouteOutputs, RouterParams, adapt_router
from .context import Context, operand
from .errors import InvalidArgumentError

RouteResults = namedtuple("RouteResults", "logits scores routed flops")
RouteResults.__doc__ = """Per input: logits [N, classes] (B's when routed, else A's), the
probe's scores [N], routed [N] (bool: B answered) and the FLOPs spent [N]."""


def _batches(x, batch_size, what):
    batch_size = _scalars.i64(batch_size, "batch_size")
    if batch_size < 1:
        raise InvalidArgumentError(f"{what}: batch_size {batch_size}; must be >= 1")
    return range(0, x.shape[0], batch_size), batch_size


def block_features(model, x, blocks, batch_size=256, n_threads=0):
    """The outputs of `blocks` (indices, increasing) of `model` for inputs x [N, ...]: one
    float32 array [N, width] per block, each row flattened, as a Probe and a Router read
    them."""
    blocks = [_scalars.i32(b, "blocks") for b in blocks]
    if not blocks or any(b <= a for a, b in zip(blocks, blocks[1:])):
        raise InvalidArgumentError("block_features: blocks must be increasing, at least one")
    x = _arrays.features(x, "x")
    starts, size = _batches(x, batch_size, "block_features")
    parts = [[] for _ in blocks]
    with Context(n_threads=n_threads) as ctx:
        for start in starts:
            h, done = x[start:start + size], 0
            for i, b in enumerate(blocks):
                h = model.forward(ctx, h, first=done, last=b + 1)
                done = b + 1
                parts[i].append(h.reshape(h.shape[0], -1))
            ctx.reset()
    widths = [int(np.prod(model.blocks[b].out_shape)) for b in blocks]
    return [np.concatenate(p) if p else np.zeros((0, w), np.float32)
            for p, w in zip(parts, widths)]


class Router(Owned):
    """Router(a, b, probe, blocks, shared_blocks=0): the probe reads the outputs of A's
    `blocks`; inputs it flags go to B, from the raw input or, with shared_blocks = k, from
    A's output of block k - 1 (A's and B's first k blocks must be the same)."""
    _kind = "router"

    def __init__(self, a, b, probe, blocks, shared_blocks=0):
        params = new_params(RouterParams)
        blocks = np.asarray([_scalars.i32(v, "blocks") for v in blocks], dtype=np.int32)
        params.n_blocks = len(blocks)
        params.blocks = _arrays.pointer(blocks, C.c_int32)
        params.shared_blocks = _scalars.i32(shared_blocks, "shared_blocks")
        raw = C.POINTER(adapt_router)()
        lib.adapt_router_create(C.byref(raw), a._ptr(), b._ptr(), probe._ptr(), C.byref(params))
        self._handle = Handle(raw, lib.adapt_router_free,
                              keep=(a._handle, b._handle, probe._handle))
        self.a, self.b, self.probe = a, b, probe
        self.blocks, self.shared_blocks = tuple(int(v) for v in blocks), int(shared_blocks)

    def run(self, x, batch_size=256, n_threads=0):
        """Routes inputs x [N, ...] in batches, in a private context; returns RouteResults."""
        raw = self._ptr()
        x = _arrays.features(x, "x")
        n, classes = x.shape[0], self.a.classes
        results = RouteResults(np.zeros((n, classes), np.float32), np.zeros(n, np.float32),
                               np.zeros(n, np.int32), np.zeros(n, np.int64))
        starts, size = _batches(x, batch_size, "run")
        with Context(n_threads=n_threads) as ctx:
            for start in starts:
                stop = min(start + size, n)
                out = RouteOutputs(
                    struct_size=C.sizeof(RouteOutputs),
                    logits=_arrays.pointer(results.logits[start:stop], C.c_float),
                    scores=_arrays.pointer(results.scores[start:stop], C.c_float),
                    routed=_arrays.pointer(results.routed[start:stop], C.c_int32),
                    flops=_arrays.pointer(results.flops[start:stop], C.c_int64))
                lib.adapt_router_run(C.byref(out), ctx._ptr(), raw,
                                     operand(ctx, x[start:stop], "x"))
                ctx.reset()
        return results._replace(routed=results.routed.astype(bool))

    def __repr__(self):
        state = " (closed)" if self.closed else ""
        return f"<libadapt.Router blocks {self.blocks}, shared {self.shared_blocks}{state}>"
