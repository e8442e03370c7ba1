"""Probes (docs/probes.md) against scikit-learn: Gaussian prototypes against
LinearDiscriminantAnalysis with the matching shrinkage, logistic regression and the L1
combination against LogisticRegression; thresholds, safetensors features, refusals."""
import numpy as np
import pytest

import libadapt as ad

sklearn = pytest.importorskip("sklearn")
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402


def two_classes(n, d, shift, seed):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.3).astype(np.int32)
    mix = rng.normal(size=(d, d)) / np.sqrt(d)
    x = rng.normal(size=(n, d)) @ mix + shift * y[:, None] * np.linspace(1, 2, d)
    return x.astype(np.float32), y


def test_prototypes_are_shrunk_lda():
    n, d = 300, 6
    x, y = two_classes(n, d, 0.8, 1)
    probe = ad.Probe.fit(x, y, "prototypes")
    w, b = probe.layer_weights(0)
    # P = d (S + tr(S / (n - 1)) I)^-1 is scikit-learn's shrunk covariance inverted, for
    # shrinkage a = d / (n - 1 + d), times k = d (n - 1) / (n (n - 1 + d)).
    a = d / (n - 1 + d)
    k = d * (n - 1) / (n * (n - 1 + d))
    lda = LinearDiscriminantAnalysis(solver="lsqr", shrinkage=a).fit(x.astype(np.float64), y)
    log_prior = np.log(y.mean() / (1 - y.mean()))
    np.testing.assert_allclose(w, k * lda.coef_[0], rtol=1e-6)
    np.testing.assert_allclose(b - log_prior, k * (lda.intercept_[0] - log_prior), rtol=1e-6)
    scores = probe.score(x)
    np.testing.assert_allclose(scores, 1 / (1 + np.exp(-(x.astype(np.float64) @ w + b))),
                               rtol=1e-5)


def test_logistic_matches_scikit_learn():
    x, y = two_classes(400, 5, 0.5, 2)
    probe = ad.Probe.fit(x, y, "logistic", l2=2.0, tolerance=1e-10, max_iterations=5000)
    w, b = probe.layer_weights(0)
    ref = LogisticRegression(C=0.5, tol=1e-12, max_iter=10000).fit(x.astype(np.float64), y)
    np.testing.assert_allclose(w, ref.coef_[0], rtol=1e-4, atol=1e-6)
    assert b == pytest.approx(ref.intercept_[0], rel=1e-4, abs=1e-6)


def objective(w, b, p, y, c):
    z = p @ w + b
    return c * np.sum(np.logaddexp(0, z) - y * z) + np.abs(w).sum()


def test_the_combination_matches_l1_logistic_regression():
    n, layers = 500, 4
    features, y = [], None
    for layer in range(layers):
        x, y = two_classes(n, 5, 0.2 + 0.3 * layer, 3)  # same labels, noisier early layers
        features.append(x + np.random.default_rng(10 + layer).normal(size=x.shape) * 0.5)
    probe = ad.Probe.fit(features, y, "prototypes", l1=0.5, tolerance=1e-12,
                         max_iterations=200)
    combined, per_layer = probe.score(features, per_layer=True)
    weights = probe.combination
    p = per_layer.astype(np.float64)
    ref = LogisticRegression(penalty="l1", C=2.0, solver="saga", tol=1e-12,
                             max_iter=200000).fit(p, y)
    ours = objective(weights[:-1], weights[-1], p, y, 2.0)
    theirs = objective(ref.coef_[0], ref.intercept_[0], p, y, 2.0)
    assert ours <= theirs + 1e-7 * abs(theirs)
    np.testing.assert_allclose(weights[:-1], ref.coef_[0], rtol=1e-3, atol=1e-2)
    z = p @ weights[:-1] + weights[-1]
    np.testing.assert_allclose(combined, 1 / (1 + np.exp(-z)), rtol=1e-5)


def test_threshold_for_a_false_positive_rate(tmp_path):
    x, y = two_classes(300, 4, 1.0, 4)
    benign = two_classes(200, 4, 0.0, 5)[0]
    probe = ad.Probe.fit(x, y)
    assert probe.threshold == 0.5
    for fpr in (0.0, 0.05, 0.2):
        t = probe.set_threshold_for_fpr(benign, fpr)
        assert np.sum(probe.score(benign) > t) == int(np.floor(fpr * 200))
        assert np.array_equal(probe.flag(benign), probe.score(benign) > t)
    probe.threshold = 0.9
    assert probe.threshold == 0.9
    ad.save_safetensors({"layer.3": x}, tmp_path / "features.safetensors")
    read = ad.read_safetensors(tmp_path / "features.safetensors", "layer.3")
    assert np.array_equal(read, x)
    np.testing.assert_array_equal(probe.score(read), probe.score(x))


def test_bad_input_is_refused(tmp_path):
    x, y = two_classes(100, 3, 1.0, 6)
    with pytest.raises(ad.InvalidArgumentError, match="both classes"):
        ad.Probe.fit(x, np.zeros(100, dtype=np.int32))
    with pytest.raises(ad.InvalidArgumentError, match="0 \\(benign\\) and 1"):
        ad.Probe.fit(x, y * 2)
    bad = x.copy()
    bad[3, 1] = np.nan
    with pytest.raises(ad.NonFiniteError):
        ad.Probe.fit(bad, y)
    with pytest.raises(ad.InvalidArgumentError, match="covariance is 0"):
        ad.Probe.fit(np.ones_like(x), y)
    probe = ad.Probe.fit(x, y)
    with pytest.raises(ad.ShapeError, match="fitted on 3"):
        probe.score(x[:, :2])
    with pytest.raises(ad.InvalidArgumentError, match="2 layers given"):
        probe.score([x, x])
    with pytest.raises(ad.InvalidArgumentError, match="fpr"):
        probe.set_threshold_for_fpr(x, 1.5)
    ad.save_safetensors({"layer.3": x}, tmp_path / "features.safetensors")
    with pytest.raises(ad.InvalidArgumentError, match="no tensor 'layer.4'"):
        ad.read_safetensors(tmp_path / "features.safetensors", "layer.4")


def test_the_router_sends_flagged_inputs_to_b():
    rng = np.random.default_rng(7)
    x = rng.normal(size=(120, 20)).astype(np.float32)
    a, b = ad.Model.mlp([20, 32, 16, 3], seed=1), ad.Model.mlp([20, 32, 16, 3], seed=2)
    features = ad.block_features(a, x, [0, 1], batch_size=50)
    assert [f.shape for f in features] == [(120, 32), (120, 16)]
    np.testing.assert_allclose(features[1], np.maximum(
        a.forward(ad.Context(), x, last=2), 0), rtol=1e-6)
    labels = (x[:, 0] > 0.3).astype(np.int32)
    probe = ad.Probe.fit(features, labels)
    probe.set_threshold_for_fpr([f[labels == 0] for f in features], 0.1)
    router = ad.Router(a, b, probe, [0, 1])
    out = router.run(x, batch_size=32)
    np.testing.assert_array_equal(out.scores, probe.score(features))
    np.testing.assert_array_equal(out.routed, out.scores > probe.threshold)
    assert 0 < out.routed.sum() < len(x)
    expected = np.where(out.routed[:, None], b.predict(x), a.predict(x))
    np.testing.assert_allclose(out.logits, expected, rtol=1e-5, atol=1e-6)
    blocks = [blk.flops for blk in a.blocks]
    common = blocks[0] + blocks[1] + 2 * 32 + 2 * 16 + 2 * 2
    np.testing.assert_array_equal(out.flops, np.where(out.routed, common + b.flops,
                                                      common + blocks[2]))
    with pytest.raises(ad.InvalidArgumentError, match="differs"):
        ad.Router(a, b, probe, [0, 1], shared_blocks=1)


def test_no_rows_give_no_scores():
    a = ad.Model.mlp([6, 5, 4, 3], seed=1)
    x = np.random.default_rng(8).normal(size=(40, 6)).astype(np.float32)
    features = ad.block_features(a, x, [0, 1])
    probe = ad.Probe.fit(features, (x[:, 0] > 0).astype(np.int32))
    empty = ad.block_features(a, x[:0], [0, 1])
    assert [f.shape for f in empty] == [(0, 5), (0, 4)]
    assert probe.score(empty).shape == (0,)
