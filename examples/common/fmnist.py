"""What the Python Fashion-MNIST experiments share: the data as numpy arrays, and their
results kept as one JSON line per run. The caller has put the bindings on sys.path."""
import json
import os
from pathlib import Path

import libadapt as ad


def load_fmnist(flat=True):
    """(train_x, train_y, test_x, test_y) from $FMNIST_DIR or Debian's dataset-fashion-mnist:
    pixels in [0, 1], [N, 784] when flat, else [N, 1, 28, 28]."""
    directory = Path(os.environ.get("FMNIST_DIR", "/usr/share/datasets/fashion-mnist"))

    def part(prefix):
        ds = ad.Dataset.load_idx(directory / f"{prefix}-images-idx3-ubyte.gz",
                                 directory / f"{prefix}-labels-idx1-ubyte.gz")
        return (ds.features.reshape(len(ds), -1) if flat else ds.features), ds.labels

    return (*part("train"), *part("t10k"))


def results_file(out_dir):
    """OUT_DIR/results.jsonl, opened for appending (the directory made if need be)."""
    os.makedirs(out_dir, exist_ok=True)
    return open(Path(out_dir) / "results.jsonl", "a")


def append_runs(run, seeds, data, args):
    """run(seed, data, args) for each seed, each result appended to args.out/results.jsonl
    as it comes."""
    with results_file(args.out) as out:
        for seed in seeds:
            print(f"seed {seed}", flush=True)
            out.write(json.dumps(run(seed, data, args)) + "\n")
            out.flush()
