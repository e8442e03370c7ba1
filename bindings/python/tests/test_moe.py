"""Mixture-of-Experts: a block's MLP split into experts, routing, per-sample costs, refusals."""
import numpy as np
import pytest

import libadapt as ad


def vit(seed=1):
    return ad.Model.vit(image_size=8, in_channels=1, patch=4, dim=8, depth=2, heads=2,
                        mlp_ratio=4.0, n_classes=3, seed=seed)


def test_every_expert_running_computes_the_dense_model(ctx, rng):
    model = vit()
    x = rng.uniform(size=(4, 1, 8, 8))
    dense = model.forward(ctx, x)
    moe = ad.moe_from_ffn(model, "blocks.0.mlp", experts=4, seed=3)
    assert "0.experts.w1" in dict(moe.parameters())
    model.replace("blocks.0.mlp", moe)
    np.testing.assert_allclose(model.forward(ctx, x), dense, rtol=1e-5, atol=1e-6)
    assert "blocks.0.mlp.0.router.2.weight" in dict(model.parameters())


def test_routing_sets_what_each_sample_pays(ctx, rng):
    model = vit()
    model.replace("blocks.1.mlp", ad.moe_from_ffn(model, "blocks.1.mlp", experts=8))
    x = rng.uniform(size=(3, 1, 8, 8))
    _, every = model.forward_flops(ctx, x)
    assert model.set_routing("top_k", top_k=2) == 1
    _, two = model.forward_flops(ctx, x)
    # 5 tokens, 6 experts fewer each, an expert 2 * (8 * 4 + 4 * 8) FLOPs, plus the router
    router = 2 * (8 * 128 + 128 * 8)
    np.testing.assert_array_equal(every - two, 5 * (6 * 128 - router))
    assert model.set_routing(ad.Routing.DYNAMIC_K, tau=0.0) == 1
    np.testing.assert_array_equal(model.forward_flops(ctx, x)[1], every)


def test_refusals(ctx):
    model = vit()
    with pytest.raises(ad.InvalidArgumentError, match="do not divide"):
        ad.moe_from_ffn(model, "blocks.0.mlp", experts=5)
    with pytest.raises(ad.InvalidArgumentError, match="names no submodule"):
        ad.moe_from_ffn(model, "blocks.7.mlp")
    model.replace("blocks.0.mlp", ad.moe_from_ffn(model, "blocks.0.mlp", experts=4))
    with pytest.raises(ad.InvalidArgumentError, match="tau"):
        model.set_routing("dynamic_k", tau=1.5)
    with pytest.raises(ad.InvalidArgumentError, match="top_k"):
        model.set_routing("top_k", top_k=5)


def test_routers_learn_and_routing_then_saves_compute(ctx, rng):
    model = vit()
    x = rng.uniform(size=(64, 1, 8, 8)).astype(np.float32)
    data = (x, np.zeros(64, dtype=np.int32))
    moe_ = ad.moe_from_ffn(model, "blocks.1.mlp", experts=8)
    rec = model.record("blocks.1.mlp", data, batch_size=32)  # the dense MLP's inputs
    history = ad.moe_train_routers([moe_], [rec], epochs=20, batch_size=16,
                                   optimizer="adamw", learning_rate=1e-2)
    assert history[-1].loss < history[0].loss
    assert moe_.set_routing("dynamic_k", tau=0.5) == 1
    counts = ad.moe_expert_counts(moe_, ctx, rec.inputs[:4])
    assert counts.shape == (4, 5) and counts.min() >= 1 and counts.mean() < 8
    model.replace("blocks.1.mlp", moe_)
    _, flops = model.forward_flops(ctx, x[:4])
    assert (flops < model.flops).all()


def test_relu_swap_then_sparsifying_fine_tune(ctx, rng):
    model = vit()
    x = rng.uniform(size=(64, 1, 8, 8)).astype(np.float32)
    labels = (x[:, 0, 0, 0] > 0.5).astype(np.int32)
    for b in range(2):
        path = f"blocks.{b}.mlp"
        model.replace(path, ad.ffn_module(model, path, activation="relu"))
    history = model.train((x, labels), epochs=3, batch_size=16, optimizer="adamw",
                          learning_rate=1e-3, sparsity_penalty=0.2, sparsity_warmup=0.5)
    assert len(history) == 3 and np.isfinite(history[-1].loss)
    moe_ = ad.moe_from_ffn(model, "blocks.0.mlp", experts=4)  # splits the ReLU module
    before = model.forward(ctx, x[:4])
    model.replace("blocks.0.mlp", moe_)
    np.testing.assert_allclose(model.forward(ctx, x[:4]), before, rtol=1e-4, atol=1e-5)


def test_weights_of_other_shapes_are_refused(tmp_path):
    moe = ad.moe_from_ffn(vit(), "blocks.0.mlp", experts=4)
    for name, shape in (("0.experts.w1", (4, 8, 7)), ("0.router.2.weight", (3, 128))):
        weights = dict(moe.state_dict())
        weights[name] = np.zeros(shape, np.float32)
        ad.save_safetensors(weights, tmp_path / "bad.safetensors")
        with pytest.raises(ad.FormatError, match=name.replace(".", r"\.")):
            moe.load_weights(tmp_path / "bad.safetensors")


def test_attention_projection_as_a_sparse_mlp_then_experts(ctx, rng):
    """D2DMoE's step 0: a projection distilled into a parameter-matched ReLU MLP with the
    sparsity penalty, then split into experts like any MLP."""
    model = vit()
    x = rng.uniform(size=(64, 1, 8, 8)).astype(np.float32)
    data = (x, np.zeros(64, dtype=np.int32))
    rec = model.record("blocks.0.attn.proj", data)
    hidden = round((8 * 8 + 8) / (2 * 8 + 1))  # the paper's h at phi = 1: 4
    mlp = ad.Model.sequential([5, 8], [{"kind": "token_linear", "out_features": hidden},
                                       {"kind": "relu"},
                                       {"kind": "token_linear", "out_features": 8}], seed=3)
    history = ad.distill([mlp], [rec], epochs=30, batch_size=16, optimizer="adamw",
                         learning_rate=1e-2, sparsity_penalty=0.01)
    assert history[-1].loss < 0.5 * history[0].loss
    model.replace("blocks.0.attn.proj", mlp)
    moe = ad.moe_from_ffn(model, "blocks.0.attn.proj", experts=2)
    before = model.forward(ctx, x[:4])
    model.replace("blocks.0.attn.proj", moe)
    np.testing.assert_allclose(model.forward(ctx, x[:4]), before, rtol=1e-4, atol=1e-5)


def test_an_mlp_slice_splits_into_experts(ctx, rng):
    """An MLP's linear, ReLU, linear is the slice "0:3" of its layers."""
    model = ad.Model.mlp([64, 32, 16, 3], seed=2)
    x = rng.uniform(size=(4, 1, 8, 8)).astype(np.float32)
    dense = model.forward(ctx, x)
    assert model.submodule("0:3").out_shape == (16,)
    rec = model.record("0:3", (x, np.zeros(4, dtype=np.int32)), batch_size=3)
    model.replace("0:3", ad.moe_from_ffn(model, "0:3", experts=4))
    np.testing.assert_allclose(model.forward(ctx, x), dense, rtol=1e-5, atol=1e-6)
    assert "0:3.0.experts.w1" in dict(model.parameters())
    np.testing.assert_array_equal(rec.inputs, x.reshape(4, 64))
    with pytest.raises(ad.InvalidArgumentError, match="replaced slice"):
        model.record("2", (x, np.zeros(4, dtype=np.int32)))
