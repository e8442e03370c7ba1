#!/usr/bin/env python3
"""Checks the PyTorch twins of docs/models.md against the built library.

For MLP, CNN, ViT and sequential models of small configurations it builds the libadapt model
through the libadapt package, executes the Python code blocks of docs/models.md, builds the
twin, and checks that

  - the twin's state_dict keys (without num_batches_tracked) equal libadapt's parameter names,
    in order, with equal shapes;
  - with libadapt's weights loaded by name, the twin's eval-mode logits equal libadapt's
    inference logits, and (batch norm in training mode, no dropout) its training-mode logits
    and updated running statistics equal libadapt's.

usage: PYTHONPATH=bindings/python [ADAPT_LIBRARY=path/to/libadapt.so] check_names.py
(without ADAPT_LIBRARY the package takes the repository's build tree; meson sets both)
Exit status 0 when everything matches, 77 (skipped) without numpy or torch.
"""
import json

from torch_twins import create_model, load_twins, np, run_forward, torch

TOLERANCE = 1e-4

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
    ("sequential tokens", {"kind": "sequential", "input_shape": [3, 8, 4], "seed": "11",
                           "layers": [{"kind": "patch_embed", "out_features": 8, "kernel": 4},
                                      {"kind": "token_linear", "out_features": 6},
                                      {"kind": "gelu"}, {"kind": "layernorm"},
                                      {"kind": "class_token"},
                                      {"kind": "linear", "out_features": 5}]}, [2, 3, 8, 4]),
    ("sequential flatten", {"kind": "sequential", "input_shape": [2, 3, 3], "seed": "10",
                            "layers": [{"kind": "flatten"}, {"kind": "linear", "out_features": 4},
                                       {"kind": "relu"}, {"kind": "linear", "out_features": 2}]},
     [5, 2, 3, 3]),
]

def compare(what, got, want):
    err = float(np.max(np.abs(got - want) / np.maximum(1.0, np.abs(want))))
    if err > TOLERANCE:
        raise AssertionError(f"{what}: max relative difference {err:.3g}")
    return err


def has_dropout(arch):
    return arch.get("dropout", 0) > 0 or any(l.get("p", 0) > 0 for l in arch.get("layers", []))


def check_training(model, twin, x, name):
    """Training-mode logits (batch statistics) and the running statistics they update."""
    twin.train()
    with torch.no_grad():
        want = twin(torch.from_numpy(x)).numpy()
    err = compare(f"{name} training logits", run_forward(model, x, training=True), want)
    moved = model.state_dict()
    for n, v in twin.state_dict().items():
        if n.endswith("running_mean") or n.endswith("running_var"):
            err = max(err, compare(f"{name} {n} after a training step", moved[n], v.numpy()))
    return err


def check_case(twin_from_architecture, name, arch, x_shape):
    model = create_model(arch)
    params = list(model.state_dict().items())
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
        err = compare(f"{name} eval logits", run_forward(model, x, training=False),
                      twin(torch.from_numpy(x)).numpy())
    if not has_dropout(arch):  # dropout masks differ; the rest of training mode must not
        err = max(err, check_training(model, twin, x, name))
    model.close()
    print(f"ok  {name}: {len(names)} parameters, max relative difference {err:.2g}")


def main():
    twin_from_architecture = load_twins()["twin_from_architecture"]
    for name, arch, x_shape in CASES:
        check_case(twin_from_architecture, name, arch, x_shape)


if __name__ == "__main__":
    main()
