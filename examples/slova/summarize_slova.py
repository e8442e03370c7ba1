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
METHODS = ["softmax", "softmax + temperature", "SLOVA"]


def fmt(values, scale=100.0, digits=2):
    v = scale * np.asarray(values, dtype=float)
    return f"{v.mean():.{digits}f} ± {v.std():.{digits}f}"


def main():
    rows = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
    calibration = defaultdict(list)  # (arch, method) -> [metrics]
    ood = defaultdict(list)          # (arch, set, score) -> [{"auroc", "fpr95"}]
    shift = defaultdict(list)        # (arch, shift, method) -> [metrics]
    for r in rows:
        for method, m in r["calibration"].items():
            calibration[(r["arch"], method)].append(m)
            shift[(r["arch"], "none", method)].append(m)
        for name, by_method in r.get("shift", {}).items():
            for method, m in by_method.items():
                shift[(r["arch"], name, method)].append(m)
        for name, by_score in r["ood"].items():
            for score, m in by_score.items():
                ood[(r["arch"], name, score)].append(m)
    for arch in sorted({r["arch"] for r in rows}, reverse=True):
        print(f"\n{arch}: in distribution (%; NLL in nats)\n")
        print("| model | seeds | accuracy | ECE | NLL | Brier |")
        print("|---|---:|---:|---:|---:|---:|")
        for (a, method), ms in sorted(calibration.items()):
            if a != arch:
                continue
            cells = [fmt([m[k] for m in ms]) for k in ("accuracy", "ece")]
            cells += [fmt([m[k] for m in ms], 1.0, 3) for k in ("nll", "brier")]
            print(f"| {method} | {len(ms)} | " + " | ".join(cells) + " |")
        names = list(dict.fromkeys(k[1] for k in shift if k[0] == arch))
        for metric, title in (("accuracy", "accuracy"), ("ece", "ECE")):
            print(f"\n{arch}: {title} under shift (%)\n")
            print("| model | " + " | ".join(names) + " |")
            print("|---|" + "---:|" * len(names))
            for method in METHODS:
                cells = [fmt([m[metric] for m in shift[(arch, n, method)]])
                         if shift[(arch, n, method)] else "—" for n in names]
                print(f"| {method} | " + " | ".join(cells) + " |")
        for metric, title in (("auroc", "AUROC"), ("fpr95", "FPR at 95 % TPR")):
            print(f"\n{arch}: out-of-distribution {title} (%)\n")
            print("| score | " + " | ".join(SETS) + " |")
            print("|---|" + "---:|" * len(SETS))
            for score in SCORES:
                cells = [fmt([m[metric] for m in ood[(arch, s, score)]])
                         if ood[(arch, s, score)] else "—" for s in SETS]
                model = "SLOVA" if score == "max q" else "softmax"
                print(f"| {score} ({model}) | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
