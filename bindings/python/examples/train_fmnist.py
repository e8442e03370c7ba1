#!/usr/bin/python3
"""Train a small MLP on Fashion-MNIST and save its learning curve as a PNG.

    train_fmnist.py [--epochs 5] [--limit N] [--threads 0] [--out learning_curve.png]

Reads the IDX files of Debian's dataset-fashion-mnist package (or $FMNIST_DIR), holds out
5000 training images for validation, trains with a progress line printed by a Python
callback, reports test accuracy with a confusion matrix, and plots the training loss and
validation accuracy (matplotlib, Agg backend: no display needed).
"""
import argparse
import os
import sys
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the package beside this file
import libadapt as ad  # noqa: E402

CLASSES = ["T-shirt", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
           "Bag", "Boot"]


def load(directory, prefix):
    return ad.Dataset.load_idx(directory / f"{prefix}-images-idx3-ubyte.gz",
                               directory / f"{prefix}-labels-idx1-ubyte.gz")


def subset(dataset, limit):
    """The first `limit` samples as a dataset over numpy arrays (for quick runs)."""
    pairs = [dataset[i] for i in range(min(limit, len(dataset)))]
    return ad.Dataset.from_numpy(np.stack([x for x, _ in pairs]), [y for _, y in pairs])


class Recorder:
    """The progress callback: one updating line per step, the points of the curve."""

    def __init__(self):
        self.steps, self.losses, self.epochs, self.accuracies = [], [], [], []

    def __call__(self, p):
        self.steps.append(p.step)
        self.losses.append(p.loss)
        line = (f"\repoch {p.epoch}/{p.epochs}  step {p.step}/{p.steps}  loss {p.loss:.4f}  "
                f"{p.samples_per_second:,.0f} img/s  eta {p.eta_seconds:.0f} s")
        if p.val_accuracy is not None:
            self.epochs.append(p.epoch)
            self.accuracies.append(p.val_accuracy)
            line += f"  validation {100 * p.val_accuracy:.2f}%\n"
        print(line, end="", flush=True)


def plot(recorder, steps_per_epoch, path):
    fig, loss_axis = plt.subplots(figsize=(7, 4))
    loss_axis.plot(np.array(recorder.steps) / steps_per_epoch, recorder.losses,
                   color="tab:blue", linewidth=1)
    loss_axis.set_xlabel("epoch")
    loss_axis.set_ylabel("training loss (running mean over the epoch)", color="tab:blue")
    accuracy_axis = loss_axis.twinx()
    accuracy_axis.plot(recorder.epochs, 100 * np.array(recorder.accuracies), "o-",
                       color="tab:orange")
    accuracy_axis.set_ylabel("validation accuracy (%)", color="tab:orange")
    loss_axis.set_title("libadapt MLP on Fashion-MNIST")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--limit", type=int, default=0, help="use only N training images")
    parser.add_argument("--threads", type=int, default=0, help="0 = all cores")
    parser.add_argument("--out", default="learning_curve.png")
    args = parser.parse_args()
    directory = Path(os.environ.get("FMNIST_DIR", "/usr/share/datasets/fashion-mnist"))

    everything, test = load(directory, "train"), load(directory, "t10k")
    if args.limit:
        everything = subset(everything, args.limit)
    train, validation = everything.split(5000 / 60000, seed=1)
    model = ad.Model.mlp(sizes=[784, 256, 128, 10], dropout=0.1, seed=1)
    print(f"MLP 784-256-128-10: {model.flops / 1e6:.2f} MFLOPs per image; "
          f"{len(train)} training, {len(validation)} validation images")

    recorder = Recorder()
    started = time.perf_counter()
    model.train(train, validation, epochs=args.epochs, batch_size=128, optimizer="adamw",
                learning_rate=1e-3, weight_decay=1e-4, schedule="cosine", seed=1,
                n_threads=args.threads, progress=recorder)
    seconds = time.perf_counter() - started

    result = model.evaluate(test, n_threads=args.threads)
    print(f"test accuracy {100 * result.accuracy:.2f}% (loss {result.loss:.4f}) after "
          f"{args.epochs} epochs, {seconds:.1f} s training")
    per_class = result.confusion.diagonal() / result.confusion.sum(axis=1)
    print("per class: " + ", ".join(f"{name} {100 * a:.0f}%"
                                    for name, a in zip(CLASSES, per_class)))
    plot(recorder, recorder.steps[-1] / args.epochs, args.out)
    print(f"saved {args.out}")


if __name__ == "__main__":
    main()
