"""Model: a sequence of blocks mapping a batch of inputs to logits; owns its parameters."""
from __future__ import annotations

import ctypes as C
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
from numpy.typing import ArrayLike

from . import _arrays, _scalars, training as _training
from ._handle import Handle, Owned
from ._native import lib
from ._params import new_params
from ._structs import (BlockInfo as _BlockInfoStruct, CnnParams, LayerParams, MlpParams,
                       SubmoduleInfo as _SubmoduleInfoStruct, VitParams, adapt_model,
                       adapt_tensor)
from .context import Context, operand
from .enums import Activation, LayerKind, Routing, coerce
from .errors import InvalidArgumentError, NonFiniteError, ShapeError
from .tensor import Parameter, Tensor

if TYPE_CHECKING:
    from .dataset import Dataset, DataLike
    from .early_exit import ExitPolicy, ExitResults, Head
    from .training import Evaluation, Progress

FilePath = Union[str, os.PathLike]


@dataclass(frozen=True)
class BlockInfo:
    """What one block does to one sample."""
    kind: LayerKind
    out_shape: tuple
    flops: int     # forward FLOPs per sample, multiply-add = 2
    n_params: int  # parameter values the block owns


@dataclass(frozen=True)
class SubmoduleInfo:
    """What a submodule (Model.submodule) maps and costs per sample."""
    in_shape: tuple
    out_shape: tuple
    flops: int      # as it runs now: its replacement's when replaced
    replaced: bool  # a module replaces it


def _fields(**values):
    """The keyword arguments the caller gave (None = keep the library's default)."""
    return {k: v for k, v in values.items() if v is not None}


def _create(function, params):
    raw = C.POINTER(adapt_model)()
    function(C.byref(raw), C.byref(params))
    return Model(raw)


# The first layer's submodule path in each architecture (docs/modules.md): what it takes is
# what the model takes.
_FIRST_LAYER_PATHS = ("0", "stem.0", "patch_embed")


def _kind_of(value):
    try:
        return LayerKind(value)
    except ValueError:  # a newer library's layer
        return value


class Model(Owned):
    """Build one with Model.mlp(), .cnn(), .vit(), .sequential() or Model.load()."""
    _kind = "model"

    def __init__(self, raw):
        if not isinstance(raw, C.POINTER(adapt_model)):
            raise TypeError("use Model.mlp(), .cnn(), .vit(), .sequential() or .load()")
        self._handle = Handle(raw, lib.adapt_model_free)

    # ---------------------------------------------------------------- construction

    @classmethod
    def mlp(cls, sizes: Sequence[int], activation: Union[Activation, str] = "relu",
            dropout: Optional[float] = None, seed: Optional[int] = None) -> Model:
        """Linear layers of the given sizes [input, hidden..., classes] with an activation
        (and optional dropout) between them."""
        params = new_params(MlpParams)
        sizes_array, count = _arrays.shape(sizes, "sizes")
        _scalars.assign(params, _fields(n_sizes=count, dropout=dropout, seed=seed,
                                        activation=coerce(Activation, activation, "activation")),
                        "mlp")
        params.sizes = sizes_array
        return _create(lib.adapt_model_create_mlp, params)

    @classmethod
    def cnn(cls, stage_channels: Sequence[int], stage_blocks: Sequence[int],
            stage_strides: Sequence[int], *, in_channels: Optional[int] = None,
            image_size: Optional[int] = None, n_classes: Optional[int] = None,
            stem_channels: Optional[int] = None, seed: Optional[int] = None) -> Model:
        """ResNet-style CNN on [N, C, H, W] images: one entry per stage in each list."""
        stages = [list(stage_channels), list(stage_blocks), list(stage_strides)]
        if len({len(s) for s in stages}) != 1:
            raise InvalidArgumentError("cnn: stage_channels, stage_blocks and stage_strides "
                                       f"have {[len(s) for s in stages]} entries")
        arrays = [(C.c_int32 * max(len(s), 1))(*[_scalars.i32(v, "stage entry") for v in s])
                  for s in stages]
        params = new_params(CnnParams)
        _scalars.assign(params, _fields(in_channels=in_channels, image_size=image_size,
                                        n_classes=n_classes, stem_channels=stem_channels,
                                        n_stages=len(stages[0]), seed=seed), "cnn")
        params.stage_channels, params.stage_blocks, params.stage_strides = arrays
        return _create(lib.adapt_model_create_cnn, params)

    @classmethod
    def vit(cls, *, image_size: Optional[int] = None, in_channels: Optional[int] = None,
            patch: Optional[int] = None, dim: Optional[int] = None,
            depth: Optional[int] = None, heads: Optional[int] = None,
            mlp_ratio: Optional[float] = None, n_classes: Optional[int] = None,
            dropout: Optional[float] = None, seed: Optional[int] = None) -> Model:
        """Vision transformer; unset arguments keep the library's defaults."""
        params = new_params(VitParams)
        _scalars.assign(params, _fields(
            image_size=image_size, in_channels=in_channels, patch=patch, dim=dim, depth=depth,
            heads=heads, mlp_ratio=mlp_ratio, n_classes=n_classes, dropout=dropout, seed=seed),
            "vit")
        return _create(lib.adapt_model_create_vit, params)

    @classmethod
    def sequential(cls, input_shape: Sequence[int], layers: Sequence[Mapping] = (),
                   seed: int = 0) -> Model:
        """An empty model for inputs [N, *input_shape], then `layers` appended: each a dict
        {"kind": "conv2d", "out_features": 8, ...} as in the architecture JSON."""
        dims, ndim = _arrays.shape(input_shape, "input_shape")
        raw = C.POINTER(adapt_model)()
        lib.adapt_model_create_sequential(C.byref(raw), ndim, dims, _scalars.u64(seed, "seed"))
        model = Model(raw)
        for layer in layers:
            layer = dict(layer)
            model.append(layer.pop("kind"), **layer)
        return model

    def append(self, kind: Union[LayerKind, str], **fields: Union[int, float]) -> Model:
        """Appends one layer as a new block: kind is a LayerKind or its name ("linear",
        "conv2d", ...); fields are out_features, kernel, stride, padding, heads, mlp_ratio,
        p. Returns the model, so calls chain."""
        params = new_params(LayerParams)
        _scalars.assign(params, dict(fields, kind=coerce(LayerKind, kind, "kind")), "layer")
        lib.adapt_model_append(self._ptr(), C.byref(params))
        return self

    @classmethod
    def load(cls, path: FilePath) -> Model:
        """Rebuilds the model a checkpoint (adapt_model_save) describes."""
        raw = C.POINTER(adapt_model)()
        lib.adapt_model_load(C.byref(raw), _scalars.path_bytes(path, "Model.load"))
        return Model(raw)

    def save(self, path: FilePath) -> None:
        """Writes a safetensors checkpoint atomically."""
        lib.adapt_model_save(self._ptr(), _scalars.path_bytes(path, "Model.save"))

    def load_weights(self, path: FilePath) -> None:
        """Loads every parameter from a safetensors file (e.g. a PyTorch state_dict);
        the model is unchanged on error."""
        lib.adapt_model_load_weights(self._ptr(), _scalars.path_bytes(path, "load_weights"))

    # ---------------------------------------------------------------- structure

    @property
    def blocks(self) -> List[BlockInfo]:
        model = self._ptr()
        infos = []
        for index in range(lib.adapt_model_block_count(model)):
            info = _BlockInfoStruct(struct_size=C.sizeof(_BlockInfoStruct))
            lib.adapt_model_block_info(C.byref(info), model, index)
            infos.append(BlockInfo(_kind_of(info.kind), tuple(info.out_shape[:info.out_ndim]),
                                   info.flops, info.n_params))
        return infos

    def submodule(self, path: str) -> SubmoduleInfo:
        """What the submodule at `path` ("blocks.3.mlp", "stages.1.0", "2", or a slice of
        consecutive layers such as an MLP's "0:3") maps and costs, as a SubmoduleInfo."""
        info = _SubmoduleInfoStruct(struct_size=C.sizeof(_SubmoduleInfoStruct))
        lib.adapt_model_submodule(C.byref(info), self._ptr(), _scalars.text(path, "path"))
        return SubmoduleInfo(tuple(info.in_shape[:info.in_ndim]),
                             tuple(info.out_shape[:info.out_ndim]), info.flops,
                             bool(info.replaced))

    def replace(self, path: str, module: Optional[Model]) -> Optional[Model]:
        """Runs `module`, a Model whose per-sample input and output shapes are those of the
        submodule at `path`, in its place; this model owns it from then on and `module` is
        closed (its parameters are this model's, named under the path). module=None puts
        the original back. Returns the module that replaced `path` before, as a Model the
        caller owns, or None. On error nothing changes and `module` stays the caller's."""
        raw = module._ptr() if module is not None else None
        previous = C.POINTER(adapt_model)()
        lib.adapt_model_replace(self._ptr(), _scalars.text(path, "path"), raw,
                                C.byref(previous))
        if module is not None:
            # Its memory is this model's now: freed with it, never by its own handle, and
            # views of its parameters keep this model alive.
            module._handle.finalizer.detach()
            module._handle._keep = (self._handle,)
            module._handle = None
        return Model(previous) if previous else None

    def set_routing(self, rule: Union[Routing, str], tau: float = 0.0, top_k: int = 1) -> int:
        """Sets how every Mixture-of-Experts layer of the model (those of its replacing
        modules included) picks each token's experts: rule a Routing or its name
        ("dynamic_k", "cumulative", "top_k"), tau in [0, 1] (0 runs every expert, larger
        fewer), top_k for TOP_K. Returns the number of layers set; on error none is."""
        count = C.c_int32()
        lib.adapt_model_set_routing(self._ptr(), coerce(Routing, rule, "rule"),
                                    _scalars.checked_float(tau, "tau"),
                                    _scalars.checked_int(top_k, C.c_int32, "top_k"),
                                    C.byref(count))
        return count.value

    def set_acm_learners(self, learners: int = -1) -> int:
        """Sets how many learners every ACM layer of the model (those of its replacing modules
        included) runs: -1 each token as its gate chooses, else every token `learners`.
        Returns the number of layers set; on error none is."""
        count = C.c_int32()
        lib.adapt_model_set_acm_learners(self._ptr(),
                                         _scalars.checked_int(learners, C.c_int32, "learners"),
                                         C.byref(count))
        return count.value

    def record(self, path, data, batch_size=256, n_threads=0, spool=None):
        """What the submodule at `path` receives and returns for each sample of `data`, as a
        Recording (see libadapt.distill.record)."""
        from .distill import record
        return record(self, path, data, batch_size, n_threads, spool)

    @property
    def flops(self) -> int:
        """Forward FLOPs per sample of the whole model."""
        return lib.adapt_model_flops(self._ptr())

    @property
    def classes(self) -> int:
        """Number of output classes (0 if the model does not end in a classifier)."""
        return lib.adapt_model_classes(self._ptr())

    def parameters(self) -> Dict[str, Parameter]:
        """{name: Parameter} in the model's order, named as PyTorch's state_dict names
        the equivalent module's entries (buffers such as running statistics included)."""
        model = self._ptr()
        params = {}
        for index in range(lib.adapt_model_param_count(model)):
            name = lib.adapt_model_param_name(model, index).decode()
            params[name] = Parameter._of_model(self._keeper_of(name),
                                               lib.adapt_model_param(model, index), name)
        return params

    def _keeper_of(self, name):
        """What keeps parameter `name`'s memory allocated: the model's handle, or for a
        head's parameter ("exits.K.*") the head's cell, which follows the head out of the
        model if it is removed."""
        if name.startswith("exits."):
            from .early_exit import head_cell
            return head_cell(self, int(name.split(".")[1]))
        return self._handle

    def state_dict(self) -> Dict[str, np.ndarray]:
        """{name: numpy copy of the values}."""
        return {name: p.numpy() for name, p in self.parameters().items()}

    def load_state_dict(self, values: Mapping[str, ArrayLike]) -> None:
        """Writes every parameter from {name: array}; all are checked (names, shapes,
        finite values) before any is written."""
        params = self.parameters()
        missing, extra = params.keys() - values.keys(), values.keys() - params.keys()
        if missing or extra:
            raise InvalidArgumentError(f"load_state_dict: missing {sorted(missing)}, "
                                       f"unexpected {sorted(extra)}")
        ready = {}
        for name, param in params.items():
            array = _arrays.float32(values[name], name)
            if array.shape != param.shape:
                raise ShapeError(f"load_state_dict: {name} has shape {array.shape}, the "
                                 f"model's is {param.shape}")
            if not np.isfinite(array).all():
                raise NonFiniteError(f"load_state_dict: {name} holds NaN or infinity")
            ready[name] = array
        for name, array in ready.items():
            params[name].write(array)

    # ---------------------------------------------------------------- running

    @property
    def input_shape(self) -> Optional[Tuple[int, ...]]:
        """Shape of one input sample (without N), or None for a model without blocks."""
        for path in _FIRST_LAYER_PATHS:
            try:
                return self.submodule(path).in_shape
            except InvalidArgumentError:
                continue
        return None

    def _batch(self, x, what="x"):
        """(x as float32 [N, ...], whether x was one sample): an array of exactly the
        per-sample input shape is one sample, run as a batch of one."""
        x = _arrays.features(x, what)
        sample = self.input_shape
        if sample is not None and x.shape == sample:
            return x[np.newaxis], True
        # A batch has two dims at least; checking more is C's part (a model that starts by
        # flattening takes any shape of as many values per sample).
        if sample is not None and x.ndim < 2:
            raise ShapeError(f"{what} has shape {x.shape}; the model takes one sample of shape "
                             f"{sample} or a batch [N, {', '.join(map(str, sample))}]")
        return x, False

    def forward(self, ctx: Context, x: Union[ArrayLike, Tensor, Parameter], *, first: int = 0,
                last: Optional[int] = None,
                as_tensor: bool = False) -> Union[np.ndarray, Tensor]:
        """Runs blocks [first, last) (all by default) on x in `ctx`. Returns the output as
        a numpy copy, or as a Tensor (for autograd) with as_tensor=True. An array of
        exactly one sample's shape (e.g. (784,) for an MLP on 784 features) runs as a batch
        of one; its numpy output then has no batch dimension (the Tensor keeps it)."""
        model = self._ptr()
        single = False
        if (isinstance(ctx, Context) and first == 0 and x is not None
                and not isinstance(x, (Tensor, Parameter))):
            x, single = self._batch(x)
        x = operand(ctx, x, "x")
        ctx.keep(self._handle)
        out = C.POINTER(adapt_tensor)()
        if first == 0 and last is None:
            lib.adapt_model_forward(C.byref(out), ctx._ptr(), model, x)
        else:
            last = lib.adapt_model_block_count(model) if last is None else last
            lib.adapt_model_forward_blocks(C.byref(out), ctx._ptr(), model, x,
                                           _scalars.i32(first, "first"),
                                           _scalars.i32(last, "last"))
        result = Tensor(out, ctx)
        if as_tensor:
            return result
        return result.numpy()[0] if single else result.numpy()

    def forward_flops(self, ctx, x, *, as_tensor=False):
        """Runs the model on x in `ctx`; returns (logits, flops): the logits as forward()
        does, and int64 [N], the FLOPs each sample executed."""
        model = self._ptr()
        x = operand(ctx, x, "x")
        ctx.keep(self._handle)
        out = C.POINTER(adapt_tensor)()
        rows = lib.adapt_tensor_dim(x, 0) if lib.adapt_tensor_ndim(x) >= 1 else 0
        flops = np.zeros(max(rows, 0), dtype=np.int64)
        lib.adapt_model_forward_flops(C.byref(out), _arrays.pointer(flops, C.c_int64),
                                      ctx._ptr(), model, x)
        result = Tensor(out, ctx)
        return (result if as_tensor else result.numpy()), flops

    def predict(self, x: Union[ArrayLike, Dataset], batch_size: int = 256,
                n_threads: int = 0) -> np.ndarray:
        """Inference logits, in batches, in a private context: float32 [N, classes] for a
        batch x [N, ...] or a Dataset (its labels unused), [classes] for one sample given
        as an array of exactly the per-sample input shape (e.g. (784,))."""
        from .dataset import Dataset
        x, single = self._batch(x.features if isinstance(x, Dataset) else x)
        outputs = []
        with Context(n_threads=n_threads) as ctx:
            for start in range(0, x.shape[0], max(1, batch_size)):
                outputs.append(self.forward(ctx, x[start:start + batch_size]))
                ctx.reset()
        if not outputs:
            return np.zeros((0, self.classes), dtype=np.float32)
        logits = np.concatenate(outputs)
        return logits[0] if single else logits

    # The function itself, so that the settings, their defaults and their types are spelt
    # once: model.train(train_set, validation, epochs=..., ...).
    train = _training.train

    def evaluate(self, dataset: DataLike, batch_size: int = 256, n_threads: int = 0,
                 confusion: bool = True) -> Evaluation:
        """Accuracy, mean loss and (optionally) the confusion matrix on a Dataset."""
        from .training import evaluate
        return evaluate(self, dataset, batch_size, n_threads, confusion)

    # ---------------------------------------------------------------- early exits

    def add_head(self, kind="pooled_linear", block=0, hidden=0, cascade=False, seed=0):
        """Adds an early-exit head and returns its position: a new one of `kind`
        ("pooled_linear", "sdn", "cls_linear", "cls_mlp") reading block `block`'s output,
        or a Head no model holds, passed as `kind`, which the model then owns. See
        libadapt.early_exit.add_head."""
        from .early_exit import add_head
        return add_head(self, kind, block, hidden, cascade, seed)

    def remove_head(self, index):
        """Takes head `index` out and returns it as a Head the caller owns."""
        from .early_exit import remove_head
        return remove_head(self, index)

    @property
    def head_count(self) -> int:
        """Number of early-exit heads; the exits are one more."""
        from .early_exit import head_count
        return head_count(self)

    @property
    def heads(self) -> List[Head]:
        """The heads in position (block) order, as Heads the model holds."""
        from .early_exit import heads
        return heads(self)

    def exit_flops(self) -> np.ndarray:
        """FLOPs per sample of each exit, int64 [heads + 1]."""
        from .early_exit import exit_flops
        return exit_flops(self)

    def forward_exits(self, ctx, x, *, as_tensor=False):
        """Runs the model on x in `ctx`; returns every exit's logits (numpy copies, or
        Tensors for autograd with as_tensor=True), heads first, the final exit last."""
        from .early_exit import forward_exits
        return forward_exits(self, ctx, x, as_tensor)

    def exit_logits(self, dataset: DataLike, batch_size: int = 256,
                    n_threads: int = 0) -> np.ndarray:
        """Every exit's logits over a Dataset, float32 [exits, N, classes]."""
        from .early_exit import exit_logits
        return exit_logits(self, dataset, batch_size, n_threads)

    def train_exits(self, train: DataLike, validation: Optional[DataLike] = None, *,
                    regime: str = "mixed", backbone_phase: Optional[Mapping] = None,
                    exit_phase: Optional[Mapping] = None, proportional_weights: bool = False,
                    distillation: float = 0.0, distillation_temperature: float = 1.0,
                    progress: Optional[Callable[[Progress], object]] = None,
                    cancel: Optional[Callable[[], bool]] = None) -> List[Progress]:
        """Trains the model and its heads in a regime ("joint", "disjoint", "mixed"), each
        phase with a dict of Model.train settings; returns the epoch-end Progress of both
        phases. See libadapt.early_exit.train_exits."""
        from .early_exit import train_exits
        return train_exits(self, train, validation, regime=regime,
                           backbone_phase=backbone_phase, exit_phase=exit_phase,
                           proportional_weights=proportional_weights,
                           distillation=distillation,
                           distillation_temperature=distillation_temperature,
                           progress=progress, cancel=cancel)

    def infer_exits(self, x: Union[ArrayLike, Tensor], policy: Optional[ExitPolicy] = None,
                    ctx: Optional[Context] = None, batch_size: int = 256,
                    n_threads: int = 0) -> ExitResults:
        """Inference that stops early under an ExitPolicy; returns ExitResults (per sample:
        predictions, exits, confidences, flops). See libadapt.early_exit.infer_exits."""
        from .early_exit import infer_exits
        return infer_exits(self, x, policy, ctx, batch_size, n_threads)

    def __repr__(self):
        if self.closed:
            return "<libadapt.Model (closed)>"
        return f"<libadapt.Model {len(self.blocks)} blocks, {self.flops} FLOPs/sample>"
