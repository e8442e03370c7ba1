"""Normalizing flows (docs/flows.md) from Python: the inverse undoes the forward pass, the
log-determinant is numpy's of the Jacobian, and gradients reach the flow's parameters."""
import numpy as np
import pytest

import libadapt as ad


def perturbed(flow, seed):
    """The flow moved away from the identity it starts as."""
    rng = np.random.default_rng(seed)
    for name, p in flow.parameters().items():
        positive = name.startswith("norms.") and name.endswith(("weight", "running_var"))
        p.data[...] = rng.uniform(0.5, 1.5, p.data.shape) if positive else \
            rng.uniform(-0.4, 0.4, p.data.shape)
    return flow


@pytest.mark.parametrize("coupling", ["affine", "additive"])
def test_inverse_and_log_determinant(coupling):
    flow = perturbed(ad.Flow(4, cond_dim=2, couplings=3, coupling=coupling, hidden=8,
                             blocks=1, seed=1), 2)
    rng = np.random.default_rng(3)
    w = rng.normal(size=(6, 4)).astype(np.float32)
    cond = rng.uniform(size=(6, 2)).astype(np.float32)
    with ad.Context() as ctx:
        z, logdet = flow.forward(ctx, w, cond)
    assert np.abs(z - w).max() > 0.1
    np.testing.assert_allclose(flow.inverse(z, cond), w, atol=1e-5)
    h = 1e-3
    jac = np.empty((4, 4))
    for j in range(4):
        step = np.zeros((1, 4), np.float32)
        step[0, j] = h
        with ad.Context() as ctx:
            up = flow.forward(ctx, w[:1] + step, cond[:1])[0]
            down = flow.forward(ctx, w[:1] - step, cond[:1])[0]
        jac[:, j] = (up - down)[0] / (2 * h)
    # float32 differences across the nets' ReLU kinks: a few thousandths off at most
    assert np.linalg.slogdet(jac)[1] == pytest.approx(logdet[0], abs=1e-2)


def test_gradients_reach_the_parameters():
    flow = ad.Flow(4, couplings=2, hidden=8, blocks=1, seed=4)
    x = np.random.default_rng(5).normal(size=(8, 4)).astype(np.float32)
    with ad.Context(grad=True, training=True) as ctx:
        z, logdet = flow.forward(ctx, x, as_tensor=True)
        loss = ad.ops.sum(ctx, ad.ops.mul(ctx, z, z))
        ad.ops.backward(loss)
        grads = {n: np.abs(p.grad).sum() for n, p in flow.parameters().items()
                 if p.grad is not None}
    assert grads["couplings.0.net.out.weight"] > 0  # the zero last layer learns first
    assert grads["norms.1.weight"] > 0


def test_bad_input_is_refused():
    with pytest.raises(ad.InvalidArgumentError):
        ad.Flow(1)
    flow = ad.Flow(4, cond_dim=2, couplings=2, hidden=8)
    with pytest.raises(ad.ShapeError):
        flow.inverse(np.zeros((3, 5), np.float32), np.zeros((3, 2), np.float32))
    with pytest.raises(ad.InvalidArgumentError, match="cond"):
        with ad.Context() as ctx:
            flow.forward(ctx, np.zeros((3, 4), np.float32))
    z = np.zeros((3, 4), np.float32)
    z[1, 2] = np.nan
    with pytest.raises(ad.NonFiniteError):
        flow.inverse(z, np.zeros((3, 2), np.float32))
    flow.parameters()["norms.1.weight"].data[0] = 0.0  # batch normalisation scaling by 0
    with pytest.raises(ad.InvalidArgumentError, match="not invertible"):
        flow.inverse(np.zeros((3, 4), np.float32), np.zeros((3, 2), np.float32))


def test_training_and_editing_an_attribute():
    rng = np.random.default_rng(6)
    w = rng.uniform(-1.5, 1.5, size=(512, 4)).astype(np.float32)
    a = 0.6 * (w[:, :1] + w[:, 1:2])
    flow = ad.Flow(4, couplings=4, hidden=32, blocks=1, seed=7)
    history = flow.train(w, a, sigma=0.5, epochs=30, batch_size=64, optimizer="adamw",
                         learning_rate=3e-3, grad_clip_norm=1.0, n_threads=1)
    # the loss is not comparable across epochs: the attribute prior narrows every epoch
    assert len(history) == 30 and all(np.isfinite(p.loss) for p in history)
    with ad.Context() as ctx:
        z, _ = flow.forward(ctx, w)
    assert np.corrcoef(z[:, 0], a[:, 0])[0, 1] > 0.95
    edited = flow.edit(w, [0], 1.0)
    z[:, 0] = 1.0
    np.testing.assert_allclose(edited, flow.inverse(z), atol=1e-5)
    moved = 0.6 * (edited[:, 0] + edited[:, 1])
    assert np.abs(moved - 1.0).mean() < 0.5 * np.abs(a[:, 0] - 1.0).mean()


def test_save_and_load(tmp_path):
    flow = perturbed(ad.Flow(4, cond_dim=2, couplings=3, coupling="additive", hidden=8,
                             blocks=1, seed=6), 7)
    flow.save(tmp_path / "flow.safetensors")
    loaded = ad.Flow.load(tmp_path / "flow.safetensors")
    assert (loaded.dim, loaded.cond_dim) == (4, 2)
    for name, p in flow.parameters().items():
        np.testing.assert_array_equal(loaded.parameters()[name].data, p.data)
    z = np.random.default_rng(8).normal(size=(3, 4)).astype(np.float32)
    cond = np.ones((3, 2), np.float32)
    np.testing.assert_array_equal(loaded.inverse(z, cond), flow.inverse(z, cond))
    (tmp_path / "bad.safetensors").write_bytes(b"\x10" + bytes(20))
    with pytest.raises(ad.FormatError):
        ad.Flow.load(tmp_path / "bad.safetensors")
