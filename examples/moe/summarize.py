"""Tables and a plot from the D2DMoE reproduction's CSV (examples/moe/run_reproduction.sh).

    summarize.py RESULTS.csv OUT_DIR [vit|mlp]

Prints Markdown tables (mean +- std over seeds): the dense model, the ReLU swap (ViT), the
sparsified model with its ReLU zeros per FFN, accuracy and FLOPs per image for dynamic-k tau and
static top-k, the early-exit curve, and the claim's check: the FLOPs saved at an accuracy drop
of at most one point. Writes OUT_DIR/d2dmoe_fmnist.png (ViT) or d2dmoe_fmnist_mlp.png.
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
from results import cheapest_within, dense_point, fmt, load, points, stats  # noqa: E402

NAMES = {"vit": "ViT", "mlp": "MLP"}


def zeros_table(rows, model):
    per_seed = {when: np.array([[float(v) for v in setting.split(";")]
                                for setting in rows[f"zeros_{when}"]])
                for when in ("before", "after")}
    ffns = per_seed["before"].shape[1]
    names = [f"block {b}" for b in range(ffns)] if model == "vit" else ["0:3", "4:7"][:ffns]
    print("| ReLU zeros per FFN (%) | " + " | ".join(names) + " |")
    print("|---|" + "---:|" * ffns)
    for when, values in per_seed.items():
        cells = [fmt(values[:, b].mean(), values[:, b].std(), 1) for b in range(ffns)]
        label = ("after the ReLU swap" if model == "vit" else "dense") if when == "before" \
            else "after sparsifying"
        print(f"| {label} | " + " | ".join(cells) + " |")
    print()


def sweep_table(rows, method, name, dense):
    print(f"| {name} | accuracy (%) | MFLOPs / image | FFN MFLOPs | whole model saved | "
          "FFNs saved |")
    print("|---:|---:|---:|---:|---:|---:|")
    for s, a, a_sd, f, f_sd, ffn in points(rows, method):
        print(f"| {s:g} | {fmt(a, a_sd)} | {fmt(f, f_sd, 3)} | {ffn:.3f} | "
              f"{100 * (1 - f / dense['mflops']):.1f} % | "
              f"{100 * (1 - ffn / dense['ffn']):.1f} % |")
    print()


def verdict(rows, dense, model):
    floor = dense["accuracy"] - 1.0
    print(f"Claim check: the cheapest setting within one point of the dense {NAMES[model]} "
          f"({dense['accuracy']:.2f} %, so >= {floor:.2f} %):\n")
    print("| method | setting | accuracy (%) | MFLOPs / image | whole model saved | "
          "FFNs saved |")
    print("|---|---:|---:|---:|---:|---:|")
    for method in ("dynamic_k", "top_k", "early_exit"):
        best = cheapest_within(points(rows, method), floor)
        if best is None:
            print(f"| {method} | none | | | | |")
            continue
        s, a, _, f, _, ffn = best
        mlp = "—" if np.isnan(ffn) else f"{100 * (1 - ffn / dense['ffn']):.1f} %"
        print(f"| {method} | {s:g} | {a:.2f} | {f:.3f} | "
              f"{100 * (1 - f / dense['mflops']):.1f} % | {mlp} |")
    print()


def plot(rows, dense, out_dir, model):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for method, label, style in (("dynamic_k", "D2DMoE dynamic-k (tau)", "o-"),
                                 ("top_k", "static top-k", "s--"),
                                 ("early_exit", "early exits (threshold sweep)", ".:")):
        pts = np.array(points(rows, method))
        ax.errorbar(pts[:, 3], pts[:, 1], xerr=pts[:, 4], yerr=pts[:, 2], fmt=style,
                    label=label, capsize=2, markersize=4)
    ax.errorbar([dense["mflops"]], [dense["accuracy"]], yerr=[dense["accuracy_sd"]], fmt="k*",
                markersize=12, label=f"dense {NAMES[model]}")
    ax.axhline(dense["accuracy"] - 1.0, color="grey", linewidth=0.8, linestyle="--",
               label="dense - 1 point")
    ax.set_xlabel("MFLOPs per image (multiply-add = 2)")
    ax.set_ylabel("test accuracy (%)")
    ax.set_ylim(max(40.0, ax.get_ylim()[0]), None)
    ax.set_title(f"Fashion-MNIST {NAMES[model]}: accuracy against compute "
                 "(mean ± std over seeds)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(f"{out_dir}/d2dmoe_fmnist{'' if model == 'vit' else '_' + model}.png", dpi=120)


def main():
    rows = load(sys.argv[1])
    model = sys.argv[3] if len(sys.argv) > 3 else "vit"
    seeds = sorted({r[0] for rs in rows["dense"].values() for r in rs})
    dense = dense_point(rows)
    print(f"{len(seeds)} seeds ({', '.join(map(str, seeds))}); mean ± std.\n")
    print("| model | accuracy (%) | MFLOPs / image |")
    print("|---|---:|---:|")
    for method, label in (("dense", f"dense {NAMES[model]}"),
                          ("relu_swap", "GELU -> ReLU, no tuning"),
                          ("sparsified", "ReLU, fine-tuned with the Hoyer penalty")):
        if method not in rows:
            continue
        (rs,) = rows[method].values()
        print(f"| {label} | {fmt(*stats(rs, 1))} | {fmt(*stats(rs, 2), 3)} |")
    print()
    zeros_table(rows, model)
    sweep_table(rows, "dynamic_k", "tau (dynamic-k)", dense)
    sweep_table(rows, "top_k", "k (top-k)", dense)
    verdict(rows, dense, model)
    plot(rows, dense, sys.argv[2], model)


if __name__ == "__main__":
    main()
