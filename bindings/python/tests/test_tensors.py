"""Tensors in and out, parameter views, lifetimes, and operations with autograd."""
import gc

import numpy as np
import pytest

import libadapt as ad
from libadapt import _arrays, ops


@pytest.mark.parametrize("make", [
    lambda a: a.astype(np.float64),
    lambda a: a.astype(np.float32).T.copy().T,          # Fortran order
    lambda a: np.repeat(a.astype(np.float32), 2, axis=1)[:, ::2],  # strided view
    lambda a: a.astype(">f4"),                          # big-endian
    lambda a: a.astype(np.int16),
    lambda a: a.tolist(),
], ids=["float64", "fortran", "strided", "big-endian", "int16", "list"])
def test_input_round_trips_whatever_the_layout(ctx, rng, make):
    want = rng.integers(-50, 50, (3, 5)).astype(np.float32)
    tensor = ctx.input(make(want))
    assert tensor.shape == (3, 5) and tensor.ndim == 2 and tensor.size == 15
    got = tensor.numpy()
    assert got.dtype == np.float32 and np.array_equal(got, want)


def test_float32_arrays_cross_without_a_copy():
    ready = np.zeros((3, 4), np.float32)
    assert _arrays.float32(ready, "x") is ready
    assert _arrays.float32(ready, "x", copy=True) is not ready
    for other in (ready.T, ready[:, ::2], ready.astype(np.float64)):
        converted = _arrays.float32(other, "x")
        assert converted.flags.c_contiguous and converted.dtype == np.float32
        assert not np.may_share_memory(converted, ready)
        with pytest.raises(TypeError, match="copied"):
            _arrays.float32(other, "x", copy=False)


def test_scalars_and_empty_tensors(ctx):
    assert ctx.input(np.float32(2.5)).shape == ()
    assert ctx.input(np.float32(2.5)).item() == 2.5
    empty = ctx.input(np.zeros((0, 4)))
    assert empty.shape == (0, 4) and empty.numpy().shape == (0, 4)


def test_activations_are_released_by_reset_and_close(ctx):
    x = ctx.input([1.0, 2.0])
    ctx.reset()
    assert not x.valid
    with pytest.raises(ad.StateError, match="reset"):
        x.numpy()
    with pytest.raises(ad.StateError, match="reset"):
        ops.relu(ctx, x)
    other = ad.Context(n_threads=1)
    y = other.input([1.0])
    other.close()
    with pytest.raises(ad.StateError, match="closed"):
        y.numpy()
    with pytest.raises(ad.StateError, match="closed"):
        other.reset()


def test_a_tensor_of_another_context_is_refused(ctx):
    with ad.Context(n_threads=1) as other:
        y = other.input([1.0, 2.0])
        with pytest.raises(ad.StateError, match="another context"):
            ops.relu(ctx, y)


def test_parameter_views_share_memory_with_c(ctx):
    p = ad.Parameter([2, 3])
    assert p.shape == (2, 3) and np.all(p.data == 0) and np.all(p.grad == 0)
    p.data[1, 2] = 7.0                       # written through the view ...
    assert p.numpy()[1, 2] == 7.0            # ... seen by C
    p.write(np.arange(6).reshape(2, 3))
    assert p.data.tolist() == [[0, 1, 2], [3, 4, 5]]
    with pytest.raises(ad.ShapeError):
        p.write(np.zeros(6))
    with pytest.raises(ad.NonFiniteError):
        p.write(np.full((2, 3), np.inf))
    assert p.data.tolist() == [[0, 1, 2], [3, 4, 5]]  # unchanged by the failed writes


def test_a_view_keeps_parameter_memory_alive_after_close():
    p = ad.Parameter.from_numpy(np.full((4, 4), 3.0))
    finalizer = p._handle.finalizer
    view = p.data
    p.close()
    del p
    gc.collect()
    assert finalizer.alive and float(view.sum()) == 48.0
    del view
    assert not finalizer.alive


def test_close_frees_at_once_when_nothing_depends():
    p = ad.Parameter([3])
    finalizer = p._handle.finalizer
    with p:
        assert finalizer.alive
    assert not finalizer.alive and p.closed
    with pytest.raises(ad.StateError, match="closed"):
        p.zero_grad()


def test_dropping_the_last_reference_frees_without_close():
    p = ad.Parameter([3])
    finalizer = p._handle.finalizer
    del p
    assert not finalizer.alive


def test_a_context_keeps_used_parameters_until_reset(ctx):
    ctx.grad = True
    w = ad.Parameter.from_numpy(np.eye(3))
    finalizer = w._handle.finalizer
    loss = ops.sum(ctx, ops.matmul(ctx, np.ones((2, 3)), w))
    del w                                    # the tape still points at it
    assert finalizer.alive
    loss.backward()
    ctx.reset()
    assert not finalizer.alive


def test_matmul_and_elementwise_match_numpy(ctx, rng):
    a = rng.normal(size=(2, 4, 5)).astype(np.float32)
    b = rng.normal(size=(6, 5)).astype(np.float32)
    np.testing.assert_allclose(ops.matmul(ctx, a, b, trans_b=True).numpy(), a @ b.T,
                               rtol=1e-5, atol=1e-5)
    bias = rng.normal(size=5).astype(np.float32)
    np.testing.assert_allclose(ops.add(ctx, a, bias).numpy(), a + bias, rtol=1e-6)
    np.testing.assert_allclose(ops.mul(ctx, a, bias).numpy(), a * bias, rtol=1e-6)
    np.testing.assert_allclose(ops.maximum(ctx, a, -a).numpy(), np.abs(a))
    np.testing.assert_allclose(ops.clamp(ctx, a, -0.5, 0.5).numpy(), np.clip(a, -0.5, 0.5))
    np.testing.assert_allclose(ops.relu(ctx, a).numpy(), np.maximum(a, 0))
    np.testing.assert_allclose(ops.tanh(ctx, a).numpy(), np.tanh(a), rtol=1e-5, atol=1e-6)
    e = np.exp(a - a.max(-1, keepdims=True))
    np.testing.assert_allclose(ops.softmax(ctx, a).numpy(), e / e.sum(-1, keepdims=True),
                               rtol=1e-5, atol=1e-6)


def test_shape_operations_match_numpy(ctx, rng):
    x = rng.normal(size=(2, 3, 4)).astype(np.float32)
    assert np.array_equal(ops.reshape(ctx, x, [4, -1]).numpy(), x.reshape(4, -1))
    assert np.array_equal(ops.transpose(ctx, x, 0, 2).numpy(), x.transpose(2, 1, 0))
    assert np.array_equal(ops.permute(ctx, x, [1, 2, 0]).numpy(), x.transpose(1, 2, 0))
    assert np.array_equal(ops.slice(ctx, x, -1, 1, 3).numpy(), x[..., 1:3])
    assert np.array_equal(ops.concat(ctx, [x, x[:1]], axis=0).numpy(),
                          np.concatenate([x, x[:1]]))
    np.testing.assert_allclose(ops.sum(ctx, x, axis=1).numpy(), x.sum(1), rtol=1e-5)
    np.testing.assert_allclose(ops.mean(ctx, x).item(), x.mean(), rtol=1e-5)
    with pytest.raises(ad.ShapeError, match="2 axes for a 3-D"):
        ops.permute(ctx, x, [1, 0])
    with pytest.raises(ad.ShapeError, match="infer"):
        ops.reshape(ctx, x, [5, -1])


def test_row_gather_and_scatter(ctx, rng):
    x = rng.normal(size=(4, 3)).astype(np.float32)
    index = np.array([3, 0, 3])
    assert np.array_equal(ops.gather_rows(ctx, x, index).numpy(), x[index])
    want = np.zeros((5, 3), np.float32)
    np.add.at(want, [4, 0, 4, 1], x)
    np.testing.assert_allclose(ops.scatter_add_rows(ctx, x, [4, 0, 4, 1], 5).numpy(), want)
    with pytest.raises(ad.ShapeError, match="4 expected"):
        ops.scatter_add_rows(ctx, x, [0, 1], 5)  # C would read 4 entries
    with pytest.raises(ad.InvalidArgumentError, match="outside"):
        ops.gather_rows(ctx, x, [4])


def test_conv_and_pooling_shapes(ctx, rng):
    x = rng.normal(size=(2, 3, 8, 8)).astype(np.float32)
    w = rng.normal(size=(4, 3, 3, 3)).astype(np.float32)
    y = ops.conv2d(ctx, x, w, np.zeros(4), stride=1, padding=1)
    assert y.shape == (2, 4, 8, 8)
    # One output value by hand: the centre pixel of image 0, channel 0.
    want = float((x[0, :, 3:6, 3:6] * w[0]).sum())
    assert y.numpy()[0, 0, 4, 4] == pytest.approx(want, rel=1e-4, abs=1e-4)
    pooled = ops.maxpool2d(ctx, x, 2).numpy()
    assert pooled.shape == (2, 3, 4, 4)
    assert np.array_equal(pooled, x.reshape(2, 3, 4, 2, 4, 2).max(axis=(3, 5)))


def test_gradients_of_a_linear_least_squares_loss(ctx, rng):
    ctx.grad = True
    x = rng.normal(size=(5, 3)).astype(np.float32)
    target = rng.normal(size=(5, 2)).astype(np.float32)
    w = ad.Parameter.from_numpy(rng.normal(size=(2, 3)))
    hidden = ops.matmul(ctx, x, w, trans_b=True)
    loss = ops.mse(ctx, hidden, target)
    ad.backward(loss)
    residual = x @ w.numpy().T - target
    np.testing.assert_allclose(w.grad, 2.0 / residual.size * residual.T @ x, rtol=1e-4,
                               atol=1e-6)
    np.testing.assert_allclose(hidden.grad, 2.0 / residual.size * residual, rtol=1e-4,
                               atol=1e-6)
    w.zero_grad()
    assert not w.grad.any()


def test_frozen_parameters_get_no_gradient(ctx):
    ctx.grad = True
    frozen, trained = ad.Parameter.from_numpy(np.ones((2, 2))), ad.Parameter([2])
    frozen.set_requires_grad(False)
    ops.sum(ctx, ops.add(ctx, ops.matmul(ctx, np.ones((1, 2)), frozen), trained)).backward()
    assert not frozen.grad.any() and trained.grad.tolist() == [1.0, 1.0]
    ctx.reset()
    with pytest.raises(ad.StateError, match="nothing to differentiate"):
        ops.sum(ctx, ops.matmul(ctx, np.ones((1, 2)), frozen)).backward()


def test_operator_sugar(ctx):
    a, b = ctx.input([[1.0, 2.0]]), ctx.input([[3.0, 4.0]])
    assert (a + b).numpy().tolist() == [[4.0, 6.0]]
    assert (b - a).numpy().tolist() == [[2.0, 2.0]]
    assert (a * b).numpy().tolist() == [[3.0, 8.0]]
    assert (2 * a).numpy().tolist() == [[2.0, 4.0]]
    assert (-a).numpy().tolist() == [[-1.0, -2.0]]
    assert (a @ np.array([[1.0], [1.0]])).numpy().tolist() == [[3.0]]
    assert np.asarray(a).tolist() == [[1.0, 2.0]]
    mixed = np.array([[1.0], [1.0]]) @ a + 1.0  # numpy on the left still builds tensors
    assert isinstance(mixed, ad.Tensor) and mixed.numpy().tolist() == [[2.0, 3.0]] * 2


def test_the_context_comes_first(ctx):
    with pytest.raises(TypeError, match="expected a Context first"):
        ops.relu(np.ones(3), ctx)
    with pytest.raises(TypeError, match="expected a Context first"):
        ad.Model.mlp([3, 2]).forward(np.ones((1, 3)), ctx)
    assert ad.Parameter(4).shape == (4,)
