"""The PyTorch twins of docs/models.md and the libadapt models they mirror, shared by the
parity scripts of this directory.

Importing this module ends the process with meson's skip status (77) when numpy or torch is
missing, so every script that uses it is skipped rather than failed on such a machine; the
scripts take `np` and `torch` from here. libadapt itself is imported only after that check,
so a missing or unusable library is still a failure, not a skip.
"""
import os
import re
import sys

try:
    import numpy as np
    import torch
except ImportError as missing:
    print(f"{missing.name or 'torch'} not found: parity test skipped ({missing})")
    sys.exit(77)

import libadapt as ad

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def load_twins():
    """twin_from_architecture() and the module classes, from docs/models.md's Python blocks."""
    text = open(os.path.join(ROOT, "docs", "models.md")).read()
    code = "\n\n".join(re.findall(r"```python\n(.*?)```", text, re.S))
    namespace = {}
    exec(compile(code, "docs/models.md", "exec"), namespace)
    return namespace


def create_model(arch):
    """The libadapt model of an architecture object as docs/models.md describes it."""
    seed = int(arch["seed"])  # a string in the JSON, so that all 64 bits survive
    if arch["kind"] == "mlp":
        return ad.Model.mlp(arch["sizes"], arch["activation"], arch["dropout"], seed)
    if arch["kind"] == "cnn":
        return ad.Model.cnn(arch["stage_channels"], arch["stage_blocks"],
                            arch["stage_strides"], in_channels=arch["in_channels"],
                            image_size=arch["image_size"], n_classes=arch["n_classes"],
                            stem_channels=arch["stem_channels"], seed=seed)
    if arch["kind"] == "vit":
        keys = ("image_size", "in_channels", "patch", "dim", "depth", "heads", "mlp_ratio",
                "n_classes", "dropout")
        return ad.Model.vit(**{k: arch[k] for k in keys}, seed=seed)
    if arch["kind"] == "sequential":
        return ad.Model.sequential(arch["input_shape"], arch["layers"], seed)
    raise ValueError(f"unknown model kind {arch['kind']!r}")


def run_forward(model, x, training, backend=ad.Backend.REFERENCE):
    """Logits as a numpy array; training mode uses (and updates) batch statistics."""
    with ad.Context(backend=backend, training=training) as ctx:
        return model.forward(ctx, x)
