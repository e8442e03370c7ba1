#!/usr/bin/python3
"""The picture of bench/run_merge.sh: merging time and added peak heap against the number
of sources, one line per method.

    bench/run_merge.sh build 784 256 10 | tee merge.txt
    bench/plot_merge.py merge.txt docs/images/merge_sources.png
"""
import sys
from collections import defaultdict

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

LABELS = {"tune_singular_values": "singular-value preparation", "axis": "AXIS merge",
          "task_arithmetic": "task arithmetic", "ties": "TIES"}


def tables(lines):
    """{column name: {method: [(sources, value)]}} of run_merge.sh's two tables."""
    out, column, title = {}, None, ""
    for line in lines:
        words = line.split()
        if line.startswith("#"):
            title = line[1:].strip()
        elif words[:2] == ["method", "sources"]:
            column = " ".join(words[2:])
            out[column] = defaultdict(list)
        elif column and len(words) == 3 and words[0] in LABELS:
            out[column][words[0]].append((int(words[1]), float(words[2])))
    return out, title


def main():
    with open(sys.argv[1]) as f:
        data, title = tables(f)
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, (column, label, scale) in zip(axes, (("seconds", "time per call (s)", 1.0),
                                                 ("peak KiB", "added peak heap (MiB)", 1024.0))):
        for method, points in data[column].items():
            n, v = zip(*points)
            ax.plot(n, [x / scale for x in v], marker="o", label=LABELS[method])
        ax.set_xlabel("sources")
        ax.set_ylabel(label)
        ax.set_xticks([1, 2, 4, 8, 16])
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
    axes[0].legend()
    fig.suptitle(f"Merging against the number of sources ({title})")
    fig.tight_layout()
    fig.savefig(sys.argv[2], dpi=100)


if __name__ == "__main__":
    main()
