#!/usr/bin/env python3
"""Checks the PyTorch twins of docs/models.md against the built library.

For MLP, CNN, ViT and sequential models of small configurations it builds the libadapt model
through the public C API (ctypes), executes the Python code blocks of docs/models.md, builds the
twin, and checks that

  - the twin's state_dict keys (without num_batches_tracked) equal libadapt's parameter names,
    in order, with equal shapes;
  - with libadapt's weights loaded by name, the twin's eval-mode logits equal libadapt's
    inference logits, and (batch norm in training mode, no dropout) its training-mode logits
    and updated running statistics equal libadapt's.

usage: check_names.py [path/to/libadapt.so]   (default: the first build*/lib/libadapt.so)
Exit status 0 when everything matches.
"""
import ctypes as C
import glob
import json
import os
import re
import sys

import numpy as np
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOLERANCE = 1e-4


class MlpParams(C.Structure):
    _fields_ = [("struct_size", C.c_size_t), ("n_sizes", C.c_int32),
                ("sizes", C.POINTER(C.c_int64)), ("activation", C.c_int32),
                ("dropout", C.c_float), ("seed", C.c_uint64)]


class CnnParams(C.Structure):
    _fields_ = [("struct_size", C.c_size_t), ("in_channels", C.c_int32),
                ("image_size", C.c_int32), ("n_classes", C.c_int32),
                ("stem_channels", C.c_int32), ("n_stages", C.c_int32),
                ("stage_channels", C.POINTER(C.c_int32)), ("stage_blocks", C.POINTER(C.c_int32)),
                ("stage_strides", C.POINTER(C.c_int32)), ("seed", C.c_uint64)]


class VitParams(C.Structure):
    _fields_ = [("struct_size", C.c_size_t), ("image_size", C.c_int32),
                ("in_channels", C.c_int32), ("patch", C.c_int32), ("dim", C.c_int32),
                ("depth", C.c_int32), ("heads", C.c_int32), ("mlp_ratio", C.c_float),
                ("n_classes", C.c_int32), ("dropout", C.c_float), ("seed", C.c_uint64)]


class LayerParams(C.Structure):
    _fields_ = [("struct_size", C.c_size_t), ("kind", C.c_int32), ("out_features", C.c_int64),
                ("kernel", C.c_int32), ("stride", C.c_int32), ("padding", C.c_int32),
                ("heads", C.c_int32), ("mlp_ratio", C.c_float), ("p", C.c_float)]


LAYER_KINDS = ["linear", "conv2d", "batchnorm2d", "layernorm", "maxpool2d", "avgpool2d",
               "global_avgpool", "dropout", "relu", "gelu", "flatten", "residual_block",
               "patch_embed", "transformer_block", "class_token"]


def load_library(path):
    lib = C.CDLL(path)
    p = C.c_void_p
    sigs = {
        "adapt_last_error": (C.c_char_p, []),
        "adapt_mlp_params_init": (None, [p]), "adapt_cnn_params_init": (None, [p]),
        "adapt_vit_params_init": (None, [p]), "adapt_layer_params_init": (None, [p]),
        "adapt_model_create_mlp": (C.c_int, [p, p]), "adapt_model_create_cnn": (C.c_int, [p, p]),
        "adapt_model_create_vit": (C.c_int, [p, p]),
        "adapt_model_create_sequential": (C.c_int, [p, C.c_int32, p, C.c_uint64]),
        "adapt_model_append": (C.c_int, [p, p]), "adapt_model_free": (None, [p]),
        "adapt_model_param_count": (C.c_int32, [p]),
        "adapt_model_param": (p, [p, C.c_int32]),
        "adapt_model_param_name": (C.c_char_p, [p, C.c_int32]),
        "adapt_model_forward": (C.c_int, [p, p, p, p]),
        "adapt_tensor_ndim": (C.c_int32, [p]), "adapt_tensor_dim": (C.c_int64, [p, C.c_int32]),
        "adapt_tensor_numel": (C.c_int64, [p]),
        "adapt_tensor_read": (C.c_int, [p, p, C.c_int64]),
        "adapt_tensor_input": (C.c_int, [p, p, C.c_int32, p, p]),
        "adapt_context_create": (C.c_int, [p, p]), "adapt_context_free": (None, [p]),
        "adapt_context_set_training": (C.c_int, [p, C.c_int]),
        "adapt_context_set_backend": (C.c_int, [p, C.c_int]),
    }
    for name, (res, args) in sigs.items():
        fn = getattr(lib, name)
        fn.restype, fn.argtypes = res, args
    return lib


def check(lib, status, what):
    if status != 0:
        raise RuntimeError(f"{what}: status {status}: {lib.adapt_last_error().decode()}")


def tensor_values(lib, t):
    shape = [lib.adapt_tensor_dim(t, d) for d in range(lib.adapt_tensor_ndim(t))]
    out = np.empty(shape, dtype=np.float32)
    check(lib, lib.adapt_tensor_read(t, out.ctypes.data, out.size), "adapt_tensor_read")
    return out


def libadapt_params(lib, model):
    params = []
    for i in range(lib.adapt_model_param_count(model)):
        name = lib.adapt_model_param_name(model, i).decode()
        params.append((name, tensor_values(lib, lib.adapt_model_param(model, i))))
    return params


def run_libadapt(lib, model, x, training):
    ctx, logits, xt = C.c_void_p(), C.c_void_p(), C.c_void_p()
    check(lib, lib.adapt_context_create(C.byref(ctx), None), "adapt_context_create")
    check(lib, lib.adapt_context_set_backend(ctx, 1), "reference backend")
    check(lib, lib.adapt_context_set_training(ctx, int(training)), "set_training")
    shape = (C.c_int64 * x.ndim)(*x.shape)
    x = np.ascontiguousarray(x, dtype=np.float32)
    check(lib, lib.adapt_tensor_input(C.byref(xt), ctx, x.ndim, shape, x.ctypes.data), "input")
    check(lib, lib.adapt_model_forward(C.byref(logits), ctx, model, xt), "adapt_model_forward")
    result = tensor_values(lib, logits)
    lib.adapt_context_free(ctx)
    return result


def create_mlp(lib, arch):
    p = MlpParams()
    lib.adapt_mlp_params_init(C.byref(p))
    sizes = (C.c_int64 * len(arch["sizes"]))(*arch["sizes"])
    p.n_sizes, p.sizes = len(arch["sizes"]), sizes
    p.activation = {"relu": 0, "gelu": 1}[arch["activation"]]
    p.dropout, p.seed = arch["dropout"], int(arch["seed"])
    model = C.c_void_p()
    check(lib, lib.adapt_model_create_mlp(C.byref(model), C.byref(p)), "create_mlp")
    return model


def create_cnn(lib, arch):
    p = CnnParams()
    lib.adapt_cnn_params_init(C.byref(p))
    n = len(arch["stage_channels"])
    arrays = [(C.c_int32 * n)(*arch[k]) for k in
              ("stage_channels", "stage_blocks", "stage_strides")]
    for key in ("in_channels", "image_size", "n_classes", "stem_channels"):
        setattr(p, key, arch[key])
    p.n_stages, p.seed = n, int(arch["seed"])
    p.stage_channels, p.stage_blocks, p.stage_strides = arrays
    model = C.c_void_p()
    check(lib, lib.adapt_model_create_cnn(C.byref(model), C.byref(p)), "create_cnn")
    return model


def create_vit(lib, arch):
    p = VitParams()
    lib.adapt_vit_params_init(C.byref(p))
    for key in ("image_size", "in_channels", "patch", "dim", "depth", "heads", "mlp_ratio",
                "n_classes", "dropout"):
        setattr(p, key, arch[key])
    p.seed = int(arch["seed"])
    model = C.c_void_p()
    check(lib, lib.adapt_model_create_vit(C.byref(model), C.byref(p)), "create_vit")
    return model


def create_sequential(lib, arch):
    shape = (C.c_int64 * len(arch["input_shape"]))(*arch["input_shape"])
    model = C.c_void_p()
    check(lib, lib.adapt_model_create_sequential(C.byref(model), len(arch["input_shape"]),
                                                 shape, int(arch["seed"])), "create_sequential")
    for layer in arch["layers"]:
        p = LayerParams()
        lib.adapt_layer_params_init(C.byref(p))
        p.kind = LAYER_KINDS.index(layer["kind"])
        for key, value in layer.items():
            if key != "kind":
                setattr(p, key, value)
        check(lib, lib.adapt_model_append(model, C.byref(p)), f"append {layer['kind']}")
    return model


CASES = [
    ("mlp relu dropout", {"kind": "mlp", "sizes": [12, 16, 8, 5], "activation": "relu",
                          "dropout": 0.25, "seed": "3"}, [4, 3, 2, 2]),
    ("mlp gelu", {"kind": "mlp", "sizes": [10, 7, 3], "activation": "gelu", "dropout": 0.0,
                  "seed": "4"}, [3, 10]),
    ("cnn", {"kind": "cnn", "in_channels": 3, "image_size": 9, "n_classes": 5,
             "stem_channels": 4, "stage_channels": [4, 6, 8], "stage_blocks": [1, 2, 1],
             "stage_strides": [1, 2, 2], "seed": "5"}, [3, 3, 9, 9]),
    ("vit", {"kind": "vit", "image_size": 8, "in_channels": 2, "patch": 4, "dim": 12,
             "depth": 2, "heads": 3, "mlp_ratio": 2.5, "n_classes": 4, "dropout": 0.0,
             "seed": "6"}, [2, 2, 8, 8]),
    ("vit one head", {"kind": "vit", "image_size": 6, "in_channels": 1, "patch": 2, "dim": 8,
                      "depth": 1, "heads": 1, "mlp_ratio": 4.0, "n_classes": 3,
                      "dropout": 0.0, "seed": "7"}, [2, 1, 6, 6]),
    ("sequential cnn", {"kind": "sequential", "input_shape": [2, 10, 10], "seed": "8", "layers": [
        {"kind": "conv2d", "out_features": 4, "kernel": 3, "stride": 1, "padding": 1},
        {"kind": "batchnorm2d"}, {"kind": "relu"},
        {"kind": "maxpool2d", "kernel": 2, "stride": 2, "padding": 0},
        {"kind": "residual_block", "out_features": 6, "stride": 2},
        {"kind": "avgpool2d", "kernel": 3, "stride": 1, "padding": 1},
        {"kind": "gelu"}, {"kind": "global_avgpool"}, {"kind": "layernorm"},
        {"kind": "linear", "out_features": 3}]}, [3, 2, 10, 10]),
    ("sequential vit", {"kind": "sequential", "input_shape": [3, 8, 4], "seed": "9", "layers": [
        {"kind": "patch_embed", "out_features": 8, "kernel": 4},
        {"kind": "transformer_block", "heads": 2, "mlp_ratio": 1.5, "p": 0.0},
        {"kind": "layernorm"}, {"kind": "class_token"}, {"kind": "dropout", "p": 0.0},
        {"kind": "linear", "out_features": 5}]}, [2, 3, 8, 4]),
    ("sequential flatten", {"kind": "sequential", "input_shape": [2, 3, 3], "seed": "10",
                            "layers": [{"kind": "flatten"}, {"kind": "linear", "out_features": 4},
                                       {"kind": "relu"}, {"kind": "linear", "out_features": 2}]},
     [5, 2, 3, 3]),
]

CREATE = {"mlp": create_mlp, "cnn": create_cnn, "vit": create_vit,
          "sequential": create_sequential}


def load_twins():
    text = open(os.path.join(ROOT, "docs", "models.md")).read()
    code = "\n\n".join(re.findall(r"```python\n(.*?)```", text, re.S))
    namespace = {}
    exec(compile(code, "docs/models.md", "exec"), namespace)
    return namespace["twin_from_architecture"]


def compare(what, got, want):
    err = float(np.max(np.abs(got - want) / np.maximum(1.0, np.abs(want))))
    if err > TOLERANCE:
        raise AssertionError(f"{what}: max relative difference {err:.3g}")
    return err


def has_dropout(arch):
    return arch.get("dropout", 0) > 0 or any(l.get("p", 0) > 0 for l in arch.get("layers", []))


def check_training(lib, model, twin, x, name):
    """Training-mode logits (batch statistics) and the running statistics they update."""
    twin.train()
    with torch.no_grad():
        want = twin(torch.from_numpy(x)).numpy()
    err = compare(f"{name} training logits", run_libadapt(lib, model, x, True), want)
    moved = dict(libadapt_params(lib, model))
    for n, v in twin.state_dict().items():
        if n.endswith("running_mean") or n.endswith("running_var"):
            err = max(err, compare(f"{name} {n} after a training step", moved[n], v.numpy()))
    return err


def check_case(lib, twin_from_architecture, name, arch, x_shape):
    model = CREATE[arch["kind"]](lib, arch)
    params = libadapt_params(lib, model)
    twin = twin_from_architecture(json.loads(json.dumps(arch)))
    state = {k: v for k, v in twin.state_dict().items() if not k.endswith("num_batches_tracked")}
    names = [n for n, _ in params]
    if list(state) != names:
        raise AssertionError(f"{name}: names differ\n  libadapt {names}\n  torch    {list(state)}")
    for n, v in params:
        if tuple(state[n].shape) != v.shape:
            raise AssertionError(f"{name}: {n} shape {v.shape} vs torch {tuple(state[n].shape)}")
    twin.load_state_dict({n: torch.from_numpy(v) for n, v in params}, strict=False)
    x = np.random.default_rng(1).uniform(-1, 1, x_shape).astype(np.float32)
    twin.eval()
    with torch.no_grad():
        err = compare(f"{name} eval logits", run_libadapt(lib, model, x, False),
                      twin(torch.from_numpy(x)).numpy())
    if not has_dropout(arch):  # dropout masks differ; the rest of training mode must not
        err = max(err, check_training(lib, model, twin, x, name))
    lib.adapt_model_free(model)
    print(f"ok  {name}: {len(names)} parameters, max relative difference {err:.2g}")


def main():
    paths = sys.argv[1:] or sorted(glob.glob(os.path.join(ROOT, "build*", "lib", "libadapt.so")))
    if not paths:
        sys.exit("no libadapt.so found; pass its path")
    lib = load_library(paths[0])
    twin_from_architecture = load_twins()
    for name, arch, x_shape in CASES:
        check_case(lib, twin_from_architecture, name, arch, x_shape)


if __name__ == "__main__":
    main()
