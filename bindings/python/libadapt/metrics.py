"""Calibration and failure-prediction metrics of a classifier's outputs
(adapt_metrics_compute); the definitions are in docs/metrics.md."""
import ctypes as C
from dataclasses import dataclass, fields

from . import _arrays
from ._native import lib
from ._structs import MetricsReport
from .enums import ScoreKind, coerce
from .errors import ShapeError


@dataclass(frozen=True)
class Metrics:
    """One classifier on N samples. Confidence = largest probability; failure prediction
    treats correct predictions as positives."""
    accuracy: float
    ece: float            # 15 equal-width bins (lo, hi] of the confidence
    ks_error: float       # Kolmogorov-Smirnov calibration error, mean over classes
    nll: float            # mean -log p(label), p clamped below at 1e-15
    brier: float          # mean of sum_k (p_k - [label = k])^2
    auroc: float          # NaN when all predictions are correct or all wrong
    aurc: float
    eaurc: float
    fpr_at_95_tpr: float  # NaN when all predictions are correct or all wrong


def score_rows(scores, what):
    """`scores` as a C-ready float32 [n, classes] array."""
    scores = _arrays.float32(scores, what)
    if scores.ndim != 2:
        raise ShapeError(f"{what} must be [n, classes], not {scores.ndim}-D")
    return scores


def compute_metrics(scores, labels, kind="probabilities"):
    """Every metric of one classifier: `scores` [n, classes] are probabilities (rows summing
    to 1 within 1e-3), or logits with kind="logits" (a softmax) or kind="one_vs_all" (SLOVA's
    single-label probabilities, docs/slova.md); `labels` n integers in [0, classes)."""
    kind = coerce(ScoreKind, kind, "kind")
    scores = score_rows(scores, "scores")
    n, classes = scores.shape
    labels = _arrays.integers(labels, C.c_int32, "labels", count=n)
    report = MetricsReport(struct_size=C.sizeof(MetricsReport))
    lib.adapt_metrics_compute(C.byref(report), _arrays.pointer(scores, C.c_float),
                              _arrays.pointer(labels, C.c_int32), n, classes, kind)
    return Metrics(**{field.name: getattr(report, field.name) for field in fields(Metrics)})
