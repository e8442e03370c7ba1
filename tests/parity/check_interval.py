#!/usr/bin/env python3
"""Interval bound propagation of libadapt against an IBP written here in PyTorch.

For an MLP (784-64-32-10) and a CNN (conv 8 4x4 stride 2, ReLU, conv 16 4x4, ReLU, max pool,
flatten, linear 32, ReLU, linear 10) on 28x28 inputs in [0, 1], the PyTorch model gets the
libadapt model's weights, and for boxes of radius 0.001, 0.01, 0.05 and 0.1 around random
images labelled by the model's own predictions

  - the bounds: PyTorch's centre-radius IBP (mu = W c + b, r = |W| r, monotone layers on each
    bound) must lie inside libadapt's, which are wider only by their rounding allowance
    (at most 2 % of the box's width plus 1e-2 here);
  - the samples certified: every one libadapt certifies PyTorch certifies too, and at most 5 %
    more are certified by PyTorch;
  - IBP training's loss, kappa CE(clean) + (1 - kappa) CE(worst-case logits) (relative error
    at most 1e-2), and the gradient of every parameter (at most 8e-2: see GRAD_LIMIT).

usage: PYTHONPATH=bindings/python [ADAPT_LIBRARY=path/to/libadapt.so] check_interval.py
Exit status 0 when everything matches, 1 on a mismatch, 77 (skipped) without numpy or torch.
"""
import sys

try:
    import numpy as np
    import torch
    import torch.nn.functional as F
except ImportError:
    sys.exit(77)

import libadapt as ad

KAPPA = 0.5
BATCH = 64
# libadapt's bounds are wider by their rounding allowance, 4 (K + 2) 2^-24 times each sum's
# magnitude: about 7e-3 on the logits of the MLP, whose first layer sums 784 products. Where
# the box is narrow that is a few percent of its width, and the gradients of the worst-case
# loss move by as much.
GRAD_LIMIT = 8e-2
failures = []


def check(what, ok, detail):
    print(f"{'ok  ' if ok else 'FAIL'} {what}: {detail}")
    if not ok:
        failures.append(what)


def mlp():
    m = ad.Model.sequential([1, 28, 28], seed=1)
    m.append("linear", out_features=64).append("relu")
    return m.append("linear", out_features=32).append("relu").append("linear", out_features=10)


def cnn():
    m = ad.Model.sequential([1, 28, 28], seed=2)
    m.append("conv2d", out_features=8, kernel=4, stride=2).append("relu")
    m.append("conv2d", out_features=16, kernel=4).append("relu")
    m.append("maxpool2d", kernel=2, stride=2).append("flatten")
    return m.append("linear", out_features=32).append("relu").append("linear", out_features=10)


def torch_layers(model):
    """The model's layers as (kind, params, fields) with its weights as torch tensors."""
    params = {k: torch.tensor(v.numpy(), requires_grad=True)
              for k, v in model.parameters().items()}
    layers = []
    for i, block in enumerate(model.blocks):
        kind = block.kind.name.lower()
        layers.append((kind, params.get(f"{i}.weight"), params.get(f"{i}.bias")))
    return layers, params


def ibp(layers, x, lo, hi, conv_fields):
    """PyTorch IBP: (clean logits, lower bounds, upper bounds)."""
    for kind, w, b in layers:
        if kind in ("linear", "conv2d"):
            if kind == "linear":
                x, lo, hi = (t.flatten(1) for t in (x, lo, hi))
                affine = lambda t, w_, b_: F.linear(t, w_, b_)  # noqa: E731
            else:
                stride = conv_fields.pop(0)
                affine = lambda t, w_, b_, s=stride: F.conv2d(t, w_, b_, stride=s)  # noqa: E731
            c, r = (hi + lo) / 2, (hi - lo) / 2
            mu, rad = affine(c, w, b), affine(r, w.abs(), None)
            x, lo, hi = affine(x, w, b), mu - rad, mu + rad
        elif kind == "relu":
            x, lo, hi = F.relu(x), F.relu(lo), F.relu(hi)
        elif kind == "maxpool2d":
            x, lo, hi = (F.max_pool2d(t, 2, 2) for t in (x, lo, hi))
        elif kind == "flatten":
            x, lo, hi = (t.flatten(1) for t in (x, lo, hi))
    return x, lo, hi


def worst_case(lo, hi, labels):
    onehot = F.one_hot(labels, lo.shape[1]).bool()
    return torch.where(onehot, lo, hi)


def compare(name, model, conv_strides, rng):
    ctx = ad.Context(n_threads=2)
    layers, params = torch_layers(model)
    x = rng.uniform(0, 1, size=(BATCH, 1, 28, 28)).astype(np.float32)
    labels = np.argmax(model.forward(ctx, x), axis=1)  # clean accuracy 1: some certify
    for eps in (0.001, 0.01, 0.05, 0.1):
        lo, hi = np.clip(x - eps, 0, 1), np.clip(x + eps, 0, 1)
        y_lo, y_mid, y_hi = ad.forward_interval(model, ctx, lo, hi, mid=x)
        with torch.no_grad():
            t_mid, t_lo, t_hi = (t.numpy() for t in ibp(
                layers, torch.tensor(x), torch.tensor(lo), torch.tensor(hi), list(conv_strides)))
        width = t_hi - t_lo
        allowance = 0.02 * width + 1e-2
        inside = np.all(y_lo <= t_lo + 1e-5) and np.all(y_hi >= t_hi - 1e-5)
        tight = np.all(t_lo - y_lo <= allowance) and np.all(y_hi - t_hi <= allowance)
        check(f"{name} eps {eps} bounds", inside and tight,
              f"lib - torch: lo {np.max(t_lo - y_lo):.2e}, hi {np.max(y_hi - t_hi):.2e}, "
              f"widths up to {width.max():.3g}")
        check(f"{name} eps {eps} clean logits", np.allclose(y_mid, t_mid, atol=1e-4),
              f"max diff {np.max(np.abs(y_mid - t_mid)):.2e}")
        pred_lib = np.array([certified(y_lo[i], y_hi[i], labels[i]) for i in range(BATCH)])
        pred_torch = np.array([certified(t_lo[i], t_hi[i], labels[i]) for i in range(BATCH)])
        check(f"{name} eps {eps} certified", not np.any(pred_lib & ~pred_torch)
              and pred_torch.sum() - pred_lib.sum() <= 0.05 * BATCH,
              f"libadapt {pred_lib.sum()}, PyTorch {pred_torch.sum()} of {BATCH}")
        check_training_step(name, eps, model, layers, params, x, labels, conv_strides)


def certified(lo, hi, label):
    return all(lo[label] > hi[j] for j in range(len(lo)) if j != label)


def check_training_step(name, eps, model, layers, params, x, labels, conv_strides):
    lo, hi = np.clip(x - eps, 0, 1), np.clip(x + eps, 0, 1)
    ctx = ad.Context(n_threads=1, grad=True)
    for p in model.parameters().values():
        p.zero_grad()
    y_lo, y_mid, y_hi = ad.forward_interval(model, ctx, lo, hi, mid=x, as_tensor=True)
    clean = ad.ops.cross_entropy(ctx, y_mid, labels)
    robust = ad.ops.cross_entropy(ctx, ad.worst_case_logits(ctx, y_lo, y_hi, labels), labels)
    loss = ad.ops.add(ctx, ad.ops.scale(ctx, clean, KAPPA), ad.ops.scale(ctx, robust, 1 - KAPPA))
    ad.backward(loss)
    for t in params.values():
        t.grad = None
    t_mid, t_lo, t_hi = ibp(layers, torch.tensor(x), torch.tensor(lo), torch.tensor(hi),
                            list(conv_strides))
    t_labels = torch.tensor(labels)
    t_loss = KAPPA * F.cross_entropy(t_mid, t_labels) + (1 - KAPPA) * F.cross_entropy(
        worst_case(t_lo, t_hi, t_labels), t_labels)
    t_loss.backward()
    lib_loss = float(loss.numpy())
    check(f"{name} eps {eps} IBP loss", abs(lib_loss - t_loss.item()) <= 1e-2 * abs(t_loss.item()),
          f"{lib_loss:.6f} vs {t_loss.item():.6f}")
    worst = 0.0
    for key, p in model.parameters().items():
        want = params[key].grad.numpy()
        err = np.linalg.norm(p.grad - want) / max(np.linalg.norm(want), 1e-12)
        worst = max(worst, err)
    check(f"{name} eps {eps} IBP gradients", worst <= GRAD_LIMIT,
          f"worst relative error {worst:.2e}")


def main():
    rng = np.random.default_rng(7)
    torch.manual_seed(0)
    compare("mlp", mlp(), [], rng)
    compare("cnn", cnn(), [2, 1], rng)
    print(f"{len(failures)} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
