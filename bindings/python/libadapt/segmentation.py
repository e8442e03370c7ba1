"""Segmentation: train a model that maps images [C, H, W] to class scores [K, H', W'] on
per-pixel labels, predict label maps, score them (adapt_segmentation_*, docs/segmentation.md).
Encoder-decoders are sequential models with the layer kinds "upsample2d",
"conv_transpose2d" and "concat" (the skip connection)."""
import ctypes as C

import numpy as np

from . import _arrays, _scalars
from ._native import lib
from ._structs import SegmentationScore
from .errors import ShapeError
from .training import _Callbacks, run_training, train_params


def _images(images):
    x = _arrays.float32(images, "images")
    if x.ndim != 4:
        raise ShapeError(f"images must be [n, C, H, W], not {list(x.shape)}")
    return x


def train_segmentation(model, images, masks, *, progress=None, cancel=None, **settings):
    """Trains `model` on images [n, C, H, W] and label maps masks [n, H', W'] (values in
    [0, K)) with the mean per-pixel cross-entropy; settings, progress and cancel are those of
    Model.train. Returns the Progress of each epoch's last step."""
    x = _images(images)
    y = np.ascontiguousarray(masks, dtype=np.int32)
    if y.ndim != 3 or y.shape[0] != x.shape[0]:
        raise ShapeError(f"masks must be [{x.shape[0]}, H', W'], not {list(y.shape)}")
    callbacks = _Callbacks(progress, cancel)
    params = train_params(settings, callbacks, "train_segmentation")
    run_training(lambda: lib.adapt_segmentation_train(
        model._ptr(), _arrays.pointer(x, C.c_float), _arrays.pointer(y, C.c_int32),
        x.shape[0], C.byref(params)), [callbacks])
    return callbacks.history


def predict_segmentation(model, images, n_threads=0):
    """Each pixel's class (argmax of the scores) for images [n, C, H, W]: [n, H', W']."""
    x = _images(images)
    out_shape = model.blocks[-1].out_shape
    masks = np.empty((x.shape[0],) + tuple(out_shape[1:]), dtype=np.int32)
    lib.adapt_segmentation_predict(_arrays.pointer(masks, C.c_int32), model._ptr(),
                                   _arrays.pointer(x, C.c_float), x.shape[0],
                                   _scalars.i32(n_threads, "n_threads"))
    return masks


def segmentation_scores(predicted, truth, classes):
    """{"mean_iou", "pixel_accuracy", "pixels", "classes_seen", "class_iou"} of predicted
    against true label maps of any shape (truth < 0: unlabelled); class_iou is NaN for a
    class in neither."""
    p = np.ascontiguousarray(predicted, dtype=np.int32).ravel()
    t = np.ascontiguousarray(truth, dtype=np.int32).ravel()
    if p.size != t.size:
        raise ShapeError(f"{p.size} predicted labels against {t.size} true ones")
    iou = np.empty(int(classes), dtype=np.float64)
    out = SegmentationScore(struct_size=C.sizeof(SegmentationScore))
    lib.adapt_segmentation_scores(C.byref(out), _arrays.pointer(iou, C.c_double),
                                  _arrays.pointer(p, C.c_int32), _arrays.pointer(t, C.c_int32),
                                  p.size, _scalars.i32(classes, "classes"))
    return {"mean_iou": out.mean_iou, "pixel_accuracy": out.pixel_accuracy,
            "pixels": out.pixels, "classes_seen": out.classes_seen, "class_iou": iou}
