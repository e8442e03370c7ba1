"""Early exits: heads and their ownership, exit logits, early-stopping inference, training
regimes, and the pure policy functions against an independent NumPy implementation."""
import gc
import itertools
import math

import numpy as np
import pytest
from conftest import blobs

import libadapt as ad

SIZES = [12, 8, 6, 3]  # blocks: 12->8 (192 FLOPs), 8->6 (96), 6->3 (36)


def mlp(seed=1):
    return ad.Model.mlp(SIZES, seed=seed)


def mlp_with_heads(seed=1, cascade=False):
    model = mlp(seed)
    model.add_head("pooled_linear", block=0, seed=seed + 1)
    model.add_head("pooled_linear", block=1, cascade=cascade, seed=seed + 2)
    return model


# ---------------------------------------------------------------------- NumPy reference


def softmax64(scores):
    z = np.asarray(scores, np.float64)
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def views(scores, kind="logits"):
    """(prediction, top probability, entropy) of every row, each [exits, n]."""
    p = softmax64(scores) if kind == "logits" else np.asarray(scores, np.float64)
    logs = np.log(np.where(p > 0, p, 1.0))
    return p.argmax(-1), p.max(-1), -(p * logs).sum(-1)


def reference_exits(scores, rule="max_probability", thresholds=0.9, patience=2,
                    kind="logits"):
    """The exit each sample takes and the prediction there, deciding as the header says."""
    pred, top, entropy = views(scores, kind)
    exits, n = pred.shape
    heads = exits - 1
    thresholds = np.broadcast_to(np.asarray(thresholds, np.float32).astype(np.float64), heads)
    taken = np.full(n, heads)
    decided = np.zeros(n, bool)
    streak = np.zeros(n, int)
    for h in range(heads):
        streak = np.where((h > 0) & (pred[h] == pred[h - 1]), streak + 1, 1) if h else \
            np.ones(n, int)
        if rule == "max_probability":
            leave = top[h] >= thresholds[h]
        elif rule == "entropy":
            leave = entropy[h] <= thresholds[h]
        else:
            leave = streak >= patience
        taken[leave & ~decided] = h
        decided |= leave
    rows = np.arange(n)
    return taken, pred[taken, rows], top[taken, rows]


def reference_outcome(scores, labels, exit_flops, reference_flops, **policy):
    taken, answer, _ = reference_exits(scores, **policy)
    n = len(labels)
    counts = np.bincount(taken, minlength=len(exit_flops))
    flops = 0.0
    for count, cost in zip(counts, exit_flops):
        flops += float(count) * float(cost)
    accuracy = int((answer == labels).sum()) / n
    return accuracy, flops / n, flops / n / reference_flops, counts


def policy_float(rule, value):
    """A threshold as the float32 a policy holds, rounded to let more samples out."""
    t = np.float32(value)
    if rule == "max_probability" and t > value:
        t = np.nextafter(t, np.float32(-np.inf))
    if rule == "entropy" and t < value:
        t = np.nextafter(t, np.float32(np.inf))
    return t


@pytest.fixture
def records(rng):
    """Recorded logits of 4 exits on 300 samples of 5 classes, later exits more often
    right and more confident, with costs as a model would report them."""
    exits, n, classes = 4, 300, 5
    labels = rng.integers(0, classes, n).astype(np.int32)
    scores = rng.normal(0.0, 1.0, (exits, n, classes))
    for k in range(exits):
        right = rng.uniform(size=n) < 0.45 + 0.15 * k
        scores[k, np.arange(n), labels] += np.where(right, 1.0 + 0.7 * k, -0.5)
    exit_flops = np.array([100, 250, 420, 600], np.int64)
    return scores.astype(np.float32), labels, exit_flops, 550


# ---------------------------------------------------------------------- heads


def test_heads_take_block_order_positions_and_are_renamed():
    model = mlp()
    assert model.head_count == 0 and model.heads == []
    assert model.add_head(block=1, seed=7) == 0
    late = model.parameters()["exits.0.fc.weight"].numpy()
    assert model.add_head("pooled_linear", block=0, seed=8) == 0  # before the other one
    assert [h.block for h in model.heads] == [0, 1] and model.head_count == 2
    params = model.parameters()
    assert list(params)[-4:] == ["exits.0.fc.weight", "exits.0.fc.bias",
                                 "exits.1.fc.weight", "exits.1.fc.bias"]
    assert params["exits.0.fc.weight"].shape == (3, 8)
    assert params["exits.1.fc.weight"].shape == (3, 6)
    assert np.array_equal(params["exits.1.fc.weight"].numpy(), late)  # moved, not remade

    with pytest.raises(ad.InvalidArgumentError, match="already"):
        model.add_head(block=1)
    with pytest.raises(ad.InvalidArgumentError, match="block"):
        model.add_head(block=2)  # the last block ends in the final classifier
    with pytest.raises(ad.InvalidArgumentError, match="kind"):
        model.add_head("attention", block=0)
    with pytest.raises(ad.ShapeError):
        model.add_head("sdn", block=0)  # SDN pools feature maps, not vectors
    assert model.head_count == 2

    removed = model.remove_head(0)
    assert removed.block == 0 and not removed.held
    assert [h.block for h in model.heads] == [1]
    assert [n for n in model.parameters() if n.startswith("exits.")] == [
        "exits.0.fc.weight", "exits.0.fc.bias"]
    assert np.array_equal(model.parameters()["exits.0.fc.weight"].numpy(), late)
    with pytest.raises(ad.InvalidArgumentError):
        model.remove_head(1)


def test_head_info_and_exit_costs():
    model = mlp()
    model.add_head(block=0)
    model.add_head(block=1, cascade=True)
    pooled, cascading = model.heads
    assert pooled.info == ad.HeadInfo(ad.HeadKind.POOLED_LINEAR, 0, 0, False, 3, 2 * 8 * 3,
                                      8 * 3 + 3)
    # Cascading: 6 features + the previous head's 3 logits; LayerNorm scale and shift.
    assert cascading.info == ad.HeadInfo(ad.HeadKind.POOLED_LINEAR, 1, 0, True, 3,
                                         2 * 9 * 3, 9 * 3 + 3 + 2 * 3)
    assert (cascading.kind, cascading.cascade, cascading.flops) == (ad.HeadKind.POOLED_LINEAR,
                                                                    True, 54)
    blocks = [b.flops for b in model.blocks]
    assert blocks == [192, 96, 36] and model.flops == sum(blocks)  # heads excluded
    flops = model.exit_flops()
    assert flops.dtype == np.int64
    assert flops.tolist() == [192 + 48, 192 + 48 + 96 + 54, sum(blocks) + 48 + 54]

    vit = ad.Model.vit(image_size=8, in_channels=1, patch=4, dim=8, depth=2, heads=2,
                       n_classes=3, seed=1)
    vit.add_head("cls_mlp", block=1)
    vit.add_head("cls_mlp", block=2, hidden=5)
    vit.add_head("pooled_linear", block=0)  # mean over the 5 tokens of width 8
    assert [(h.kind, h.hidden, h.flops, h.n_params) for h in vit.heads] == [
        (ad.HeadKind.POOLED_LINEAR, 0, 48, 27),
        (ad.HeadKind.CLS_MLP, 8, 2 * (8 * 8 + 8 * 3), 8 * 8 + 8 + 8 * 3 + 3),
        (ad.HeadKind.CLS_MLP, 5, 2 * (8 * 5 + 5 * 3), 8 * 5 + 5 + 5 * 3 + 3)]
    cnn = ad.Model.cnn([4, 8], [1, 1], [1, 2], in_channels=1, image_size=8, n_classes=3,
                       stem_channels=4, seed=1)
    cnn.add_head("sdn", block=1)  # [4, 8, 8] pooled 2 x 2 to [4, 4, 4], then 64 -> 3
    sdn = cnn.heads[0].info
    assert (sdn.kind, sdn.classes, sdn.flops, sdn.n_params) == (ad.HeadKind.SDN, 3, 2 * 64 * 3,
                                                                1 + 64 * 3 + 3)
    assert "exits.0.alpha" in cnn.parameters()
    with pytest.raises(ad.ShapeError):
        vit.add_head("sdn", block=0)


def test_a_removed_head_moves_to_another_model_with_its_weights():
    a, b = mlp(seed=1), mlp(seed=2)
    a.add_head(block=0, seed=5)
    view = a.parameters()["exits.0.fc.weight"].data  # a numpy view of the head's memory
    before = view.copy()
    head = a.remove_head(0)
    del a
    gc.collect()
    assert np.array_equal(view, before)  # the view kept the detached head alive
    assert b.add_head(head) == 0 and head.held
    assert np.array_equal(b.parameters()["exits.0.fc.weight"].numpy(), before)
    view[0, 0] = 42.0  # still the very memory the model now uses
    assert b.parameters()["exits.0.fc.weight"].numpy()[0, 0] == 42.0
    with pytest.raises(ad.InvalidArgumentError, match="held"):
        mlp().add_head(head)  # one model at a time
    assert b.head_count == 1


def test_a_head_made_for_another_shape_is_refused_and_stays_the_callers():
    wide = ad.Model.mlp([12, 10, 6, 3], seed=1)
    head = ad.Head.create(wide, block=0)
    model = mlp()
    with pytest.raises(ad.ShapeError):
        model.add_head(head)
    assert not head.held and head.info.flops == 2 * 10 * 3 and model.head_count == 0
    assert wide.add_head(head) == 0 and head.held


def tangle():
    """Two models, heads held by each, one moved between them, one never added, and a
    numpy view of the moved head's weights: the only references are the returned ones."""
    model, other = mlp(seed=1), mlp(seed=2)
    model.add_head(block=0)
    model.add_head(block=1)
    held = model.heads[1]
    view = model.parameters()["exits.0.fc.bias"].data
    moved = model.remove_head(0)
    other.add_head(moved)
    model.add_head(ad.Head.create(model, block=0, seed=3))
    loose = ad.Head.create(other, block=1)
    return [model, other, held, moved, loose], view


def test_dropping_references_in_any_order_never_frees_twice():
    for order in itertools.permutations(range(5)):
        objects, view = tangle()
        expected = view.copy()
        for i in order:
            if i == 2:
                objects[i].close()  # closing a held head's Head never frees the head
            objects[i] = None  # reference counting frees at once what nothing else needs
            assert np.array_equal(view, expected)
        del view
    gc.collect()


def test_heads_are_saved_and_loaded(tmp_path, rng):
    model = mlp_with_heads(cascade=True)
    model.save(tmp_path / "exits.safetensors")
    loaded = ad.Model.load(tmp_path / "exits.safetensors")
    assert [h.info for h in loaded.heads] == [h.info for h in model.heads]
    x, y = blobs(rng, 20, features=12)
    assert np.array_equal(loaded.exit_logits((x, y)), model.exit_logits((x, y)))
    head = loaded.remove_head(1)
    del loaded
    gc.collect()
    assert head.info.cascade and not head.held


# ---------------------------------------------------------------------- exit logits


def test_exit_logits_end_with_the_models_own_output(ctx, rng):
    model = mlp_with_heads(cascade=True)
    x, y = blobs(rng, 50, features=12)
    logits = model.exit_logits(ad.Dataset.from_numpy(x, y), batch_size=16, n_threads=1)
    assert logits.shape == (3, 50, 3) and logits.dtype == np.float32
    assert np.array_equal(logits[-1], model.predict(x, batch_size=16, n_threads=1))
    # Head 0 is one linear layer on block 0's output.
    features = model.forward(ctx, x, first=0, last=1)
    params = model.state_dict()
    head0 = features.astype(np.float64) @ params["exits.0.fc.weight"].T + params[
        "exits.0.fc.bias"]
    np.testing.assert_allclose(logits[0], head0, rtol=1e-5, atol=1e-5)
    assert not np.allclose(logits[0], logits[1])


def test_forward_exits_gives_every_exit_and_trains_only_what_each_exit_reads(rng):
    model = mlp_with_heads(cascade=True)
    x, y = blobs(rng, 40, features=12)
    with ad.Context(n_threads=1) as ctx:
        outputs = model.forward_exits(ctx, x)
    assert [o.shape for o in outputs] == [(40, 3)] * 3
    assert np.array_equal(np.stack(outputs), model.exit_logits((x, y), n_threads=1))

    params = model.parameters()
    for p in params.values():
        p.zero_grad()
    with ad.Context(n_threads=1, grad=True) as ctx:
        logits = model.forward_exits(ctx, x, as_tensor=True)
        assert all(isinstance(t, ad.Tensor) for t in logits)
        loss = ad.ops.cross_entropy(ctx, logits[0], y)
        head = model.remove_head(0)  # the tape still points into it: kept by the context
        del head
        gc.collect()
        loss.backward()
    touched = {name for name, p in params.items() if np.any(p.grad != 0)}
    # Head 0 (named as when `params` was read) reads block 0 only: head 1 and the later
    # blocks get no gradient, and the removed head's memory took its gradient.
    assert touched == {"0.weight", "0.bias", "exits.0.fc.weight", "exits.0.fc.bias"}
    assert model.head_count == 1


# ---------------------------------------------------------------------- inference


@pytest.fixture
def inference(rng):
    """A model with a plain and a cascading head, 300 inputs, and their exit logits computed
    the way the inference below computes them (one batch, default backend, one thread)."""
    model = ad.Model.mlp([12, 32, 16, 3], seed=1)
    model.add_head(block=0, seed=2)
    model.add_head(block=1, seed=3, cascade=True)
    x = rng.normal(size=(300, 12)).astype(np.float32)
    labels = rng.integers(0, 3, 300)
    return model, x, model.exit_logits((x, labels), batch_size=512, n_threads=1)


def infer(model, x, policy, **kwargs):
    with ad.Context(n_threads=1) as ctx:
        return model.infer_exits(x, policy, ctx=ctx, batch_size=512, **kwargs)


def test_threshold_zero_answers_at_the_first_head_and_above_one_at_the_last(inference):
    model, x, logits = inference
    flops = model.exit_flops()
    first = model.infer_exits(x, ad.ExitPolicy(threshold=0.0), n_threads=1)
    assert (first.exits == 0).all() and first.exits.dtype == np.int32
    assert np.array_equal(first.predictions, logits[0].argmax(1))
    assert (first.flops == flops[0]).all() and first.flops.dtype == np.int64
    last = model.infer_exits(x, {"threshold": 1.5}, batch_size=7, n_threads=1)
    assert (last.exits == 2).all() and (last.flops == flops[2]).all()
    assert np.array_equal(last.predictions, logits[2].argmax(1))
    np.testing.assert_allclose(last.confidences, softmax64(logits[2]).max(1), rtol=1e-6)


def gap_threshold(values):
    """A threshold splitting `values` near their median, far from every one of them (so
    that a last-bit difference between batch sizes cannot move a sample across it)."""
    ordered = np.sort(values)
    middle = len(ordered) // 2
    window = ordered[middle - 30:middle + 30]
    gap = np.argmax(np.diff(window))
    return float(window[gap] + window[gap + 1]) / 2


def test_a_mid_threshold_decides_as_the_max_probability_rule(inference):
    model, x, logits = inference
    t = gap_threshold(softmax64(logits[0]).max(1))
    result = infer(model, x, ad.ExitPolicy("max_probability", t))
    exits, predictions, confidences = reference_exits(logits, thresholds=t)
    assert 0 < (exits == 0).sum() < len(x)  # the threshold really splits
    assert np.array_equal(result.exits, exits)
    assert np.array_equal(result.predictions, predictions)
    assert np.array_equal(result.confidences, confidences.astype(np.float32))
    assert np.array_equal(result.flops, model.exit_flops()[exits])
    # One threshold per head, and batches of one, decide alike.
    heads = [t, gap_threshold(softmax64(logits[1]).max(1))]
    exits, predictions, _ = reference_exits(logits, thresholds=heads)
    per_head = model.infer_exits(x, ad.ExitPolicy(head_thresholds=heads), batch_size=1)
    assert np.array_equal(per_head.exits, exits) and (exits == 1).any()
    assert np.array_equal(per_head.predictions, predictions)


def test_entropy_patience_and_calibrated_policies(inference):
    model, x, logits = inference
    labels = np.arange(len(x)) % 3
    t = gap_threshold(views(logits)[2][0])
    exits, predictions, _ = reference_exits(logits, "entropy", t)
    result = infer(model, x, ad.ExitPolicy(ad.ExitRule.ENTROPY, t))
    assert np.array_equal(result.exits, exits) and np.array_equal(result.predictions,
                                                                  predictions)
    exits, predictions, _ = reference_exits(logits, "patience", patience=2)
    result = infer(model, x, ad.ExitPolicy("patience", patience=2))
    assert np.array_equal(result.exits, exits) and set(exits) == {1, 2}
    # Calibrated probabilities decide: a temperature per head, plain softmax at the end.
    calibrators = [ad.Calibrator.fit(logits[k], labels, "temperature") for k in range(2)]
    calibrators.append(None)
    probabilities = np.stack([calibrators[0].apply(logits[0]), calibrators[1].apply(logits[1]),
                              softmax64(logits[2]).astype(np.float32)])
    t = gap_threshold(probabilities[0].max(1))
    exits, predictions, _ = reference_exits(probabilities, thresholds=t,
                                            kind="probabilities")
    result = infer(model, x, ad.ExitPolicy(threshold=t, calibrators=calibrators))
    assert np.array_equal(result.exits, exits) and np.array_equal(result.predictions,
                                                                  predictions)


def test_bad_policies_and_contexts_are_refused(inference):
    model, x, _ = inference
    with pytest.raises(ad.ShapeError, match="one per head"):
        model.infer_exits(x, ad.ExitPolicy(head_thresholds=[0.5]))
    with pytest.raises(ad.ShapeError, match="one per exit"):
        model.infer_exits(x, ad.ExitPolicy(calibrators=[None, None]))
    with pytest.raises(TypeError, match="Calibrator"):
        model.infer_exits(x, ad.ExitPolicy(calibrators=[None, None, "softmax"]))
    with pytest.raises(ad.NonFiniteError):
        model.infer_exits(x, ad.ExitPolicy(threshold=math.nan))
    with pytest.raises(ad.InvalidArgumentError, match="patience"):
        model.infer_exits(x, ad.ExitPolicy("patience", patience=0))
    with pytest.raises(ad.InvalidArgumentError, match="rule"):
        model.infer_exits(x, ad.ExitPolicy("cheapest"))
    with ad.Context(grad=True) as ctx, pytest.raises(ad.StateError, match="gradients"):
        model.infer_exits(x, ctx=ctx)
    with ad.Context() as ctx:  # a Tensor input, in its own context
        tensor = ctx.input(x[:5])
        assert model.infer_exits(tensor, ctx=ctx).exits.shape == (5,)


# ---------------------------------------------------------------------- recorded outputs


@pytest.mark.parametrize("policy", [
    dict(rule="max_probability", thresholds=0.6), dict(rule="entropy", thresholds=1.0),
    dict(rule="patience", patience=2), dict(rule="patience", patience=3),
    dict(rule="max_probability", thresholds=[0.8, 0.5, 0.3])])
def test_simulate_matches_numpy(records, policy):
    scores, labels, exit_flops, reference = records
    thresholds = policy.get("thresholds", 0.9)
    c_policy = ad.ExitPolicy(policy["rule"], patience=policy.get("patience"),
                             **({"head_thresholds": thresholds} if isinstance(thresholds, list)
                                else {"threshold": thresholds}))
    outcome, counts = ad.exit_simulate(scores, labels, exit_flops, reference, c_policy)
    accuracy, mean_flops, budget, expected = reference_outcome(
        scores, labels, exit_flops, reference, **policy)
    assert counts.tolist() == expected.tolist() and counts.dtype == np.int64
    assert (expected > 0).sum() >= 2  # a policy of substance: it splits the samples
    assert outcome == ad.ExitOutcome(accuracy, mean_flops, budget)


def test_simulate_reads_probabilities_too(records):
    scores, labels, exit_flops, reference = records
    probabilities = softmax64(scores).astype(np.float32)
    outcome, counts = ad.exit_simulate(probabilities, labels, exit_flops, reference,
                                       {"threshold": 0.6}, kind="probabilities")
    *expected, expected_counts = reference_outcome(probabilities, labels, exit_flops,
                                                   reference, thresholds=0.6,
                                                   kind="probabilities")
    assert counts.tolist() == expected_counts.tolist()
    assert (outcome.accuracy, outcome.mean_flops, outcome.budget) == tuple(expected)
    with pytest.raises(ad.ShapeError, match="exits, n, classes"):
        ad.exit_simulate(scores[0], labels, exit_flops, reference)
    with pytest.raises(ad.ShapeError, match="exit_flops"):
        ad.exit_simulate(scores, labels, exit_flops[:3], reference)
    with pytest.raises(ad.InvalidArgumentError, match="exit_flops"):
        ad.exit_simulate(scores, labels, exit_flops[::-1], reference)  # costs must grow
    with pytest.raises(ad.ShapeError, match="one per head"):
        ad.exit_simulate(scores, labels, exit_flops, reference, {"head_thresholds": [0.5]})


@pytest.mark.parametrize("rule", ["max_probability", "entropy"])
def test_sweep_matches_numpy(records, rule):
    scores, labels, exit_flops, reference = records
    points = 41
    sweep = ad.exit_sweep(scores, labels, exit_flops, reference, rule, points=points)
    fractions = np.arange(points) / (points - 1)
    raw = fractions if rule == "max_probability" else math.log(5) * (1 - fractions)
    thresholds = np.array([policy_float(rule, t) for t in raw], np.float64)
    assert np.array_equal(sweep.thresholds, thresholds)
    outcomes = [reference_outcome(scores, labels, exit_flops, reference, rule=rule,
                                  thresholds=t) for t in thresholds]
    budgets = np.array([o[2] for o in outcomes])
    accuracies = np.array([o[0] for o in outcomes])
    assert np.array_equal(sweep.budgets, budgets)
    assert np.array_equal(sweep.accuracies, accuracies)
    # Index 0 lets everything out at the first head, the last point keeps all to the end.
    assert budgets[0] == 100 / 550 and budgets[-1] == 600 / 550
    curve = sweep.curve
    for level, got in zip([0.25, 0.5, 0.75, 1.0], curve.accuracy_at_budget):
        fits = np.nonzero(budgets <= level + 1e-12)[0]
        assert got == accuracies[fits[-1]]  # the strictest point that fits
    order = np.argsort(budgets, kind="stable")
    b, a = budgets[order], accuracies[order]
    area = np.sum(np.diff(b) * (a[1:] + a[:-1]) / 2) / (b[-1] - b[0])
    assert curve.area == pytest.approx(area, rel=1e-12)
    assert (curve.min_budget, curve.max_budget) == (b[0], b[-1])
    with pytest.raises(ad.InvalidArgumentError, match="PATIENCE"):
        ad.exit_sweep(scores, labels, exit_flops, reference, "patience")
    with pytest.raises(ad.InvalidArgumentError, match="points"):
        ad.exit_sweep(scores, labels, exit_flops, reference, rule, points=1)


def brute_force(records, rule, target, value):
    """The best outcome of any one global threshold, by NumPy: every threshold between two
    consecutive observed statistics and beyond both ends."""
    scores, labels, exit_flops, reference = records
    _, top, entropy = views(scores[:-1])
    statistic = np.unique(top if rule == "max_probability" else entropy)
    candidates = np.concatenate([[statistic[0] - 1], (statistic[1:] + statistic[:-1]) / 2,
                                 [statistic[-1] + 1]])
    outcomes = [reference_outcome(scores, labels, exit_flops, reference, rule=rule,
                                  thresholds=t)[:3] for t in candidates]
    if target == "budget":
        return max(a for a, _, b in outcomes if b <= value)
    return min(b for a, _, b in outcomes if a >= value)


@pytest.mark.parametrize("rule", ["max_probability", "entropy"])
@pytest.mark.parametrize("target,value", [("budget", 0.6), ("accuracy", 0.85)])
def test_fit_reaches_its_target_and_reports_what_simulate_gives(records, rule, target, value):
    scores, labels, exit_flops, reference = records
    best = brute_force(records, rule, target, value)
    fitted, outcome = ad.exit_fit(scores, labels, exit_flops, reference, target=target,
                                  value=value, rule=rule)
    assert fitted.shape == (1,) and fitted.dtype == np.float32
    again, _ = ad.exit_simulate(scores, labels, exit_flops, reference,
                                ad.ExitPolicy(rule, threshold=fitted[0]))
    assert again == outcome
    if target == "budget":
        assert outcome.budget <= value and outcome.accuracy == best
    else:
        assert outcome.accuracy >= value and outcome.budget == best

    per_head, refined = ad.exit_fit(scores, labels, exit_flops, reference, target=target,
                                    value=value, rule=rule, per_head=True)
    assert per_head.shape == (3,)
    again, _ = ad.exit_simulate(scores, labels, exit_flops, reference,
                                ad.ExitPolicy(rule, head_thresholds=per_head))
    assert again == refined
    if target == "budget":  # the search starts at the best global threshold
        assert refined.budget <= value and refined.accuracy >= outcome.accuracy
    else:
        assert refined.accuracy >= value and refined.budget <= outcome.budget


def test_fit_reports_an_unreachable_target(records):
    scores, labels, exit_flops, reference = records
    with pytest.raises(ad.InvalidArgumentError, match="cheapest reachable"):
        ad.exit_fit(scores, labels, exit_flops, reference, target="budget", value=0.1)
    with pytest.raises(ad.InvalidArgumentError, match="no threshold"):
        ad.exit_fit(scores, labels, exit_flops, reference, target="budget", value=0.5,
                    rule="patience")
    with pytest.raises(ad.InvalidArgumentError, match="not one of"):
        ad.exit_fit(scores, labels, exit_flops, reference, target="latency", value=0.5)


# ---------------------------------------------------------------------- training


BACKBONE = dict(epochs=3, batch_size=16, optimizer="sgd", learning_rate=0.1, momentum=0.9,
                weight_decay=1e-3, seed=3, n_threads=1)
EXITS = dict(BACKBONE, epochs=2, seed=4)


@pytest.fixture
def problem(rng):
    x, y = blobs(rng, 300, features=12)
    return ad.Dataset.from_numpy(x, y).split(0.2, seed=1)


def test_disjoint_training_leaves_the_backbone_as_plain_training_does(problem):
    train, val = problem
    plain = mlp(seed=1)
    plain.train(train, **BACKBONE)
    model = mlp_with_heads(seed=1)
    untrained = model.state_dict()
    seen = []
    history = model.train_exits(train, val, regime="disjoint", backbone_phase=BACKBONE,
                                exit_phase=EXITS, progress=seen.append)
    trained = model.state_dict()
    for name, values in plain.state_dict().items():
        assert np.array_equal(trained[name], values), name
    for name in trained:
        if name.startswith("exits."):
            assert not np.array_equal(trained[name], untrained[name]), name
    assert [(p.phase, p.epoch) for p in history] == [("backbone", 1), ("backbone", 2),
                                                     ("backbone", 3), ("exits", 1),
                                                     ("exits", 2)]
    assert {p.phase for p in seen} == {"backbone", "exits"}
    logits = model.exit_logits(val)
    _, labels = zip(*(val[i] for i in range(len(val))))
    accuracies = (logits.argmax(2) == np.array(labels)).mean(1)
    assert accuracies.min() > 0.8  # the heads learned from the frozen features
    assert history[-1].val_accuracy == pytest.approx(accuracies[-1], abs=1e-6)


def test_print_progress_names_the_phase(problem, capsys):
    train, _ = problem
    mlp_with_heads(seed=1).train_exits(train, regime="mixed", backbone_phase=BACKBONE,
                                       exit_phase=EXITS, progress=ad.print_progress)
    lines = capsys.readouterr().err.splitlines()
    assert lines[0].startswith("backbone epoch 1/3 step 1/15: loss")
    assert lines[-1].startswith("exits epoch 2/2 step 15/15: loss")


def test_mixed_and_joint_training_move_the_backbone(problem):
    train, _ = problem
    plain = mlp(seed=1)
    plain.train(train, **BACKBONE)
    for regime in ("mixed", ad.ExitRegime.JOINT):
        model = mlp_with_heads(seed=1)
        history = model.train_exits(train, regime=regime, backbone_phase=BACKBONE,
                                    exit_phase=EXITS, proportional_weights=True,
                                    distillation=0.5, distillation_temperature=2.0)
        assert not np.array_equal(model.state_dict()["0.weight"],
                                  plain.state_dict()["0.weight"])
        phases = [p.phase for p in history]
        assert phases == (["backbone"] * 3 if regime == "mixed" else []) + ["exits"] * 2


def test_training_errors(problem):
    train, _ = problem
    with pytest.raises(ad.StateError, match="no heads"):
        mlp().train_exits(train, regime="joint")
    model = mlp_with_heads()
    with pytest.raises(TypeError, match="progress"):
        model.train_exits(train, exit_phase={"progress": print})
    with pytest.raises(ad.InvalidArgumentError, match="distillation"):
        model.train_exits(train, distillation=1.5)
    with pytest.raises(ad.InvalidArgumentError, match="regime"):
        model.train_exits(train, regime="sequential")

    def stop(p):
        if p.phase == "exits":
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        model.train_exits(train, backbone_phase=dict(BACKBONE, epochs=1),
                          exit_phase=dict(EXITS, epochs=1), progress=stop)
