#!/usr/bin/python3
"""Editing an autoencoder's latents with a conditional flow on Fashion-MNIST (docs/flows.md):
the flow's attribute coordinates against moving along linear directions in latent space.

    latent_edit_fmnist.py [--seeds 1 2 3] [--latent 24] [--threads 0] [--out flow-results]
                          [--grid docs/images/flow_edits.png]

Per seed:
  - the "generator": an autoencoder 784-512-L-512-784 (L = --latent) fitted to the training
    images by adapt_modules_distill on Recording.from_arrays(images, images);
  - two judges: an identity embedding (an MLP trained to recognise --judge-identities
    training images under zooms and shifts, as a face-recognition network recognises people;
    its 128-d second block on unseen images) and an MLP classifier 784-256-128-10;
  - identities: --identities training images, each seen --views times under random zooms
    and shifts (image_attributes.py), encoded; their attributes (ink, width, height, slant)
    measured on the decoded images and standardised;
  - four editors: InterFaceGAN-style linear directions (least squares of each attribute on
    the latent; "linear" moves along one attribute's direction, "conditional" takes the
    smallest move whose predicted change leaves the other attributes as they are); the flow
    trained with the attribute prior alone ("flow"); and with the identity loss too
    ("flow+identity").
Each of --test test images is edited per attribute towards its measured value + strength *
delta, delta in {-2, -1, 1, 2} standard deviations, and decoded again: at strength 1 (what
the editor promises: "nominal") and at the strength that gives a mean change of delta on
training latents ("calibrated", at most 4, so editors are compared at the same change).
Only edits whose target value lies inside the training attributes' 1st-99th percentiles
count. Reported per editor, attribute and delta: success (the measured attribute moved at
least half way: (a' - a) / delta >= 0.5), the mean of (a' - a) / delta, the mean absolute
change of the other attributes (in standard deviations), the identity change (cosine
distance of the embeddings of the decoded images before and after) and how often the
classifier's class is kept. One JSON line per seed goes to OUT/results.jsonl
(summarize_flows.py makes the tables); the first seed draws the grid of edited images.
"""
import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bindings" / "python"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "common"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
import libadapt as ad  # noqa: E402
from fmnist import append_runs, load_fmnist  # noqa: E402
from image_attributes import NAMES, attributes, identities  # noqa: E402

ENCODER_BLOCKS = 3  # linear 512, relu, linear L
DELTAS = [-2.0, -1.0, 1.0, 2.0]
EDITORS = ["linear", "conditional", "flow", "flow+identity"]
EPOCH_ENDS = ad.ProgressPrinter(every=10 ** 9)  # a line per epoch
MAX_STRENGTH = 4.0


def autoencoder(x, args, seed):
    ae = ad.Model.sequential([784], [
        dict(kind="linear", out_features=512), dict(kind="relu"),
        dict(kind="linear", out_features=args.latent),
        dict(kind="linear", out_features=512), dict(kind="relu"),
        dict(kind="linear", out_features=784)], seed=seed)
    ad.distill([ae], [ad.Recording.from_arrays(x, x)], epochs=args.ae_epochs, batch_size=128,
               optimizer="adamw", learning_rate=1e-3, schedule="cosine", seed=seed,
               n_threads=args.threads, progress=EPOCH_ENDS)
    return ae


def classifier(x, y, args, seed):
    model = ad.Model.mlp([784, 256, 128, 10], seed=seed)
    model.train((x, y), epochs=args.classifier_epochs, batch_size=64, optimizer="sgd",
                learning_rate=0.05, momentum=0.9, seed=seed, n_threads=args.threads)
    return model


def identity_net(x, args, rng, seed):
    """A recogniser of instances, as a face-recognition network is of people: an MLP
    784-512-128-K classifying K training images under zooms and shifts; the output of its
    second block (128) is the identity embedding, used on images it never saw."""
    chosen = rng.choice(len(x), size=args.judge_identities, replace=False)
    views, ids = identities(x[chosen], 16, rng)
    model = ad.Model.mlp([784, 512, 128, args.judge_identities], seed=seed)
    model.train((views, ids), epochs=8, batch_size=128, optimizer="adamw",
                learning_rate=1e-3, seed=seed, n_threads=args.threads, progress=EPOCH_ENDS)
    return model


class Generator:
    """The autoencoder's halves, and the judges of what it draws: the identity embedding and
    the classifier."""

    def __init__(self, ae, recogniser, classes, args):
        self.ae, self.recogniser, self.classifier = ae, recogniser, classes
        self.threads = args.threads

    def _run(self, model, x, **blocks):
        with ad.Context(n_threads=self.threads) as ctx:
            return np.concatenate([model.forward(ctx, x[i:i + 2048], **blocks)
                                   for i in range(0, len(x), 2048)])

    def encode(self, images):
        return self._run(self.ae, images, last=ENCODER_BLOCKS)

    def decode(self, w):
        return np.clip(self._run(self.ae, w, first=ENCODER_BLOCKS), 0, 1)

    def embed(self, images):
        return self._run(self.recogniser, images, last=2)

    def classes(self, images):
        return self._run(self.classifier, images).argmax(1)


def fit_flow(w, values, ids, identity_weight, args, seed):
    flow = ad.Flow(w.shape[1], couplings=args.couplings, hidden=128, blocks=2, seed=seed)
    flow.train(w, values, identities=ids, sigma=0.7, sigma_decay=0.95,
               identity_weight=identity_weight, identity_warmup=10, epochs=args.flow_epochs,
               batch_size=args.flow_batch, optimizer="adamw", learning_rate=1e-3,
               grad_clip_norm=1.0, seed=seed, n_threads=args.threads,
               progress=EPOCH_ENDS)
    return flow


class Editors:
    """Each editor maps latents w, attribute j and targets t (standardised) to edited w."""

    def __init__(self, w, values, flows):
        design = np.hstack([w, np.ones((len(w), 1))])
        fit = np.linalg.lstsq(design, values, rcond=None)[0]
        self.beta, self.intercept = fit[:-1].T, fit[-1]  # [attributes, L], [attributes]
        self.pinv, self.flows = np.linalg.pinv(self.beta), flows

    def r2(self, w, values):
        """How much of each attribute the linear fit explains on (w, values)."""
        residual = values - (w @ self.beta.T + self.intercept)
        return (1 - (residual ** 2).mean(0) / values.var(0)).tolist()

    def edit(self, editor, w, j, now, target):
        if editor in self.flows:
            return self.flows[editor].edit(w, [j], target[:, None])
        delta = (target - now)[:, None]
        if editor == "linear":
            return w + delta * self.beta[j] / (self.beta[j] @ self.beta[j])
        return w + delta * self.pinv[:, j]  # conditional: B @ move = delta e_j


def cosine_distance(a, b):
    a = a / (np.linalg.norm(a, axis=1, keepdims=True) + 1e-9)
    b = b / (np.linalg.norm(b, axis=1, keepdims=True) + 1e-9)
    return 1.0 - (a * b).sum(1)


class Latents:
    """Latents w and what their decoded images are: standardised attributes, identity
    embeddings, classes."""

    def __init__(self, gen, w, scale):
        images = gen.decode(w)
        self.w, self.values = w, scale(attributes(images))
        self.embedding, self.classes = gen.embed(images), gen.classes(images)


def edited(gen, editors, scale, start, editor, j, delta, strength):
    """start's latents edited towards attribute j + strength * delta, and their images'
    standardised attributes and images."""
    now = start.values[:, j]
    moved = editors.edit(editor, start.w, j, now, now + strength * delta)
    images = gen.decode(moved)
    return scale(attributes(images)), images


def reachable(start, j, delta, bounds):
    """The rows whose target value of attribute j lies inside the training data's range (1st
    to 99th percentile): an edit towards a value no image has is not asked for."""
    target = start.values[:, j] + delta
    return (target >= bounds[0, j]) & (target <= bounds[1, j])


def calibrated_strength(gen, editors, scale, start, editor, j, delta, bounds):
    """The strength at which the edit's mean achieved change of attribute j is delta on the
    reachable rows of `start` (bisection; capped at MAX_STRENGTH): editors compared at the
    same change."""
    rows = reachable(start, j, delta, bounds)

    def achieved(strength):
        values, _ = edited(gen, editors, scale, start, editor, j, delta, strength)
        return float(((values[rows, j] - start.values[rows, j]) / delta).mean())

    lo, hi = 0.0, 1.0
    while achieved(hi) < 1.0 and hi < MAX_STRENGTH:
        lo, hi = hi, min(2 * hi, MAX_STRENGTH)
    if achieved(hi) < 1.0:
        return hi
    for _ in range(7):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if achieved(mid) < 1.0 else (lo, mid)
    return 0.5 * (lo + hi)


def outcome(gen, editors, scale, start, editor, j, delta, strength, bounds):
    """The figures of the module docstring for one edit of the reachable rows of `start`."""
    values, images = edited(gen, editors, scale, start, editor, j, delta, strength)
    rows = reachable(start, j, delta, bounds)
    achieved = (values[rows, j] - start.values[rows, j]) / delta
    others = np.abs(np.delete(values[rows] - start.values[rows], j, axis=1)).mean(1)
    identity = cosine_distance(gen.embed(images[rows]), start.embedding[rows])
    return {"rows": int(rows.sum()), "success": float((achieved >= 0.5).mean()),
            "achieved": float(achieved.mean()), "others": float(others.mean()),
            "identity": float(identity.mean()),
            "class_kept": float((gen.classes(images[rows]) == start.classes[rows]).mean())}


def measure(gen, editors, scale, test, calibration, bounds):
    """Per editor, attribute and delta: the figures at the editor's own strength (nominal)
    and at the strength calibrated on training latents."""
    table = []
    for editor in EDITORS:
        for j, name in enumerate(NAMES):
            for delta in DELTAS:
                strength = calibrated_strength(gen, editors, scale, calibration, editor, j,
                                               delta, bounds)
                table.append({"editor": editor, "attribute": name, "delta": delta,
                              "strength": strength,
                              "nominal": outcome(gen, editors, scale, test, editor, j, delta,
                                                 1.0, bounds),
                              "calibrated": outcome(gen, editors, scale, test, editor, j,
                                                    delta, strength, bounds)})
    return table


def reference_distances(gen, test_x, test_y, rng):
    """The identity embedding's scale on test images: cosine distance between two views of
    one image, and between two images of the same class and of different classes."""
    views, _ = identities(test_x[:1000], 2, rng)
    same_identity = cosine_distance(gen.embed(views[0::2]), gen.embed(views[1::2]))
    pairs = rng.integers(0, len(test_x), size=(4000, 2))
    pairs = pairs[pairs[:, 0] != pairs[:, 1]]
    d = cosine_distance(gen.embed(test_x[pairs[:, 0]]), gen.embed(test_x[pairs[:, 1]]))
    same = test_y[pairs[:, 0]] == test_y[pairs[:, 1]]
    return {"same_identity": float(same_identity.mean()), "same_class": float(d[same].mean()),
            "other_class": float(d[~same].mean())}


def code_correlations(flow, w, values):
    """Correlation of each attribute coordinate of z = f(w) with the attribute."""
    with ad.Context() as ctx:
        z, _ = flow.forward(ctx, w)
    return [float(np.corrcoef(z[:, j], values[:, j])[0, 1]) for j in range(values.shape[1])]


def run(seed, data, args):
    train_x, train_y, test_x, test_y = data
    rng = np.random.default_rng(seed)
    started = time.time()
    gen = Generator(autoencoder(train_x, args, seed), identity_net(train_x, args, rng, seed),
                    classifier(train_x, train_y, args, seed), args)
    chosen = rng.choice(len(train_x), size=args.identities, replace=False)
    views_x, ids = identities(train_x[chosen], args.views, rng)
    w = gen.encode(views_x)
    raw = attributes(gen.decode(w))
    mean, std = raw.mean(0), raw.std(0)

    def scale(values):
        return ((values - mean) / std).astype(np.float32)

    values = scale(raw)
    bounds = np.percentile(values, [1, 99], axis=0)
    flows = {"flow": fit_flow(w, values, ids, 0.0, args, seed),
             "flow+identity": fit_flow(w, values, ids, args.identity_weight, args, seed)}
    editors = Editors(w, values, flows)
    calibration = Latents(gen, w[::args.views][:args.test], scale)  # one view per identity
    picked = rng.choice(len(test_x), size=args.test, replace=False)
    test = Latents(gen, gen.encode(test_x[picked]), scale)
    reconstruction = float(((gen.decode(test.w) - test_x[picked]) ** 2).mean())
    result = {"seed": seed, "latent": args.latent, "reconstruction_mse": reconstruction,
              "attribute_mean": mean.tolist(), "attribute_std": std.tolist(),
              "code_correlation": {name: code_correlations(flow, test.w, test.values)
                                   for name, flow in flows.items()},
              "linear_r2": editors.r2(test.w, test.values),
              "embedding": reference_distances(gen, test_x, test_y, rng),
              "edits": measure(gen, editors, scale, test, calibration, bounds)}
    if args.grid and seed == args.seeds[0]:
        draw_grid(gen, editors, test_x[picked[:6]], test, args.grid)
    result["seconds"] = time.time() - started
    print(f"seed {seed}: reconstruction mse {reconstruction:.4f}, "
          f"{result['seconds']:.0f} s", flush=True)
    return result


def draw_grid(gen, editors, originals, test, path):
    """Rows: the first test images; per editor shown, the image, its decoding, then each
    attribute asked to move by -2 and +2 standard deviations (nominal strength)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    shown, rows = ["conditional", "flow+identity"], len(originals)
    columns = 2 + 2 * len(NAMES)
    fig, axes = plt.subplots(rows, columns * len(shown),
                             figsize=(0.9 * columns * len(shown), 1.0 * rows + 0.7))
    w, values = test.w[:rows], test.values[:rows]
    for p, editor in enumerate(shown):
        cells, titles = [originals, gen.decode(w)], ["image", "decoded"]
        for j, name in enumerate(NAMES):
            for delta in (-2.0, 2.0):
                target = values[:, j] + delta
                cells.append(gen.decode(editors.edit(editor, w, j, values[:, j], target)))
                titles.append(f"{name} {delta:+.0f}")
        for c, (cell, title) in enumerate(zip(cells, titles)):
            for r in range(rows):
                ax = axes[r, p * columns + c]
                ax.imshow(cell[r].reshape(28, 28), cmap="gray_r", vmin=0, vmax=1)
                ax.set_xticks([]), ax.set_yticks([])
                if r == 0:
                    ax.set_title(title, fontsize=7)
        axes[rows // 2, p * columns].set_ylabel(editor, fontsize=9)
    fig.suptitle("Attribute edits of test images by \u00b12 standard deviations: conditional "
                 "linear directions (left), flow with the identity loss (right)", fontsize=9)
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    print(f"wrote {path}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--latent", type=int, default=24)
    parser.add_argument("--ae-epochs", type=int, default=30)
    parser.add_argument("--classifier-epochs", type=int, default=5)
    parser.add_argument("--judge-identities", type=int, default=2000,
                        help="training images the identity embedding learns to recognise")
    parser.add_argument("--identities", type=int, default=4000)
    parser.add_argument("--views", type=int, default=8)
    parser.add_argument("--couplings", type=int, default=8)
    parser.add_argument("--flow-epochs", type=int, default=40)
    parser.add_argument("--flow-batch", type=int, default=32, help="identities per batch")
    parser.add_argument("--identity-weight", type=float, default=5.0)
    parser.add_argument("--test", type=int, default=1000)
    parser.add_argument("--limit", type=int, default=0, help="training images (0: all)")
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--out", default="flow-results")
    parser.add_argument("--grid", default="", help="PNG of edited images (first seed)")
    args = parser.parse_args()
    train_x, train_y, test_x, test_y = load_fmnist()
    if args.limit:
        train_x, train_y = train_x[:args.limit], train_y[:args.limit]
    append_runs(run, args.seeds, (train_x, train_y, test_x, test_y), args)


if __name__ == "__main__":
    main()
