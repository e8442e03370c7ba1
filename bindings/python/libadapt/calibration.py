"""Calibrator: a calibration map fitted on validation logits (adapt_calibrator_*)."""
import ctypes as C

import numpy as np

from . import _arrays, _scalars
from ._handle import Handle, Owned
from ._native import lib
from ._params import new_params
from ._structs import CalibratorParams, adapt_calibrator
from .enums import CalibrationMethod, coerce
from .errors import ShapeError
from .metrics import score_rows


class Calibrator(Owned):
    """Made by Calibrator.fit(); apply() turns logits into calibrated probabilities."""
    _kind = "calibrator"

    def __init__(self, raw, method, classes):
        if not isinstance(raw, C.POINTER(adapt_calibrator)):
            raise TypeError("use Calibrator.fit()")
        self._handle = Handle(raw, lib.adapt_calibrator_free)
        self.method, self.classes = method, classes

    @classmethod
    def fit(cls, logits, labels, method="temperature", *, bins=None, max_iterations=None,
            tolerance=None):
        """Fits `method` ("temperature", "vector", "histogram", "isotonic", or for the
        logits of a one-vs-all model "exponential") on validation `logits` [n, classes] and
        `labels`. bins: histogram bins per class (default 15);
        max_iterations, tolerance: the L-BFGS limits of vector scaling (500, 1e-7)."""
        method = coerce(CalibrationMethod, method, "method")
        params = new_params(CalibratorParams)
        settings = {"method": method, "bins": bins, "max_iterations": max_iterations,
                    "tolerance": tolerance}
        _scalars.assign(params, {k: v for k, v in settings.items() if v is not None},
                        "calibrator")
        logits = score_rows(logits, "logits")
        n, classes = logits.shape
        labels = _arrays.integers(labels, C.c_int32, "labels", count=n)
        raw = C.POINTER(adapt_calibrator)()
        lib.adapt_calibrator_fit(C.byref(raw), C.byref(params),
                                 _arrays.pointer(logits, C.c_float),
                                 _arrays.pointer(labels, C.c_int32), n, classes)
        return cls(raw, method, classes)

    def apply(self, logits):
        """Calibrated probabilities, float32 [n, classes] with rows summing to 1 (to at most
        1 for "exponential": read them with kind="sub_probabilities")."""
        raw = self._ptr()
        logits = score_rows(logits, "logits")
        n, classes = logits.shape
        if classes != self.classes:
            raise ShapeError(f"apply: logits have {classes} classes, the calibrator was "
                             f"fitted on {self.classes}")
        out = np.empty((n, classes), dtype=np.float32)
        lib.adapt_calibrator_apply(_arrays.pointer(out, C.c_float), raw,
                                   _arrays.pointer(logits, C.c_float), n, classes)
        return out

    @property
    def temperature(self):
        """The fitted T of temperature scaling; StateError for the other methods."""
        value = C.c_double()
        lib.adapt_calibrator_temperature(C.byref(value), self._ptr())
        return value.value

    @property
    def exponent(self):
        """The fitted alpha of exponential calibration; StateError for the other methods."""
        value = C.c_double()
        lib.adapt_calibrator_exponent(C.byref(value), self._ptr())
        return value.value

    def __repr__(self):
        state = " (closed)" if self.closed else ""
        return f"<libadapt.Calibrator {self.method.name.lower()}, {self.classes} classes{state}>"
