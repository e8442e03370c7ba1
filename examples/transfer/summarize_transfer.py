#!/usr/bin/python3
"""The table of examples/transfer/axis_fmnist.py: per method, accuracy on the target task's
test images (rotated by 45 degrees) and on the same images with a patch masked, the
trainable parameter count and the time to prepare the model; then the accuracy of the AXIS
merge and of singular-value fine-tuning against the number of sources; mean ± std over seeds,
in %.

usage: summarize_transfer.py results.jsonl
"""
import json
import sys

import numpy as np


def fmt(values, scale=100.0, digits=2):
    v = scale * np.asarray(values, dtype=float)
    return f"{v.mean():.{digits}f} ± {v.std():.{digits}f}"


def main():
    runs = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
    methods = list(dict.fromkeys(m for r in runs for m in r["methods"]))
    sizes = "-".join(str(s) for s in runs[0].get("sizes", [784, 256, 10]))
    print(f"MLP {sizes}, {len(runs)} seeds ({', '.join(str(r['seed']) for r in runs)}), "
          f"{runs[0]['labels_per_class']} target labels per class\n")
    print("| method | accuracy | masked inputs | trainable | prepare s |")
    print("|---|---:|---:|---:|---:|")
    for name in methods:
        rows = [r["methods"][name] for r in runs if name in r["methods"]]
        seconds = [m["seconds"] for m in rows if m["seconds"] is not None]
        print(f"| {name} | {fmt([m['accuracy'] for m in rows])} | "
              f"{fmt([m['masked'] for m in rows])} | {rows[0]['trainable']} | "
              f"{np.mean(seconds):.2f} |" if seconds else
              f"| {name} | {fmt([m['accuracy'] for m in rows])} | "
              f"{fmt([m['masked'] for m in rows])} | {rows[0]['trainable']} | — |")

    by_sources(runs)


def by_sources(runs):
    runs = [r for r in runs if "by_sources" in r]
    if not runs:
        return
    print("\n| sources | AXIS merge | singular values K 50 %, N 40 % | prepare s | train s |\n"
          "|---:|---:|---:|---:|---:|")
    for n in runs[0]["by_sources"]:
        cells = [fmt([r["by_sources"][n][k] for r in runs]) for k in ("merge", "tuned")]
        cells += [fmt([r["by_sources"][n][k] for r in runs], 1.0) for k in
                  ("prepare_seconds", "train_seconds")]
        print("| " + " | ".join([n] + cells) + " |")


if __name__ == "__main__":
    main()
