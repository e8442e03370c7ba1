#!/usr/bin/python3
"""The tables of examples/flows/latent_edit_fmnist.py: the generator and its judges; then per
editor and edit size |delta|, the edits at the editor's own strength (nominal) and at the
calibrated strength (the same mean change for every editor), averaged over the attributes
and both signs; then per attribute at |delta| = 1. Mean ± std over seeds.

usage: summarize_flows.py results.jsonl
"""
import json
import sys

import numpy as np


def fmt(values, scale=1.0, digits=2):
    v = scale * np.asarray(values, dtype=float)
    return f"{v.mean():.{digits}f} ± {v.std():.{digits}f}"


def per_seed(runs, keep, side, field):
    """For each run, the mean of edits[side][field] over the edits `keep` selects."""
    return [np.mean([e[side][field] if side else e[field] for e in r["edits"] if keep(e)])
            for r in runs]


def setup(runs):
    first = runs[0]
    names = list(dict.fromkeys(e["attribute"] for e in first["edits"]))
    mse = fmt([r["reconstruction_mse"] for r in runs], 1, 4)
    print(f"{len(runs)} seeds ({', '.join(str(r['seed']) for r in runs)}), latent "
          f"{first['latent']}-d; reconstruction MSE {mse}")
    emb = {k: fmt([r["embedding"][k] for r in runs], 1, 3) for k in first["embedding"]}
    print(f"\nIdentity embedding, cosine distance on test images: two views of one image "
          f"{emb['same_identity']}, two images of one class {emb['same_class']}, of two "
          f"classes {emb['other_class']}.")
    print("\n| | " + " | ".join(names) + " |\n|---|" + "---:|" * len(names))
    print("| linear fit R² | " + " | ".join(
        fmt([r["linear_r2"][j] for r in runs], 1, 3) for j in range(len(names))) + " |")
    for flow in first["code_correlation"]:
        print(f"| {flow}: corr(z_j, attribute) | " + " | ".join(
            fmt([r["code_correlation"][flow][j] for r in runs], 1, 3)
            for j in range(len(names))) + " |")
    return names


def by_size(runs, editors):
    print("\n| editor | abs(delta) | nominal: achieved | nominal: success % | strength | "
          "success % | other attributes (σ) | identity change | class kept % |\n"
          "|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for editor in editors:
        for size in (1.0, 2.0):
            def keep(e):
                return e["editor"] == editor and abs(e["delta"]) == size
            cells = [fmt(per_seed(runs, keep, "nominal", "achieved")),
                     fmt(per_seed(runs, keep, "nominal", "success"), 100, 1),
                     fmt(per_seed(runs, keep, None, "strength")),
                     fmt(per_seed(runs, keep, "calibrated", "success"), 100, 1),
                     fmt(per_seed(runs, keep, "calibrated", "others")),
                     fmt(per_seed(runs, keep, "calibrated", "identity"), 1, 3),
                     fmt(per_seed(runs, keep, "calibrated", "class_kept"), 100, 1)]
            print(f"| {editor} | {size:g} | " + " | ".join(cells) + " |")


def by_attribute(runs, editors, names):
    print("\nAt abs(delta) = 1, calibrated: success % / other attributes (σ) / identity "
          "change\n\n| editor | " + " | ".join(names) + " |\n|---|" + "---|" * len(names))
    for editor in editors:
        cells = []
        for name in names:
            def keep(e):
                return e["editor"] == editor and e["attribute"] == name and abs(e["delta"]) == 1
            s = np.mean(per_seed(runs, keep, "calibrated", "success")) * 100
            o = np.mean(per_seed(runs, keep, "calibrated", "others"))
            i = np.mean(per_seed(runs, keep, "calibrated", "identity"))
            cells.append(f"{s:.0f} / {o:.2f} / {i:.3f}")
        print(f"| {editor} | " + " | ".join(cells) + " |")


def main():
    runs = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
    editors = list(dict.fromkeys(e["editor"] for e in runs[0]["edits"]))
    names = setup(runs)
    by_size(runs, editors)
    by_attribute(runs, editors, names)


if __name__ == "__main__":
    main()
