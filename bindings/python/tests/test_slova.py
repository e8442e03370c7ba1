"""SLOVA from Python: the one-vs-all loss and its gradient, training with it, refusals."""
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
