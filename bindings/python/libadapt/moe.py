"""Dynamic-k Mixture-of-Experts (D2DMoE): a dense two-layer network split into experts that
each token runs only as its router predicts they matter (docs/moe.md)."""
import ctypes as C

from . import _scalars
from ._native import lib
from ._params import new_params
from ._structs import MoeParams, adapt_model


def moe_from_ffn(model, path, experts=8, router_width=128, iterations=20, seed=0):
    """The dense network at `path` of `model` ("blocks.3.mlp": a transformer block's MLP, or a
    module of linear, ReLU or GELU, linear replacing it) split into `experts` equal experts
    by balanced k-means on its first layer's unit-norm rows, as a new Model of the same
    per-sample shapes, for model.replace(path, ...). Its router is untrained; with every
    expert running (tau 0) it computes what the dense network does. `model` is unchanged."""
    from .model import Model
    params = new_params(MoeParams)
    _scalars.assign(params, {"experts": experts, "router_width": router_width,
                             "iterations": iterations, "seed": seed}, "moe_from_ffn")
    raw = C.POINTER(adapt_model)()
    lib.adapt_moe_from_ffn(C.byref(raw), model._ptr(), _scalars.text(path, "path"),
                           C.byref(params))
    return Model(raw)
