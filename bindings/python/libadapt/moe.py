"""Dynamic-k Mixture-of-Experts (D2DMoE): a dense two-layer network split into experts that
each token runs only as its router predicts they matter (docs/moe.md)."""
import ctypes as C

import numpy as np

from . import _arrays, _scalars
from ._native import lib
from ._params import new_params
from ._structs import MoeParams, adapt_model
from .enums import Activation, coerce


def ffn_module(model, path, activation="relu"):
    """A copy of the dense two-layer network at `path` of `model` (a transformer block's MLP,
    or a module of linear, ReLU or GELU, linear replacing it) as a Model of token_linear,
    `activation` (an Activation or its name), token_linear with the same weights, for
    model.replace(path, ...): D2DMoE swaps a ViT's GELU for ReLU this way before
    fine-tuning with sparsity_penalty. `model` is unchanged."""
    from .model import Model
    raw = C.POINTER(adapt_model)()
    lib.adapt_ffn_module(C.byref(raw), model._ptr(), _scalars.text(path, "path"),
                         coerce(Activation, activation, "activation"))
    return Model(raw)


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


def moe_train_routers(moes, recordings, *, progress=None, cancel=None, **settings):
    """Trains the router of each moes[i] (a Model of one Mixture-of-Experts layer, as
    moe_from_ffn makes) to predict, for every token of recordings[i].inputs, the L2 norm of
    each expert's output, by mean squared error, all at once; only the routers change.
    settings, progress and cancel are those of Model.train; returns the Progress of each
    epoch's last step."""
    from .distill import train_on_recordings
    return train_on_recordings(lib.adapt_moe_train_routers, "moe_train_routers", moes,
                               recordings, progress, cancel, settings)


def token_counts(function, module, ctx, x):
    """What a C function of the adapt_moe_expert_counts signature writes for x: how many
    groups (experts, learners) each token ran in `module`, int32 shaped like x without its
    last axis."""
    from .context import operand
    raw = operand(ctx, x, "x")
    ctx.keep(module._handle)
    dims = [lib.adapt_tensor_dim(raw, d) for d in range(lib.adapt_tensor_ndim(raw))]
    counts = np.zeros(dims[:-1], dtype=np.int32)
    function(_arrays.pointer(counts, C.c_int32), ctx._ptr(), module._ptr(), raw)
    return counts


def moe_expert_counts(moe, ctx, x):
    """How many experts each token of x ran in `moe` (a Model of one Mixture-of-Experts
    layer) under its routing: int32 shaped like x without its last axis."""
    return token_counts(lib.adapt_moe_expert_counts, moe, ctx, x)
