"""Tables and plots from the ACM reproduction's CSV (examples/acm/run_reproduction.sh).

    summarize.py RESULTS.csv OUT_DIR [D2DMOE_RESULTS.csv]

Prints Markdown tables (mean +- std over seeds): the dense ViT, the distilled ACMs at every
fixed learner count, the gates after phase 2, each budget after phase 3, and the claim's check
(no accuracy loss, on the accuracy-FLOPs Pareto front of ACM, D2DMoE dynamic-k and early
exits). Writes OUT_DIR/acm_fmnist.png (accuracy against FLOPs, with the D2DMoE curve of the
same dense models when its CSV is given) and OUT_DIR/acm_fmnist_map.png (mean learners per
token position and block, per budget).
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
from results import dense_point, fmt, load, points, stats  # noqa: E402

GRID = 4  # 16 patch tokens after the class token


def fixed_table(rows, dense):
    print("| ACM | accuracy (%) | MFLOPs / image | MLP MFLOPs | whole model saved |")
    print("|---|---:|---:|---:|---:|")
    for s, a, a_sd, f, f_sd, ffn in points(rows, "acm_fixed"):
        print(f"| {s:g} learner{'' if s == 1 else 's'} for every token (phase 1) | {fmt(a, a_sd)} | "
              f"{fmt(f, f_sd, 3)} | {ffn:.3f} | {100 * (1 - f / dense['mflops']):.1f} % |")
    for method, label in (("acm_gates", "gates after phase 2"),):
        for s, a, a_sd, f, f_sd, ffn in points(rows, method):
            print(f"| {label} | {fmt(a, a_sd)} | {fmt(f, f_sd, 3)} | {ffn:.3f} | "
                  f"{100 * (1 - f / dense['mflops']):.1f} % |")
    print()


def budget_table(rows, dense):
    print("| budget beta (phase 3) | accuracy (%) | change from dense | MFLOPs / image | "
          "MLP MFLOPs | MLP share run | whole model saved |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for s, a, a_sd, f, f_sd, ffn in points(rows, "acm"):
        print(f"| {s:g} | {fmt(a, a_sd)} | {a - dense['accuracy']:+.2f} | {fmt(f, f_sd, 3)} | "
              f"{ffn:.3f} | {100 * ffn / dense['ffn']:.1f} % | "
              f"{100 * (1 - f / dense['mflops']):.1f} % |")
    print()


def dominated(point, others):
    """Whether some other point is at least as accurate for at most the FLOPs, better in one."""
    _, a, _, f, _, _ = point
    return any(o[1] >= a and o[3] <= f and (o[1] > a or o[3] < f) for o in others)


def verdict(rows, moe, dense):
    others = points(rows, "early_exit") + (points(moe, "dynamic_k") if moe else [])
    print(f"Claim check against the dense ViT ({dense['accuracy']:.2f} %): accuracy change, "
          "and whether an early-exit" + (" or D2DMoE" if moe else "") + " point of the same "
          "dense models is at least as accurate for at most the FLOPs (mean over seeds):\n")
    print("| beta | accuracy change | MFLOPs / image | on the front |")
    print("|---:|---:|---:|---|")
    for p in points(rows, "acm"):
        print(f"| {p[0]:g} | {p[1] - dense['accuracy']:+.2f} | {p[3]:.3f} | "
              f"{'no' if dominated(p, others) else 'yes'} |")
    print()


def plot(rows, moe, dense, out_dir):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(7, 4.5))
    curves = [(rows, "acm", "ACM, phase 3 (budget beta)", "o-"),
              (rows, "acm_fixed", "ACM, phase 1, fixed learner count", "s--"),
              (rows, "early_exit", "early exits (threshold sweep)", ".:")]
    if moe:
        curves.insert(1, (moe, "dynamic_k", "D2DMoE dynamic-k (tau)", "^-"))
    for source, method, label, style in curves:
        pts = np.array(points(source, method))
        ax.errorbar(pts[:, 3], pts[:, 1], xerr=pts[:, 4], yerr=pts[:, 2], fmt=style,
                    label=label, capsize=2, markersize=4)
    ax.errorbar([dense["mflops"]], [dense["accuracy"]], yerr=[dense["accuracy_sd"]], fmt="k*",
                markersize=12, label="dense ViT")
    ax.axhline(dense["accuracy"] - 1.0, color="grey", linewidth=0.8, linestyle="--",
               label="dense - 1 point")
    ax.set_xlabel("MFLOPs per image (multiply-add = 2)")
    ax.set_ylabel("test accuracy (%)")
    ax.set_ylim(max(60.0, ax.get_ylim()[0]), None)
    ax.set_title("Fashion-MNIST ViT: accuracy against compute (mean ± std over seeds)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(f"{out_dir}/acm_fmnist.png", dpi=120)


def maps(rows):
    """budget -> [blocks, tokens] mean learner counts, averaged over seeds."""
    out = {}
    for beta, rs in rows["map"].items():
        blocks = sorted({int(r[1]) for r in rs})
        out[float(beta)] = np.array([
            np.mean([[float(v) for v in r[2].split(";")] for r in rs if int(r[1]) == b], axis=0)
            for b in blocks])
    return dict(sorted(out.items()))


def map_table(per_budget):
    print("| beta | block | class token | patches: mean (min – max) |")
    print("|---:|---:|---:|---|")
    for beta, m in per_budget.items():
        for b, counts in enumerate(m):
            patches = counts[1:]
            print(f"| {beta:g} | {b} | {counts[0]:.2f} | {patches.mean():.2f} "
                  f"({patches.min():.2f} – {patches.max():.2f}) |")
    print()


def plot_maps(per_budget, learners, out_dir):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    betas = list(per_budget)
    blocks = per_budget[betas[0]].shape[0]
    fig, axes = plt.subplots(len(betas), blocks, figsize=(2.2 * blocks, 2.2 * len(betas)),
                             squeeze=False)
    for i, beta in enumerate(betas):
        for b in range(blocks):
            counts = per_budget[beta][b]
            ax = axes[i][b]
            im = ax.imshow(counts[1:].reshape(GRID, GRID), vmin=0, vmax=learners,
                           cmap="viridis")
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(f"beta {beta:g}, block {b}\nclass token {counts[0]:.2f}", fontsize=8)
    fig.colorbar(im, ax=axes, shrink=0.6, label="mean learners run")
    fig.suptitle("Learners per 7 x 7 patch (test images, mean over images and seeds)",
                 fontsize=10)
    fig.savefig(f"{out_dir}/acm_fmnist_map.png", dpi=120, bbox_inches="tight")


def main():
    rows = load(sys.argv[1])
    moe = load(sys.argv[3]) if len(sys.argv) > 3 else None
    seeds = sorted({r[0] for rs in rows["dense"].values() for r in rs})
    dense = dense_point(rows)
    print(f"{len(seeds)} seeds ({', '.join(map(str, seeds))}); mean ± std.\n")
    print(f"Dense ViT: {fmt(dense['accuracy'], dense['accuracy_sd'])} % at "
          f"{dense['mflops']:.3f} MFLOPs per image ({dense['ffn']:.3f} in the MLPs).\n")
    if moe:
        same = sorted(dense_point(moe).items()) == sorted(dense.items())
        print("The D2DMoE run's dense models " + ("are" if same else "are NOT") +
              " these (same accuracies and FLOPs).\n")
    fixed_table(rows, dense)
    budget_table(rows, dense)
    verdict(rows, moe, dense)
    per_budget = maps(rows)
    map_table(per_budget)
    learners = int(max(float(s) for s in rows["acm_fixed"]))
    plot(rows, moe, dense, sys.argv[2])
    plot_maps(per_budget, learners, sys.argv[2])


if __name__ == "__main__":
    main()
