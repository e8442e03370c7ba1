#!/usr/bin/env python3
"""Parity of libadapt with PyTorch on weights that PyTorch initialised.

For an MLP, a ResNet-style CNN and a ViT on 28x28 images it builds the twin of docs/models.md
in PyTorch, writes its state_dict to a safetensors file, creates the libadapt model of the
same architecture through the libadapt package and loads the file with Model.load_weights.
Then, on the default backend and on the reference backend, it checks

  - that the weights arrived unchanged;
  - the eval-mode logits of a random batch (max abs difference <= 1e-4);
  - one training step (batch statistics, cross-entropy mean loss, backward): the loss, each
    parameter's gradient (||g_lib - g_torch|| / ||g_torch|| <= 1e-3) and the batch-norm
    running statistics the step updated.

Batches that put a ReLU input within rounding error of 0 are redrawn (see TIE_BAND).

usage: PYTHONPATH=bindings/python [ADAPT_LIBRARY=path/to/libadapt.so] check_parity.py
(without ADAPT_LIBRARY the package takes the repository's build tree; meson sets both)
Exit status 0 when everything matches, 1 on a mismatch (each one named by model, backend and
parameter), 77 (skipped) without numpy or torch.
"""
import contextlib
import copy
import math
import os
import sys
import tempfile

from torch_twins import create_model, load_twins, np, run_forward, torch

import libadapt as ad

LOGITS_LIMIT = 1e-4  # max abs difference
GRAD_LIMIT = 1e-3    # relative error per tensor
STATS_LIMIT = 1e-4   # max difference relative to max(1, |value|)
BATCH = 16
CLASSES = 10

# ReLU's derivative jumps at 0, so a ReLU input within rounding error of 0 can be positive in
# one float32 computation and negative in another, and the gradients then differ by that
# element's whole contribution. With a deeper CNN (two blocks per stage, 1.6 million ReLU
# inputs per batch) one input was -2.6e-9 in float64 and +7.9e-8 in PyTorch's float32, and
# the gradients below it differed by up to 7e-3 between PyTorch and the reference backend,
# which agreed with float64 to 1e-6. Rounding differences at ReLU inputs near 0 reach 3e-6
# in these models, so batches with an input closer than TIE_BAND to 0 are redrawn.
TIE_BAND = 1e-5
MAX_DRAWS = 500

MODELS = [
    ("mlp", {"kind": "mlp", "sizes": [784, 256, 128, CLASSES], "activation": "relu",
             "dropout": 0.0, "seed": "1"}),
    ("cnn", {"kind": "cnn", "in_channels": 1, "image_size": 28, "n_classes": CLASSES,
             "stem_channels": 16, "stage_channels": [16, 32, 64], "stage_blocks": [1, 2, 1],
             "stage_strides": [2, 2, 2], "seed": "2"}),
    ("vit", {"kind": "vit", "image_size": 28, "in_channels": 1, "patch": 7, "dim": 64,
             "depth": 2, "heads": 4, "mlp_ratio": 4.0, "n_classes": CLASSES, "dropout": 0.0,
             "seed": "3"}),
]

def twin_with_torch_init(twins, arch):
    """The twin with PyTorch's initialisation, except where that would hide a mistake:
    norms start as identities and the ViT's class token and positional embedding as zeros,
    so libadapt could misapply them and still agree. Those get values of trained scale."""
    twin = twins["twin_from_architecture"](arch)
    with torch.no_grad():
        for module in twin.modules():
            if isinstance(module, (torch.nn.BatchNorm2d, torch.nn.LayerNorm)):
                module.weight.uniform_(0.5, 1.5)
                module.bias.normal_(0.0, 0.1)
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.normal_(0.0, 0.1)
                module.running_var.uniform_(0.5, 1.5)
                module.num_batches_tracked.fill_(100)
            if isinstance(module, twins["ViT"]):
                module.cls_token.normal_(0.0, 0.02)
                module.pos_embed.normal_(0.0, 0.02)
    return twin


@contextlib.contextmanager
def closest_relu_input():
    """Collects min |x| over the inputs of every ReLU run inside the block (nn.ReLU calls
    torch.nn.functional.relu as well)."""
    relu, closest = torch.nn.functional.relu, [math.inf]

    def recording_relu(x, inplace=False):
        closest[0] = min(closest[0], float(x.detach().abs().min()))
        return relu(x, inplace)

    torch.nn.functional.relu = recording_relu
    try:
        yield closest
    finally:
        torch.nn.functional.relu = relu


def draw_batch(twin, rng):
    """Random inputs and labels whose training-mode pass has no ReLU input within TIE_BAND
    of 0; also the distance of the closest one and the number of draws."""
    probe = copy.deepcopy(twin).train()  # training mode would move the twin's statistics
    for draws in range(1, MAX_DRAWS + 1):
        x = rng.standard_normal((BATCH, 1, 28, 28), dtype=np.float32)
        labels = rng.integers(0, CLASSES, BATCH, dtype=np.int32)
        with torch.no_grad(), closest_relu_input() as closest:
            probe(torch.from_numpy(x))
        if closest[0] > TIE_BAND:
            return x, labels, closest[0], draws
    raise RuntimeError(f"no batch in {MAX_DRAWS} draws keeps its ReLU inputs {TIE_BAND:g} "
                       f"away from 0")


def is_running_stat(name):
    return name.endswith("running_mean") or name.endswith("running_var")


def torch_reference(twin, x, labels):
    """The batch, its eval logits, then one training step: loss, gradients and updated
    running statistics."""
    xt, labels_t = torch.from_numpy(x), torch.from_numpy(labels).long()
    twin.eval()
    with torch.no_grad():
        logits = twin(xt).numpy()
    twin.train()
    twin.zero_grad()
    loss = torch.nn.functional.cross_entropy(twin(xt), labels_t)
    loss.backward()
    grads = {n: p.grad.numpy().copy() for n, p in twin.named_parameters()}
    stats = {n: v.numpy().copy() for n, v in twin.state_dict().items() if is_running_stat(n)}
    return {"x": x, "labels": labels, "logits": logits, "loss": loss.item(), "grads": grads,
            "stats": stats}


class Report:
    """Prints one line per check and remembers whether any failed."""

    def __init__(self):
        self.failures = 0

    def check(self, what, err, limit, measure, where=""):
        ok = err <= limit
        self.failures += not ok
        at = f" at {where}" if where else ""
        print(f"{'ok  ' if ok else 'FAIL'} {what}: {measure} {err:.2e}{at} (limit {limit:.0e})",
              flush=True)


def relative_error(got, want):
    tiny = np.finfo(np.float32).tiny
    return float(np.linalg.norm(got - want) / max(np.linalg.norm(want), tiny))


def check_gradients(report, what, model, want):
    params = model.parameters()
    errors = {}
    for name, grad in want.items():
        errors[name] = relative_error(params[name].grad, grad)
        if errors[name] > GRAD_LIMIT:
            report.check(f"{what} gradient of {name}", errors[name], GRAD_LIMIT, "relative error")
    worst = max(errors, key=errors.get)
    report.check(f"{what} gradients ({len(errors)} tensors)", errors[worst], GRAD_LIMIT,
                 "max relative error", worst)


def check_running_stats(report, what, model, want):
    got = model.state_dict()
    errors = {n: float(np.max(np.abs(got[n] - v) / np.maximum(1.0, np.abs(v))))
              for n, v in want.items()}
    worst = max(errors, key=errors.get)
    report.check(f"{what} running statistics after the step ({len(errors)} tensors)",
                 errors[worst], STATS_LIMIT, "max relative difference", worst)


def check_backend(report, what, model, path, state, ref, backend):
    model.load_weights(path)
    loaded = model.state_dict()
    diffs = {n: float(np.max(np.abs(v - state[n].numpy()), initial=0.0))
             for n, v in loaded.items()}
    worst = max(diffs, key=diffs.get)
    report.check(f"{what} weights loaded ({len(loaded)} tensors)", diffs[worst], 0.0,
                 "max abs difference from the file", worst if diffs[worst] else "")
    logits = run_forward(model, ref["x"], training=False, backend=backend)
    report.check(f"{what} eval logits", float(np.max(np.abs(logits - ref["logits"]))),
                 LOGITS_LIMIT, "max abs difference")

    for param in model.parameters().values():
        param.zero_grad()
    with ad.Context(backend=backend, training=True, grad=True) as ctx:
        logits = model.forward(ctx, ref["x"], as_tensor=True)
        loss_tensor = ad.ops.cross_entropy(ctx, logits, ref["labels"])
        loss_tensor.backward()
        loss = loss_tensor.item()
    report.check(f"{what} training loss", abs(loss - ref["loss"]), LOGITS_LIMIT,
                 "abs difference")
    check_gradients(report, what, model, ref["grads"])
    if ref["stats"]:
        check_running_stats(report, what, model, ref["stats"])


def main():
    twins = load_twins()
    backends = [("default (" + ("oneDNN" if ad.backend_available(ad.Backend.ONEDNN)
                                else "OpenBLAS") + ")", ad.Backend.DEFAULT),
                ("reference", ad.Backend.REFERENCE)]
    rng = np.random.default_rng(0)
    torch.manual_seed(0)
    report = Report()
    with tempfile.TemporaryDirectory() as tmp:
        for name, arch in MODELS:
            twin = twin_with_torch_init(twins, arch)
            state = twin.state_dict()
            path = os.path.join(tmp, name + ".safetensors")
            ad.save_safetensors({k: v.detach().numpy() for k, v in state.items()}, path)
            state = {n: v.clone() for n, v in state.items()}  # the step below moves the stats
            x, labels, closest, draws = draw_batch(twin, rng)
            print(f"     {name}: batch {draws} drawn; closest ReLU input to 0: "
                  + (f"{closest:.2e}" if closest < math.inf else "none (no ReLU)"))
            ref = torch_reference(twin, x, labels)
            with create_model(arch) as model:
                for backend_name, backend in backends:
                    check_backend(report, f"{name} {backend_name}", model, path, state, ref,
                                  backend)
    if report.failures:
        sys.exit(f"{report.failures} parity checks failed")


if __name__ == "__main__":
    main()
