"""Module-wise distillation: record what a submodule of a model receives and returns over a
dataset (Model.record), then train replacement modules on those recordings (distill)."""
import ctypes as C

from . import _arrays, _scalars
from ._handle import Handle, Owned
from ._native import lib
from ._params import new_params
from ._structs import MAX_DIMS, RecordParams, adapt_model, adapt_recording
from .errors import ShapeError
from .training import _Callbacks, _dataset, run_training, train_params


class Recording(Owned):
    """A submodule's inputs [N, ...] and outputs [N, ...] over a dataset: read-only numpy
    views (.inputs, .outputs) that keep the recording alive. Made by Model.record(), or
    from arrays by Recording.from_arrays() (regression data for distill())."""
    _kind = "recording"

    def __init__(self, raw):
        if not isinstance(raw, C.POINTER(adapt_recording)):
            raise TypeError("use Model.record() or Recording.from_arrays()")
        self._handle = Handle(raw, lib.adapt_recording_free)

    @classmethod
    def from_arrays(cls, inputs, outputs):
        """A recording of inputs [N, ...] and outputs [N, ...] (copied): distill() then fits
        a module to map one to the other, e.g. an autoencoder to its own inputs."""
        x, y = _arrays.float32(inputs, "inputs"), _arrays.float32(outputs, "outputs")
        if x.ndim < 2 or y.ndim < 2 or x.shape[0] != y.shape[0]:
            raise ShapeError(f"inputs {list(x.shape)} and outputs {list(y.shape)} must be "
                             "[N, ...] with the same N")
        x_shape, y_shape = (C.c_int64 * (x.ndim - 1))(*x.shape[1:]), \
            (C.c_int64 * (y.ndim - 1))(*y.shape[1:])
        raw = C.POINTER(adapt_recording)()
        lib.adapt_recording_create(C.byref(raw), _arrays.pointer(x, C.c_float), x.ndim - 1,
                                   x_shape, _arrays.pointer(y, C.c_float), y.ndim - 1, y_shape,
                                   x.shape[0])
        return cls(raw)

    def _side(self, outputs):
        ndim, shape = C.c_int32(), (C.c_int64 * MAX_DIMS)()
        address = lib.adapt_recording_data(self._ptr(), outputs, C.byref(ndim), shape)
        return _arrays.view(C.cast(address, C.c_void_p).value, tuple(shape[:ndim.value]),
                            self._handle, writable=False)

    @property
    def inputs(self):
        return self._side(0)

    @property
    def outputs(self):
        return self._side(1)


def record(model, path, data, batch_size=256, n_threads=0, spool=None):
    """Runs `model` over `data` (a Dataset or an (x, labels) pair) in inference mode and
    records what the submodule at `path` receives and returns for each sample. With
    spool="prefix" the rows go to "prefix.inputs.npy" and "prefix.outputs.npy" (kept)
    and are read back from them, for recordings larger than memory."""
    params = new_params(RecordParams)
    _scalars.assign(params, {"batch_size": batch_size, "n_threads": n_threads}, "record")
    spool_bytes = None if spool is None else _scalars.path_bytes(spool, "spool")
    params.spool_prefix = spool_bytes
    data = _dataset(data, "data")
    raw = C.POINTER(adapt_recording)()
    lib.adapt_model_record(C.byref(raw), model._ptr(), _scalars.text(path, "path"),
                           data._ptr(), C.byref(params))
    return Recording(raw)


def train_on_recordings(function, what, modules, recordings, progress, cancel, settings):
    """Runs a C function of the adapt_modules_distill signature on Models and Recordings:
    the loop of Model.train with `settings`; returns the Progress of each epoch's last step."""
    modules, recordings = list(modules), list(recordings)
    if len(modules) != len(recordings):
        raise ValueError(f"{what}: one recording per module")
    models = (C.POINTER(adapt_model) * len(modules))(*(m._ptr() for m in modules))
    recs = (C.POINTER(adapt_recording) * len(recordings))(*(r._ptr() for r in recordings))
    callbacks = _Callbacks(progress, cancel)
    params = train_params(settings, callbacks, what)
    run_training(lambda: function(models, recs, len(modules), C.byref(params)), [callbacks])
    return callbacks.history


def distill(modules, recordings, *, progress=None, cancel=None, **settings):
    """Trains modules[i] (Models) to map recordings[i].inputs to recordings[i].outputs, all
    at once with the sum of their mean squared errors, each on its own recorded inputs.
    settings, progress and cancel are those of Model.train; returns the Progress of each
    epoch's last step."""
    return train_on_recordings(lib.adapt_modules_distill, "distill", modules, recordings,
                               progress, cancel, settings)
