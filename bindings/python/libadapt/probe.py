"""Probe: flags inputs from a model's hidden states (adapt_probe_*, docs/probes.md)."""
import ctypes as C

import numpy as np

from . import _arrays, _scalars
from ._handle import Handle, Owned
from ._native import lib
from ._params import new_params
from ._structs import ProbeParams, adapt_probe
from .enums import ProbeKind, coerce
from .errors import ShapeError


def _layers(features, what):
    """One float32 matrix [n, width] per layer, as C arrays: `features` is one array or a
    list of them (one per layer), each [n, ...] with the trailing dims flattened."""
    if isinstance(features, np.ndarray) or not isinstance(features, (list, tuple)):
        features = [features]
    if not features:
        raise ShapeError(f"{what}: no layers")
    mats = []
    for i, layer in enumerate(features):
        array = _arrays.float32(layer, f"{what}[{i}]")
        if array.ndim < 2:
            raise ShapeError(f"{what}[{i}]: {array.ndim} dims; a layer's features are [n, "
                             f"width]")
        width = int(np.prod(array.shape[1:]))
        mats.append(np.ascontiguousarray(array.reshape(array.shape[0], width)))
    rows = {m.shape[0] for m in mats}
    if len(rows) != 1:
        raise ShapeError(f"{what}: the layers have different row counts {sorted(rows)}")
    pointers = (C.POINTER(C.c_float) * len(mats))(
        *[_arrays.pointer(m, C.c_float) for m in mats])
    widths = (C.c_int64 * len(mats))(*[m.shape[1] for m in mats])
    return mats, pointers, widths, mats[0].shape[0]


class Probe(Owned):
    """Made by Probe.fit(); score() gives each input's probability of "flagged"."""
    _kind = "probe"

    def __init__(self, raw, kind, widths):
        if not isinstance(raw, C.POINTER(adapt_probe)):
            raise TypeError("use Probe.fit()")
        self._handle = Handle(raw, lib.adapt_probe_free)
        self.kind, self.widths = kind, tuple(widths)

    @classmethod
    def fit(cls, features, labels, kind="prototypes", *, hidden=None, epochs=None,
            max_iterations=None, l2=None, l1=None, tolerance=None, learning_rate=None,
            seed=None, n_threads=None):
        """Fits one classifier per layer on `features` (an array [n, width] or a list of
        them, one per layer) and `labels` (0 benign, 1 flagged), and with two or more
        layers their combination by L1-regularised logistic regression. kind: "prototypes",
        "logistic" or "mlp". l2 (logistic) and l1 (combination) are scikit-learn's 1 / C
        (default 1); hidden, epochs, learning_rate, seed, n_threads: the MLP's (64, 30,
        1e-3, 0, all cores); max_iterations, tolerance: the solvers' (1000, 1e-7)."""
        kind = coerce(ProbeKind, kind, "kind")
        params = new_params(ProbeParams)
        settings = {"kind": kind, "hidden": hidden, "epochs": epochs,
                    "max_iterations": max_iterations, "l2": l2, "l1": l1,
                    "tolerance": tolerance, "learning_rate": learning_rate, "seed": seed,
                    "n_threads": n_threads}
        _scalars.assign(params, {k: v for k, v in settings.items() if v is not None}, "probe")
        mats, pointers, widths, n = _layers(features, "features")
        labels = _arrays.integers(labels, C.c_int32, "labels", count=n)
        raw = C.POINTER(adapt_probe)()
        lib.adapt_probe_fit(C.byref(raw), pointers, widths, len(mats),
                            _arrays.pointer(labels, C.c_int32), n, C.byref(params))
        return cls(raw, kind, [m.shape[1] for m in mats])

    def score(self, features, per_layer=False):
        """Each row's probability of "flagged", float32 [n]; with per_layer=True also each
        layer's, [n, layers]."""
        raw = self._ptr()
        mats, pointers, widths, n = _layers(features, "features")
        scores = np.empty(n, dtype=np.float32)
        layers = np.empty((n, len(mats)), dtype=np.float32) if per_layer else None
        lib.adapt_probe_score(raw, _arrays.pointer(scores, C.c_float),
                              _arrays.pointer(layers, C.c_float) if per_layer else None,
                              pointers, widths, len(mats), n)
        return (scores, layers) if per_layer else scores

    def flag(self, features):
        """Whether each row's score exceeds the threshold, bool [n]."""
        return self.score(features) > self.threshold

    def set_threshold_for_fpr(self, benign_features, fpr):
        """Sets the threshold so that at most floor(fpr n) of the n benign rows score above
        it; returns it."""
        raw = self._ptr()
        mats, pointers, widths, n = _layers(benign_features, "benign_features")
        lib.adapt_probe_set_threshold_for_fpr(raw, pointers, widths, len(mats), n,
                                              _scalars.checked_float(fpr, "fpr"))
        return self.threshold

    @property
    def threshold(self):
        """A row is flagged when its score exceeds this (0.5 after fitting)."""
        return lib.adapt_probe_threshold(self._ptr())

    @threshold.setter
    def threshold(self, value):
        lib.adapt_probe_set_threshold(self._ptr(), _scalars.checked_float(value, "threshold"))

    @property
    def combination(self):
        """The combination's weights over the layers' probabilities, then its bias."""
        out = np.empty(len(self.widths) + 1, dtype=np.float64)
        lib.adapt_probe_combination(self._ptr(), _arrays.pointer(out, C.c_double))
        return out

    def layer_weights(self, layer):
        """Layer `layer`'s linear classifier (prototypes, logistic): weights [width] and the
        bias, the logit of "flagged" being weights @ h + bias."""
        out = np.empty(self.widths[layer] + 1, dtype=np.float64)
        lib.adapt_probe_layer_weights(self._ptr(), _scalars.i32(layer, "layer"),
                                      _arrays.pointer(out, C.c_double))
        return out[:-1], float(out[-1])

    def __repr__(self):
        state = " (closed)" if self.closed else ""
        return (f"<libadapt.Probe {self.kind.name.lower()}, {len(self.widths)} layers, "
                f"threshold {self.threshold:.4g}{state}>" if not self.closed else
                f"<libadapt.Probe {self.kind.name.lower()}{state}>")
