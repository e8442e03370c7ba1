"""Interval bounds from Python: bounds hold for points of the box, the worst-case logits and
their gradient, certification, refusals."""
import numpy as np
import pytest

import libadapt as ad


def mlp(seed=1):
    return ad.Model.mlp([6, 16, 3], seed=seed)


def test_bounds_hold_for_points_of_the_box(ctx, rng):
    model = mlp()
    x = rng.uniform(0, 1, size=(4, 6)).astype(np.float32)
    lo, hi = np.clip(x - 0.05, 0, 1), np.clip(x + 0.05, 0, 1)
    y_lo, y_mid, y_hi = ad.forward_interval(model, ctx, lo, hi, mid=x)
    np.testing.assert_allclose(y_mid, model.forward(ctx, x), rtol=1e-6, atol=1e-6)
    for _ in range(20):
        points = rng.uniform(lo, hi).astype(np.float32)
        y = model.forward(ctx, points)
        assert np.all(y_lo <= y) and np.all(y <= y_hi)
    only_lo, no_mid, only_hi = ad.forward_interval(model, ctx, lo, hi)
    assert no_mid is None and np.array_equal(only_lo, y_lo) and np.array_equal(only_hi, y_hi)


def test_worst_case_cross_entropy_trains(ctx, rng):
    model = mlp()
    ctx.grad = True
    x = rng.uniform(0, 1, size=(5, 6)).astype(np.float32)
    lo, _, hi = ad.forward_interval(model, ctx, np.clip(x - 0.1, 0, 1), np.clip(x + 0.1, 0, 1),
                                    as_tensor=True)
    labels = [0, 1, 2, 0, 1]
    z = ad.worst_case_logits(ctx, lo, hi, labels)
    rows = np.arange(5)
    np.testing.assert_array_equal(z.numpy()[rows, labels], lo.numpy()[rows, labels])
    loss = ad.ops.cross_entropy(ctx, z, labels)
    ad.backward(loss)
    grads = [p.grad for p in model.parameters().values()]
    assert all(np.isfinite(g).all() for g in grads) and any(np.abs(g).sum() > 0 for g in grads)


def test_certified_accuracy_shrinks_with_the_radius(rng):
    model = mlp()
    x = rng.uniform(0, 1, size=(40, 6)).astype(np.float32)
    labels = rng.integers(0, 3, size=40).astype(np.int32)
    results = [ad.certify(model, (x, labels), eps) for eps in (0.0, 0.01, 0.1, 1.0)]
    assert all(r.count == 40 for r in results)
    assert results[0].accuracy - 0.1 <= results[0].certified_accuracy <= results[0].accuracy
    assert [r.certified_accuracy for r in results] == sorted(
        (r.certified_accuracy for r in results), reverse=True)
    assert results[-1].certified_accuracy == 0.0


def test_refusals(ctx):
    model = mlp()
    lo = np.full((1, 6), 0.5, np.float32)
    with pytest.raises(ad.InvalidArgumentError, match="lo > hi"):
        ad.forward_interval(model, ctx, lo, lo - 0.1)
    with pytest.raises(ad.ShapeError):
        ad.forward_interval(model, ctx, np.zeros((1, 5), np.float32), np.ones((1, 5), np.float32))
    vit = ad.Model.vit(image_size=8, in_channels=1, patch=4, dim=8, depth=1, heads=2,
                       n_classes=3)
    with pytest.raises(ad.UnsupportedError, match="interval"):
        ad.forward_interval(vit, ctx, np.zeros((1, 1, 8, 8), np.float32),
                            np.ones((1, 1, 8, 8), np.float32))
    with pytest.raises(ad.InvalidArgumentError, match="epsilon"):
        ad.certify(model, (lo, np.zeros(1, np.int32)), -1.0)


def test_nested_boxes_from_python(ctx, rng):
    model = ad.Model.sequential([6]).append("interval_linear", out_features=4).append("relu")
    model.append("interval_linear", out_features=3)
    names = list(model.parameters())
    assert names[:4] == ["0.weight", "0._radius", "0._shift", "0._scale"]
    assert ad.set_interval_phase(model, "scales") == 2
    x = rng.uniform(0, 1, size=(8, 6)).astype(np.float32)
    labels = np.arange(8, dtype=np.int32) % 3
    before = model.parameters()["0._scale"].numpy().copy()
    model.train((x, labels), epochs=1, batch_size=4, learning_rate=0.5, interval_tau=1.0)
    assert not np.array_equal(before, model.parameters()["0._scale"].numpy())
    lo, _, hi = ad.forward_interval(model, ctx, x, x)
    assert ad.interval_consolidate(model) == 2
    lo2, _, hi2 = ad.forward_interval(model, ctx, x, x)
    assert np.all(lo2 >= lo - 1e-5) and np.all(hi2 <= hi + 1e-5)
    with pytest.raises(ad.InvalidArgumentError, match="phase"):
        ad.set_interval_phase(model, "everything")


def test_no_device_is_chosen_at_import(rng):
    """The authors' code picks its device when imported; here each context picks its own
    backend and threads, and two contexts of one process give the same bounds."""
    import os
    import subprocess
    import sys
    probe = ("import libadapt as ad, threading; "
             "print(ad.Context(n_threads=1, backend='reference').n_threads, "
             "threading.active_count())")
    package_root = os.path.dirname(os.path.dirname(ad.__file__))
    env = dict(os.environ, PYTHONPATH=package_root)
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True, env=env)
    assert out.stdout.split() == ["1", "1"] and out.stderr == ""
    model = mlp()
    x = rng.uniform(0, 1, size=(3, 6)).astype(np.float32)
    lo, hi = np.clip(x - 0.05, 0, 1), np.clip(x + 0.05, 0, 1)
    bounds = []
    for backend, threads in (("reference", 1), ("default", 2)):
        with ad.Context(n_threads=threads, backend=backend) as ctx:
            bounds.append(ad.forward_interval(model, ctx, lo, hi, mid=x))
    for a, b in zip(*bounds):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)
