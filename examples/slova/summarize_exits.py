#!/usr/bin/python3
"""Tables of examples/slova/run_exits.sh: SLOVA heads against softmax heads as early exits.

    summarize_exits.py RESULTS_DIR

Per loss and calibration: the test accuracy of a max-probability threshold swept over the
exits at 25/50/75/100 % of the backbone's FLOPs and the area under that curve; the test
accuracy and budget of one global threshold chosen on validation for 25/50/75 %; and the mean
over the internal heads of ECE, AUROC and AURC (failure prediction). Mean ± sample std over
seeds, in %.
"""
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "early_exit"))
from summarize import BUDGETS, head_mean, load, mean_std  # noqa: E402

CALIBRATION = {"cross_entropy": "temperature", "one_vs_all": "exponential"}


def fitted(run, method, i, key):
    chosen = run["methods"][method]["fitted"][i]["global"]
    return None if chosen is None else chosen[key]


def rows(runs):
    for loss in ("cross_entropy", "one_vs_all"):
        group = [r for r in runs if r["loss"] == loss]
        for method in ("raw", CALIBRATION[loss]):
            if group:
                yield loss, method, group


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    runs = load(sys.argv[1])
    seeds = sorted({r["seed"] for r in runs})
    epochs = sorted({tuple(r["epochs"]) for r in runs})
    print("# SLOVA heads as early exits: results\n")
    print("Written by `examples/slova/summarize_exits.py` from the runs of "
          "`examples/slova/run_exits.sh`: the CNN of the early-exit reproduction (SDN heads "
          "after its first four blocks), mixed regime, backbone + exit epochs "
          + ", ".join(f"{a} + {b}" for a, b in epochs) + ", seeds "
          + ", ".join(map(str, seeds)) + f", {runs[0]['train_images']} training images, one "
          "thread per run. Test-set values in %, mean ± sample std over seeds. The method: "
          "[slova.md](slova.md#as-early-exits).\n")
    print("## Cost and accuracy\n")
    print("| loss | heads | " + " | ".join(f"sweep @ {b}" for b in BUDGETS)
          + " | area | fitted @ 25 % | fitted @ 50 % | fitted @ 75 % | train s |")
    print("|---|---|" + "---:|" * 9)
    for loss, method, group in rows(runs):
        curves = [r["methods"][method]["curve"] for r in group]
        sweep = [mean_std([c["accuracy_at_budget"][i] for c in curves]) for i in range(4)]
        chosen = [f"{mean_std([fitted(r, method, i, 'test_accuracy') for r in group])} "
                  f"({mean_std([fitted(r, method, i, 'test_budget') for r in group])})"
                  for i in range(3)]
        seconds = np.mean([r["train_seconds"] for r in group])
        print(f"| {loss} | {method} | " + " | ".join(sweep)
              + f" | {mean_std([c['area'] for c in curves])} | " + " | ".join(chosen)
              + f" | {seconds:.0f} |")
    print("\n\"fitted @ b\": accuracy (and budget reached) on the test set of the one global "
          "threshold chosen on the validation images for budget b.\n")
    print("## Heads: calibration and failure prediction (mean over the internal heads)\n")
    print("| loss | heads | ECE | AUROC | AURC | final exit accuracy |")
    print("|---|---|---:|---:|---:|---:|")
    for loss, method, group in rows(runs):
        final = mean_std([r["methods"][method]["heads"][-1][0] for r in group])
        cells = [mean_std([head_mean(r, method, m) for r in group])
                 for m in ("ece", "auroc", "aurc")]
        print(f"| {loss} | {method} | " + " | ".join(cells) + f" | {final} |")


if __name__ == "__main__":
    main()
