"""Adaptive Computation Modules: built for a ViT's submodules, learner counts per token, what
each sample pays, refusals."""
import numpy as np
import pytest

import libadapt as ad


def vit(seed=1):
    return ad.Model.vit(image_size=8, in_channels=1, patch=4, dim=8, depth=2, heads=2,
                        mlp_ratio=4.0, n_classes=3, seed=seed)


def test_an_acm_stands_in_for_a_block_s_mlp(ctx, rng):
    model = vit()
    acm = ad.acm_for(model, "blocks.0.mlp", learners=4, seed=2)
    params = dict(acm.parameters())
    assert params["0.learners.w1"].shape == (4, 8, 8)
    assert params["0.gate.4.weight"].shape == (5, 16)
    x = rng.uniform(-1, 1, size=(3, 5, 8)).astype(np.float32)
    counts = ad.acm_learner_counts(acm, ctx, x)
    assert counts.shape == (3, 5) and counts.min() >= 0 and counts.max() <= 4
    assert acm.set_acm_learners(2) == 1
    np.testing.assert_array_equal(ad.acm_learner_counts(acm, ctx, x), 2)
    _, flops = acm.forward_flops(ctx, x)
    np.testing.assert_array_equal(flops, 5 * 2 * 2 * (8 * 8 + 8 * 8))
    model.replace("blocks.0.mlp", acm)
    assert model.forward(ctx, rng.uniform(size=(2, 1, 8, 8))).shape == (2, 3)
    assert model.set_acm_learners(-1) == 1


def test_a_projection_gets_identity_learners_and_always_runs_one(ctx, rng):
    model = vit()
    acm = ad.acm_for(model, "blocks.1.attn.qkv")
    assert dict(acm.parameters())["0.learners.w2"].shape == (4, 2, 24)
    with pytest.raises(ad.InvalidArgumentError, match="outside"):
        acm.set_acm_learners(0)


def test_refusals(ctx):
    model = vit()
    with pytest.raises(ad.InvalidArgumentError, match="do not divide"):
        ad.acm_for(model, "blocks.0.mlp", learners=3)
    with pytest.raises(ad.InvalidArgumentError, match="names no submodule"):
        ad.acm_for(model, "blocks.7.mlp")
    with pytest.raises(ad.InvalidArgumentError, match="each token"):
        ad.acm_for(model, "blocks.0.attn")
    with pytest.raises(ad.InvalidArgumentError):
        ad.acm_for(model, "blocks.0.mlp", learners=0)


def test_learners_then_gate_train_on_a_recording(ctx, rng):
    model = vit()
    x = rng.uniform(size=(64, 1, 8, 8)).astype(np.float32)
    rec = model.record("blocks.1.mlp", (x, np.zeros(64, dtype=np.int32)), batch_size=32)
    acm = ad.acm_for(model, "blocks.1.mlp", learners=4, seed=1)
    first = ad.acm_distill([acm], [rec], epochs=30, batch_size=16, optimizer="adamw",
                           learning_rate=1e-2)
    assert first[-1].loss < first[0].loss
    gates = ad.acm_train_gates([acm], [rec], gamma=1.2, epochs=10, batch_size=16,
                               optimizer="adamw", learning_rate=1e-2)
    assert gates[-1].loss < gates[0].loss
    with pytest.raises(ad.InvalidArgumentError, match="gamma"):
        ad.acm_train_gates([acm], [rec], gamma=0.5, epochs=1)
