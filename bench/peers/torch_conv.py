#!/usr/bin/python3
"""PyTorch side of bench/run_conv.sh: the convolutions of bench/bench_conv.c (the early-exit
CNN's ten layers), each as torch.nn.functional.conv2d without bias under inference_mode,
timed the same way: one warm-up call per layer, then ROUNDS rounds that interleave the layers,
the median per layer.

  torch_conv.py [--threads N] [--batch B] [--rounds R]

Prints one line per layer in bench_conv's format:
  result impl=pytorch layer=NAME batch=B ms=MEDIAN gmacs=MULTIPLY-ADDS/S
"""
import argparse
import statistics
import time

import torch
import torch.nn.functional as F

# Keep in step with bench/bench_conv.c: name, in, out, size, kernel, stride.
LAYERS = [
    ("stem", 1, 16, 28, 3, 1), ("stage1.conv1", 16, 16, 28, 3, 2),
    ("stage1.conv2", 16, 16, 14, 3, 1), ("stage1.shortcut", 16, 16, 28, 1, 2),
    ("stage2.conv1", 16, 32, 14, 3, 2), ("stage2.conv2", 32, 32, 7, 3, 1),
    ("stage2.shortcut", 16, 32, 14, 1, 2), ("stage3.conv1", 32, 64, 7, 3, 2),
    ("stage3.conv2", 64, 64, 4, 3, 1), ("stage3.shortcut", 32, 64, 7, 1, 2),
]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--rounds", type=int, default=41)
    args = ap.parse_args()
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    cases = []
    for name, cin, cout, size, k, s in LAYERS:
        w = (torch.rand(cout, cin, k, k) - 0.5) * 0.2
        x = (torch.rand(args.batch, cin, size, size) - 0.5) * 2.0
        out = (size + 2 * (k // 2) - k) // s + 1
        macs = args.batch * cout * cin * k * k * out * out
        cases.append((name, w, x, k, s, macs))
    times = {c[0]: [] for c in cases}
    with torch.inference_mode():
        for name, w, x, k, s, _ in cases:
            F.conv2d(x, w, None, s, k // 2)
        for _ in range(args.rounds):
            for name, w, x, k, s, _ in cases:
                start = time.perf_counter()
                F.conv2d(x, w, None, s, k // 2)
                times[name].append(time.perf_counter() - start)
    for name, _, _, _, _, macs in cases:
        median = statistics.median(times[name])
        print(f"result impl=pytorch layer={name} batch={args.batch} ms={1e3 * median:.4f} "
              f"gmacs={macs / median / 1e9:.2f}")


if __name__ == "__main__":
    main()
