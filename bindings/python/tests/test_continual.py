"""Continual learning from Python: tasks as class selections, task heads, EWC and SI."""
import numpy as np
import pytest

import libadapt as ad


def blobs(rng, n=120, classes=4, dim=6):
    labels = (np.arange(n) % classes).astype(np.int32)
    x = rng.uniform(0, 0.5, size=(n, dim)).astype(np.float32)
    x[np.arange(n), labels] = 1.0
    return ad.Dataset.from_numpy(x, labels)


def test_select_classes_relabels_and_keeps_the_parent_alive(rng):
    data = blobs(rng)
    task = data.select_classes({2: 0, 3: 1})
    assert len(task) == 60 and set(task.labels) == {0, 1}
    same = data.select_classes([-1, -1, 0, 1])
    np.testing.assert_array_equal(task.labels, same.labels)
    del data
    train, val = task.split(0.25, seed=1)
    assert len(train) + len(val) == 60 and set(val.labels) <= {0, 1}
    with pytest.raises(ad.InvalidArgumentError):
        task.select_classes([0, -2])


def test_task_heads_leave_other_tasks_rows_alone(rng):
    data = blobs(rng)
    model = ad.Model.mlp([6, 4], seed=2)
    weight = next(iter(model.parameters().values()))
    before = np.array(weight)
    task = data.select_classes([-1, -1, 2, 3], task_classes=2)
    model.train(task, epochs=3, batch_size=8, learning_rate=0.5, momentum=0.0, n_threads=1)
    after = np.array(weight)
    np.testing.assert_array_equal(after[:2], before[:2])
    assert not np.array_equal(after[2:], before[2:])
    assert model.evaluate(task, confusion=False).accuracy > 0.9


@pytest.mark.parametrize("kind,damping,strength", [("ewc", 0.0, 20.0), ("si", 0.1, 2.0)])
def test_consolidation_pulls_towards_the_first_task(rng, kind, damping, strength):
    data = blobs(rng)
    first, second = data.select_classes([0, 1]), data.select_classes([-1, -1, 0, 1])
    settings = dict(epochs=5, batch_size=8, learning_rate=0.05, momentum=0.0, n_threads=1)
    moved = []
    for weight in (0.0, strength):
        model = ad.Model.mlp([6, 8, 2], seed=3)
        c = ad.Consolidation(model, kind, damping)
        model.train(first, consolidation=c, **settings)
        c.end_task(model, first)
        assert c.penalty(model) == pytest.approx(0.0, abs=1e-9)
        model.train(second, consolidation=c, consolidation_weight=weight, **settings)
        moved.append(c.penalty(model))
    assert moved[0] > 0.0 and moved[1] < 0.5 * moved[0]


def test_consolidation_refusals(rng):
    model = ad.Model.mlp([6, 4], seed=2)
    with pytest.raises(ad.InvalidArgumentError):
        ad.Consolidation(model, "si", 0.0)
    with pytest.raises(ad.InvalidArgumentError):
        ad.Consolidation(model, "ewc", 0.5)
    c = ad.Consolidation(model, "ewc")
    with pytest.raises(ad.InvalidArgumentError):
        c.end_task(ad.Model.mlp([6, 5, 4], seed=2), blobs(rng))
    with pytest.raises(ad.InvalidArgumentError):
        model.train(blobs(rng), epochs=1, consolidation_weight=1.0)
    with pytest.raises(TypeError):
        model.train(blobs(rng), epochs=1, consolidation=object())
