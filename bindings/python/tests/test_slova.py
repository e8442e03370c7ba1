"""SLOVA from Python: the one-vs-all loss and its gradient, training with it, refusals,
exponential calibration."""
import numpy as np
import pytest

import libadapt as ad


def softplus(z):
    return np.logaddexp(0.0, z)


def test_one_vs_all_loss_and_gradient(ctx, rng):
    ctx.grad = True
    logits = ad.Parameter.from_numpy(rng.uniform(-80, 80, size=(4, 5)).astype(np.float32))
    labels = [0, 4, 2, 2]
    loss = ad.ops.one_vs_all_loss(ctx, logits, labels)
    z = logits.data.astype(np.float64)
    want = np.mean(softplus(z).sum(axis=1) - z[np.arange(4), labels])
    assert loss.numpy()[()] == pytest.approx(want, rel=1e-6)
    ad.backward(loss)
    target = np.zeros_like(z)
    target[np.arange(4), labels] = 1.0
    np.testing.assert_allclose(logits.grad, (1 / (1 + np.exp(-z)) - target) / 4, atol=1e-7)


def test_training_with_the_one_vs_all_loss(rng):
    labels = (np.arange(90) % 3).astype(np.int32)
    x = rng.uniform(0, 0.5, size=(90, 6)).astype(np.float32)
    x[np.arange(90), labels] = 1.0
    model = ad.Model.mlp([6, 16, 3], seed=5)
    history = model.train((x, labels), epochs=40, batch_size=90, learning_rate=0.5,
                          loss="one_vs_all", n_threads=1)
    assert history[-1].loss < 0.5
    assert model.evaluate((x, labels), confusion=False).accuracy > 0.95
    with pytest.raises(ad.InvalidArgumentError):
        model.train((x, labels), epochs=1, loss="one_vs_all", label_smoothing=0.1)
    with pytest.raises(ad.NonFiniteError):
        ad.ops.one_vs_all_loss(ad.Context(n_threads=1), np.array([[0.0, np.nan]], np.float32),
                               [0])


def test_metrics_read_one_vs_all_logits(rng):
    z = rng.uniform(-6, 6, size=(50, 4)).astype(np.float32)
    labels = rng.integers(0, 4, size=50).astype(np.int32)
    q = np.exp(z - softplus(z.astype(np.float64)).sum(axis=1, keepdims=True))
    m = ad.compute_metrics(z, labels, kind="one_vs_all")
    assert m.nll == pytest.approx(-np.mean(np.log(q[np.arange(50), labels])), rel=1e-9)
    assert m.accuracy == np.mean(z.argmax(axis=1) == labels)


def test_exponential_calibration(rng):
    z = rng.uniform(-4, 4, size=(4000, 4)).astype(np.float32)
    log_q = z - softplus(z.astype(np.float64)).sum(axis=1, keepdims=True)
    top = z.argmax(axis=1)
    confidence = np.exp(log_q.max(axis=1))
    right = rng.uniform(size=4000) < confidence ** 2.0  # made less sure than q says
    labels = np.where(right, top, (top + 1 + rng.integers(0, 3, size=4000)) % 4).astype(np.int32)
    cal = ad.Calibrator.fit(z, labels, "exponential")
    assert cal.exponent == pytest.approx(2.0, rel=0.15)
    rows = cal.apply(z)
    np.testing.assert_array_equal(rows, ad.Calibrator.fit(z, labels, "exponential").apply(z))
    np.testing.assert_allclose(rows.max(axis=1), confidence ** cal.exponent, rtol=1e-5)
    assert (rows.argmax(axis=1) == top).all() and (rows.sum(axis=1) <= 1 + 1e-6).all()
    raw = ad.compute_metrics(z, labels, kind="one_vs_all")
    fitted = ad.compute_metrics(rows, labels, kind="sub_probabilities")
    assert fitted.ece < raw.ece / 2
    with pytest.raises(ad.StateError):
        cal.temperature
    with pytest.raises(ad.InvalidArgumentError):
        ad.compute_metrics(rows, labels, kind="probabilities")  # rows do not sum to 1


def test_one_vs_all_exits(rng):
    labels = (np.arange(120) % 3).astype(np.int32)
    x = rng.uniform(0, 1, size=(120, 12)).astype(np.float32)
    x[np.arange(120), labels] += 0.5
    model = ad.Model.mlp([12, 16, 16, 3], seed=3)
    model.add_head("pooled_linear", block=0, seed=4)
    phase = {"epochs": 10, "batch_size": 30, "optimizer": "adamw", "learning_rate": 0.01,
             "n_threads": 1, "loss": "one_vs_all"}
    model.train_exits((x, labels), backbone_phase=phase, exit_phase=phase)
    z = model.exit_logits((x, labels))
    q = np.exp(z - softplus(z.astype(np.float64)).sum(axis=2, keepdims=True))
    threshold = float(np.median(q[0].max(axis=1)))
    policy = ad.ExitPolicy(threshold=threshold, scores="one_vs_all")
    results = model.infer_exits(x, policy, n_threads=1)
    outcome, counts = ad.exit_simulate(z, labels, model.exit_flops(), model.flops, policy,
                                       kind="one_vs_all")
    np.testing.assert_array_equal(np.bincount(results.exits, minlength=2), counts)
    np.testing.assert_allclose(results.confidences,
                               q[results.exits, np.arange(120)].max(axis=1), rtol=1e-5)
    with pytest.raises(ad.InvalidArgumentError):
        model.train_exits((x, labels), exit_phase=phase, distillation=0.5)
    temperature = ad.Calibrator.fit(z[0], labels)
    with pytest.raises(ad.InvalidArgumentError, match="one-vs-all"):
        model.infer_exits(x, ad.ExitPolicy(scores="one_vs_all",
                                           calibrators=[temperature, None]))
