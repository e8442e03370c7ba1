"""Metrics and calibrators against scikit-learn and independent numpy implementations.

Each reference below is written from the definition in docs/metrics.md, not from the C code;
scikit-learn supplies AUROC (roc_auc_score), the ROC curve, NLL (log_loss), the binary Brier
score and isotonic regression. Metrics are computed in double on both sides from the same
float32 inputs, so they must agree to 1e-6; calibrated probabilities come back as float32.
"""
import numpy as np
import pytest

import libadapt as ad

sklearn = pytest.importorskip(
    "sklearn", reason="scikit-learn is not installed (Debian: python3-sklearn); the metric "
                      "cross-checks need it")
from sklearn.isotonic import IsotonicRegression  # noqa: E402
from sklearn.metrics import brier_score_loss, log_loss, roc_auc_score, roc_curve  # noqa: E402

TOL = 1e-6


def problem(seed, n=2000, classes=5, sharpness=2.0):
    """float32 logits of a noisy classifier and int32 labels: roughly 60 % accuracy, with
    confidences spread over the whole range."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, classes, n)
    logits = rng.normal(0.0, 1.0, (n, classes))
    logits[np.arange(n), labels] += 1.5
    return (sharpness * logits).astype(np.float32), labels.astype(np.int32)


def softmax(logits):
    z = logits.astype(np.float64)
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def top_label(p, labels):
    """Confidence (largest probability) and correctness of the first largest."""
    return p.max(axis=1), p.argmax(axis=1) == labels


def ece(confidence, correct, bins=15):
    edges = np.linspace(0.0, 1.0, bins + 1)
    total = 0.0
    for b in range(bins):
        inside = (confidence > edges[b]) & (confidence <= edges[b + 1])
        if b == 0:
            inside |= confidence == 0.0
        if inside.any():
            total += inside.mean() * abs(correct[inside].mean() - confidence[inside].mean())
    return total


def ks_error(p, labels):
    """Per class: the largest |sum of (p_k - [y = k]) over p_k <= t| / N over thresholds t
    (whole groups of equal p_k), averaged over classes."""
    n, classes = p.shape
    per_class = []
    for k in range(classes):
        values, inverse = np.unique(p[:, k], return_inverse=True)
        per_value = np.bincount(inverse, weights=p[:, k] - (labels == k), minlength=len(values))
        per_class.append(np.abs(np.cumsum(per_value)).max() / n)
    return float(np.mean(per_class))


def aurc(confidence, correct):
    """Risk at coverage i / N for i = 1..N, most confident first, each group of equal
    confidences contributing its errors evenly; then E-AURC against the ideal ranking."""
    n = len(confidence)
    values, inverse = np.unique(-confidence, return_inverse=True)  # descending groups
    size = np.bincount(inverse)
    errors = np.bincount(inverse, weights=~correct)
    before = np.concatenate([[0.0], np.cumsum(errors)[:-1]])
    start = np.concatenate([[0], np.cumsum(size)[:-1]])
    risks = []
    for g in range(len(values)):
        j = np.arange(1, size[g] + 1)
        risks.append((before[g] + errors[g] * j / size[g]) / (start[g] + j))
    area = np.concatenate(risks).mean()
    wrong = int((~correct).sum())
    i = np.arange(n - wrong + 1, n + 1)
    ideal = ((i - (n - wrong)) / i).sum() / n
    return area, area - ideal


def fpr_at_95_tpr(confidence, correct):
    fpr, tpr, _ = roc_curve(correct, confidence, drop_intermediate=False)
    return fpr[np.argmax(tpr >= 0.95)]


def reference_metrics(p, labels):
    confidence, correct = top_label(p, labels)
    area, excess = aurc(confidence, correct)
    return {
        "accuracy": correct.mean(),
        "ece": ece(confidence, correct),
        "ks_error": ks_error(p, labels),
        "nll": log_loss(labels, p, labels=np.arange(p.shape[1])),
        "brier": ((p - np.eye(p.shape[1])[labels]) ** 2).sum(axis=1).mean(),
        "auroc": roc_auc_score(correct, confidence),
        "aurc": area,
        "eaurc": excess,
        "fpr_at_95_tpr": fpr_at_95_tpr(confidence, correct),
    }


def assert_agree(metrics, reference):
    for name, want in reference.items():
        assert getattr(metrics, name) == pytest.approx(want, abs=TOL, rel=0), name


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_metrics_from_logits_match_the_references(seed):
    logits, labels = problem(seed)
    assert_agree(ad.compute_metrics(logits, labels, kind="logits"),
                 reference_metrics(softmax(logits), labels))


@pytest.mark.parametrize("seed", [4, 5])
def test_metrics_from_probabilities_match_the_references(seed):
    logits, labels = problem(seed, classes=7)
    probabilities = softmax(logits).astype(np.float32)
    assert_agree(ad.compute_metrics(probabilities, labels),
                 reference_metrics(probabilities.astype(np.float64), labels))


def test_tied_confidences_follow_the_tie_rules():
    """Probabilities rounded to tenths: many rows share a confidence, which exercises the
    half-credit of AUROC, the even spread of errors in AURC and whole groups in KS. Some
    rows give their label probability 0, where the NLL clamp (1e-15, not sklearn's 2.2e-16)
    applies."""
    logits, labels = problem(6, n=600, classes=2)
    p1 = np.clip(np.round(softmax(logits)[:, 1], 1), 0.0, 1.0)
    probabilities = np.stack([1.0 - p1, p1], axis=1).astype(np.float32)
    p = probabilities.astype(np.float64)
    reference = reference_metrics(p, labels)
    p_label = p[np.arange(len(labels)), labels]
    assert (p_label == 0).any() and len(np.unique(p.max(axis=1))) <= 6
    reference["nll"] = -np.log(np.maximum(p_label, 1e-15)).mean()
    assert_agree(ad.compute_metrics(probabilities, labels), reference)


def test_binary_brier_is_twice_sklearns():
    """The multiclass Brier score sums over both classes; sklearn's binary one takes the
    positive class only, which is half of it."""
    logits, labels = problem(7, classes=2)
    p = softmax(logits)
    metrics = ad.compute_metrics(logits, labels, kind="logits")
    assert metrics.brier == pytest.approx(2 * brier_score_loss(labels, p[:, 1]), abs=TOL)


def renormalised(mapped, fallback):
    total = mapped.sum(axis=1, keepdims=True)
    return np.where(total > 0, mapped / np.where(total > 0, total, 1.0), fallback)


@pytest.mark.parametrize("seed", [8, 9])
def test_isotonic_matches_sklearn(seed):
    logits, labels = problem(seed, n=1500, classes=4)
    new_logits, _ = problem(seed + 100, n=500, classes=4, sharpness=3.0)  # beyond the range too
    p_fit, p_new = softmax(logits), softmax(new_logits)
    mapped = np.empty_like(p_new)
    for k in range(4):
        regression = IsotonicRegression(out_of_bounds="clip")
        regression.fit(p_fit[:, k], (labels == k).astype(np.float64))
        mapped[:, k] = regression.predict(p_new[:, k])
    with ad.Calibrator.fit(logits, labels, "isotonic") as calibrator:
        ours = calibrator.apply(new_logits)
    np.testing.assert_allclose(ours, renormalised(mapped, p_new), rtol=0, atol=TOL)


def test_histogram_binning_matches_numpy():
    logits, labels = problem(10, n=1500, classes=3)
    bins = 10
    p = softmax(logits)
    frequency = np.empty((3, bins))
    for k in range(3):
        index = np.clip(np.ceil(p[:, k] * bins).astype(int) - 1, 0, bins - 1)
        for b in range(bins):
            inside = index == b
            frequency[k, b] = (labels[inside] == k).mean() if inside.any() else (b + 0.5) / bins
    new_logits, _ = problem(11, n=400, classes=3)
    p_new = softmax(new_logits)
    index = np.clip(np.ceil(p_new * bins).astype(int) - 1, 0, bins - 1)
    mapped = frequency[np.arange(3), index]
    with ad.Calibrator.fit(logits, labels, "histogram", bins=bins) as calibrator:
        ours = calibrator.apply(new_logits)
    np.testing.assert_allclose(ours, renormalised(mapped, p_new), rtol=0, atol=TOL)


def nll(logits, labels, scale=1.0, shift=0.0):
    z = logits.astype(np.float64) * scale + shift
    top = z.max(axis=1, keepdims=True)
    lse = top[:, 0] + np.log(np.exp(z - top).sum(axis=1))
    return (lse - z[np.arange(len(labels)), labels]).mean()


def test_temperature_matches_a_bounded_scalar_minimisation():
    optimize = pytest.importorskip("scipy.optimize", reason="scipy is not installed")
    logits, labels = problem(12)
    best = optimize.minimize_scalar(lambda t: nll(logits, labels, 1.0 / t), bounds=(0.05, 20),
                                    method="bounded", options={"xatol": 1e-10})
    with ad.Calibrator.fit(logits, labels) as calibrator:
        assert calibrator.temperature == pytest.approx(best.x, abs=1e-5)
        p = calibrator.apply(logits)
    assert -np.log(p[np.arange(len(labels)), labels]).mean() == pytest.approx(best.fun, abs=TOL)


def test_vector_scaling_reaches_the_convex_minimum():
    optimize = pytest.importorskip("scipy.optimize", reason="scipy is not installed")
    logits, labels = problem(13, classes=4)
    logits[:, 2] = 0.5 * logits[:, 2] + 1.0  # one class miscalibrated differently

    def objective(x):
        return nll(logits, labels, x[:4], x[4:])

    best = optimize.minimize(objective, np.r_[np.ones(4), np.zeros(4)], method="L-BFGS-B",
                             options={"ftol": 1e-15, "gtol": 1e-10, "maxiter": 10000})
    with ad.Calibrator.fit(logits, labels, "vector") as calibrator:
        p = calibrator.apply(logits)
    assert -np.log(p[np.arange(len(labels)), labels]).mean() == pytest.approx(best.fun, abs=TOL)
