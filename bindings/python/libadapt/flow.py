"""Flow: a normalizing flow on latent vectors (adapt_flow_*, docs/flows.md)."""
import ctypes as C
from typing import Dict

import numpy as np

from . import _arrays, _scalars
from ._handle import Handle, Owned
from ._native import lib
from ._params import new_params
from ._structs import FlowParams, FlowPrior, adapt_flow, adapt_tensor
from .context import operand
from .enums import CouplingKind, coerce
from .errors import ShapeError
from .tensor import Parameter, Tensor
from .training import _Callbacks, run_training, train_params


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

    @classmethod
    def load(cls, path):
        """The flow a file of Flow.save() describes (adapt_flow_load)."""
        raw = C.POINTER(adapt_flow)()
        lib.adapt_flow_load(C.byref(raw), _scalars.path_bytes(path, "Flow.load"))
        flow = cls.__new__(cls)
        flow._handle = Handle(raw, lib.adapt_flow_free)
        settings = new_params(FlowParams)
        lib.adapt_flow_settings(raw, C.byref(settings))
        flow.dim, flow.cond_dim = int(settings.dim), int(settings.cond_dim)
        return flow

    def save(self, path):
        """Saves the parameters, running statistics and settings (adapt_flow_save)."""
        lib.adapt_flow_save(self._ptr(), _scalars.path_bytes(path, "Flow.save"))

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
        z = self._rows(z, self.dim, "z")
        c = None if cond is None else self._rows(cond, self.cond_dim, "cond", z.shape[0])
        w = np.empty_like(z)
        lib.adapt_flow_inverse(_arrays.pointer(w, C.c_float), raw,
                               _arrays.pointer(z, C.c_float),
                               _arrays.pointer(c, C.c_float) if c is not None else None,
                               z.shape[0])
        return w

    def train(self, w, attribute_values=None, cond=None, identities=None, *, sigma=0.7,
              sigma_decay=0.9, identity_weight=0.0, identity_warmup=1, progress=None,
              cancel=None, **settings):
        """Trains on latents w [n, dim]: the first k coordinates of z towards
        attribute_values [n, k] (z_j ~ N(a_j, sigma_e^2), sigma_e = sigma * sigma_decay^e in
        epoch e), the rest towards N(0, 1); with identities [n] (ids >= 0, -1 for none) the
        rest of each identity's codes in a batch are pulled to their mean, weighted by
        identity_weight ramped over identity_warmup epochs, and batch_size counts identities
        (each batch holds all rows of its identities). settings, progress and cancel are
        those of Model.train; returns the Progress of each epoch's last step."""
        raw = self._ptr()
        w = self._rows(w, self.dim, "w")
        n = w.shape[0]
        values = None if attribute_values is None else \
            _arrays.float32(attribute_values, "attribute_values").reshape(n, -1)
        c = None if cond is None else self._rows(cond, self.cond_dim, "cond", n)
        ids = None if identities is None else \
            _arrays.integers(identities, C.c_int32, "identities", count=n)
        prior = new_params(FlowPrior)
        _scalars.assign(prior, {"attributes": 0 if values is None else values.shape[1],
                                "sigma": sigma, "sigma_decay": sigma_decay,
                                "identity_weight": identity_weight,
                                "identity_warmup": identity_warmup}, "train")
        callbacks = _Callbacks(progress, cancel)
        params = train_params(settings, callbacks, "train")
        pointer = _arrays.pointer
        run_training(lambda: lib.adapt_flow_train(
            raw, pointer(w, C.c_float), None if c is None else pointer(c, C.c_float),
            None if values is None else pointer(values, C.c_float),
            None if ids is None else pointer(ids, C.c_int32), n, C.byref(prior),
            C.byref(params)), [callbacks])
        return callbacks.history

    def edit(self, w, dims, values, cond=None):
        """Latents w [n, dim] edited: z = f(w), z[:, dims] = values ([n, len(dims)], or one
        value per dim for every row), w' = f^-1(z)."""
        raw = self._ptr()
        w = self._rows(w, self.dim, "w")
        dims = _arrays.integers(np.atleast_1d(dims), C.c_int32, "dims")
        values = np.broadcast_to(_arrays.float32(values, "values"),
                                 (w.shape[0], len(dims))).astype(np.float32)
        c = None if cond is None else self._rows(cond, self.cond_dim, "cond", w.shape[0])
        out = np.empty_like(w)
        lib.adapt_flow_edit(_arrays.pointer(out, C.c_float), raw, _arrays.pointer(w, C.c_float),
                            None if c is None else _arrays.pointer(c, C.c_float), w.shape[0],
                            _arrays.pointer(dims, C.c_int32), len(dims),
                            _arrays.pointer(values, C.c_float))
        return out

    @staticmethod
    def _rows(x, width, what, n=None):
        x = _arrays.float32(x, what)
        if x.ndim != 2 or x.shape[1] != width or (n is not None and x.shape[0] != n):
            raise ShapeError(f"{what} must be [{'n' if n is None else n}, {width}], not "
                             f"{list(x.shape)}")
        return x

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
