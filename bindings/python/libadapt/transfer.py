"""Multi-source transfer (docs/transfer.md): models fine-tuned from one base model, merged
through their task vectors (adapt_models_merge)."""
import ctypes as C
from typing import Sequence, Union

from . import _scalars
from ._native import lib
from ._params import new_params
from ._structs import MergeParams, adapt_model
from .enums import MergeMethod, coerce


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
    sources = list(sources)
    array = (C.POINTER(adapt_model) * max(len(sources), 1))(*[s._ptr() for s in sources])
    lib.adapt_models_merge(target._ptr(), base._ptr(), array, len(sources), C.byref(params))
