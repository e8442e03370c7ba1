#!/usr/bin/python3
"""PyTorch side of the model benchmark (bench/run_models.sh): the same MLP and ViT as
bench/bench_models.c, measured the same way, and the files that let libadapt and ONNX Runtime
run the very same weights.

  torch_models.py export DIR
      writes DIR/{mlp,vit}.safetensors (parameters under their state_dict names, which
      libadapt's adapt_model_load_weights reads) and DIR/{mlp,vit}.onnx (torch.onnx.export,
      opset 17, batch axis dynamic), from seeded PyTorch initialisations.

  torch_models.py run MODEL MODE [--threads N] [--weights FILE] [--warmup W] [--rounds R]
                                 [--seconds S] [--batch B]
      MODEL mlp | vit | vit12 | vit-large (as bench/bench_models.h); MODE train128 (AdamW step with zero_grad, forward, cross-entropy,
      backward, update) | infer1 | infer256 (forward under torch.inference_mode, eval mode).
      W untimed warm-up iterations, then timed ones until at least R and S seconds; prints the
      upper median in the "result key=value ..." line bench_models prints, with the peak RSS
      of this process. B replaces the mode's batch size.

The models are the PyTorch twins of docs/models.md, taken from its code blocks (as
tests/parity/check_names.py does), so they are by construction the ones whose names, shapes and
logits the parity test checks against libadapt. Set OMP_NUM_THREADS / MKL_NUM_THREADS to the
thread count before starting Python; `--threads` also calls torch.set_num_threads.
"""
import argparse
import json
import os
import re
import resource
import struct
import sys
import time

import torch
import torch.nn.functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MLP_SIZES = [784, 1024, 1024, 1024, 10]
VIT = dict(image_size=32, in_channels=3, patch=4, dim=192, depth=6, heads=3, mlp_ratio=4.0,
           n_classes=10)
VITS = {"vit": VIT, "vit12": dict(VIT, depth=12), "vit-large": dict(VIT, dim=384, depth=12, heads=6)}
BATCH = {"train128": 128, "infer1": 1, "infer256": 256}
MAX_ROUNDS = 10000


def load_twins():
    """The namespace of docs/models.md's Python code blocks."""
    with open(os.path.join(ROOT, "docs", "models.md")) as f:
        code = "\n\n".join(re.findall(r"```python\n(.*?)```", f.read(), re.S))
    namespace = {}
    exec(compile(code, "docs/models.md", "exec"), namespace)
    return namespace


def create_model(name):
    twins = load_twins()
    if name == "mlp":
        return twins["MLP"](MLP_SIZES, "relu", 0.0)
    return twins["ViT"](**VITS[name])


def input_shape(name, batch):
    return [batch, MLP_SIZES[0]] if name == "mlp" else [batch, 3, 32, 32]


def write_safetensors(path, tensors):
    """Float32 tensors in the safetensors layout: 8-byte length, JSON header, raw data."""
    header, offset, blobs = {}, 0, []
    for name, t in tensors.items():
        data = t.detach().to(torch.float32).contiguous().numpy().tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
        blobs.append(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for data in blobs:
            f.write(data)


def read_safetensors(path):
    with open(path, "rb") as f:
        size = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(size))
        data = f.read()
    header.pop("__metadata__", None)
    out = {}
    for name, entry in header.items():
        begin, end = entry["data_offsets"]
        values = torch.frombuffer(bytearray(data[begin:end]), dtype=torch.float32)
        out[name] = values.reshape(entry["shape"])
    return out


def export(directory):
    os.makedirs(directory, exist_ok=True)
    for seed, name in enumerate(["mlp", "vit"], start=1):
        torch.manual_seed(seed)
        model = create_model(name).eval()
        write_safetensors(os.path.join(directory, f"{name}.safetensors"), model.state_dict())
        example = torch.rand(input_shape(name, 2))
        torch.onnx.export(model, example, os.path.join(directory, f"{name}.onnx"),
                          input_names=["x"], output_names=["logits"], opset_version=17,
                          dynamic_axes={"x": {0: "batch"}, "logits": {0: "batch"}})
        print(f"wrote {directory}/{name}.safetensors and {name}.onnx", file=sys.stderr)


def make_step(model, mode, x, labels):
    """The timed iteration of a mode."""
    if mode == "train128":
        model.train()
        # foreach: the multi-tensor update, PyTorch's default from 2.0 on.
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, foreach=True)

        def step():
            optimizer.zero_grad()
            F.cross_entropy(model(x), labels).backward()
            optimizer.step()
        return step
    model.eval()

    def forward():
        with torch.inference_mode():
            model(x)
    return forward


def time_step(step, warmup, min_rounds, seconds):
    """Seconds per timed iteration, after `warmup` untimed ones."""
    for _ in range(warmup):
        step()
    samples, start = [], time.perf_counter()
    while len(samples) < MAX_ROUNDS and (
            len(samples) < min_rounds or time.perf_counter() - start < seconds):
        t0 = time.perf_counter()
        step()
        samples.append(time.perf_counter() - t0)
    return samples


def run(args):
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = create_model(args.model)
    if args.weights:
        model.load_state_dict(read_safetensors(args.weights))
    batch = args.batch or BATCH[args.mode]
    x = torch.rand(input_shape(args.model, batch))
    labels = torch.arange(batch) % 10
    samples = time_step(make_step(model, args.mode, x, labels), args.warmup, args.rounds,
                        args.seconds)
    median = sorted(samples)[len(samples) // 2]
    rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(f"result impl=pytorch model={args.model} mode={args.mode} "
          f"threads={torch.get_num_threads()} batch={batch} rounds={len(samples)} "
          f"median_ms={1e3 * median:.4f} samples_per_s={batch / median:.2f} "
          f"rss_mib={rss_mib:.1f}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    ex = sub.add_parser("export")
    ex.add_argument("directory")
    r = sub.add_parser("run")
    r.add_argument("model", choices=["mlp"] + sorted(VITS))
    r.add_argument("mode", choices=sorted(BATCH))
    r.add_argument("--threads", type=int, default=0)
    r.add_argument("--weights")
    r.add_argument("--warmup", type=int, default=2)
    r.add_argument("--rounds", type=int, default=5)
    r.add_argument("--seconds", type=float, default=3.0)
    r.add_argument("--batch", type=int, default=0)
    args = parser.parse_args()
    if args.command == "export":
        export(args.directory)
    else:
        run(args)


if __name__ == "__main__":
    main()
