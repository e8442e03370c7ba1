#!/usr/bin/python3
"""The tables of examples/pipeline/inspection_fmnist.py: per stage the mIoU on true inputs and
in the pipeline, with stage 1 as trained (masked), unmasked and swapped for the narrow U-Net;
per stage the milliseconds per scene and the model's FLOPs per input. Mean ± std over runs.

usage: summarize_pipeline.py results.jsonl
"""
import json
import sys

import numpy as np

STAGES = ["foreground", "items", "defects", "damage"]


def fmt(values, scale=100.0, digits=1):
    v = scale * np.asarray(values, dtype=float)
    return f"{v.mean():.{digits}f} ± {v.std():.{digits}f}" if len(v) > 1 else \
        f"{v.mean():.{digits}f}"


def main():
    runs = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
    r0 = runs[0]
    print(f"{len(runs)} run(s), seeds {[r['seed'] for r in runs]}; {r0['train_scenes']} "
          f"training and {r0['test_scenes']} test scenes, {r0['epochs']} epochs, U-Net width "
          f"{r0['width']}\n")
    print("| stage | mIoU alone (true inputs) | mIoU in the pipeline | pipeline, stage 1 "
          "swapped | ms per scene | ms swapped | MFLOPs per input |\n"
          "|---|---:|---:|---:|---:|---:|---:|")
    for s in STAGES:
        alone = fmt([r["alone"][s] for r in runs]) if s in r0["alone"] else \
            f"{fmt([r['alone']['damage_accuracy'] for r in runs])} (item accuracy)"
        print(f"| {s} | {alone} | {fmt([r['pipeline'][s] for r in runs])} | "
              f"{fmt([r['swapped'][s] for r in runs])} | "
              f"{fmt([r['seconds'][s] for r in runs], 1e3, 2)} | "
              f"{fmt([r['swapped_seconds'][s] for r in runs], 1e3, 2)} | "
              f"{fmt([r['flops'][s] for r in runs], 1e-6, 2)} |")
    print(f"\nThe narrow stage 1 runs {fmt([r['swapped_items_flops'] for r in runs], 1e-6, 2)} "
          "MFLOPs per scene.")
    print("Stage 1 (items) alone, on true inputs: masked "
          f"{fmt([r['alone']['items'] for r in runs])}, unmasked "
          f"{fmt([r['alone']['items_unmasked'] for r in runs])}, narrow (masked) "
          f"{fmt([r['alone']['items_narrow'] for r in runs])} mIoU.")
    print("Training seconds: " + ", ".join(
        f"{k} {np.mean([r['train_seconds'][k] for r in runs]):.0f}"
        for k in r0["train_seconds"]))


if __name__ == "__main__":
    main()
