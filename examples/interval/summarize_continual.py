#!/usr/bin/env python3
"""Tables and plots of the Split Fashion-MNIST runs (examples/interval/run_continual.sh), as
docs/continual_results.md quotes them. Per scenario and method, mean ± std over seeds (in %):
  - the average accuracy over the tasks seen, after each task;
  - after the last task: average accuracy, forgetting and backward transfer as Avalanche
    defines them (forgetting of task j: its best accuracy after an earlier task minus its
    final one; BWT: its final accuracy minus its accuracy right after it was learnt; both
    averaged over the first four tasks), and the same on certified accuracy for InterContiNet;
  - the final accuracy of each task;
and one PNG per scenario of the average accuracy against the tasks learnt.

usage: summarize_continual.py results.csv out-dir
"""
import csv
import sys
from collections import defaultdict

import numpy as np

TASKS = 5
METHODS = ["finetune", "ewc", "si", "interval", "joint"]
NAMES = {"finetune": "fine-tuning", "ewc": "EWC", "si": "SI", "interval": "InterContiNet",
         "joint": "joint (all tasks at once)"}


def load(path):
    """(scenario, method, seed) -> {"acc", "cert"}: [after, task] matrices, NaN where absent."""
    runs = defaultdict(lambda: {"acc": np.full((TASKS, TASKS), np.nan),
                                "cert": np.full((TASKS, TASKS), np.nan)})
    with open(path) as f:
        for seed, scenario, method, after, task, acc, cert in csv.reader(f):
            run = runs[(scenario, method, int(seed))]
            run["acc"][int(after) - 1, int(task) - 1] = 100 * float(acc)
            run["cert"][int(after) - 1, int(task) - 1] = 100 * float(cert)
    return runs


def seen_mean(m, after):
    return np.mean(m[after, :after + 1])


def final_metrics(m):
    """Average accuracy, forgetting and BWT after the last task, from one run's matrix."""
    last = TASKS - 1
    forgetting = [np.max(m[:last, j][j:]) - m[last, j] for j in range(last)]
    bwt = [m[last, j] - m[j, j] for j in range(last)]
    return seen_mean(m, last), np.mean(forgetting), np.mean(bwt)


def fmt(values):
    values = np.asarray(values, dtype=float)
    return f"{values.mean():.2f} ± {values.std():.2f}"


def runs_of(runs, scenario, method):
    return [runs[k] for k in sorted(runs) if k[0] == scenario and k[1] == method]


def complete(run, key="acc"):
    return not np.isnan(run[key][TASKS - 1, :]).any()


def final_table(runs, scenario):
    print(f"\n{scenario}-incremental, after the last task (%)\n")
    print("| method | seeds | average accuracy | forgetting | BWT |")
    print("|---|---:|---:|---:|---:|")
    for method in METHODS:
        rs = [r for r in runs_of(runs, scenario, method) if complete(r)]
        if not rs:
            continue
        if method == "joint":
            avg = [np.mean(r["acc"][TASKS - 1]) for r in rs]
            print(f"| {NAMES[method]} | {len(rs)} | {fmt(avg)} | — | — |")
            continue
        for key, suffix in (("acc", ""), ("cert", ", certified")):
            if key == "cert" and method != "interval":
                continue
            metrics = np.array([final_metrics(r[key]) for r in rs])
            print(f"| {NAMES[method]}{suffix} | {len(rs)} | {fmt(metrics[:, 0])} | "
                  f"{fmt(metrics[:, 1])} | {fmt(metrics[:, 2])} |")


def curve_table(runs, scenario):
    print(f"\n{scenario}-incremental: average accuracy over the tasks seen, after each task (%)\n")
    print("| method | " + " | ".join(f"after {t + 1}" for t in range(TASKS)) + " |")
    print("|---|" + "---:|" * TASKS)
    for method in METHODS[:-1]:
        rs = runs_of(runs, scenario, method)
        for key, suffix in (("acc", ""), ("cert", ", certified")):
            if not rs or (key == "cert" and method != "interval"):
                continue
            cells = []
            for t in range(TASKS):
                done = [r for r in rs if not np.isnan(r[key][t, :t + 1]).any()]
                cells.append(fmt([seen_mean(r[key], t) for r in done]) if done else "—")
            print(f"| {NAMES[method]}{suffix} | " + " | ".join(cells) + " |")


def task_table(runs, scenario):
    print(f"\n{scenario}-incremental: each task's accuracy after the last task (%)\n")
    print("| method | " + " | ".join(f"task {t + 1}" for t in range(TASKS)) + " |")
    print("|---|" + "---:|" * TASKS)
    for method in METHODS:
        rs = [r for r in runs_of(runs, scenario, method) if complete(r)]
        for key, suffix in (("acc", ""), ("cert", ", certified")):
            if not rs or (key == "cert" and method != "interval"):
                continue
            cells = [fmt([r[key][TASKS - 1, t] for r in rs]) for t in range(TASKS)]
            print(f"| {NAMES[method]}{suffix} | " + " | ".join(cells) + " |")


def plot(runs, scenarios, out):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib missing: no plot")
        return
    fig, axes = plt.subplots(1, len(scenarios), figsize=(5 * len(scenarios), 4), squeeze=False)
    x = np.arange(1, TASKS + 1)
    for ax, scenario in zip(axes[0], scenarios):
        for method in METHODS:
            rs = runs_of(runs, scenario, method)
            for key, style in (("acc", "-"), ("cert", "--")):
                if key == "cert" and method != "interval":
                    continue
                if method == "joint":
                    done = [r for r in rs if complete(r)]
                    if done:
                        ax.axhline(np.mean([np.mean(r["acc"][TASKS - 1]) for r in done]),
                                   color="grey", linestyle=":", label=NAMES[method])
                    continue
                means = [np.nanmean([seen_mean(r[key], t) for r in rs]) for t in range(TASKS)]
                label = NAMES[method] + (" (certified)" if key == "cert" else "")
                ax.plot(x, means, style, marker="o", label=label)
        ax.set_title(f"{scenario}-incremental")
        ax.set_xlabel("tasks learnt")
        ax.set_ylabel("average accuracy over them (%)")
        ax.set_xticks(x)
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(f"{out}/continual_fmnist.png", dpi=120)
    print(f"\nwrote {out}/continual_fmnist.png")


def main():
    runs = load(sys.argv[1])
    scenarios = [s for s in ("task", "domain", "class") if any(k[0] == s for k in runs)]
    for scenario in scenarios:
        final_table(runs, scenario)
        curve_table(runs, scenario)
        task_table(runs, scenario)
    plot(runs, scenarios, sys.argv[2])


if __name__ == "__main__":
    main()
