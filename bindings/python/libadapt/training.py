"""Training and evaluation of a Model on Datasets (adapt_model_train, adapt_model_evaluate)."""
from __future__ import annotations

import ctypes as C
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, List, Optional, TextIO, Union

import numpy as np

from . import _scalars
from ._native import lib
from ._params import new_params
from ._structs import EvalResult, TrainParams, cancel_fn, progress_fn
from .continual import Consolidation, consolidation_pointer
from .dataset import Dataset, DataLike
from .enums import LossKind, Optimizer, Schedule, coerce
from .errors import CancelledError, InvalidArgumentError

if TYPE_CHECKING:
    from .model import Model


@dataclass(frozen=True)
class Progress:
    """A training's state after one optimizer step."""
    epoch: int          # counted from 1
    epochs: int
    step: int           # optimizer steps done so far
    steps: int          # in total
    loss: float         # mean training loss over the epoch so far
    learning_rate: float
    samples_per_second: float
    eta_seconds: float
    # Set on an epoch's last step when there is validation data.
    val_accuracy: Optional[float] = None
    phase: Optional[str] = None  # Model.train_exits: "backbone" or "exits"; None for Model.train

    @property
    def epoch_end(self) -> bool:
        return self.step == self.epoch * (self.steps // self.epochs)

    @classmethod
    def _from_c(cls, p, phase=None):
        return cls(p.epoch, p.epochs, p.step, p.steps, p.loss, p.learning_rate,
                   p.samples_per_second, p.eta_seconds,
                   None if p.val_accuracy < 0 else p.val_accuracy, phase)


@dataclass(frozen=True)
class Evaluation:
    accuracy: float
    loss: float           # mean cross-entropy
    count: int
    confusion: Optional[np.ndarray] = None  # [classes, classes] counts: row = truth, column = guess


def _duration(seconds):
    """The time as "1:02:03", or as "2:03" under an hour."""
    minutes, secs = divmod(int(max(seconds, 0.0) + 0.5), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def _progress_line(p, step_in_epoch, steps_per_epoch):
    val = "" if p.val_accuracy is None else f", validation accuracy {p.val_accuracy:.4f}"
    phase = "" if p.phase is None else f"{p.phase} "
    return (f"{phase}epoch {p.epoch}/{p.epochs} step {step_in_epoch}/{steps_per_epoch}: "
            f"loss {p.loss:.4f}{val}, {p.samples_per_second:.0f} samples/s, "
            f"ETA {_duration(p.eta_seconds)}")


class ProgressPrinter:
    """A progress callback that prints the epoch (after the phase of Model.train_exits), step,
    running loss, samples per second and the time left every `every` steps (None: ten times
    an epoch) and at each epoch's end, with the validation accuracy. On a terminal it
    rewrites one line per epoch ('\\r'); into a file or a pipe it writes plain lines. `file`
    defaults to sys.stderr (looked up at each call)."""

    def __init__(self, every: Optional[int] = None, file: Optional[TextIO] = None):
        if every is not None and every < 1:
            raise InvalidArgumentError(f"ProgressPrinter: every = {every} must be >= 1")
        self.every, self.file = every, file

    def __call__(self, p: Progress) -> None:
        steps_per_epoch = max(1, p.steps // p.epochs)
        step_in_epoch = p.step - (p.epoch - 1) * steps_per_epoch
        every = self.every or max(1, steps_per_epoch // 10)
        if step_in_epoch % every and not p.epoch_end:
            return
        out = sys.stderr if self.file is None else self.file
        line = _progress_line(p, step_in_epoch, steps_per_epoch)
        if out.isatty():
            # Erase what a longer previous line left; a new line only when the epoch ends.
            out.write(f"\r{line}\x1b[K" + ("\n" if p.epoch_end else ""))
        else:
            out.write(line + "\n")
        out.flush()


#: The default progress printer: ProgressPrinter() (ten updates an epoch, to stderr).
print_progress = ProgressPrinter()


class _Callbacks:
    """The C callbacks of one training. An exception raised by the caller's progress or
    cancel function (KeyboardInterrupt included) cannot cross the C frames, so it is kept,
    training is cancelled at the next step, and train() raises it once C has returned."""

    def __init__(self, progress, cancel, phase=None):
        self.user_progress, self.user_cancel = progress, cancel
        self.phase = phase
        self.error = None
        self.history = []
        self.progress = progress_fn(self._on_progress)
        self.cancel = cancel_fn(self._should_cancel)

    def _on_progress(self, pointer, _user_data):
        if self.error is not None:
            return
        try:
            p = Progress._from_c(pointer.contents, self.phase)
            if p.epoch_end:
                self.history.append(p)
            if self.user_progress is not None:
                self.user_progress(p)
        except BaseException as e:  # noqa: B036 - re-raised by train()
            self.error = e

    def _should_cancel(self, _user_data):
        if self.error is not None:
            return 1
        try:
            return 1 if self.user_cancel is not None and self.user_cancel() else 0
        except BaseException as e:  # noqa: B036 - re-raised by train()
            self.error = e
            return 1


def _dataset(data, what):
    """A Dataset, or one made from an (x, labels) pair of arrays."""
    if isinstance(data, Dataset):
        return data
    if isinstance(data, tuple) and len(data) == 2:
        return Dataset.from_numpy(*data)
    raise TypeError(f"{what} must be a Dataset or an (x, labels) tuple, "
                    f"not {type(data).__name__}")


_ENUM_SETTINGS = {"optimizer": Optimizer, "schedule": Schedule, "loss": LossKind}
_RESERVED = {"struct_size", "progress", "cancel", "user_data", "consolidation"}


def train_params(settings, callbacks, what="train"):
    """adapt_train_params with the library's defaults overlaid by `settings` (field names,
    enum fields by name or member) and the callbacks of a _Callbacks. The struct refers to
    the callbacks' C function objects: keep `callbacks` alive while C may call them."""
    settings = dict(settings)
    unknown = settings.keys() & _RESERVED
    if unknown:
        raise TypeError(f"{what}: {sorted(unknown)} are not settings")
    for name, kind in _ENUM_SETTINGS.items():
        if name in settings:
            settings[name] = coerce(kind, settings[name], name)
    params = new_params(TrainParams)
    _scalars.assign(params, settings, what)
    params.progress, params.cancel = callbacks.progress, callbacks.cancel
    return params


def run_training(function, callbacks):
    """Calls function() (a training call into C) and raises what the callbacks kept, if
    anything, in place of the cancellation it caused."""
    try:
        function()
    except CancelledError:
        if not any(c.error is not None for c in callbacks):
            raise
    for c in callbacks:
        if c.error is not None:
            raise c.error


def train(model: Model, train_set: DataLike, validation: Optional[DataLike] = None, *,
          epochs: int = 10, batch_size: int = 64, optimizer: Union[Optimizer, str] = "sgd",
          learning_rate: float = 0.01, momentum: float = 0.9, nesterov: bool = False,
          weight_decay: float = 0.0, beta1: float = 0.9, beta2: float = 0.999,
          adam_eps: float = 1e-8, schedule: Union[Schedule, str] = "constant",
          warmup_steps: int = 0, step_epochs: int = 10, step_gamma: float = 0.1,
          min_learning_rate: float = 0.0, grad_clip_norm: float = 0.0,
          label_smoothing: float = 0.0, seed: int = 0, n_threads: int = 0,
          drop_last: bool = False, recompute_blocks: bool = False,
          sparsity_penalty: float = 0.0, sparsity_warmup: float = 0.5,
          acm_budget: float = 0.0, acm_budget_weight: float = 0.1,
          acm_entropy_weight: float = 0.05, acm_diversity_weight: float = 0.05,
          ibp_epsilon: float = 0.0, ibp_kappa: float = 0.5, ibp_ramp_start: float = 0.1,
          ibp_ramp_end: float = 0.6, ibp_input_min: float = 0.0, ibp_input_max: float = 1.0,
          interval_tau: float = 0.0, consolidation: Optional[Consolidation] = None,
          consolidation_weight: float = 0.0, loss: Union[LossKind, str] = "cross_entropy",
          progress: Optional[Callable[[Progress], object]] = None,
          cancel: Optional[Callable[[], bool]] = None) -> List[Progress]:
    """Trains `model` on `train_set`, evaluating on `validation` after each epoch.

    The settings are the fields of adapt_train_params, with its defaults: optimizer "sgd"
    or "adamw"; schedule "constant", "step" (step_epochs, step_gamma) or "cosine"
    (min_learning_rate); grad_clip_norm 0 = no clipping; n_threads 0 = all cores;
    drop_last skips an epoch's last batch when it is smaller than batch_size;
    recompute_blocks keeps only each block's output and reruns the blocks in backward
    (activation checkpointing: less memory, one more forward, the same gradients);
    sparsity_penalty adds that weight (rising over the first sparsity_warmup of the steps)
    times the mean squared Hoyer measure of the ReLU outputs to the loss (docs/moe.md);
    acm_budget > 0 trains ACM gates end to end towards that fraction of the learners' cost,
    with the budget, entropy and diversity terms weighted by the acm_*_weight (docs/acm.md);
    ibp_epsilon > 0 trains against the worst case over boxes of that L-infinity radius
    around the inputs (within [ibp_input_min, ibp_input_max]), ramped in between the
    fractions ibp_ramp_start and ibp_ramp_end of the steps, the clean loss's weight falling
    to ibp_kappa; interval_tau > 0 contracts interval_linear boxes on the worst-case
    cross-entropy while the worst-case accuracy lags interval_tau times the clean one
    (docs/intervals.md); consolidation (a Consolidation of this model) adds
    consolidation_weight times its EWC or SI penalty to the loss, and with SI collects the
    task's path integral (docs/continual.md); loss "one_vs_all" trains SLOVA's sigmoid per
    class instead of the softmax cross-entropy (docs/slova.md).
    progress(p: Progress) is called after every step; cancel() before every step,
    returning True stops training with CancelledError. Returns the Progress of each
    epoch's last step.
    """
    settings = dict(
        epochs=epochs, batch_size=batch_size, optimizer=optimizer, learning_rate=learning_rate,
        momentum=momentum, nesterov=nesterov, weight_decay=weight_decay, beta1=beta1,
        beta2=beta2, adam_eps=adam_eps, schedule=schedule, warmup_steps=warmup_steps,
        step_epochs=step_epochs, step_gamma=step_gamma, min_learning_rate=min_learning_rate,
        grad_clip_norm=grad_clip_norm, label_smoothing=label_smoothing, seed=seed,
        n_threads=n_threads, drop_last=drop_last, recompute_blocks=recompute_blocks,
        sparsity_penalty=sparsity_penalty, sparsity_warmup=sparsity_warmup,
        acm_budget=acm_budget, acm_budget_weight=acm_budget_weight,
        acm_entropy_weight=acm_entropy_weight, acm_diversity_weight=acm_diversity_weight,
        ibp_epsilon=ibp_epsilon, ibp_kappa=ibp_kappa, ibp_ramp_start=ibp_ramp_start,
        ibp_ramp_end=ibp_ramp_end, ibp_input_min=ibp_input_min, ibp_input_max=ibp_input_max,
        interval_tau=interval_tau, consolidation_weight=consolidation_weight, loss=loss)
    callbacks = _Callbacks(progress, cancel)
    params = train_params(settings, callbacks)
    params.consolidation = consolidation_pointer(consolidation)
    train_set = _dataset(train_set, "train")
    validation = None if validation is None else _dataset(validation, "validation")
    run_training(lambda: lib.adapt_model_train(
        model._ptr(), train_set._ptr(), None if validation is None else validation._ptr(),
        C.byref(params)), [callbacks])
    return callbacks.history


def evaluate(model: Model, dataset: DataLike, batch_size: int = 256, n_threads: int = 0,
             confusion: bool = True) -> Evaluation:
    """Accuracy, mean cross-entropy and, with confusion=True, the classes x classes
    confusion matrix, in inference mode."""
    raw = model._ptr()
    dataset = _dataset(dataset, "dataset")  # a local: a temporary would be freed too early
    classes = lib.adapt_model_classes(raw)
    if confusion and classes < 1:
        raise InvalidArgumentError("evaluate: the model does not end in a classifier")
    matrix = np.zeros((classes, classes), dtype=np.int64) if confusion else None
    result = EvalResult(struct_size=C.sizeof(EvalResult))
    confusion_ptr = None if matrix is None else matrix.ctypes.data_as(C.POINTER(C.c_int64))
    lib.adapt_model_evaluate(C.byref(result), confusion_ptr, raw, dataset._ptr(),
                             _scalars.i32(batch_size, "batch_size"),
                             _scalars.i32(n_threads, "n_threads"))
    return Evaluation(result.accuracy, result.loss, result.count, matrix)
