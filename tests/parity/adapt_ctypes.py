"""ctypes access to the built libadapt and the PyTorch twins of docs/models.md, shared by the
parity scripts of this directory.

Importing this module ends the process with meson's skip status (77) when numpy or torch is
missing, so every script that uses it is skipped rather than failed on such a machine; the
scripts take `np` and `torch` from here.
"""
import ctypes as C
import glob
import os
import re
import sys

try:
    import numpy as np
    import torch
except ImportError as missing:
    print(f"{missing.name or 'torch'} not found: parity test skipped ({missing})")
    sys.exit(77)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# adapt_backend values
BACKEND_DEFAULT, BACKEND_REFERENCE, BACKEND_ONEDNN = 0, 1, 3


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


def load_library(argv):
    """The library named by argv[1], else the first build*/lib/libadapt.so of the tree."""
    paths = argv[1:] or sorted(glob.glob(os.path.join(ROOT, "build*", "lib", "libadapt.so")))
    if not paths:
        sys.exit("no libadapt.so found; pass its path")
    lib = C.CDLL(paths[0])
    p = C.c_void_p
    sigs = {
        "adapt_last_error": (C.c_char_p, []),
        "adapt_backend_available": (C.c_int, [C.c_int]),
        "adapt_mlp_params_init": (None, [p]), "adapt_cnn_params_init": (None, [p]),
        "adapt_vit_params_init": (None, [p]), "adapt_layer_params_init": (None, [p]),
        "adapt_model_create_mlp": (C.c_int, [p, p]), "adapt_model_create_cnn": (C.c_int, [p, p]),
        "adapt_model_create_vit": (C.c_int, [p, p]),
        "adapt_model_create_sequential": (C.c_int, [p, C.c_int32, p, C.c_uint64]),
        "adapt_model_append": (C.c_int, [p, p]), "adapt_model_free": (None, [p]),
        "adapt_model_load_weights": (C.c_int, [p, C.c_char_p]),
        "adapt_model_param_count": (C.c_int32, [p]),
        "adapt_model_param": (p, [p, C.c_int32]),
        "adapt_model_param_name": (C.c_char_p, [p, C.c_int32]),
        "adapt_model_forward": (C.c_int, [p, p, p, p]),
        "adapt_tensor_ndim": (C.c_int32, [p]), "adapt_tensor_dim": (C.c_int64, [p, C.c_int32]),
        "adapt_tensor_numel": (C.c_int64, [p]),
        "adapt_tensor_grad": (C.POINTER(C.c_float), [p]),
        "adapt_tensor_read": (C.c_int, [p, p, C.c_int64]),
        "adapt_tensor_input": (C.c_int, [p, p, C.c_int32, p, p]),
        "adapt_param_zero_grad": (C.c_int, [p]),
        "adapt_op_cross_entropy": (C.c_int, [p, p, p, p, C.c_float]),
        "adapt_backward": (C.c_int, [p, p]),
        "adapt_context_create": (C.c_int, [p, p]), "adapt_context_free": (None, [p]),
        "adapt_context_set_training": (C.c_int, [p, C.c_int]),
        "adapt_context_set_grad": (C.c_int, [p, C.c_int]),
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


def tensor_grad(lib, t):
    """A copy of the parameter's gradient in its shape, or None if it has none."""
    grad = lib.adapt_tensor_grad(t)
    if not grad:
        return None
    shape = [lib.adapt_tensor_dim(t, d) for d in range(lib.adapt_tensor_ndim(t))]
    return np.ctypeslib.as_array(grad, shape=(lib.adapt_tensor_numel(t),)).reshape(shape).copy()


def model_params(lib, model):
    """(name, tensor handle) of every parameter, buffers included, in the model's order."""
    return [(lib.adapt_model_param_name(model, i).decode(), lib.adapt_model_param(model, i))
            for i in range(lib.adapt_model_param_count(model))]


def param_values(lib, model):
    return [(name, tensor_values(lib, t)) for name, t in model_params(lib, model)]


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


def create_model(lib, arch):
    """A libadapt model from an architecture object as docs/models.md describes it."""
    create = {"mlp": create_mlp, "cnn": create_cnn, "vit": create_vit,
              "sequential": create_sequential}
    return create[arch["kind"]](lib, arch)


class Context:
    """An adapt_context for one forward (and backward) pass; use it in a `with` statement."""

    def __init__(self, lib, backend=BACKEND_REFERENCE, training=False, grad=False):
        self.lib, self.handle = lib, C.c_void_p()
        check(lib, lib.adapt_context_create(C.byref(self.handle), None), "adapt_context_create")
        try:
            check(lib, lib.adapt_context_set_backend(self.handle, backend), "set_backend")
            check(lib, lib.adapt_context_set_training(self.handle, int(training)), "set_training")
            check(lib, lib.adapt_context_set_grad(self.handle, int(grad)), "set_grad")
        except RuntimeError:
            lib.adapt_context_free(self.handle)
            raise

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.lib.adapt_context_free(self.handle)

    def forward(self, model, x):
        """The model's logits tensor on x (a numpy array), living in this context."""
        lib, xt, logits = self.lib, C.c_void_p(), C.c_void_p()
        x = np.ascontiguousarray(x, dtype=np.float32)
        shape = (C.c_int64 * x.ndim)(*x.shape)
        check(lib, lib.adapt_tensor_input(C.byref(xt), self.handle, x.ndim, shape,
                                          x.ctypes.data), "adapt_tensor_input")
        check(lib, lib.adapt_model_forward(C.byref(logits), self.handle, model, xt),
              "adapt_model_forward")
        return logits

    def backward_cross_entropy(self, logits, labels):
        """Mean cross-entropy of logits against labels, back-propagated; returns the loss."""
        lib, loss = self.lib, C.c_void_p()
        labels = np.ascontiguousarray(labels, dtype=np.int32)
        check(lib, lib.adapt_op_cross_entropy(C.byref(loss), self.handle, logits,
                                              labels.ctypes.data, 0.0), "adapt_op_cross_entropy")
        check(lib, lib.adapt_backward(self.handle, loss), "adapt_backward")
        return float(tensor_values(lib, loss).reshape(-1)[0])


def run_forward(lib, model, x, training, backend=BACKEND_REFERENCE):
    """Logits as a numpy array; training mode uses (and updates) batch statistics."""
    with Context(lib, backend, training) as ctx:
        return tensor_values(lib, ctx.forward(model, x))


def load_twins():
    """twin_from_architecture() and the module classes, from docs/models.md's Python blocks."""
    text = open(os.path.join(ROOT, "docs", "models.md")).read()
    code = "\n\n".join(re.findall(r"```python\n(.*?)```", text, re.S))
    namespace = {}
    exec(compile(code, "docs/models.md", "exec"), namespace)
    return namespace
