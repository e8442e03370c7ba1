"""Multi-source transfer (docs/transfer.md): models fine-tuned from one base model, merged
through their task vectors (adapt_models_merge), and a model prepared for fine-tuning few
parameters (adapt_model_low_rank_tune)."""
import ctypes as C
from typing import Sequence, Union

from . import _scalars
from ._native import lib
from ._params import new_params
from ._structs import MergeParams, TuneParams, adapt_model
from .enums import MergeMethod, TuneMethod, coerce


def merge_models(target, base, sources: Sequence, method: Union[MergeMethod, str] = "axis", *,
                 keep_fraction: float = None, scale: float = None, density: float = None):
    """Writes into `target` (a Model of its own with the base's parameters, e.g. a copy
    loaded from the base checkpoint) the base's parameters plus the merged task vectors of
    `sources`, Models fine-tuned from `base`. method: "axis" (keep_fraction of each
    matrix's rank of pooled SVD components, default 0.1; other parameters averaged),
    "task_arithmetic" or "ties" (scale, default 1; TIES keeps the `density` largest
    magnitudes of each task vector, default 0.2). On error target is unchanged."""
    params = new_params(MergeParams)
    settings = {"method": coerce(MergeMethod, method, "method"),
                "keep_fraction": keep_fraction, "scale": scale, "density": density}
    _scalars.assign(params, {k: v for k, v in settings.items() if v is not None},
                    "merge_models")
    array, count = _models(sources)
    lib.adapt_models_merge(target._ptr(), base._ptr(), array, count, C.byref(params))


def low_rank_tune(target, base, sources: Sequence = (),
                  method: Union[TuneMethod, str] = "singular_values", *,
                  keep_fraction: float = None, trainable_fraction: float = None,
                  zero_init: bool = None, keep_pooled_basis: bool = None, rank: int = None,
                  alpha: float = None, seed: int = None):
    """Prepares `target` (a Model with the base's parameters) for fine-tuning few
    parameters: each linear layer becomes a low_rank_linear module and only the method's
    parameters keep training. "singular_values": AXIS's pooled components of `sources`
    (keep_fraction of each layer's rank, default 0.1), re-orthogonalised unless
    keep_pooled_basis, the largest trainable_fraction of them (default 0.2) training their
    singular values (from 0 with zero_init). "lora": the base plus a rank-`rank` term
    (default 4) scaled by alpha / rank (default 8), its factors training; sources unused."""
    params = new_params(TuneParams)
    settings = {"method": coerce(TuneMethod, method, "method"), "keep_fraction": keep_fraction,
                "trainable_fraction": trainable_fraction,
                "zero_init": None if zero_init is None else int(bool(zero_init)),
                "keep_pooled_basis": None if keep_pooled_basis is None
                else int(bool(keep_pooled_basis)),
                "rank": rank, "alpha": alpha, "seed": seed}
    _scalars.assign(params, {k: v for k, v in settings.items() if v is not None},
                    "low_rank_tune")
    array, count = _models(sources)
    lib.adapt_model_low_rank_tune(target._ptr(), base._ptr(), array, count, C.byref(params))


def _models(models):
    """A C array of the models' pointers (kept alive by the caller) and its length."""
    models = list(models)
    return (C.POINTER(adapt_model) * max(len(models), 1))(*[m._ptr() for m in models]), \
        len(models)
