#!/usr/bin/python3
"""Hidden-state probes and two-model routing on Fashion-MNIST (docs/probes.md): a probe on a
small model's hidden states flags corrupted images, and only those go to a second model
trained for them.

    probe_fmnist.py [--seeds 1 2 3] [--noise 0.5] [--fpr 0.05] [--threads 0]
                    [--out probe-results]

Per seed:
  - A: MLP 784-256-128-10, 3 epochs of SGD on 20 000 clean training images;
  - B: MLP 784-512-256-10 trained the same way on 20 000 clean and 20 000 corrupted images
    (Gaussian noise of std --noise, clipped to [0, 1]); B', a copy of A whose last block alone
    is trained 3 more epochs on that mix (A's first two blocks frozen, so B' shares them);
  - the probe's rows: A's outputs of blocks 0 and 1 on 5000 other clean (benign, 0) and 5000
    corrupted (flagged, 1) training images; probes of every kind (prototypes, logistic, MLP)
    on each block and combined over both; the threshold set for --fpr on 2000 further clean
    images;
  - a second flagged set, detection only: classes 8 and 9 (bag, ankle boot) held out of a
    model A8 trained on classes 0-7, its probe trained on held-out training images of them.
Test stream: the 10 000 test images, a random fifth of them corrupted. Reported: each probe's
detection rate (flagged found), false-positive rate, AUROC and average precision; and the
accuracy and FLOPs per image of A alone, B alone, routing A -> B from the raw input and
A -> B' continuing from A's shared blocks. Appends one JSON line per seed to
OUT/results.jsonl; summarize_probes.py makes the tables.
"""
import argparse
import sys
from pathlib import Path

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bindings" / "python"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "common"))
import libadapt as ad  # noqa: E402
from fmnist import append_runs, load_fmnist  # noqa: E402

BLOCKS = [0, 1]



def corrupt(x, std, rng):
    return np.clip(x + rng.normal(0, std, size=x.shape), 0, 1).astype(np.float32)


def train(model, x, y, args, seed, epochs=3):
    model.train((x, y), epochs=epochs, batch_size=64, optimizer="sgd", learning_rate=0.05,
                momentum=0.9, seed=seed, n_threads=args.threads)


def detection(scores, flagged, threshold):
    """Detection rate, false-positive rate, AUROC and AP of scores for flagged (bool)."""
    hit = scores > threshold
    return {"detection": float(hit[flagged].mean()), "fpr": float(hit[~flagged].mean()),
            "auroc": float(roc_auc_score(flagged, scores)),
            "ap": float(average_precision_score(flagged, scores))}


def probes(model, benign, flagged, calibration, test_x, test_flagged, args, seed):
    """Every kind of probe on each of BLOCKS and on both, fitted on model's block outputs;
    the threshold for args.fpr on `calibration` (benign); scored on the test stream."""
    feats = ad.block_features(model, np.concatenate([benign, flagged]), BLOCKS,
                              n_threads=args.threads)
    labels = np.r_[np.zeros(len(benign)), np.ones(len(flagged))].astype(np.int32)
    calib = ad.block_features(model, calibration, BLOCKS, n_threads=args.threads)
    test = ad.block_features(model, test_x, BLOCKS, n_threads=args.threads)
    out, fitted = {}, {}
    for kind in ("prototypes", "logistic", "mlp"):
        for name, layers in [(f"block {b}", [i]) for i, b in enumerate(BLOCKS)] + \
                [("combined", list(range(len(BLOCKS))))]:
            probe = ad.Probe.fit([feats[i] for i in layers], labels, kind, seed=seed,
                                 n_threads=args.threads)
            probe.set_threshold_for_fpr([calib[i] for i in layers], args.fpr)
            out[f"{kind}, {name}"] = detection(probe.score([test[i] for i in layers]),
                                               test_flagged, probe.threshold)
            fitted[(kind, name)] = probe
    return out, fitted


def frozen_copy_with_new_head(a, x, y, args, seed):
    """B': A's weights, its first two blocks frozen, its last block trained on (x, y)."""
    b = ad.Model.mlp([784, 256, 128, 10])
    b.load_state_dict(a.state_dict())
    for name, p in b.parameters().items():
        p.set_requires_grad(name.startswith("4."))
    train(b, x, y, args, seed)
    return b


def routing(a, b, b_shared, probe, test_x, test_y, args):
    acc = {}
    for name, model in (("A alone", a), ("B alone", b)):
        acc[name] = {"accuracy": float(np.mean(model.predict(test_x).argmax(1) == test_y)),
                     "flops": float(model.flops), "routed": 0.0 if model is a else 1.0}
    for name, other, shared in (("A -> B", b, 0), ("A -> B' (shared blocks)", b_shared, 2)):
        out = ad.Router(a, other, probe, BLOCKS, shared_blocks=shared).run(
            test_x, n_threads=args.threads)
        acc[name] = {"accuracy": float(np.mean(out.logits.argmax(1) == test_y)),
                     "flops": float(out.flops.mean()), "routed": float(out.routed.mean())}
    return acc


def held_out_classes(train_x, train_y, test_x, test_y, rng, args, seed):
    """Detection of classes 8 and 9 by probes on a model that never saw them."""
    known = np.flatnonzero(train_y < 8)
    unknown = np.flatnonzero(train_y >= 8)
    rng.shuffle(known), rng.shuffle(unknown)
    a8 = ad.Model.mlp([784, 256, 128, 10], seed=seed)
    train(a8, train_x[known[:20000]], train_y[known[:20000]], args, seed)
    results, _ = probes(a8, train_x[known[20000:25000]], train_x[unknown[:5000]],
                        train_x[known[25000:27000]], test_x, test_y >= 8, args, seed)
    return results


def run(seed, data, args):
    train_x, train_y, test_x, test_y = data
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(train_x))
    a_idx, b_idx, probe_idx, calib_idx = (order[:20000], order[20000:40000],
                                          order[40000:50000], order[50000:52000])
    a = ad.Model.mlp([784, 256, 128, 10], seed=seed)
    train(a, train_x[a_idx], train_y[a_idx], args, seed)
    mix_x = np.concatenate([train_x[a_idx], corrupt(train_x[b_idx], args.noise, rng)])
    mix_y = np.concatenate([train_y[a_idx], train_y[b_idx]])
    b = ad.Model.mlp([784, 512, 256, 10], seed=seed + 100)
    train(b, mix_x, mix_y, args, seed)
    b_shared = frozen_copy_with_new_head(a, mix_x, mix_y, args, seed)
    test_flagged = rng.random(len(test_x)) < 0.2
    stream = test_x.copy()
    stream[test_flagged] = corrupt(test_x[test_flagged], args.noise, rng)
    clean, noisy = train_x[probe_idx[:5000]], corrupt(train_x[probe_idx[5000:]], args.noise, rng)
    detect, fitted = probes(a, clean, noisy, train_x[calib_idx], stream, test_flagged, args,
                            seed)
    row = {"seed": seed, "noise": args.noise, "fpr_target": args.fpr,
           "corrupted": detect,
           "combination": fitted[("prototypes", "combined")].combination.tolist(),
           "routing": routing(a, b, b_shared, fitted[("prototypes", "combined")], stream,
                              test_y, args),
           "held_out_classes": held_out_classes(train_x, train_y, test_x, test_y, rng, args,
                                                seed)}
    for name, r in row["routing"].items():
        print(f"  {name:26s} accuracy {100 * r['accuracy']:6.2f} %, "
              f"{r['flops'] / 1e3:8.1f} kFLOPs, routed {100 * r['routed']:5.1f} %", flush=True)
    return row


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--noise", type=float, default=0.5)
    parser.add_argument("--fpr", type=float, default=0.05)
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--out", default="probe-results")
    args = parser.parse_args()
    append_runs(run, args.seeds, load_fmnist(), args)


if __name__ == "__main__":
    main()
