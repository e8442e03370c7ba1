"""libadapt: adaptive-computation neural networks on the CPU, from Python.

    import libadapt as ad

    model = ad.Model.mlp(sizes=[784, 256, 10], seed=1)
    train, val = ad.Dataset.load_idx(images, labels).split(0.1, seed=1)
    history = model.train(train, val, epochs=5, optimizer="adamw", learning_rate=1e-3,
                          progress=ad.print_progress)
    print(model.evaluate(val).accuracy)

Pure ctypes over the C library. It is found through $ADAPT_LIBRARY, then the repository's
build tree, then the system; importing fails with ImportError if none is usable or its
version is incompatible.
"""
from . import ops
from ._library import BINDINGS_VERSION
from ._native import lib as _lib
from ._native import path as library_path
from .acm import acm_distill, acm_for, acm_learner_counts, acm_train_gates
from .calibration import Calibrator
from .context import Context
from .continual import Consolidation
from .dataset import Dataset
from .distill import Recording, distill
from .flow import Flow
from .pipeline import Crop, Pipeline, StageRun
from .segmentation import predict_segmentation, segmentation_scores, train_segmentation
from .probe import Probe
from .router import RouteResults, Router, block_features
from .early_exit import (ExitCurve, ExitOutcome, ExitPolicy, ExitResults, ExitSweep, Head,
                         HeadInfo, exit_fit, exit_simulate, exit_sweep)
from .enums import (Activation, Backend, CalibrationMethod, ConsolidationKind, CouplingKind,
                    ExitRegime,
                    ExitRule, ExitTarget, HeadKind, IntervalPhase, LayerKind, LossKind,
                    MergeMethod, Optimizer, ProbeKind, Routing, Schedule, ScoreKind,
                    StageInput, StageOutput, Status, TuneMethod, UpsampleMode)
from .errors import (AdaptError, CancelledError, FormatError, InternalError,
                     InvalidArgumentError, NonFiniteError, OutOfMemoryError, ShapeError,
                     StateError, UnsupportedError)
# Named as in the header; left out of __all__ so a star import cannot shadow the builtins.
from .errors import IOError, OverflowError  # noqa: F401, A004
from .interval import (Certification, certify, forward_interval, interval_consolidate,
                       set_interval_phase, worst_case_logits)
from .metrics import Metrics, compute_metrics
from .model import BlockInfo, Model, SubmoduleInfo
from .moe import ffn_module, moe_expert_counts, moe_from_ffn, moe_train_routers
from .npy import npy_read, npy_write
from .ops import backward
from .safetensors import read_safetensors, save_safetensors
from .tensor import Parameter, Tensor
from .transfer import low_rank_tune, merge_models
from .training import Evaluation, Progress, ProgressPrinter, print_progress

__version__ = ".".join(map(str, BINDINGS_VERSION))


def library_version():
    """Version of the loaded C library, "MAJOR.MINOR.PATCH"."""
    return _lib.adapt_version_string().decode()


def status_string(status):
    """The library's text for a status code."""
    return _lib.adapt_status_string(int(status)).decode()


def backend_available(backend):
    """Whether a GEMM backend (Backend or its name) is compiled into the library."""
    from .enums import coerce
    return bool(_lib.adapt_backend_available(coerce(Backend, backend, "backend")))


__all__ = [
    "Activation", "AdaptError", "Backend", "BlockInfo", "CalibrationMethod", "Calibrator",
    "CancelledError", "Certification", "Crop", "Consolidation", "ConsolidationKind", "Context",
    "CouplingKind", "Dataset", "Evaluation", "ExitCurve",
    "ExitOutcome", "ExitPolicy",
    "ExitRegime", "ExitResults", "ExitRule", "ExitSweep", "ExitTarget", "Flow", "FormatError",
    "Head",
    "HeadInfo", "HeadKind", "InternalError", "IntervalPhase", "InvalidArgumentError", "LayerKind",
    "LossKind", "MergeMethod",
    "Metrics",
    "Model", "NonFiniteError", "Optimizer", "OutOfMemoryError", "Parameter", "Pipeline",
    "Probe",
    "ProbeKind", "Progress", "RouteResults", "Router",
    "ProgressPrinter", "Recording", "Routing", "Schedule", "ScoreKind", "ShapeError", "StateError",
    "StageInput", "StageOutput", "StageRun", "Status", "SubmoduleInfo", "Tensor", "TuneMethod", "UnsupportedError", "UpsampleMode",
    "acm_distill", "acm_for",
    "acm_learner_counts", "acm_train_gates", "backend_available", "backward",
    "block_features", "certify",
    "compute_metrics", "distill", "exit_fit", "exit_simulate", "exit_sweep", "ffn_module",
    "forward_interval", "interval_consolidate",
    "library_path", "library_version", "low_rank_tune", "merge_models", "moe_expert_counts", "moe_from_ffn",
    "moe_train_routers", "npy_read",
    "npy_write", "ops", "predict_segmentation", "print_progress", "read_safetensors", "save_safetensors",
    "set_interval_phase",
    "segmentation_scores", "status_string", "train_segmentation", "worst_case_logits",
]
