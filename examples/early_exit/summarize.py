#!/usr/bin/python3
"""Tables and plots of the early-exit reproduction.

    summarize.py RESULTS_DIR OUT_MARKDOWN PLOT_DIR

Reads every *.json that early_exit_fmnist wrote into RESULTS_DIR and writes:
  (a) accuracy at 25/50/75/100 % of the backbone's FLOPs and the area under the cost-accuracy
      curve per architecture and regime, mean +- std over seeds;
  (b) per calibration method: mean over heads of ECE, AUROC and AURC, early-exit accuracy at
      each budget, and the Spearman rank correlation across all runs and methods between each
      head metric and the area under the curve;
  plus PNG cost-accuracy curves (matplotlib) into PLOT_DIR.
"""
import glob
import json
import os
import sys

import numpy as np

METRICS = ["accuracy", "ece", "ks", "nll", "brier", "auroc", "aurc", "eaurc", "fpr95"]
BUDGETS = ["25 %", "50 %", "75 %", "100 %"]
REGIMES = ["joint", "disjoint", "mixed"]
METHODS = ["raw", "temperature", "vector", "histogram", "isotonic"]


def load(directory):
    runs = []
    for path in sorted(glob.glob(os.path.join(directory, "*.json"))):
        with open(path) as f:
            runs.append(json.load(f))
    if not runs:
        sys.exit(f"no results in {directory}")
    return runs


def as_float(v):
    return float("nan") if v is None else float(v)


def mean_std(values):
    v = np.array([as_float(x) for x in values], dtype=float)
    v = v[~np.isnan(v)]
    if v.size == 0:
        return "—"
    return f"{100 * v.mean():.2f} ± {100 * v.std(ddof=1 if v.size > 1 else 0):.2f}"


def head_mean(run, method, metric):
    """Mean over the internal heads (final exit excluded) of one head metric."""
    heads = run["methods"][method]["heads"][:-1]
    return float(np.nanmean([as_float(h[METRICS.index(metric)]) for h in heads]))


def spearman(x, y):
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    keep = ~(np.isnan(x) | np.isnan(y))
    x, y = x[keep], y[keep]
    if x.size < 3:
        return float("nan")
    rx = np.argsort(np.argsort(x)).astype(float)
    ry = np.argsort(np.argsort(y)).astype(float)
    return float(np.corrcoef(rx, ry)[0, 1])


def regime_table(runs):
    lines = ["| model | regime | seeds | " + " | ".join(f"acc @ {b}" for b in BUDGETS)
             + " | area | train s |", "|---|---|---:|" + "---:|" * 6]
    for arch in sorted({r["arch"] for r in runs}):
        for regime in REGIMES:
            group = [r for r in runs if r["arch"] == arch and r["regime"] == regime]
            if not group:
                continue
            curves = [r["methods"]["raw"]["curve"] for r in group]
            cells = [mean_std([c["accuracy_at_budget"][i] for c in curves]) for i in range(4)]
            area = mean_std([c["area"] for c in curves])
            seconds = np.mean([r["train_seconds"] for r in group])
            lines.append(f"| {arch} | {regime} | {len(group)} | " + " | ".join(cells)
                         + f" | {area} | {seconds:.0f} |")
    return "\n".join(lines)


def calibration_table(runs):
    lines = ["| model | method | ECE | AUROC | AURC | " + " | ".join(f"acc @ {b}" for b in BUDGETS)
             + " | area |", "|---|---|" + "---:|" * 8]
    for arch in sorted({r["arch"] for r in runs}):
        group = [r for r in runs if r["arch"] == arch]
        for method in METHODS:
            ece = mean_std([head_mean(r, method, "ece") for r in group])
            auroc = mean_std([head_mean(r, method, "auroc") for r in group])
            aurc = mean_std([head_mean(r, method, "aurc") for r in group])
            curves = [r["methods"][method]["curve"] for r in group]
            cells = [mean_std([c["accuracy_at_budget"][i] for c in curves]) for i in range(4)]
            lines.append(f"| {arch} | {method} | {ece} | {auroc} | {aurc} | "
                         + " | ".join(cells) + f" | {mean_std([c['area'] for c in curves])} |")
    return "\n".join(lines)


CHOSEN = ["ece", "ks", "nll", "brier", "auroc", "aurc", "eaurc", "fpr95"]
CHOSEN_NAMES = ["ECE", "KS", "NLL", "Brier", "AUROC", "AURC", "E-AURC", "FPR@95"]


def correlation_table(runs):
    """Two views: across every (run, method) pair, where better models dominate; and within
    each run across its calibration methods (model fixed), averaged over runs."""
    lines = ["| model | over | " + " | ".join(f"ρ({m}, area)" for m in CHOSEN_NAMES) + " |",
             "|---|---|" + "---:|" * 8]
    for arch in sorted({r["arch"] for r in runs}):
        group = [r for r in runs if r["arch"] == arch]
        pairs = [(r, m) for r in group for m in METHODS]
        area = [r["methods"][m]["curve"]["area"] for r, m in pairs]
        across = [spearman([head_mean(r, m, metric) for r, m in pairs], area)
                  for metric in CHOSEN]
        within = [np.nanmean([spearman([head_mean(r, m, metric) for m in METHODS],
                                       [r["methods"][m]["curve"]["area"] for m in METHODS])
                              for r in group]) for metric in CHOSEN]
        lines.append(f"| {arch} | {len(pairs)} (run, method) pairs | "
                     + " | ".join(f"{v:+.2f}" for v in across) + " |")
        lines.append(f"| {arch} | methods within each of {len(group)} runs, mean | "
                     + " | ".join(f"{v:+.2f}" for v in within) + " |")
    return "\n".join(lines)


def plot_curves(runs, plot_dir):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    os.makedirs(plot_dir, exist_ok=True)
    paths = []
    for arch in sorted({r["arch"] for r in runs}):
        fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
        for regime in REGIMES:
            group = [r for r in runs if r["arch"] == arch and r["regime"] == regime]
            for i, r in enumerate(group):
                c = r["methods"]["raw"]["curve"]
                axes[0].plot(c["budget"], c["accuracy"], color=f"C{REGIMES.index(regime)}",
                             alpha=0.8, label=regime if i == 0 else None)
        axes[0].set_title(f"{arch}: training regimes (raw heads, every seed)")
        mixed = [r for r in runs if r["arch"] == arch and r["regime"] == "mixed"][:1]
        for r in mixed:
            for j, method in enumerate(METHODS):
                c = r["methods"][method]["curve"]
                axes[1].plot(c["budget"], c["accuracy"], color=f"C{j}", label=method)
            axes[1].set_title(f"{arch}: calibration methods (mixed, seed {r['seed']})")
        for ax in axes:
            ax.set_xlabel("budget (fraction of backbone FLOPs)")
            ax.set_ylabel("test accuracy")
            ax.grid(alpha=0.3)
            if ax.get_legend_handles_labels()[0]:
                ax.legend()
        fig.tight_layout()
        path = os.path.join(plot_dir, f"early_exit_{arch}.png")
        fig.savefig(path, dpi=110)
        plt.close(fig)
        paths.append(path)
    return paths


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    runs = load(sys.argv[1])
    plots = plot_curves(runs, sys.argv[3])
    epochs = sorted({tuple(r["epochs"]) for r in runs})
    seeds = sorted({r["seed"] for r in runs})
    text = ["# Early exits on Fashion-MNIST: results", "",
            "Written by `examples/early_exit/summarize.py` from the runs of "
            "`examples/early_exit/run_reproduction.sh` (seeds "
            + ", ".join(str(s) for s in seeds) + "; backbone + exit epochs "
            + ", ".join(f"{a} + {b}" for a, b in epochs) + f"; {runs[0]['train_images']} "
            "training images). Test-set accuracies in %, mean ± sample standard deviation over "
            "seeds; a budget is a fraction of the backbone's FLOPs, and \"—\" means no threshold "
            "of the sweep fits it. \"train s\" is wall time with one thread, two runs sharing "
            "the machine's two cores. The method and a reading of these tables: "
            "[early_exits.md](early_exits.md).", "",
            "## (a) Training regimes", "", regime_table(runs), "",
            "## (b) Raw and calibrated heads", "", calibration_table(runs), "",
            "Spearman rank correlation between the mean over internal heads of each metric and the "
            "area under the cost-accuracy curve (lower is better for every metric but AUROC):",
            "",
            correlation_table(runs), ""]
    text += [f"![{os.path.basename(p)}]({os.path.relpath(p, os.path.dirname(sys.argv[2]))})"
             for p in plots]
    with open(sys.argv[2], "w") as f:
        f.write("\n".join(text) + "\n")
    print("\n".join(text))


if __name__ == "__main__":
    main()
