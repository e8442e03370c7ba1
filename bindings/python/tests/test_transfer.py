"""Model merging from Python: AXIS against numpy's SVD of every source's task vector, task
arithmetic and TIES against numpy, refusals."""
import numpy as np
import pytest

import libadapt as ad


def models(n, seed=0):
    return [ad.Model.mlp([8, 6, 3], seed=seed + i) for i in range(n)]


def params(model):
    return list(model.parameters().values())


def test_axis_against_numpy(rng):
    base, target, *sources = models(5)
    for source in sources:
        for p, b in zip(params(source), params(base)):
            p.data[...] = b.data + rng.normal(0, 0.1, size=b.data.shape)
    ad.merge_models(target, base, sources, "axis", keep_fraction=0.5)
    for i, b in enumerate(params(base)):
        deltas = [params(s)[i].data.astype(np.float64) - b.data for s in sources]
        if b.data.ndim < 2:
            want = b.data + np.mean(deltas, axis=0)
        else:
            triplets = []
            for d in deltas:
                u, s, vt = np.linalg.svd(d, full_matrices=False)
                triplets += [(s[j], u[:, j], vt[j]) for j in range(len(s))]
            triplets.sort(key=lambda t: -t[0])
            keep = max(1, round(0.5 * min(b.data.shape)))
            want = b.data + sum(s * np.outer(u, v) for s, u, v in triplets[:keep])
        np.testing.assert_allclose(params(target)[i].data, want, atol=1e-5)


def test_task_arithmetic_and_ties(rng):
    base, target, *sources = models(4, seed=10)
    for source in sources:
        for p, b in zip(params(source), params(base)):
            p.data[...] = b.data + rng.normal(0, 0.1, size=b.data.shape)
    flat = lambda m: np.concatenate([p.data.ravel().astype(np.float64) for p in params(m)])
    deltas = np.stack([flat(s) - flat(base) for s in sources])
    ad.merge_models(target, base, sources, "task_arithmetic", scale=0.3)
    np.testing.assert_allclose(flat(target), flat(base) + 0.3 * deltas.sum(axis=0), atol=1e-6)
    ad.merge_models(target, base, sources, "ties", density=0.2)
    k = round(0.2 * deltas.shape[1])
    kept = np.where(np.abs(deltas) >= np.sort(np.abs(deltas), axis=1)[:, -k][:, None],
                    deltas, 0.0)
    sign = np.sign(kept.sum(axis=0))
    agree = (kept != 0) & (np.sign(kept) == sign)
    merged = np.where(agree.any(axis=0),
                      (kept * agree).sum(axis=0) / np.maximum(agree.sum(axis=0), 1), 0.0)
    np.testing.assert_allclose(flat(target), flat(base) + merged, atol=1e-6)


def test_bad_merges_leave_the_target_alone():
    base, target, source = models(3, seed=20)
    other = ad.Model.mlp([8, 5, 3], seed=1)
    before = [p.data.copy() for p in params(target)]
    with pytest.raises(ad.InvalidArgumentError, match="parameter"):
        ad.merge_models(target, base, [source, other])
    with pytest.raises(ad.InvalidArgumentError, match="keep_fraction"):
        ad.merge_models(target, base, [source], keep_fraction=0.0)
    params(source)[0].data[0, 0] = np.nan
    with pytest.raises(ad.NonFiniteError, match="sources\\[0\\]"):
        ad.merge_models(target, base, [source])
    with pytest.raises(ad.InvalidArgumentError):
        ad.merge_models(target, base, [])
    for p, b in zip(params(target), before):
        np.testing.assert_array_equal(p.data, b)


def outputs(model, x):
    return model.predict(x, n_threads=1)


def test_low_rank_tune(rng):
    base, merged, target, *sources = models(6, seed=30)
    for source in sources:
        for p, b in zip(params(source), params(base)):
            p.data[...] = b.data + rng.normal(0, 0.1, size=b.data.shape)
    x = rng.uniform(-1, 1, size=(16, 8)).astype(np.float32)
    labels = (np.arange(16) % 3).astype(np.int32)
    ad.merge_models(merged, base, sources, "axis", keep_fraction=1.0)
    ad.low_rank_tune(target, base, sources, keep_fraction=1.0, trainable_fraction=0.5)
    np.testing.assert_allclose(outputs(target, x), outputs(merged, x), atol=1e-4)
    before = {k: p.data.copy() for k, p in target.parameters().items()}
    target.train((x, labels), epochs=2, batch_size=8, learning_rate=0.1, n_threads=1)
    moved = [k for k, p in target.parameters().items() if not np.array_equal(p.data, before[k])]
    assert moved == ["0.0.scales", "2.0.scales"]
    lora = models(1, seed=40)[0]
    ad.low_rank_tune(lora, base, method="lora", rank=2)
    np.testing.assert_allclose(outputs(lora, x), outputs(base, x), atol=1e-5)
    assert [k for k in lora.parameters() if k.startswith("0.0.")] == [
        "0.0.weight", "0.0.bias", "0.0.left", "0.0.scales", "0.0.right"]
    with pytest.raises(ad.InvalidArgumentError):
        ad.low_rank_tune(models(1)[0], base, [], "singular_values")
