#!/usr/bin/python3
"""SLOVA on Fashion-MNIST (docs/slova.md): in-distribution calibration, calibration under
dataset shift, and out-of-distribution detection against the usual scores of a softmax model
of the same architecture.

    slova_fmnist.py [--seeds 1 2 3] [--epochs 10] [--threads 0] [--out slova-results]

Trains, per seed and architecture (an MLP 784-256-256 and the small CNN of the IBP example),
one model on the softmax cross-entropy and one on SLOVA's one-vs-all loss, on the eight
Fashion-MNIST classes 0-7 (5000 training images held out for validation). Then on the test
images of those classes:
  - accuracy, ECE (15 bins), NLL and Brier score: the softmax model raw and with temperature
    scaling fitted on the validation logits, the SLOVA model's single-label probabilities q
    raw and with exponential calibration ((max q)^alpha) fitted on the validation logits;
and against each out-of-distribution set:
  - held-out: the test images of classes 8 and 9 (bag, ankle boot);
  - digits: scikit-learn's 1797 8 x 8 digits, each pixel repeated 3 x 3 into 24 x 24 and
    padded to 28 x 28, as MNIST centres its digits;
  - gaussian, uniform: 2000 images of noise, N(mean, std of the training pixels) clipped
    to [0, 1], and U[0, 1];
  - inverted: 1 - x of the in-distribution test images;
AUROC and FPR at 95 % TPR (in-distribution positive) of: the softmax model's maximum
probability (MSP), maximum logit, energy (logsumexp of the logits) and ODIN-style temperature
(MSP of logits / 1000, without input perturbation); the SLOVA model's max q. Under shift: the
in-distribution test images rotated by 15-90 degrees, or with Gaussian noise of std 0.1-0.5
added (clipped to [0, 1]), accuracy and ECE of the same four calibrations.
Appends one JSON line per model to OUT/results.jsonl; summarize_slova.py makes the tables.
"""
import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bindings" / "python"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "common"))
import libadapt as ad  # noqa: E402
from fmnist import load_fmnist, results_file  # noqa: E402

IN_CLASSES = 8
ODIN_TEMPERATURE = 1000.0


def digits_28():
    """scikit-learn's 8 x 8 digits in [0, 1], 3 x 3 per pixel, padded to 28 x 28."""
    from sklearn.datasets import load_digits
    images = load_digits().images / 16.0
    big = np.repeat(np.repeat(images, 3, axis=1), 3, axis=2)
    return np.pad(big, ((0, 0), (2, 2), (2, 2)))[:, None].astype(np.float32)


def ood_sets(train_x, test_x, test_y, rng):
    inside = test_x[test_y < IN_CLASSES]
    mean, std = float(train_x.mean()), float(train_x.std())
    shape = (2000, 1, 28, 28)
    return {
        "held-out": test_x[test_y >= IN_CLASSES],
        "digits": digits_28(),
        "gaussian": np.clip(rng.normal(mean, std, size=shape), 0, 1).astype(np.float32),
        "uniform": rng.uniform(0, 1, size=shape).astype(np.float32),
        "inverted": (1.0 - inside).astype(np.float32),
    }


def mlp(seed):
    return ad.Model.mlp([784, 256, 256, IN_CLASSES], seed=seed)


def cnn(seed):
    m = ad.Model.sequential([1, 28, 28], seed=seed)
    m.append("conv2d", out_features=16, kernel=4, stride=2)
    m.append("relu")
    m.append("conv2d", out_features=32, kernel=4, stride=1)
    m.append("relu")
    m.append("flatten")
    m.append("linear", out_features=100)
    m.append("relu")
    m.append("linear", out_features=IN_CLASSES)
    return m


def log_softplus_sum(z):
    return np.logaddexp(0.0, z.astype(np.float64)).sum(axis=1)


def scores(logits, loss):
    """Scores that are high in distribution, by name."""
    z = logits.astype(np.float64)
    if loss == "one_vs_all":
        return {"max q": np.exp(z.max(axis=1) - log_softplus_sum(z))}
    top = z.max(axis=1)
    lse = top + np.log(np.exp(z - top[:, None]).sum(axis=1))
    t = z / ODIN_TEMPERATURE
    t_top = t.max(axis=1)
    odin = 1.0 / np.exp(t - t_top[:, None]).sum(axis=1)
    return {"MSP": np.exp(top - lse), "max logit": top, "energy": lse, "ODIN": odin}


def auroc(inside, outside):
    """Probability that an in-distribution score beats an out-of-distribution one, ties 1/2."""
    from scipy.stats import rankdata
    ranks = rankdata(np.concatenate([inside, outside]))  # ties share their mean rank
    r_in = ranks[:len(inside)].sum()
    return (r_in - len(inside) * (len(inside) + 1) / 2) / (len(inside) * len(outside))


def fpr_at_95_tpr(inside, outside):
    threshold = np.quantile(inside, 0.05, method="lower")  # keeps >= 95 % of inside
    return float(np.mean(outside >= threshold))


def calibration(scores, labels, kind):
    m = ad.compute_metrics(scores, labels, kind=kind)
    return {"accuracy": m.accuracy, "ece": m.ece, "nll": m.nll, "brier": m.brier}


ROTATIONS = [15, 30, 45, 60, 90]
NOISE = [0.1, 0.2, 0.3, 0.5]


def shifted(x, rng):
    """The shifted copies of images x [N, 1, 28, 28], by name."""
    from scipy.ndimage import rotate
    out = {f"rotation {a}": rotate(x, a, axes=(2, 3), reshape=False, order=1).clip(0, 1)
           for a in ROTATIONS}
    out.update({f"noise {s}": np.clip(x + rng.normal(0, s, size=x.shape), 0, 1)
                for s in NOISE})
    return {k: v.astype(np.float32) for k, v in out.items()}


def calibrations(model, loss, x, labels, cal, args):
    """Accuracy, ECE, NLL and Brier of the model's calibrations on images x."""
    logits = model.predict(x, n_threads=args.threads)
    if loss == "one_vs_all":
        return {"SLOVA": calibration(logits, labels, "one_vs_all"),
                "SLOVA + exponential": calibration(cal.apply(logits), labels,
                                                   "sub_probabilities")}
    return {"softmax": calibration(logits, labels, "logits"),
            "softmax + temperature": calibration(cal.apply(logits), labels, "probabilities")}


def run(arch, make, loss, seed, data, args):
    train, val, test_x, test_y, oods, shifts = data
    model = make(seed)
    model.train(train, epochs=args.epochs, batch_size=128, optimizer="adamw",
                learning_rate=1e-3, weight_decay=0.05, schedule="cosine", warmup_steps=100,
                seed=seed, n_threads=args.threads, loss=loss)
    inside = test_y < IN_CLASSES
    logits = model.predict(test_x[inside], n_threads=args.threads)
    labels = test_y[inside]
    method = "exponential" if loss == "one_vs_all" else "temperature"
    cal = ad.Calibrator.fit(model.predict(val, n_threads=args.threads), val.labels, method)
    row = {"seed": seed, "arch": arch, "loss": loss, "ood": {},
           "calibrator": {method: cal.exponent if loss == "one_vs_all" else cal.temperature},
           "calibration": calibrations(model, loss, test_x[inside], labels, cal, args),
           "shift": {name: calibrations(model, loss, x, labels, cal, args)
                     for name, x in shifts.items()}}
    s_in = scores(logits, loss)
    for name, x in oods.items():
        s_out = scores(model.predict(x, n_threads=args.threads), loss)
        row["ood"][name] = {k: {"auroc": auroc(s_in[k], s_out[k]),
                                "fpr95": fpr_at_95_tpr(s_in[k], s_out[k])} for k in s_in}
    print(json.dumps(row), flush=True)
    return row


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--out", default="slova-results")
    args = parser.parse_args()
    train_x, train_y, test_x, test_y = load_fmnist(flat=False)
    keep = train_y < IN_CLASSES
    full = ad.Dataset.from_numpy(train_x[keep], train_y[keep])
    with results_file(args.out) as out:
        for seed in args.seeds:
            train, val = full.split(5000 / len(full), seed=seed)
            rng = np.random.default_rng(seed)
            oods = ood_sets(train_x, test_x, test_y, rng)
            shifts = shifted(test_x[test_y < IN_CLASSES], rng)
            data = (train, val, test_x, test_y, oods, shifts)
            for arch, make in (("mlp", mlp), ("cnn", cnn)):
                for loss in ("cross_entropy", "one_vs_all"):
                    out.write(json.dumps(run(arch, make, loss, seed, data, args)) + "\n")
                    out.flush()


if __name__ == "__main__":
    main()
