"""compute_metrics and Calibrator through the bindings: conversions, round trips, errors."""
import gc

import numpy as np
import pytest

import libadapt as ad

HALVES = np.array([[0.75, 0.25], [0.25, 0.75], [0.625, 0.375], [0.5, 0.5]], np.float32)


@pytest.fixture
def validation(rng):
    labels = rng.integers(0, 3, 400).astype(np.int32)
    logits = rng.normal(0.0, 1.0, (400, 3))
    logits[np.arange(400), labels] += 1.0
    return (3.0 * logits).astype(np.float32), labels


def test_metrics_are_a_frozen_record_of_floats():
    metrics = ad.compute_metrics(HALVES, [0, 1, 1, 0])
    assert isinstance(metrics, ad.Metrics)
    assert metrics.accuracy == 0.75
    assert 0.0 <= metrics.ece <= 1.0 and 0.0 <= metrics.auroc <= 1.0
    with pytest.raises(AttributeError):
        metrics.accuracy = 1.0


def test_kind_takes_a_member_its_name_or_its_number(validation):
    logits, labels = validation
    by_name = ad.compute_metrics(logits, labels, kind="logits")
    assert ad.compute_metrics(logits, labels, kind=ad.ScoreKind.LOGITS) == by_name
    assert ad.compute_metrics(logits, labels, kind=1) == by_name
    with pytest.raises(ad.InvalidArgumentError, match="probabilities, logits"):
        ad.compute_metrics(logits, labels, kind="odds")


def test_other_dtypes_and_layouts_are_converted(validation):
    logits, labels = validation
    want = ad.compute_metrics(logits, labels, kind="logits")
    wide = np.asfortranarray(logits.astype(np.float64))
    assert ad.compute_metrics(wide, labels.astype(np.int64), kind="logits") == want
    assert ad.compute_metrics(logits.tolist(), labels.tolist(), kind="logits") == want


def test_all_correct_gives_nan_for_the_undefined_metrics():
    metrics = ad.compute_metrics(HALVES, [0, 1, 0, 0])
    assert metrics.accuracy == 1.0 and metrics.aurc == 0.0
    assert np.isnan(metrics.auroc) and np.isnan(metrics.fpr_at_95_tpr)


@pytest.mark.parametrize("scores, labels, error, message", [
    (HALVES[0], [0], ad.ShapeError, "must be \\[n, classes\\]"),
    (HALVES, [0, 1, 0], ad.ShapeError, "3 entries, 4 expected"),
    (HALVES, [0.0, 1.0, 0.0, 0.0], TypeError, "integers"),
    (HALVES, [0, 2, 0, 0], ad.InvalidArgumentError, "labels\\[1\\] = 2 outside \\[0, 2\\)"),
    (HALVES * 2, [0, 1, 0, 0], ad.InvalidArgumentError, "row 0 sums to 2"),
    (np.where(HALVES == 0.5, np.nan, HALVES), [0, 1, 0, 0], ad.NonFiniteError, "nan"),
    (HALVES[:0], [], ad.InvalidArgumentError, "n = 0"),
    (HALVES[:, :1], [0, 0, 0, 0], ad.InvalidArgumentError, "classes = 1"),
])
def test_bad_input_raises_with_the_library_message(scores, labels, error, message):
    with pytest.raises(error, match=message):
        ad.compute_metrics(scores, labels)


@pytest.mark.parametrize("method", [m for m in ad.CalibrationMethod
                                    if m is not ad.CalibrationMethod.EXPONENTIAL])
def test_each_softmax_method_round_trips(validation, method):
    logits, labels = validation
    with ad.Calibrator.fit(logits, labels, method.name.lower()) as calibrator:
        assert calibrator.method is method and calibrator.classes == 3
        p = calibrator.apply(logits)
        again = ad.Calibrator.fit(logits, labels, method).apply(logits)
    assert p.dtype == np.float32 and p.shape == logits.shape
    np.testing.assert_allclose(p.sum(axis=1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(p, again)  # deterministic fit
    before = ad.compute_metrics(logits, labels, kind="logits")
    after = ad.compute_metrics(p, labels)
    assert after.nll < before.nll  # over-confident logits: every method helps on its own data


def test_temperature_and_its_absence(validation):
    logits, labels = validation
    calibrator = ad.Calibrator.fit(logits, labels)
    assert calibrator.method is ad.CalibrationMethod.TEMPERATURE
    assert 1.0 < calibrator.temperature < 10.0  # logits were scaled up by 3
    expected = np.exp(logits / calibrator.temperature)
    np.testing.assert_allclose(calibrator.apply(logits),
                               expected / expected.sum(axis=1, keepdims=True), atol=1e-6)
    with pytest.raises(ad.StateError, match="has no temperature"):
        _ = ad.Calibrator.fit(logits, labels, "vector").temperature


def test_settings_are_checked(validation):
    logits, labels = validation
    with pytest.raises(ad.InvalidArgumentError, match="bins = 0"):
        ad.Calibrator.fit(logits, labels, "histogram", bins=0)
    with pytest.raises(ad.NonFiniteError, match="tolerance"):
        ad.Calibrator.fit(logits, labels, "vector", tolerance=float("nan"))
    with pytest.raises(ad.InvalidArgumentError, match="max_iterations"):
        ad.Calibrator.fit(logits, labels, "vector", max_iterations=-1)
    with pytest.raises(ad.InvalidArgumentError, match="temperature, vector"):
        ad.Calibrator.fit(logits, labels, "platt")
    with pytest.raises(ad.InvalidArgumentError, match="does not fit"):
        ad.Calibrator.fit(logits, labels, "histogram", bins=2 ** 40)
    ad.Calibrator.fit(logits, labels, "vector", max_iterations=3, tolerance=0.0).close()


def test_apply_refuses_what_it_cannot_calibrate(validation):
    logits, labels = validation
    calibrator = ad.Calibrator.fit(logits, labels)
    with pytest.raises(ad.ShapeError, match="fitted on 3"):
        calibrator.apply(logits[:, :2])
    with pytest.raises(ad.NonFiniteError, match="logits\\[0, 1\\] is inf"):
        calibrator.apply(np.array([[0.0, np.inf, 0.0]]))
    assert calibrator.apply(np.zeros((0, 3))).shape == (0, 3)
    calibrator.close()
    with pytest.raises(ad.StateError, match="closed"):
        calibrator.apply(logits)
    assert "closed" in repr(calibrator)


def test_fit_refuses_bad_validation_data(validation):
    logits, labels = validation
    with pytest.raises(ad.InvalidArgumentError, match="labels\\[0\\] = 3"):
        ad.Calibrator.fit(logits, np.r_[3, labels[1:]])
    with pytest.raises(ad.NonFiniteError, match="logits\\[2, 0\\] is nan"):
        bad = logits.copy()
        bad[2, 0] = np.nan
        ad.Calibrator.fit(bad, labels)
    with pytest.raises(TypeError, match="use Calibrator.fit"):
        ad.Calibrator(None, ad.CalibrationMethod.TEMPERATURE, 3)


def test_calibrators_are_freed(validation):
    """3000 histogram calibrators of 3 x 2000 bins (48 KiB each), freed by close() or by
    dropping the last reference: leaking them would hold 140 MiB."""
    import os
    logits, labels = validation

    def resident():
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

    def cycle(i):
        calibrator = ad.Calibrator.fit(logits, labels, "histogram", bins=2000)
        if i % 2:
            calibrator.close()

    for i in range(300):
        cycle(i)
    gc.collect()
    before = resident()
    for i in range(3000):
        cycle(i)
    gc.collect()
    assert resident() - before < 8 << 20
