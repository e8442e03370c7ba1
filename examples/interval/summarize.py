#!/usr/bin/env python3
"""Tables and plot of the IBP reproduction (examples/interval/run_reproduction.sh): clean and
certified accuracy (mean ± std over seeds, in %) of each model and training radius at each
evaluation radius, as docs/interval_results.md quotes them.

usage: summarize.py results.csv out-dir
"""
import csv
import sys
from collections import defaultdict

import numpy as np


def load(path):
    rows = defaultdict(list)  # (model, train_eps, eval_eps) -> [(seed, clean, certified)]
    with open(path) as f:
        for seed, model, train_eps, eval_eps, clean, certified in csv.reader(f):
            rows[(model, float(train_eps), float(eval_eps))].append(
                (int(seed), 100 * float(clean), 100 * float(certified)))
    return rows


def fmt(values):
    values = np.array(values)
    return f"{values.mean():.2f} ± {values.std():.2f}"


def table(rows, model):
    evals = sorted({e for (m, _, e) in rows if m == model and e > 0})
    trains = sorted({t for (m, t, _) in rows if m == model})
    print(f"\n{model}: clean and certified accuracy (%)\n")
    print("| trained | seeds | clean | " + " | ".join(f"certified at {e:g}" for e in evals) + " |")
    print("|---|---:|---:|" + "---:|" * len(evals))
    for t in trains:
        clean = [r[1] for r in rows[(model, t, 0.0)]]
        cells = [fmt([r[2] for r in rows[(model, t, e)]]) for e in evals]
        name = "plain" if t == 0 else f"IBP at {t:g}"
        print(f"| {name} | {len(clean)} | {fmt(clean)} | " + " | ".join(cells) + " |")


def plot(rows, out):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib missing: no plot")
        return
    models = sorted({m for (m, _, _) in rows})
    fig, axes = plt.subplots(1, len(models), figsize=(5 * len(models), 4), squeeze=False)
    for ax, model in zip(axes[0], models):
        evals = sorted({e for (m, _, e) in rows if m == model})
        for t in sorted({t for (m, t, _) in rows if m == model}):
            means = [np.mean([r[2] for r in rows[(model, t, e)]]) for e in evals]
            sds = [np.std([r[2] for r in rows[(model, t, e)]]) for e in evals]
            ax.errorbar(evals, means, yerr=sds, marker="o", capsize=3,
                        label="plain" if t == 0 else f"IBP at {t:g}")
        ax.set_title(f"{model}: certified accuracy (eval radius 0: clean)")
        ax.set_xlabel("L-infinity radius")
        ax.set_ylabel("accuracy (%)")
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(f"{out}/ibp_fmnist.png", dpi=120)
    print(f"\nwrote {out}/ibp_fmnist.png")


def main():
    rows = load(sys.argv[1])
    for model in sorted({m for (m, _, _) in rows}):
        table(rows, model)
    plot(rows, sys.argv[2])


if __name__ == "__main__":
    main()
