#!/usr/bin/python3
"""The table of examples/transfer/axis_fmnist.py: per method, accuracy on the target task's
test images (rotated by 45 degrees) and on the same images with a patch masked, the
trainable parameter count and the time to prepare the model; mean ± std over seeds, in %.

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
    print(f"{len(runs)} seeds ({', '.join(str(r['seed']) for r in runs)}), "
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


if __name__ == "__main__":
    main()
