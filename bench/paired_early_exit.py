"""Paired passes of two builds of bench_early_exit: is the new build slower anywhere?

    /usr/bin/python3 bench/paired_early_exit.py OLD_BUILD NEW_BUILD [pairs] [threads]

Each pair runs one round of the old build's bench_early_exit and one of the new build's, in
alternating order, on the checkpoints bench/run_early_exit.sh trained (NEW_BUILD/bench/
early_exit/{cnn,vit}.safetensors). From each run it takes every row's time: the backbone pass,
each threshold's early-exit pass (backbone time / measured speedup) and each head's path
(its time as a share of the backbone's). It prints, per row, the median over pairs of old
time / new time: above 1 the new build is faster. A slow spell of the machine hits both runs
of a pair alike, which is what makes differences of a few per cent visible here.
"""
import os
import re
import statistics
import subprocess
import sys

DATA = os.environ.get("FMNIST_DIR", "/usr/share/datasets/fashion-mnist")


def row_times(text):
    """{row name: seconds} of one run's output."""
    times, batch, backbone = {}, None, None
    for line in text.splitlines():
        m = re.match(r"batch (\d+), .* backbone pass ([\d.]+) ms", line)
        if m:
            batch, backbone = int(m.group(1)), float(m.group(2))
            times[f"batch {batch} backbone"] = backbone
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if batch is None or len(cells) < 3 or not cells[0]:
            continue
        if len(cells) == 5 and re.match(r"^[\d.]+$", cells[0]):
            times[f"batch {batch} threshold {cells[0]}"] = backbone / float(cells[3])
        elif cells[0].startswith("head "):
            times[f"batch {batch} {cells[0]} path"] = backbone * float(cells[2]) / 100.0
    return times


def run(build, checkpoint, threads):
    bench = os.path.join(build, "bench", "bench_early_exit")
    out = subprocess.run([bench, "-t", str(threads), "-r", "1", checkpoint,
                          os.path.join(DATA, "t10k-images-idx3-ubyte.gz"),
                          os.path.join(DATA, "t10k-labels-idx1-ubyte.gz")],
                         check=True, capture_output=True, text=True).stdout
    return row_times(out)


def main():
    old, new = sys.argv[1], sys.argv[2]
    pairs = int(sys.argv[3]) if len(sys.argv) > 3 else 15
    threads = int(sys.argv[4]) if len(sys.argv) > 4 else 2
    worst = None
    for arch in ("cnn", "vit"):
        checkpoint = os.path.join(new, "bench", "early_exit", f"{arch}.safetensors")
        ratios = {}
        for p in range(pairs):
            order = (old, new) if p % 2 == 0 else (new, old)
            got = {build: run(build, checkpoint, threads) for build in order}
            for row, t_new in got[new].items():
                ratios.setdefault(row, []).append(got[old][row] / t_new)
            print(f"{arch}: pair {p + 1}/{pairs}", file=sys.stderr)
        print(f"\n{arch}, {pairs} pairs, {threads} threads: median old time / new time")
        print("| row | ratio | range |\n|---|---:|---|")
        for row, values in ratios.items():
            median = statistics.median(values)
            worst = median if worst is None else min(worst, median)
            print(f"| {row} | {median:.3f} | {min(values):.3f}-{max(values):.3f} |")
    print(f"\nlowest median ratio: {worst:.3f}")


if __name__ == "__main__":
    main()
