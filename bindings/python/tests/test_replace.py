"""Submodules replaced by other models: paths, outputs, names, costs, ownership, files."""
import numpy as np
import pytest

import libadapt as ad


def vit(seed=1):
    return ad.Model.vit(image_size=8, in_channels=1, patch=4, dim=8, depth=2, heads=2,
                        mlp_ratio=2.0, n_classes=3, seed=seed)


def token_mlp(hidden, seed=2):
    return ad.Model.sequential([5, 8], [{"kind": "token_linear", "out_features": hidden},
                                        {"kind": "gelu"},
                                        {"kind": "token_linear", "out_features": 8}], seed=seed)


def test_an_equivalent_mlp_computes_the_same(ctx, rng):
    model, mlp = vit(), token_mlp(16)
    weights = model.state_dict()
    mlp.load_state_dict({"0.weight": weights["blocks.1.mlp.fc1.weight"],
                         "0.bias": weights["blocks.1.mlp.fc1.bias"],
                         "2.weight": weights["blocks.1.mlp.fc2.weight"],
                         "2.bias": weights["blocks.1.mlp.fc2.bias"]})
    x = rng.uniform(size=(4, 1, 8, 8))
    before = model.forward(ctx, x)
    info = model.submodule("blocks.1.mlp")
    assert info.in_shape == (5, 8) and info.out_shape == (5, 8) and not info.replaced
    assert model.replace("blocks.1.mlp", mlp) is None
    assert mlp.closed
    np.testing.assert_allclose(model.forward(ctx, x), before, rtol=1e-5, atol=1e-6)
    names = list(model.parameters())
    assert "blocks.1.mlp.0.weight" in names and "blocks.1.mlp.fc1.weight" not in names
    assert model.submodule("blocks.1.mlp").replaced


def test_costs_and_putting_the_original_back(ctx, rng):
    model = vit()
    flops = model.flops
    model.replace("blocks.0.mlp", token_mlp(4))
    assert model.flops == flops - 2 * 2 * 5 * 8 * (16 - 4)
    previous = model.replace("blocks.0.mlp", None)
    assert model.flops == flops and previous.flops == 2 * 2 * 5 * 8 * 4
    model.replace("blocks.0.mlp", previous)  # usable again


def test_per_sample_flops(ctx, rng):
    model = vit()
    x = rng.uniform(size=(3, 1, 8, 8))
    logits, flops = model.forward_flops(ctx, x)
    np.testing.assert_array_equal(logits, model.forward(ctx, x))
    assert flops.tolist() == [model.flops] * 3
    model.replace("blocks.0.mlp", token_mlp(4))
    assert model.forward_flops(ctx, x)[1].tolist() == [model.flops] * 3


def test_checkpoints_rebuild_replacements(tmp_path, ctx, rng):
    model = vit()
    model.replace("blocks.1.attn", token_mlp(6))
    path = tmp_path / "m.safetensors"
    model.save(path)
    back = ad.Model.load(path)
    x = rng.uniform(size=(2, 1, 8, 8))
    np.testing.assert_array_equal(back.forward(ctx, x), model.forward(ctx, x))
    assert list(back.parameters()) == list(model.parameters())


def test_refusals_leave_both_models_unchanged():
    model, wide = vit(), ad.Model.sequential([5, 8], [{"kind": "token_linear",
                                                        "out_features": 9}])
    with pytest.raises(ad.InvalidArgumentError, match="names no submodule"):
        model.replace("blocks.5.mlp", wide)
    with pytest.raises(ad.ShapeError):
        model.replace("blocks.0.mlp", wide)
    with pytest.raises(ad.InvalidArgumentError, match="nothing replaces"):
        model.replace("blocks.0.mlp", None)
    assert not wide.closed and wide.flops == 2 * 5 * 8 * 9


def test_views_of_a_replacement_outlive_its_handle(ctx):
    model, mlp = vit(), token_mlp(4)
    weight = mlp.parameters()["0.weight"].numpy()
    model.replace("blocks.0.mlp", mlp)
    del model
    assert weight.shape == (4, 8) and np.isfinite(weight).all()


def test_a_recording_from_arrays_fits_a_module_to_them(rng):
    """Regression data as a Recording: distill() fits a module to map inputs to outputs."""
    x = rng.uniform(-1, 1, size=(32, 5, 8)).astype(np.float32)
    with ad.Context() as c:
        y = token_mlp(16, seed=3).forward(c, x)
    rec = ad.Recording.from_arrays(x, y)
    np.testing.assert_array_equal(rec.inputs, x)
    np.testing.assert_array_equal(rec.outputs, y)
    student = token_mlp(16, seed=4)

    def mse():
        with ad.Context() as c:
            return float(np.mean((student.forward(c, x) - y) ** 2))

    before = mse()
    ad.distill([student], [rec], epochs=30, batch_size=8, optimizer="adamw",
               learning_rate=1e-2, n_threads=1)
    assert mse() < 0.25 * before
    y[0, 0, 0] = np.nan
    with pytest.raises(ad.NonFiniteError):
        ad.Recording.from_arrays(x, y)
    with pytest.raises(ad.ShapeError):
        ad.Recording.from_arrays(x, y[:5])


def test_record_and_distill(rng, tmp_path):
    """An MLP distilled from the recorded blocks.1.mlp, then put in its place."""
    model = vit(4)
    x = rng.uniform(-1, 1, size=(32, 1, 8, 8)).astype(np.float32)
    data = (x, np.zeros(32, dtype=np.int32))
    rec = model.record("blocks.1.mlp", data, batch_size=8)
    spooled = model.record("blocks.1.mlp", data, batch_size=8, spool=tmp_path / "mlp")
    assert rec.inputs.shape == (32, 5, 8) and rec.outputs.shape == (32, 5, 8)
    np.testing.assert_array_equal(spooled.outputs, rec.outputs)
    np.testing.assert_array_equal(np.load(tmp_path / "mlp.inputs.npy"), rec.inputs)
    assert not rec.inputs.flags.writeable
    student = token_mlp(16, seed=7)

    def mse():
        with ad.Context() as c:
            y = student.forward(c, rec.inputs)
        return float(np.mean((y - rec.outputs) ** 2))

    before = mse()
    history = ad.distill([student], [rec], epochs=30, batch_size=8, optimizer="adamw",
                         learning_rate=1e-2, n_threads=1)
    assert len(history) == 30 and history[-1].loss < history[0].loss
    assert mse() < 0.25 * before
    model.replace("blocks.1.mlp", student)
