"""Early exits: heads on a model, training regimes, inference that stops early, and pure
functions of recorded exit outputs (adapt_head_*, adapt_model_*_exits, adapt_exit_*).

A model with H heads has H + 1 exits: its heads in block order, then its own classifier.
Exit k costs Model.exit_flops()[k] FLOPs per sample; a *budget* is a mean cost as a fraction
of the backbone's FLOPs (Model.flops, heads excluded). docs/early_exits.md has the methods.

Ownership: a Head made by Head.create() or taken out by Model.remove_head() is the caller's
and is freed when its last Python reference goes; once Model.add_head() hands it to a model
the model owns it, and the Head (or a Parameter of it) only keeps that model alive.
"""
from __future__ import annotations

import ctypes as C
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, List, Mapping, Optional, Union

import numpy as np

from . import _arrays, _scalars
from ._handle import Handle, Owned
from ._native import lib
from ._params import new_params
from ._structs import ExitCurve as _CurveStruct
from ._structs import ExitOutcome as _OutcomeStruct
from ._structs import ExitOutputs as _OutputsStruct
from ._structs import ExitPolicy as _PolicyStruct
from ._structs import ExitRecords as _RecordsStruct
from ._structs import ExitTrainParams as _ExitTrainStruct
from ._structs import HeadInfo as _HeadInfoStruct
from ._structs import HeadParams as _HeadParamsStruct
from ._structs import adapt_calibrator, adapt_head, adapt_tensor
from .calibration import Calibrator
from .context import Context, operand
from .enums import ExitRegime, ExitRule, ExitTarget, HeadKind, ScoreKind, coerce
from .errors import InvalidArgumentError, ShapeError
from .tensor import Tensor

if TYPE_CHECKING:
    from .dataset import DataLike
    from .model import Model
    from .training import Progress

# ---------------------------------------------------------------------- heads


def _address(raw):
    return C.cast(raw, C.c_void_p).value


class _HeadCell:
    """The one record of a C head that every Python object reaching it shares (its Head
    objects and the Parameters of its weights). Held by a model: `model` is the model's
    Handle, kept alive, and nothing here frees the head. Detached: `owner` is a Handle that
    frees it with adapt_head_free when the last reference to this cell goes."""
    __slots__ = ("ptr", "owner", "model", "__weakref__")

    def __init__(self, raw, model=None):
        self.ptr = raw
        self.model = model
        self.owner = None if model is not None else Handle(raw, lib.adapt_head_free)

    def attach(self, model_handle):
        """The model took the head: stop owning it, keep the model instead."""
        self.owner.finalizer.detach()
        self.owner, self.model = None, model_handle

    def detach(self):
        """The model gave the head back: own it again."""
        self.owner, self.model = Handle(self.ptr, lib.adapt_head_free), None


def _cells(model):
    """{address: _HeadCell} of the heads `model` holds that Python has seen, weakly."""
    cells = model.__dict__.get("_head_cells")
    if cells is None:
        cells = model._head_cells = weakref.WeakValueDictionary()
    return cells


def head_cell(model, index):
    """The shared cell of head `index` of `model` (made on first sight, e.g. after
    Model.load())."""
    raw = lib.adapt_model_head(model._ptr(), _scalars.i32(index, "index"))
    if not raw:
        raise IndexError(f"head {index} of a model with {head_count(model)} heads")
    cells = _cells(model)
    cell = cells.get(_address(raw))
    if cell is None:
        cell = cells[_address(raw)] = _HeadCell(raw, model._handle)
    return cell


@dataclass(frozen=True)
class HeadInfo:
    """What a head is and costs."""
    kind: HeadKind
    block: int     # the block whose output it reads
    hidden: int    # CLS_MLP hidden width; 0 for the other kinds
    cascade: bool  # reads the previous head's logits too
    classes: int   # logits per sample
    flops: int     # the head's own forward FLOPs per sample (multiply-add = 2)
    n_params: int  # parameter values


class Head(Owned):
    """An internal classifier for the output of one block. Made by Head.create() (then the
    caller's, to add to a model), found in Model.heads (held by that model), or returned by
    Model.remove_head() (the caller's again). A held head is never freed from Python: the
    Head keeps its model alive instead."""
    _kind = "head"

    def __init__(self, cell):
        if not isinstance(cell, _HeadCell):
            raise TypeError("use Head.create(), Model.add_head() or Model.heads")
        self._handle = cell

    @classmethod
    def create(cls, model, kind="pooled_linear", block=0, hidden=0, cascade=False, seed=0):
        """A new head with fresh weights for the output of block `block` of `model` (which
        is only read), not yet added to any model: kind is a HeadKind or its name
        ("pooled_linear", "sdn", "cls_linear", "cls_mlp"); hidden is the CLS_MLP width (0 =
        the token width); cascade=True also reads the previous head's logits; the same seed
        gives the same weights."""
        params = new_params(_HeadParamsStruct)
        _scalars.assign(params, {"kind": coerce(HeadKind, kind, "kind"), "block": block,
                                 "hidden": hidden, "cascade": bool(cascade), "seed": seed},
                        "head")
        raw = C.POINTER(adapt_head)()
        lib.adapt_head_create(C.byref(raw), model._ptr(), C.byref(params))
        return cls(_HeadCell(raw))

    @property
    def held(self):
        """Whether a model holds (owns) this head."""
        return self._handle is not None and self._handle.model is not None

    @property
    def info(self):
        """HeadInfo: kind, block, hidden, cascade, classes, flops, n_params."""
        info = _HeadInfoStruct(struct_size=C.sizeof(_HeadInfoStruct))
        lib.adapt_head_info_get(C.byref(info), self._ptr())
        try:
            kind = HeadKind(info.kind)
        except ValueError:  # a newer library's kind
            kind = info.kind
        return HeadInfo(kind, info.block, info.hidden, bool(info.cascade), info.classes,
                        info.flops, info.n_params)

    kind = property(lambda self: self.info.kind, doc="HeadKind of the head")
    block = property(lambda self: self.info.block, doc="the block whose output it reads")
    hidden = property(lambda self: self.info.hidden, doc="CLS_MLP hidden width, else 0")
    cascade = property(lambda self: self.info.cascade, doc="whether it is a cascading head")
    classes = property(lambda self: self.info.classes, doc="logits per sample")
    flops = property(lambda self: self.info.flops, doc="its own FLOPs per sample")
    n_params = property(lambda self: self.info.n_params, doc="its parameter values")

    def __repr__(self):
        if self.closed:
            return "<libadapt.Head (closed)>"
        i = self.info
        kind = i.kind.name.lower() if isinstance(i.kind, HeadKind) else i.kind
        where = "held by a model" if self.held else "not in a model"
        return (f"<libadapt.Head {kind} on block {i.block}{', cascading' if i.cascade else ''}"
                f", {i.flops} FLOPs/sample, {where}>")


def head_count(model):
    """Number of heads of `model`; its exits are one more."""
    return lib.adapt_model_head_count(model._ptr())


def heads(model):
    """The heads of `model` in position (block) order, each a Head held by the model."""
    return [Head(head_cell(model, k)) for k in range(head_count(model))]


def add_head(model, kind="pooled_linear", block=0, hidden=0, cascade=False, seed=0):
    """Adds a head to `model` and returns its position. `kind` is either a Head that no
    model holds (from Head.create() or Model.remove_head()), which the model then owns, or a
    HeadKind (or name) for a new head made as Head.create(model, kind, block, hidden,
    cascade, seed). Heads after the position move up one (parameters "exits.K.*" renamed).
    On error the model is unchanged and a given Head stays the caller's."""
    model_raw = model._ptr()
    if isinstance(kind, Head):
        head = kind
    else:
        head = Head.create(model, kind, block, hidden, cascade, seed)
    cell = head._handle
    raw = head._ptr()
    if cell.model is not None:
        raise InvalidArgumentError("add_head: the head is held by a model already; "
                                   "remove_head() it first")
    index = C.c_int32()
    lib.adapt_model_add_head(model_raw, raw, C.byref(index))
    cell.attach(model._handle)
    _cells(model)[_address(raw)] = cell
    return index.value


def remove_head(model, index):
    """Takes head `index` out of `model` and returns it as a Head the caller owns (freed
    with its last reference, or added to a model again). Later heads move down one."""
    out = C.POINTER(adapt_head)()
    lib.adapt_model_remove_head(C.byref(out), model._ptr(), _scalars.i32(index, "index"))
    # The Head and Parameter objects that already reach it share its cell, which owns it now.
    cell = _cells(model).pop(_address(out), None)
    if cell is None:
        return Head(_HeadCell(out))
    cell.detach()
    return Head(cell)


def exit_flops(model):
    """FLOPs per sample of each exit, int64 [heads + 1]: exit k has run the blocks up to
    its head's and every head up to and including k; the last is the whole backbone plus
    every head."""
    raw = model._ptr()
    flops = np.zeros(lib.adapt_model_head_count(raw) + 1, dtype=np.int64)
    lib.adapt_model_exit_flops(_arrays.pointer(flops, C.c_int64), flops.size, raw)
    return flops


def forward_exits(model, ctx, x, as_tensor=False):
    """Runs `model` on x in `ctx` and returns the logits of every exit, [N, classes] each, in
    exit order: numpy copies, or Tensors of ctx (taped for backward() when ctx records
    gradients) with as_tensor=True. The context keeps the model and its heads allocated
    until its next reset, as the tape may point into them."""
    raw = model._ptr()
    x = operand(ctx, x, "x")
    exits = lib.adapt_model_head_count(raw) + 1
    ctx.keep(model._handle)
    for k in range(exits - 1):
        ctx.keep(head_cell(model, k))  # a head removed before backward() stays allocated
    outs = (C.POINTER(adapt_tensor) * exits)()
    lib.adapt_model_forward_exits(outs, exits, ctx._ptr(), raw, x)
    tensors = [Tensor(outs[k], ctx) for k in range(exits)]
    return tensors if as_tensor else [t.numpy() for t in tensors]


def exit_logits(model, dataset, batch_size=256, n_threads=0):
    """Every exit's logits over a Dataset (or an (x, labels) pair) in inference mode,
    float32 [exits, N, classes]."""
    from .training import _dataset
    raw = model._ptr()
    dataset = _dataset(dataset, "dataset")  # a local: a temporary would be freed too early
    shape = (lib.adapt_model_head_count(raw) + 1, len(dataset), lib.adapt_model_classes(raw))
    logits = np.empty(shape, dtype=np.float32)
    lib.adapt_model_exit_logits(_arrays.pointer(logits, C.c_float), logits.size, raw,
                                dataset._ptr(), _scalars.i32(batch_size, "batch_size"),
                                _scalars.i32(n_threads, "n_threads"))
    return logits


# ---------------------------------------------------------------------- training


def _phase_params(settings, callbacks, what):
    from .training import train_params
    if settings is None:
        settings = {}
    if not hasattr(settings, "keys"):
        raise TypeError(f"{what} must be a dict of training settings, not "
                        f"{type(settings).__name__}")
    return train_params(settings, callbacks, what)


def train_exits(model: Model, train: DataLike, validation: Optional[DataLike] = None, *,
                regime: Union[ExitRegime, str] = "mixed",
                backbone_phase: Optional[Mapping] = None, exit_phase: Optional[Mapping] = None,
                proportional_weights: bool = False, distillation: float = 0.0,
                distillation_temperature: float = 1.0,
                progress: Optional[Callable[[Progress], object]] = None,
                cancel: Optional[Callable[[], bool]] = None) -> List[Progress]:
    """Trains `model` and its heads in a regime of arXiv 2407.14320:

    - "joint": backbone and heads together from their current weights (the exit phase only);
    - "disjoint": the backbone with its classifier alone, then the heads alone on the frozen
      backbone (run in inference mode);
    - "mixed" (default): the backbone alone, then backbone and heads together.

    backbone_phase and exit_phase are dicts of the settings Model.train takes (epochs,
    batch_size, optimizer, learning_rate, ..., seed, n_threads); None keeps the library's
    defaults; backbone_phase is not used by "joint". The exit phase minimises the weighted
    mean of each exit's loss, the cross-entropy or with exit_phase's loss="one_vs_all"
    SLOVA's: weights 1/E, or (k + 1) / (E (E + 1) / 2) with proportional_weights;
    distillation w in [0, 1] (cross-entropy only) blends each head's term with T^2 times the
    cross-entropy against the final exit's softmax(z / T), T = distillation_temperature.

    progress(p) and cancel() are called as in Model.train, in both phases; p.phase is
    "backbone" or "exits". Returns the Progress of each epoch's last step, in order, over
    both phases. Validation accuracy is the final exit's.
    """
    from .training import _Callbacks, _dataset, run_training
    raw = model._ptr()
    regime = coerce(ExitRegime, regime, "regime")
    phases = {"backbone": _Callbacks(progress, cancel, "backbone"),
              "exits": _Callbacks(progress, cancel, "exits")}
    backbone = _phase_params(backbone_phase, phases["backbone"], "backbone_phase")
    exits = _phase_params(exit_phase, phases["exits"], "exit_phase")
    params = new_params(_ExitTrainStruct)
    _scalars.assign(params, {"regime": regime, "proportional_weights": bool(proportional_weights),
                             "distillation": distillation,
                             "distillation_temperature": distillation_temperature},
                    "train_exits")
    params.backbone_phase = C.pointer(backbone)
    params.exit_phase = C.pointer(exits)
    train = _dataset(train, "train")
    validation = None if validation is None else _dataset(validation, "validation")
    run_training(lambda: lib.adapt_model_train_exits(
        raw, train._ptr(), None if validation is None else validation._ptr(),
        C.byref(params)), list(phases.values()))
    return phases["backbone"].history + phases["exits"].history


# ---------------------------------------------------------------------- policies


@dataclass
class ExitPolicy:
    """When an input leaves at a head; an input no head lets out is answered by the final
    exit. None keeps the library's default.

    rule: ExitRule or its name: "max_probability" (leave when the largest probability is >=
    the threshold; the default), "entropy" (entropy in nats <= the threshold), "patience"
    (the last `patience` exits up to this head predicted the same class).
    threshold: every head's threshold (default 0.9); held as float32.
    head_thresholds: one threshold per head instead (heads entries), or None.
    patience: consecutive agreeing exits for "patience", >= 1 (default 2).
    calibrators: one Calibrator (or None for a plain softmax) per exit, turning its logits
    into the probabilities the rule reads; None = softmax everywhere. Used by
    Model.infer_exits; the functions of recorded outputs ignore them (calibrate the scores).
    scores: how Model.infer_exits reads the exits' logits: "logits" (a softmax, the default)
    or "one_vs_all" (SLOVA's q, for heads trained on the one-vs-all loss; calibrators then
    "exponential" ones). Recorded outputs say so by their own kind.
    """
    rule: object = "max_probability"
    threshold: float = None
    head_thresholds: object = None
    patience: int = None
    calibrators: object = None
    scores: object = None


def _as_policy(policy):
    if policy is None:
        return ExitPolicy()
    if isinstance(policy, ExitPolicy):
        return policy
    if hasattr(policy, "keys"):
        return ExitPolicy(**policy)
    raise TypeError(f"policy must be an ExitPolicy or a dict, not {type(policy).__name__}")


def _c_policy(policy, heads, what, calibrators=True):
    """(adapt_exit_policy, what it borrows) for a model or records of `heads` heads. The
    borrowed arrays are checked for the length C reads, and must be kept alive by the caller
    for the duration of the call."""
    policy = _as_policy(policy)
    params = new_params(_PolicyStruct)
    fields = {"rule": coerce(ExitRule, policy.rule, "rule"), "threshold": policy.threshold,
              "patience": policy.patience,
              "scores": None if policy.scores is None else coerce(ScoreKind, policy.scores,
                                                                  "scores")}
    _scalars.assign(params, {k: v for k, v in fields.items() if v is not None}, what)
    keep = []
    if policy.head_thresholds is not None:
        thresholds = _arrays.float32(policy.head_thresholds, "head_thresholds", copy=True)
        if thresholds.ndim != 1 or thresholds.shape[0] != heads:
            raise ShapeError(f"{what}: head_thresholds of shape {thresholds.shape}; one per "
                             f"head, {heads}, expected")
        params.head_thresholds = _arrays.pointer(thresholds, C.c_float)
        keep.append(thresholds)
    if calibrators and policy.calibrators is not None:
        given = list(policy.calibrators)
        if len(given) != heads + 1:
            raise ShapeError(f"{what}: {len(given)} calibrators; one per exit, {heads + 1}, "
                             f"expected")
        for k, calibrator in enumerate(given):
            if calibrator is not None and not isinstance(calibrator, Calibrator):
                raise TypeError(f"{what}: calibrators[{k}] is a {type(calibrator).__name__}, "
                                f"not a Calibrator or None")
        array = (C.POINTER(adapt_calibrator) * len(given))(
            *[C.POINTER(adapt_calibrator)() if c is None else c._ptr() for c in given])
        params.calibrators = C.cast(array, C.POINTER(C.POINTER(adapt_calibrator)))
        keep += [array, given]
    return params, keep


@dataclass(frozen=True)
class ExitResults:
    """Per-sample results of Model.infer_exits."""
    predictions: np.ndarray  # int32 [N] the class answered
    exits: np.ndarray        # int32 [N] the exit that answered, in [0, heads]
    confidences: np.ndarray  # float32 [N] its largest probability (max q for one-vs-all)
    flops: np.ndarray        # int64 [N] FLOPs spent on the sample: its exit's cost


def infer_exits(model, x, policy=None, ctx=None, batch_size=256, n_threads=0):
    """Inference that stops early: each sample runs blocks and heads until `policy` (an
    ExitPolicy, a dict of its fields, or None for the defaults) lets it out; the samples
    still running continue as a smaller batch. x is [N, ...] (a Tensor too when ctx is
    given). With ctx, runs in that context (which must not record gradients; its arena keeps
    the inputs until the caller resets it); otherwise in a private context of n_threads,
    reset after every batch of batch_size. Returns ExitResults."""
    raw = model._ptr()
    heads_now = lib.adapt_model_head_count(raw)
    params, keep = _c_policy(policy, heads_now, "infer_exits")
    batch_size = _scalars.i64(batch_size, "batch_size")
    if batch_size < 1:
        raise InvalidArgumentError(f"infer_exits: batch_size {batch_size}; must be >= 1")
    if isinstance(x, Tensor):
        if ctx is None:
            raise TypeError("infer_exits: a Tensor input needs its context as ctx")
        n = x.shape[0] if x.ndim else 0
    else:
        x = _arrays.features(x, "x")
        if x.ndim < 1:
            raise ShapeError("infer_exits: x needs a first (sample) dimension")
        n = x.shape[0]
    results = ExitResults(np.zeros(n, np.int32), np.zeros(n, np.int32),
                          np.zeros(n, np.float32), np.zeros(n, np.int64))

    def run(context, inputs, start):
        stop = start + (inputs.shape[0] if inputs.ndim else 0)
        outputs = _OutputsStruct(
            struct_size=C.sizeof(_OutputsStruct),
            predictions=_arrays.pointer(results.predictions[start:stop], C.c_int32),
            exits=_arrays.pointer(results.exits[start:stop], C.c_int32),
            confidences=_arrays.pointer(results.confidences[start:stop], C.c_float),
            flops=_arrays.pointer(results.flops[start:stop], C.c_int64))
        tensor = operand(context, inputs, "x")
        lib.adapt_model_infer_exits(C.byref(outputs), context._ptr(), raw, tensor,
                                    C.byref(params))

    if isinstance(x, Tensor):
        run(ctx, x, 0)
    elif ctx is not None:
        for start in range(0, n, batch_size):
            run(ctx, x[start:start + batch_size], start)
    elif n:
        with Context(n_threads=n_threads) as private:
            for start in range(0, n, batch_size):
                run(private, x[start:start + batch_size], start)
                private.reset()
    del keep
    return results


# ---------------------------------------------------------------------- recorded outputs


@dataclass(frozen=True)
class ExitOutcome:
    """What a policy achieves on recorded outputs."""
    accuracy: float    # fraction of samples whose answer is the label
    mean_flops: float  # mean over samples of their exit's cost
    budget: float      # mean_flops / reference_flops

    @classmethod
    def _from_c(cls, o):
        return cls(o.accuracy, o.mean_flops, o.budget)


@dataclass(frozen=True)
class ExitCurve:
    """Summary of a threshold sweep."""
    #: accuracy at 25, 50, 75 and 100 % budget: that of the strictest sweep point whose
    #: budget fits, no interpolation; NaN when none fits
    accuracy_at_budget: tuple
    area: float        # mean accuracy over the budgets the sweep spans (trapezoids / width)
    min_budget: float  # budget of the cheapest point
    max_budget: float  # budget of the dearest point


@dataclass(frozen=True)
class ExitSweep:
    """A threshold swept over evenly spaced values: per point its threshold, budget and
    accuracy (float64 [points] each), and the curve's summary."""
    thresholds: np.ndarray
    budgets: np.ndarray
    accuracies: np.ndarray
    curve: ExitCurve


def _records(scores, labels, exit_flops, reference_flops, kind):
    """(adapt_exit_records, the arrays it borrows) with the sizes checked."""
    kind = coerce(ScoreKind, kind, "kind")
    scores = _arrays.float32(scores, "scores")
    if scores.ndim != 3:
        raise ShapeError(f"scores must be [exits, n, classes], not {scores.ndim}-D")
    exits, n, classes = scores.shape
    labels = _arrays.integers(labels, C.c_int32, "labels", count=n)
    exit_flops = _arrays.integers(exit_flops, C.c_int64, "exit_flops", count=exits)
    records = _RecordsStruct(
        struct_size=C.sizeof(_RecordsStruct), scores=_arrays.pointer(scores, C.c_float),
        kind=kind, labels=_arrays.pointer(labels, C.c_int32), n=_scalars.i64(n, "n"),
        exits=_scalars.i32(exits, "exits"), classes=_scalars.i32(classes, "classes"),
        exit_flops=_arrays.pointer(exit_flops, C.c_int64),
        reference_flops=_scalars.i64(reference_flops, "reference_flops"))
    return records, (scores, labels, exit_flops)


def exit_simulate(scores, labels, exit_flops, reference_flops, policy=None, *,
                  kind="logits"):
    """Applies `policy` (ExitPolicy, dict or None) to recorded outputs as
    Model.infer_exits would decide. scores: float [exits, n, classes], logits (kind
    "logits", or "one_vs_all" for SLOVA heads) or probability rows ("probabilities",
    "sub_probabilities"), e.g. Model.exit_logits(); labels: n ints; exit_flops: each exit's
    cost (Model.exit_flops()); reference_flops: the FLOPs of budget 1 (Model.flops). The
    policy's calibrators and scores are ignored: `kind` says how to read the records.
    Returns (ExitOutcome, int64 [exits] samples answered by each exit)."""
    records, keep = _records(scores, labels, exit_flops, reference_flops, kind)
    params, borrowed = _c_policy(policy, records.exits - 1, "exit_simulate", calibrators=False)
    outcome = _OutcomeStruct(struct_size=C.sizeof(_OutcomeStruct))
    counts = np.zeros(records.exits, dtype=np.int64)
    lib.adapt_exit_simulate(C.byref(outcome), _arrays.pointer(counts, C.c_int64),
                            C.byref(records), C.byref(params))
    del keep, borrowed
    return ExitOutcome._from_c(outcome), counts


def exit_sweep(scores, labels, exit_flops, reference_flops, rule="max_probability",
               points=100, *, kind="logits"):
    """Sweeps one global threshold of `rule` ("max_probability": 0 to 1; "entropy":
    log(classes) down to 0) over `points` >= 2 evenly spaced values on recorded outputs
    (arguments as exit_simulate). Returns ExitSweep: each point's threshold (as the float32
    a policy holds), budget and accuracy, and the ExitCurve summary."""
    records, keep = _records(scores, labels, exit_flops, reference_flops, kind)
    rule = coerce(ExitRule, rule, "rule")
    points = _scalars.i32(points, "points")
    size = max(points, 0)
    thresholds, budgets, accuracies = (np.zeros(size) for _ in range(3))
    curve = _CurveStruct(struct_size=C.sizeof(_CurveStruct))
    lib.adapt_exit_sweep(C.byref(curve), _arrays.pointer(thresholds, C.c_double),
                         _arrays.pointer(budgets, C.c_double),
                         _arrays.pointer(accuracies, C.c_double), points, C.byref(records),
                         rule)
    del keep
    summary = ExitCurve(tuple(curve.accuracy_at_budget), curve.area, curve.min_budget,
                        curve.max_budget)
    return ExitSweep(thresholds, budgets, accuracies, summary)


def exit_fit(scores, labels, exit_flops, reference_flops, *, target, value,
             rule="max_probability", per_head=False, kind="logits"):
    """Chooses thresholds of `rule` ("max_probability" or "entropy") on recorded validation
    outputs (arguments as exit_simulate) for a target: "budget" (the best accuracy whose
    budget is <= value) or "accuracy" (the least budget whose accuracy is >= value). Returns
    (thresholds, ExitOutcome): float32 [1], one global threshold, or with per_head=True
    [exits - 1], one per head; the outcome is what they achieve on the records. A target no
    threshold reaches raises InvalidArgumentError naming the nearest reachable value."""
    records, keep = _records(scores, labels, exit_flops, reference_flops, kind)
    rule = coerce(ExitRule, rule, "rule")
    target = coerce(ExitTarget, target, "target")
    thresholds = np.zeros(max(records.exits - 1, 1) if per_head else 1, dtype=np.float32)
    outcome = _OutcomeStruct(struct_size=C.sizeof(_OutcomeStruct))
    lib.adapt_exit_fit(_arrays.pointer(thresholds, C.c_float), C.byref(outcome),
                       C.byref(records), rule, bool(per_head), target,
                       _scalars.checked_float(value, "value"))
    del keep
    return thresholds, ExitOutcome._from_c(outcome)


__all__ = ["ExitCurve", "ExitOutcome", "ExitPolicy", "ExitResults", "ExitSweep", "Head",
           "HeadInfo", "exit_fit", "exit_simulate", "exit_sweep"]
