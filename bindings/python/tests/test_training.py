"""Training with Python callbacks, cancellation, exceptions, evaluation."""
import inspect
import io
import os
import re
import signal
import threading

import numpy as np
import pytest
from conftest import blobs

import libadapt as ad

SETTINGS = dict(epochs=3, batch_size=32, optimizer="adamw", learning_rate=0.01, seed=4,
                n_threads=1)


@pytest.fixture
def problem(rng):
    x, y = blobs(rng, 400)
    data = ad.Dataset.from_numpy(x, y)
    train, val = data.split(0.25, seed=1)
    return data, train, val


def test_training_learns_and_reports_progress(problem):
    _, train, val = problem
    model = ad.Model.mlp([8, 16, 3], seed=1)
    before = model.evaluate(val)
    seen = []
    history = model.train(train, val, progress=seen.append, **SETTINGS)
    steps_per_epoch = -(-len(train) // SETTINGS["batch_size"])
    assert len(seen) == 3 * steps_per_epoch
    assert [p.step for p in seen] == list(range(1, len(seen) + 1))
    assert all(p.steps == len(seen) and p.epochs == 3 for p in seen)
    assert [p.epoch for p in history] == [1, 2, 3] and all(p.epoch_end for p in history)
    assert all(p.val_accuracy is not None for p in history)
    assert all(p.val_accuracy is None for p in seen if not p.epoch_end)
    after = model.evaluate(val)
    assert after.loss < before.loss and after.accuracy > 0.9
    assert after.accuracy == pytest.approx(history[-1].val_accuracy, abs=1e-6)


def test_the_same_seed_trains_bit_identical_weights(problem):
    _, train, val = problem
    weights = []
    for _ in range(2):
        model = ad.Model.mlp([8, 16, 3], seed=1)
        model.train(train, **SETTINGS)
        weights.append(model.state_dict())
    for name in weights[0]:
        assert np.array_equal(weights[0][name], weights[1][name])


def test_recomputing_blocks_trains_the_same_bits(problem):
    _, train, val = problem
    weights = []
    for recompute in (False, True):
        model = ad.Model.mlp([8, 16, 16, 3], dropout=0.2, seed=1)
        model.train(train, recompute_blocks=recompute, **SETTINGS)
        weights.append(model.state_dict())
    for name in weights[0]:
        assert np.array_equal(weights[0][name], weights[1][name])


def test_another_thread_gets_a_state_error_while_a_model_trains(problem):
    _, train, val = problem
    model = ad.Model.mlp([8, 16, 3], seed=1)
    x = np.zeros((2, 8), dtype=np.float32)
    outcomes = []

    def predict_elsewhere():
        try:
            model.predict(x)
            outcomes.append("ran")
        except ad.StateError as e:
            outcomes.append(str(e))

    def on_progress(p):
        if p.step == 1:
            model.predict(x)  # the training thread itself may
            thread = threading.Thread(target=predict_elsewhere)
            thread.start()
            thread.join()

    model.train(train, progress=on_progress, **SETTINGS)
    assert len(outcomes) == 1 and "being trained or changed by another call" in outcomes[0]
    predict_elsewhere()
    assert outcomes[1] == "ran"


def test_numpy_pairs_stand_in_for_datasets(rng):
    x, y = blobs(rng, 200)
    model = ad.Model.mlp([8, 3], seed=1)
    history = model.train((x, y), (x[:50], y[:50]), **SETTINGS)
    assert history[-1].val_accuracy == pytest.approx(model.evaluate((x[:50], y[:50])).accuracy)
    with pytest.raises(TypeError, match="Dataset or an"):
        model.train(x)


def test_evaluation_with_a_confusion_matrix(problem):
    data, _, _ = problem
    model = ad.Model.mlp([8, 3], seed=1)
    result = model.evaluate(data, batch_size=64)
    assert result.count == len(data) and result.confusion.shape == (3, 3)
    assert result.confusion.sum() == len(data)
    assert result.confusion.trace() / len(data) == pytest.approx(result.accuracy)
    truth = np.bincount([data[i][1] for i in range(len(data))], minlength=3)
    assert np.array_equal(result.confusion.sum(axis=1), truth)
    assert model.evaluate(data, confusion=False).confusion is None


class Boom(Exception):
    pass


def test_an_exception_in_the_progress_callback_stops_training_and_propagates(problem):
    _, train, _ = problem
    model = ad.Model.mlp([8, 3], seed=1)
    calls = []

    def progress(p):
        calls.append(p.step)
        if p.step == 2:
            raise Boom("from the callback")

    with pytest.raises(Boom, match="from the callback"):
        model.train(train, progress=progress, **SETTINGS)
    assert calls == [1, 2]                  # cancelled before the third step
    model.train(train, **dict(SETTINGS, epochs=1))  # the model is still usable


def test_an_exception_after_the_last_step_still_propagates(problem):
    _, train, _ = problem

    def progress(p):
        if p.step == p.steps:  # no cancel call follows the last step
            raise Boom("at the end")

    with pytest.raises(Boom, match="at the end"):
        ad.Model.mlp([8, 3]).train(train, progress=progress, **SETTINGS)


def test_an_exception_in_the_cancel_callback_propagates(problem):
    _, train, _ = problem
    with pytest.raises(ZeroDivisionError):
        ad.Model.mlp([8, 3]).train(train, cancel=lambda: 1 / 0, **SETTINGS)


def test_cancel_returning_true_is_a_cancelled_error(problem):
    _, train, _ = problem
    steps = []
    with pytest.raises(ad.CancelledError, match="cancelled after 5 steps"):
        ad.Model.mlp([8, 3]).train(train, progress=steps.append,
                                   cancel=lambda: len(steps) >= 5, **SETTINGS)
    assert len(steps) == 5


def test_ctrl_c_during_training_cancels_and_raises_keyboard_interrupt(problem):
    _, train, _ = problem
    steps = []

    def progress(p):
        steps.append(p)
        if p.step == 3:
            os.kill(os.getpid(), signal.SIGINT)

    with pytest.raises(KeyboardInterrupt):
        ad.Model.mlp([8, 3]).train(train, progress=progress, **SETTINGS)
    assert 3 <= len(steps) < 10


def test_settings_are_checked(problem):
    _, train, _ = problem
    model = ad.Model.mlp([8, 3])
    with pytest.raises(TypeError, match="unexpected keyword argument .epoch."):
        model.train(train, epoch=1)
    with pytest.raises(TypeError, match="unexpected keyword argument 'user_data'"):
        model.train(train, user_data=1)
    with pytest.raises(ad.InvalidArgumentError, match="sgd, adamw"):
        model.train(train, optimizer="adam")
    with pytest.raises(ad.InvalidArgumentError, match="learning_rate"):
        model.train(train, learning_rate=-1.0)
    with pytest.raises(ad.NonFiniteError):
        model.train(train, momentum=float("nan"))
    with pytest.raises(ad.InvalidArgumentError, match="does not fit"):
        model.train(train, epochs=2 ** 32 + 1)


def test_the_settings_defaults_are_the_libraries():
    from libadapt._params import new_params
    from libadapt._structs import TrainParams
    defaults = new_params(TrainParams)
    signature = inspect.signature(ad.Model.train)
    settings = [n for n, p in signature.parameters.items()
                if p.kind == p.KEYWORD_ONLY and n not in ("progress", "cancel")]
    assert settings == [name for name, _ in TrainParams._fields_
                        if name not in ("struct_size", "progress", "cancel", "user_data")]
    assert signature.parameters["consolidation"].default is None and not defaults.consolidation
    settings.remove("consolidation")
    for name in settings:
        value = signature.parameters[name].default
        if name in ("optimizer", "schedule", "loss"):
            value = {"optimizer": ad.Optimizer, "schedule": ad.Schedule,
                     "loss": ad.LossKind}[name][value.upper()]
        assert np.float32(value) == np.float32(getattr(defaults, name)), name


def test_a_sample_shape_the_model_cannot_take(problem):
    _, train, _ = problem
    with pytest.raises(ad.ShapeError):
        ad.Model.mlp([5, 3]).train(train, epochs=1)


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_print_progress_writes_plain_lines_every_few_steps(problem, capsys):
    _, train, val = problem  # 300 samples, batches of 32: 10 steps an epoch
    ad.Model.mlp([8, 3]).train(train, val, progress=ad.print_progress, **SETTINGS)
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 3 * 10 and "\r" not in "".join(lines)
    assert re.fullmatch(r"epoch 1/3 step 1/10: loss \d+\.\d{4}, \d+ samples/s, ETA \d+:\d\d",
                        lines[0])
    assert lines[9].startswith("epoch 1/3 step 10/10: loss")
    assert "validation accuracy" in lines[9] and "validation" not in lines[8]


def test_a_progress_printer_rewrites_one_line_per_epoch_on_a_terminal(problem):
    _, train, _ = problem
    terminal, plain = Terminal(), io.StringIO()
    model = ad.Model.mlp([8, 3])
    model.train(train, progress=ad.ProgressPrinter(every=4, file=terminal), **SETTINGS)
    model.train(train, progress=ad.ProgressPrinter(every=4, file=plain), **SETTINGS)
    epochs = terminal.getvalue().split("\n")
    assert len(epochs) == 4 and epochs[-1] == ""
    for epoch, text in enumerate(epochs[:3], 1):
        updates = text.split("\r")[1:]
        assert [u.split(":")[0] for u in updates] == [
            f"epoch {epoch}/3 step {s}/10" for s in (4, 8, 10)]
        assert all(u.endswith("\x1b[K") for u in updates)
    assert len(plain.getvalue().splitlines()) == 3 * 3
    with pytest.raises(ad.InvalidArgumentError):
        ad.ProgressPrinter(every=0)
