"""Models: the four kinds, blocks, named parameters, forward passes."""
import threading

import numpy as np
import pytest

import libadapt as ad
from libadapt import ops

SEQUENTIAL_LAYERS = [
    {"kind": "conv2d", "out_features": 4, "kernel": 3, "padding": 1},
    {"kind": "batchnorm2d"}, {"kind": "relu"},
    {"kind": "maxpool2d", "kernel": 2, "stride": 2},
    {"kind": "global_avgpool"}, {"kind": "linear", "out_features": 3},
]


def test_mlp_structure():
    with ad.Model.mlp(sizes=[12, 16, 5], activation="gelu", seed=3) as m:
        assert [b.kind for b in m.blocks] == [ad.LayerKind.LINEAR] * 2
        assert [b.out_shape for b in m.blocks] == [(16,), (5,)]
        assert m.flops == 2 * (12 * 16 + 16 * 5) and m.classes == 5
        assert {n: p.shape for n, p in m.parameters().items()} == {
            "0.weight": (16, 12), "0.bias": (16,), "2.weight": (5, 16), "2.bias": (5,)}
        assert sum(b.n_params for b in m.blocks) == sum(p.size for p in
                                                        m.parameters().values())


def test_the_same_seed_gives_the_same_weights():
    a, b, c = (ad.Model.mlp([6, 4, 2], seed=s) for s in (1, 1, 2))
    wa, wb, wc = (m.parameters()["0.weight"].numpy() for m in (a, b, c))
    assert np.array_equal(wa, wb) and not np.array_equal(wa, wc)


def test_cnn_and_vit(ctx, rng):
    cnn = ad.Model.cnn([4, 8], [1, 1], [1, 2], in_channels=1, image_size=8, n_classes=3,
                       stem_channels=4, seed=1)
    assert cnn.blocks[0].kind == ad.LayerKind.CONV2D and cnn.classes == 3
    assert "stages.1.0.shortcut.0.weight" in cnn.parameters()
    vit = ad.Model.vit(image_size=8, in_channels=1, patch=4, dim=8, depth=1, heads=2,
                       n_classes=3, seed=1)
    assert vit.blocks[0].out_shape == (5, 8)  # 4 patches + the class token
    x = rng.uniform(size=(2, 1, 8, 8))
    assert cnn.forward(ctx, x).shape == (2, 3) and vit.forward(ctx, x).shape == (2, 3)
    with pytest.raises(ad.InvalidArgumentError, match="entries"):
        ad.Model.cnn([4, 8], [1], [1, 2])
    with pytest.raises(ad.ShapeError):
        ad.Model.vit(image_size=10, patch=4)


def test_sequential_builder_from_a_list_and_by_chaining(ctx, rng):
    listed = ad.Model.sequential([2, 8, 8], SEQUENTIAL_LAYERS, seed=5)
    chained = ad.Model.sequential((2, 8, 8), seed=5)
    for layer in SEQUENTIAL_LAYERS:
        layer = dict(layer)
        assert chained.append(layer.pop("kind"), **layer) is chained
    assert listed.blocks == chained.blocks
    assert [b.kind for b in listed.blocks][:3] == [ad.LayerKind.CONV2D,
                                                   ad.LayerKind.BATCHNORM2D, ad.LayerKind.RELU]
    x = rng.uniform(size=(3, 2, 8, 8))
    assert np.array_equal(listed.forward(ctx, x), chained.forward(ctx, x))


def test_a_failed_append_leaves_the_model_unchanged():
    model = ad.Model.sequential([3, 4, 4], [{"kind": "flatten"}])
    with pytest.raises(ad.ShapeError):
        model.append("conv2d", out_features=2)  # conv on a flat input
    with pytest.raises(TypeError, match="unknown field 'kernal'"):
        model.append("maxpool2d", kernal=2)
    with pytest.raises(ad.InvalidArgumentError, match="kind"):
        model.append("attention")
    assert len(model.blocks) == 1
    model.append(ad.LayerKind.LINEAR, out_features=2)
    assert model.classes == 2


def test_forward_as_numpy_or_tensor_and_block_by_block(ctx, rng):
    model = ad.Model.sequential([2, 8, 8], SEQUENTIAL_LAYERS, seed=5)
    x = rng.uniform(size=(3, 2, 8, 8))
    logits = model.forward(ctx, x)
    assert isinstance(logits, np.ndarray) and logits.shape == (3, 3)
    features = model.forward(ctx, x, first=0, last=4, as_tensor=True)
    assert isinstance(features, ad.Tensor) and features.shape == (3, 4, 4, 4)
    rest = model.forward(ctx, features, first=4)
    np.testing.assert_array_equal(rest, logits)
    np.testing.assert_allclose(model.predict(x, batch_size=2), logits, rtol=1e-5, atol=1e-6)


def test_concurrent_inference_from_threads_matches_one_thread(rng):
    model = ad.Model.mlp([16, 32, 4], seed=3)
    inputs = [rng.uniform(size=(64, 16)) for _ in range(4)]
    want = [model.predict(x, n_threads=1) for x in inputs]
    got = [None] * len(inputs)

    def run(i):
        with ad.Context(n_threads=1) as ctx:
            for _ in range(20):
                got[i] = model.forward(ctx, inputs[i])
                ctx.reset()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(inputs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for g, w in zip(got, want):
        assert np.array_equal(g, w)


def test_model_output_feeds_autograd(ctx, rng):
    ctx.grad = ctx.training = True
    model = ad.Model.mlp([4, 3], seed=2)
    logits = model.forward(ctx, rng.uniform(size=(5, 4)), as_tensor=True)
    ops.cross_entropy(ctx, logits, [0, 1, 2, 0, 1]).backward()
    grads = {n: p.grad.copy() for n, p in model.parameters().items()}
    assert grads["0.weight"].any() and grads["0.bias"].sum() == pytest.approx(0.0, abs=1e-6)


def test_state_dict_round_trip_and_all_or_nothing_loading(rng):
    a, b = ad.Model.mlp([6, 4, 2], seed=1), ad.Model.mlp([6, 4, 2], seed=9)
    b.load_state_dict(a.state_dict())
    for name, value in a.state_dict().items():
        assert np.array_equal(b.parameters()[name].numpy(), value)
    before = b.state_dict()
    broken = dict(a.state_dict(), **{"2.bias": np.zeros(3)})
    with pytest.raises(ad.ShapeError, match="2.bias"):
        b.load_state_dict({n: v + 1 for n, v in broken.items()})
    with pytest.raises(ad.NonFiniteError):
        b.load_state_dict(dict(a.state_dict(), **{"2.bias": np.array([0.0, np.nan])}))
    with pytest.raises(ad.InvalidArgumentError, match="missing"):
        b.load_state_dict({"0.weight": before["0.weight"]})
    for name, value in before.items():
        assert np.array_equal(b.parameters()[name].numpy(), value)


def test_model_parameters_are_live_views():
    model = ad.Model.mlp([3, 2], seed=1)
    bias = model.parameters()["0.bias"]
    assert bias.name == "0.bias"
    bias.data[:] = [5.0, -5.0]
    assert model.state_dict()["0.bias"].tolist() == [5.0, -5.0]


def test_parameters_keep_a_closed_model_alive():
    model = ad.Model.mlp([3, 2], seed=1)
    finalizer = model._handle.finalizer
    weight = model.parameters()["0.weight"]
    model.close()
    with pytest.raises(ad.StateError, match="model is closed"):
        model.blocks
    assert finalizer.alive and weight.numpy().shape == (2, 3)
    del weight
    assert not finalizer.alive


def test_models_are_only_made_by_the_factories():
    with pytest.raises(TypeError, match="Model.mlp"):
        ad.Model(None)
