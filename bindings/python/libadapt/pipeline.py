"""Pipeline: named stages run in order on one image, each a model the pipeline owns, taking
the image, the image masked by an earlier stage's label map, or crops of that map's
components; any stage replaceable at run time (adapt_pipeline_*, docs/pipeline.md)."""
import ctypes as C
from dataclasses import dataclass
from typing import Dict, List

import numpy as np

from . import _arrays, _scalars
from ._handle import Handle, Owned
from ._native import lib
from ._params import new_params
from ._structs import (PipelineCrop, StageParams, StageReport, adapt_model, adapt_pipeline,
                       adapt_pipeline_result)
from .enums import StageInput, StageOutput, coerce
from .errors import ShapeError
from .model import Model


@dataclass(frozen=True)
class Crop:
    """A crop a stage ran on: its box (ends exclusive), the component's pixels and label in
    the source's map, and the class (classifying stages; -1 otherwise)."""
    box: tuple
    pixels: int
    label: int
    class_id: int


@dataclass(frozen=True)
class StageRun:
    """One stage of a run: the label map of the whole image, its crops, its wall-clock
    seconds, the FLOPs its model executed and the inputs it ran on."""
    map: np.ndarray
    crops: List[Crop]
    seconds: float
    flops: int
    inputs: int


def _take(pipeline, model):
    """Hands `model`'s C object to the pipeline: freed with it, never by its own handle."""
    model._handle.finalizer.detach()
    model._handle._keep = (pipeline._handle,)
    model._handle = None


class Pipeline(Owned):
    """Pipeline(): an empty pipeline; add stages with add(), or Pipeline.load(directory)."""
    _kind = "pipeline"

    def __init__(self, raw=None):
        if raw is None:
            raw = C.POINTER(adapt_pipeline)()
            lib.adapt_pipeline_create(C.byref(raw))
        self._handle = Handle(raw, lib.adapt_pipeline_free)

    @classmethod
    def load(cls, directory):
        """The pipeline Pipeline.save() wrote into `directory`."""
        raw = C.POINTER(adapt_pipeline)()
        lib.adapt_pipeline_load(C.byref(raw), _scalars.path_bytes(directory, "load"))
        return cls(raw)

    def save(self, directory):
        """Writes "<stage>.safetensors" per stage and "pipeline.json" into `directory`."""
        lib.adapt_pipeline_save(self._ptr(), _scalars.path_bytes(directory, "save"))

    def add(self, name, model, input="image", output="segment", source=None, margin=2,
            min_pixels=1):
        """Appends stage `name` running `model` (the pipeline owns it from then on: `model`
        is closed). input "image", "masked" or "crops" (masked and crops need `source`, an
        earlier stage); output "segment" or "classify". Returns the pipeline."""
        params = new_params(StageParams)
        params.name = _scalars.text(name, "name")
        params.source = None if source is None else _scalars.text(source, "source")
        _scalars.assign(params, {"input": coerce(StageInput, input, "input"),
                                 "output": coerce(StageOutput, output, "output"),
                                 "margin": margin, "min_pixels": min_pixels}, "add")
        lib.adapt_pipeline_add(self._ptr(), C.byref(params), model._ptr())
        _take(self, model)
        return self

    def replace(self, name, model):
        """Runs `model` (same per-sample input and output shapes) as stage `name` from now on;
        the pipeline owns it. Returns the stage's previous model, now the caller's."""
        previous = C.POINTER(adapt_model)()
        lib.adapt_pipeline_replace(self._ptr(), _scalars.text(name, "name"), model._ptr(),
                                   C.byref(previous))
        if previous:
            _take(self, model)
            return Model(previous)
        return None

    @property
    def stages(self) -> List[str]:
        raw = self._ptr()
        return [lib.adapt_pipeline_stage_name(raw, i).decode()
                for i in range(lib.adapt_pipeline_stage_count(raw))]

    def model(self, name) -> Model:
        """Stage `name`'s model, borrowed: valid while the pipeline lives and keeps it."""
        raw = lib.adapt_pipeline_stage_model(self._ptr(), _scalars.text(name, "name"))
        if not raw:
            raise KeyError(name)
        borrowed = Model.__new__(Model)
        borrowed._handle = Handle(raw, lambda ptr: None, keep=(self._handle,))
        return borrowed

    def run(self, image, n_threads=0) -> Dict[str, StageRun]:
        """Runs every stage on image [C, H, W]; {stage name: StageRun} in stage order."""
        x = _arrays.float32(image, "image")
        if x.ndim != 3:
            raise ShapeError(f"image must be [C, H, W], not {list(x.shape)}")
        shape = (C.c_int64 * 3)(*x.shape)
        raw = C.POINTER(adapt_pipeline_result)()
        lib.adapt_pipeline_run(C.byref(raw), self._ptr(), _arrays.pointer(x, C.c_float), shape,
                               _scalars.i32(n_threads, "n_threads"))
        try:
            return {name: self._stage(raw, name.encode()) for name in self.stages}
        finally:
            lib.adapt_pipeline_result_free(raw)

    @staticmethod
    def _stage(raw, name):
        h, w = C.c_int64(), C.c_int64()
        data = lib.adapt_pipeline_result_map(raw, name, C.byref(h), C.byref(w))
        label_map = np.ctypeslib.as_array(data, shape=(h.value, w.value)).copy()
        crops = []
        for k in range(lib.adapt_pipeline_result_crop_count(raw, name)):
            c = PipelineCrop(struct_size=C.sizeof(PipelineCrop))
            lib.adapt_pipeline_result_crop(raw, name, k, C.byref(c))
            crops.append(Crop((c.row0, c.col0, c.row1, c.col1), c.pixels, c.label,
                              c.class_id))
        report = StageReport(struct_size=C.sizeof(StageReport))
        lib.adapt_pipeline_result_report(raw, name, C.byref(report))
        return StageRun(label_map, crops, report.seconds, report.flops, report.inputs)

    def __repr__(self):
        state = " (closed)" if self.closed else f" {self.stages}"
        return f"<libadapt.Pipeline{state}>"
