"""Continual learning (docs/continual.md): EWC and SI as one quadratic penalty on a model's
weights, its importance weighed by the Fisher information (EWC) or by the path integral of
training (SI). Tasks are Dataset.select_classes() views; train(consolidation=...) adds the
penalty."""
import ctypes as C
from typing import Optional, Union

from . import _scalars
from ._handle import Handle, Owned
from ._native import lib
from ._structs import adapt_consolidation
from .enums import ConsolidationKind, coerce


class Consolidation(Owned):
    """Importance and anchor of each of `model`'s weights, zero and the weights now at
    first. kind "ewc" or "si"; damping is SI's xi (> 0), 0 for EWC."""
    _kind = "consolidation"

    def __init__(self, model, kind: Union[ConsolidationKind, str] = "ewc",
                 damping: float = 0.0):
        raw = C.POINTER(adapt_consolidation)()
        lib.adapt_consolidation_create(C.byref(raw), model._ptr(),
                                       coerce(ConsolidationKind, kind, "kind"),
                                       _scalars.checked_float(damping, "damping"))
        self._handle = Handle(raw, lib.adapt_consolidation_free)

    def end_task(self, model, task=None, n_threads: int = 0) -> None:
        """Adds the task just trained to the importance and moves the anchor: EWC reads
        `task` (the Fisher information of its samples), SI does not."""
        from .training import _dataset
        task = None if task is None else _dataset(task, "task")
        lib.adapt_consolidation_end_task(self._ptr(), model._ptr(),
                                         None if task is None else task._ptr(),
                                         _scalars.i32(n_threads, "n_threads"))

    def penalty(self, model) -> float:
        """sum Omega (theta - theta*)^2 over the model's weights, without the weight."""
        value = C.c_double()
        lib.adapt_consolidation_penalty(C.byref(value), self._ptr(), model._ptr())
        return value.value


def consolidation_pointer(consolidation: Optional[Consolidation]):
    """The C pointer train() puts in adapt_train_params, None for none."""
    if consolidation is None:
        return None
    if not isinstance(consolidation, Consolidation):
        raise TypeError("consolidation must be a Consolidation or None")
    return C.cast(consolidation._ptr(), C.c_void_p).value
