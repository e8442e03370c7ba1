#!/usr/bin/python3
"""Tables of examples/slova/slova_fmnist.py, as docs/slova_results.md quotes them: per
architecture, in-distribution accuracy, ECE, NLL and Brier score; accuracy and ECE under each
shift; out-of-distribution AUROC and FPR at 95 % TPR per set and score; mean ± std over seeds,
in %.

usage: summarize_slova.py results.jsonl
"""
import json
import sys
from collections import defaultdict

import numpy as np

SETS = ["held-out", "digits", "gaussian", "uniform", "inverted"]
SCORES = ["MSP", "max logit", "energy", "ODIN", "max q"]
METHODS = ["softmax", "softmax + temperature", "SLOVA", "SLOVA + exponential"]


def fmt(values, scale=100.0, digits=2):
    v = scale * np.asarray(values, dtype=float)
    return f"{v.mean():.{digits}f} ± {v.std():.{digits}f}"


def table(title, first, columns, rows):
    """A markdown table: `first` heads the column of labels, rows are (label, cells)."""
    print(f"\n{title}\n")
    print(f"| {first} | " + " | ".join(columns) + " |")
    print("|---|" + "---:|" * len(columns))
    for label, cells in rows:
        print(f"| {label} | " + " | ".join(cells) + " |")


def cell(ms, key, scale=100.0, digits=2):
    return fmt([m[key] for m in ms], scale, digits) if ms else "—"


def load(path):
    """(arch, method) -> in-distribution metrics, (arch, shift, method) -> metrics under it
    ("none" unshifted), (arch, set, score) -> AUROC and FPR: lists over seeds."""
    calibration, shift, ood = defaultdict(list), defaultdict(list), defaultdict(list)
    for r in (json.loads(line) for line in open(path) if line.strip()):
        for method, value in r.get("calibrator", {}).items():
            name = {"temperature": "temperature T", "exponential": "exponent alpha"}[method]
            calibration[(r["arch"], f"fitted {name}")].append({"value": value})
        for method, m in r["calibration"].items():
            calibration[(r["arch"], method)].append(m)
            shift[(r["arch"], "none", method)].append(m)
        for name, by_method in r.get("shift", {}).items():
            for method, m in by_method.items():
                shift[(r["arch"], name, method)].append(m)
        for name, by_score in r["ood"].items():
            for score, m in by_score.items():
                ood[(r["arch"], name, score)].append(m)
    return calibration, shift, ood


def main():
    calibration, shift, ood = load(sys.argv[1])
    for arch in sorted({a for a, _ in calibration}, reverse=True):
        table(f"{arch}: in distribution (%; NLL in nats)", "model",
              ["seeds", "accuracy", "ECE", "NLL", "Brier"],
              [(method, [str(len(ms)), cell(ms, "accuracy"), cell(ms, "ece"),
                         cell(ms, "nll", 1.0, 3), cell(ms, "brier", 1.0, 3)])
               for (a, method), ms in sorted(calibration.items())
               if a == arch and "value" not in ms[0]])
        for (a, what), ms in sorted(calibration.items()):
            if a == arch and "value" in ms[0]:
                print(f"\n{arch}: {what}: {cell(ms, 'value', 1.0, 3)}")
        names = list(dict.fromkeys(k[1] for k in shift if k[0] == arch))
        for key, title in (("accuracy", "accuracy"), ("ece", "ECE")):
            table(f"{arch}: {title} under shift (%)", "model", names,
                  [(method, [cell(shift[(arch, n, method)], key) for n in names])
                   for method in METHODS])
        for key, title in (("auroc", "AUROC"), ("fpr95", "FPR at 95 % TPR")):
            table(f"{arch}: out-of-distribution {title} (%)", "score", SETS,
                  [(f"{score} ({'SLOVA' if score == 'max q' else 'softmax'})",
                    [cell(ood[(arch, s, score)], key) for s in SETS]) for score in SCORES])


if __name__ == "__main__":
    main()
