#!/usr/bin/python3
"""The tables of examples/probes/probe_fmnist.py: per flagged set (corrupted images, held-out
classes) and probe, the detection rate, false-positive rate, AUROC and average precision on
the test stream; then the routed systems' accuracy, FLOPs per image and share routed to B;
mean ± std over seeds, in %.

usage: summarize_probes.py results.jsonl
"""
import json
import sys

import numpy as np


def fmt(values, scale=100.0, digits=2):
    v = scale * np.asarray(values, dtype=float)
    return f"{v.mean():.{digits}f} ± {v.std():.{digits}f}"


def detection_table(runs, key, title):
    print(f"\n{title}\n\n| probe | detection | false positives | AUROC | AP |\n"
          "|---|---:|---:|---:|---:|")
    for name in runs[0][key]:
        cells = [fmt([r[key][name][m] for r in runs]) for m in ("detection", "fpr", "auroc",
                                                               "ap")]
        print(f"| {name} | " + " | ".join(cells) + " |")


def main():
    runs = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
    first = runs[0]
    print(f"{len(runs)} seeds ({', '.join(str(r['seed']) for r in runs)}), noise std "
          f"{first['noise']}, threshold for {100 * first['fpr_target']:g} % false positives")
    detection_table(runs, "corrupted", "Flagged: corrupted images (a fifth of the stream)")
    detection_table(runs, "held_out_classes", "Flagged: classes 8 and 9, unseen by the model")
    weights = np.array([r["combination"] for r in runs])
    print("\nCombination of the prototypes (weights of blocks 0, 1; bias): " +
          "; ".join(f"{w.mean():+.2f} ± {w.std():.2f}" for w in weights.T))
    print("\n| system | accuracy | kFLOPs / image | routed to B |\n|---|---:|---:|---:|")
    for name in first["routing"]:
        rows = [r["routing"][name] for r in runs]
        print(f"| {name} | {fmt([m['accuracy'] for m in rows])} | "
              f"{fmt([m['flops'] for m in rows], 1e-3, 1)} | "
              f"{fmt([m['routed'] for m in rows], 100.0, 1)} |")


if __name__ == "__main__":
    main()
