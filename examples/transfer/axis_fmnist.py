#!/usr/bin/python3
"""Multi-source transfer on Fashion-MNIST (docs/transfer.md): a base MLP, sixteen models
fine-tuned from it on other tasks, and a held-out target task with few labels, reached by
fine-tuning, by merging (task arithmetic, TIES, AXIS) and by AXIS's singular-value
fine-tuning against LoRA.

    axis_fmnist.py [--seeds 1 2 3] [--labels 20] [--sizes 784 256 10] [--threads 0]
                   [--out transfer-results]

Per seed:
  - base: an MLP (default 784-256-10) trained 3 epochs on 20 000 training images;
  - sources (16), each the base fine-tuned 2 epochs on 6000 other training images of its task:
    five pairs of classes (the others' images left out), rotations by 15, 30, 60, 90 and 180
    degrees, Gaussian noise of std 0.2 and 0.4, the inverted and the blurred (3 x 3 mean)
    images, and two relabellings (every label shifted by one; a random permutation of them).
  - target: the images rotated by 45 degrees (a domain no source saw), `--labels` training
    images per class, tested on the 10 000 rotated test images.
Methods on the target: the base as it is; full fine-tuning of the base; task arithmetic
(scale 0.3), TIES (density 0.2) and the AXIS merge (10 % of each layer's rank) as they are;
AXIS singular-value fine-tuning (K = 10 % of each layer's rank pooled, N = 10/20/40 % of them
trainable, and K = 50 %, N = 40 %; SVD or zero start; re-orthogonalised or pooled basis); LoRA
of rank 1 on the base. Robustness of singular-value fine-tuning (N = 20 %): one source's task
vector replaced by Gaussian noise of 0.5 its Frobenius norm; every task vector pruned to its
10 % largest entries; the relabelled sources left out; and test images with a random 10 x 10
patch masked, for every fine-tuned model. Against the number of sources (1, 2, 4 and 8 drawn
at random per seed among the 14 with true labels, those 14, all 16): the AXIS merge and
singular-value fine-tuning at K = 50 %, N = 40 %. Appends one JSON line per seed to
OUT/results.jsonl; summarize_transfer.py makes the tables.
"""
import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bindings" / "python"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "common"))
import libadapt as ad  # noqa: E402
from fmnist import append_runs, load_fmnist  # noqa: E402

SOURCE_LR = 0.01  # fine-tuning stays near the base, as merging assumes



def rotate(x, degrees):
    from scipy.ndimage import rotate as turn
    return turn(x.reshape(-1, 28, 28), degrees, axes=(1, 2), reshape=False,
                order=1).clip(0, 1).reshape(len(x), -1).astype(np.float32)


def blur(x):
    from scipy.ndimage import uniform_filter
    return uniform_filter(x.reshape(-1, 28, 28), size=(1, 3, 3)).reshape(len(x), -1)


def source_tasks(rng):
    """(name, transform of (x, y)) of the sixteen source tasks."""
    tasks = []
    for a in range(0, 10, 2):
        tasks.append((f"classes {a},{a + 1}",
                      lambda x, y, a=a: (x[(y == a) | (y == a + 1)], y[(y == a) | (y == a + 1)])))
    for degrees in (15, 30, 60, 90, 180):
        tasks.append((f"rotate {degrees}", lambda x, y, d=degrees: (rotate(x, d), y)))
    for std in (0.2, 0.4):
        tasks.append((f"noise {std}", lambda x, y, s=std: (
            np.clip(x + rng.normal(0, s, size=x.shape), 0, 1).astype(np.float32), y)))
    tasks.append(("inverted", lambda x, y: (1.0 - x, y)))
    tasks.append(("blur", lambda x, y: (blur(x).astype(np.float32), y)))
    tasks.append(("relabel shift", lambda x, y: (x, (y + 1) % 10)))
    permutation = rng.permutation(10)
    tasks.append(("relabel permute", lambda x, y: (x, permutation[y])))
    return tasks


RELABELLED = 2  # the last two source tasks


def copy_of(model):
    weights = [p.data.shape for name, p in model.parameters().items() if p.data.ndim == 2]
    twin = ad.Model.mlp([weights[0][1]] + [shape[0] for shape in weights])
    twin.load_state_dict(model.state_dict())
    return twin


def train(model, x, y, epochs, args, seed, lr=0.05):
    model.train((x, y), epochs=epochs, batch_size=64, optimizer="sgd", learning_rate=lr,
                momentum=0.9, seed=seed, n_threads=args.threads)


def accuracy(model, x, y, args):
    return float(np.mean(model.predict(x, n_threads=args.threads).argmax(axis=1) == y))


def trainable(model, suffixes):
    """Values of the parameters whose names end in one of `suffixes` ("" for all)."""
    return int(sum(p.data.size for name, p in model.parameters().items()
                   if any(name.endswith(s) for s in suffixes)))


def masked(x, rng):
    out = x.reshape(-1, 28, 28).copy()
    for img in out:
        r, c = rng.integers(0, 19, size=2)
        img[r:r + 10, c:c + 10] = 0.0
    return out.reshape(len(x), -1)


def make_sources(base, pool_x, pool_y, rng, args, seed):
    sources = []
    for i, (name, task) in enumerate(source_tasks(rng)):
        pick = rng.choice(len(pool_x), size=6000, replace=False)
        x, y = task(pool_x[pick], pool_y[pick])
        source = copy_of(base)
        train(source, x, y, 2, args, seed + i, lr=SOURCE_LR)
        sources.append(source)
        print(f"  source {i:2d} {name:12s} {len(x):5d} images", flush=True)
    return sources


def noisy(sources, base, rng):
    """The sources with the first one's task vector replaced by Gaussian noise of half its
    Frobenius norm."""
    fake = copy_of(base)
    for (name, p), b, s in zip(fake.parameters().items(), base.parameters().values(),
                               sources[0].parameters().values()):
        delta = s.data - b.data
        noise = rng.normal(size=delta.shape)
        p.data[...] = b.data + 0.5 * np.linalg.norm(delta) * noise / np.linalg.norm(noise)
    return [fake] + sources[1:]


def pruned(sources, base):
    """Every task vector cut to its 10 % largest entries, per parameter."""
    out = []
    for s in sources:
        m = copy_of(s)
        for p, b in zip(m.parameters().values(), base.parameters().values()):
            delta = p.data - b.data
            cut = np.quantile(np.abs(delta), 0.9)
            p.data[...] = b.data + np.where(np.abs(delta) >= cut, delta, 0.0)
        out.append(m)
    return out


def run(seed, data, args):
    train_x, train_y, test_x, test_y = data
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(train_x))
    base_idx, pool_idx, target_idx = order[:20000], order[20000:50000], order[50000:]
    base = ad.Model.mlp(args.sizes, seed=seed)
    train(base, train_x[base_idx], train_y[base_idx], 3, args, seed)
    sources = make_sources(base, train_x[pool_idx], train_y[pool_idx], rng, args, seed * 100)
    few = np.concatenate([target_idx[train_y[target_idx] == c][:args.labels]
                          for c in range(10)])
    tx, ty = rotate(train_x[few], 45), train_y[few]
    vx, vy = rotate(test_x, 45), test_y
    mx = masked(vx, rng)
    row = {"seed": seed, "labels_per_class": args.labels, "sizes": args.sizes, "methods": {}}

    def record(name, model, suffixes=(), seconds=None):
        row["methods"][name] = {"accuracy": accuracy(model, vx, vy, args),
                                "masked": accuracy(model, mx, vy, args),
                                "trainable": trainable(model, suffixes), "seconds": seconds}
        print(f"  {name:40s} {100 * row['methods'][name]['accuracy']:6.2f} %", flush=True)

    record("base", base)
    full = copy_of(base)
    train(full, tx, ty, 30, args, seed, lr=0.01)
    record("full fine-tuning", full, ("",))
    for method, settings in (("task_arithmetic", {"scale": 0.3}), ("ties", {"density": 0.2}),
                             ("axis", {"keep_fraction": 0.1})):
        merged = copy_of(base)
        ad.merge_models(merged, base, sources, method, **settings)
        record(f"merge: {method}", merged)

    def tuned(name, pool, **settings):
        model = copy_of(base)
        start = time.perf_counter()
        ad.low_rank_tune(model, base, pool, **settings)
        seconds = time.perf_counter() - start
        lora = settings.get("method") == "lora"
        train(model, tx, ty, 30, args, seed, lr=0.01 if lora else 0.05)
        record(name, model, (".left", ".right") if lora else (".scales",), seconds)

    for fraction in (0.1, 0.2, 0.4):
        tuned(f"singular values N {int(100 * fraction)} %", sources,
              trainable_fraction=fraction)
    tuned("singular values K 50 %, N 40 %", sources, keep_fraction=0.5, trainable_fraction=0.4)
    tuned("singular values N 20 %, zero start", sources, trainable_fraction=0.2, zero_init=True)
    tuned("singular values N 20 %, pooled basis", sources, trainable_fraction=0.2,
          keep_pooled_basis=True)
    tuned("LoRA rank 1", [], method="lora", rank=1, alpha=1.0)
    tuned("singular values N 20 %, one noise source", noisy(sources, base, rng),
          trainable_fraction=0.2)
    tuned("singular values N 20 %, pruned sources", pruned(sources, base),
          trainable_fraction=0.2)
    tuned("singular values N 20 %, relabelled sources left out", sources[:-RELABELLED],
          trainable_fraction=0.2)
    row["by_sources"] = by_sources(base, sources, (tx, ty), (vx, vy), rng, args, seed)
    return row


def by_sources(base, sources, target, test, rng, args, seed):
    """Accuracy of the AXIS merge and of singular-value fine-tuning (K = 50 %, N = 40 %) from
    random subsets of 1, 2, 4 and 8 of the sources with true labels, from all of them, and
    from all sources, with the fine-tuning's preparation and training times."""
    labelled = len(sources) - RELABELLED
    out = {}
    for n in (1, 2, 4, 8, labelled, len(sources)):
        pick = rng.choice(labelled, size=n, replace=False) if n <= labelled else range(n)
        subset = [sources[i] for i in sorted(pick)]
        merged = copy_of(base)
        ad.merge_models(merged, base, subset, "axis", keep_fraction=0.1)
        model = copy_of(base)
        start = time.perf_counter()
        ad.low_rank_tune(model, base, subset, keep_fraction=0.5, trainable_fraction=0.4)
        prepared = time.perf_counter()
        train(model, *target, 30, args, seed, lr=0.05)
        out[n] = {"merge": accuracy(merged, *test, args), "tuned": accuracy(model, *test, args),
                  "prepare_seconds": prepared - start,
                  "train_seconds": time.perf_counter() - prepared}
        print(f"  {n:2d} sources: merge {100 * out[n]['merge']:6.2f} %, "
              f"singular values {100 * out[n]['tuned']:6.2f} % "
              f"(prepared in {out[n]['prepare_seconds']:.2f} s, "
              f"trained in {out[n]['train_seconds']:.2f} s)", flush=True)
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--labels", type=int, default=20)
    parser.add_argument("--sizes", type=int, nargs="+", default=[784, 256, 10])
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--out", default="transfer-results")
    args = parser.parse_args()
    append_runs(run, args.seeds, load_fmnist(), args)


if __name__ == "__main__":
    main()
