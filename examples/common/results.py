"""What the summaries of the Fashion-MNIST reproductions share (examples/moe, examples/acm):
their CSV rows seed,method,setting,accuracy,mflops,ffn_mflops, grouped and averaged over
seeds."""
import csv
from collections import defaultdict

import numpy as np


def load(path):
    rows = defaultdict(lambda: defaultdict(list))  # method -> setting -> [row]
    with open(path) as f:
        for seed, method, setting, accuracy, mflops, ffn in csv.reader(f):
            rows[method][setting].append((int(seed), accuracy, mflops, ffn))
    return rows


def stats(rows, column):
    values = np.array([float(r[column]) for r in rows])
    return values.mean(), values.std()


def fmt(mean, std, digits=2):
    return f"{mean:.{digits}f} ± {std:.{digits}f}"


def points(rows, method):
    """(setting, accuracy mean, std, mflops mean, std, ffn mean) per setting."""
    out = []
    for setting, rs in rows[method].items():
        acc, mfl = stats(rs, 1), stats(rs, 2)
        ffn = stats(rs, 3)[0] if rs[0][3] else float("nan")
        out.append((float(setting), *acc, *mfl, ffn))
    return sorted(out)


def cheapest_within(pts, floor):
    """The cheapest point whose mean accuracy is at least floor, or None."""
    fits = [p for p in pts if p[1] >= floor]
    return min(fits, key=lambda p: p[3]) if fits else None


def dense_point(rows):
    """The dense model's accuracy (mean, std), MFLOPs and FFN MFLOPs per image."""
    (d,) = rows["dense"].values()
    acc, acc_sd = stats(d, 1)
    return {"accuracy": acc, "accuracy_sd": acc_sd, "mflops": stats(d, 2)[0],
            "ffn": stats(d, 3)[0]}
