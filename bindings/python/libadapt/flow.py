"""Flow: a normalizing flow on latent vectors (adapt_flow_*, docs/flows.md)."""
import ctypes as C
from typing import Dict

import numpy as np

from . import _arrays, _scalars
from ._handle import Handle, Owned
from ._native import lib
from ._params import new_params
from ._structs import FlowParams, adapt_flow, adapt_tensor
from .context import operand
from .enums import CouplingKind, coerce
from .errors import ShapeError
from .tensor import Parameter, Tensor


class Flow(Owned):
    """Flow(dim, cond_dim=0, couplings=8, coupling="affine", hidden=128, blocks=2,
    batch_norm=True, seed=0): coupling layers alternating halves of the vector, residual
    coupling nets, batch normalisation between couplings; starts as the identity."""
    _kind = "flow"

    def __init__(self, dim, cond_dim=0, couplings=8, coupling="affine", hidden=128, blocks=2,
                 batch_norm=True, seed=0):
        params = new_params(FlowParams)
        _scalars.assign(params, {"dim": dim, "cond_dim": cond_dim, "couplings": couplings,
                                 "coupling": coerce(CouplingKind, coupling, "coupling"),
                                 "hidden": hidden, "blocks": blocks,
                                 "batch_norm": int(bool(batch_norm)), "seed": seed}, "Flow")
        raw = C.POINTER(adapt_flow)()
        lib.adapt_flow_create(C.byref(raw), C.byref(params))
        self._handle = Handle(raw, lib.adapt_flow_free)
        self.dim, self.cond_dim = int(dim), int(cond_dim)

    def forward(self, ctx, w, cond=None, *, as_tensor=False):
        """z = f(w) and log |det dz/dw| per row, in `ctx` (taped when it records gradients;
        batch statistics when it trains). numpy copies, or Tensors with as_tensor=True."""
        raw = self._ptr()
        w = operand(ctx, w, "w")
        c = operand(ctx, cond, "cond") if cond is not None else None
        ctx.keep(self._handle)
        z, logdet = C.POINTER(adapt_tensor)(), C.POINTER(adapt_tensor)()
        lib.adapt_flow_forward(C.byref(z), C.byref(logdet), ctx._ptr(), raw, w, c)
        z, logdet = Tensor(z, ctx), Tensor(logdet, ctx)
        return (z, logdet) if as_tensor else (z.numpy(), logdet.numpy())

    def inverse(self, z, cond=None):
        """w = f^-1(z) for z [n, dim] (and cond [n, cond_dim]), with batch normalisation's
        running statistics."""
        raw = self._ptr()
        z = _arrays.float32(z, "z")
        if z.ndim != 2 or z.shape[1] != self.dim:
            raise ShapeError(f"inverse: z must be [n, {self.dim}], not {list(z.shape)}")
        c = None
        if cond is not None:
            c = _arrays.float32(cond, "cond")
            if c.shape != (z.shape[0], self.cond_dim):
                raise ShapeError(f"inverse: cond must be [{z.shape[0]}, {self.cond_dim}]")
        w = np.empty_like(z)
        lib.adapt_flow_inverse(_arrays.pointer(w, C.c_float), raw,
                               _arrays.pointer(z, C.c_float),
                               _arrays.pointer(c, C.c_float) if c is not None else None,
                               z.shape[0])
        return w

    def parameters(self) -> Dict[str, Parameter]:
        """{name: Parameter} in the flow's order, buffers (running statistics) included."""
        raw = self._ptr()
        return {lib.adapt_flow_param_name(raw, i).decode():
                Parameter._of_model(self._handle, lib.adapt_flow_param(raw, i),
                                    lib.adapt_flow_param_name(raw, i).decode())
                for i in range(lib.adapt_flow_param_count(raw))}

    def __repr__(self):
        state = " (closed)" if self.closed else ""
        return f"<libadapt.Flow dim {self.dim}, cond {self.cond_dim}{state}>"
