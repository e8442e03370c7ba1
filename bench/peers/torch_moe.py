"""PyTorch side of the Mixture-of-Experts benchmark (bench/run_moe.sh): the reference CPU path
of a dynamic-k MoE layer (router, per-expert gather, two matmuls, index_add), on the weights
and inputs bench_moe exports, against the dense network those experts were split from.

    torch_moe.py DIR THREADS SECONDS TAU...

DIR holds moe<b>.safetensors and inputs<b>.npy for the six layers. For each tau, prints a
"result" line with the six layers' median milliseconds, MoE and dense, and the measured and
FLOP-counted speed-ups, FLOPs counted as bench_moe counts them.
"""
import json
import struct
import sys
import time

import numpy as np
import torch

DEPTH = 6


def read_safetensors(path):
    with open(path, "rb") as f:
        (size,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(size))
        data = f.read()
    tensors = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        begin, end = entry["data_offsets"]
        array = np.frombuffer(data[begin:end], dtype=np.float32).reshape(entry["shape"])
        tensors[name] = torch.from_numpy(array.copy())
    return tensors


class Layer:
    def __init__(self, weights, x):
        w = {k.split(".", 1)[1]: v for k, v in weights.items()}  # drop the module's "0."
        self.w1, self.b1, self.w2 = w["experts.w1"], w["experts.b1"], w["experts.w2"]
        self.bias, self.r1, self.r2 = w["last_bias"], w["router.0.weight"], w["router.2.weight"]
        self.experts, self.dim, self.width = self.w1.shape
        self.x = torch.from_numpy(x.reshape(-1, self.dim).copy())
        # The dense network the experts came from: their blocks side by side.
        self.dense1 = self.w1.permute(1, 0, 2).reshape(self.dim, -1).contiguous()
        self.dense_b1 = self.b1.reshape(-1)
        self.dense2 = self.w2.reshape(-1, self.w2.shape[2]).contiguous()

    def route(self, tau):
        g = (torch.relu(self.x @ self.r1.T) @ self.r2.T).abs()
        return g >= tau * g.max(dim=1, keepdim=True).values

    def moe(self, tau):
        x = self.x
        chosen = self.route(tau) if tau > 0 else None
        y = self.bias.expand(x.shape[0], -1).clone()
        for e in range(self.experts):
            if chosen is None:
                h = torch.relu(x @ self.w1[e] + self.b1[e])
                y += h @ self.w2[e]
                continue
            idx = chosen[:, e].nonzero().squeeze(1)
            if idx.numel() == 0:
                continue
            h = torch.relu(x.index_select(0, idx) @ self.w1[e] + self.b1[e])
            y.index_add_(0, idx, h @ self.w2[e])
        return y

    def dense(self):
        return torch.relu(self.x @ self.dense1 + self.dense_b1) @ self.dense2 + self.bias

    def flops(self, tau):
        """(MoE, dense) FLOPs on the layer's tokens: the router when it runs, each executed
        (token, expert) pair, multiply-add = 2."""
        tokens = self.x.shape[0]
        expert = 2 * (self.dim * self.width + self.width * self.w2.shape[2])
        dense = expert * self.experts * tokens
        if tau == 0:
            return dense, dense
        router = 2 * (self.dim * self.r1.shape[0] + self.r1.shape[0] * self.experts) * tokens
        return router + expert * int(self.route(tau).sum()), dense


def median_ms(fn, seconds):
    fn(), fn()
    times, start = [], time.perf_counter()
    while len(times) < 5 or time.perf_counter() - start < seconds:
        t0 = time.perf_counter()
        fn()
        times.append(1e3 * (time.perf_counter() - t0))
    return float(np.median(times))


def main():
    directory, threads, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    taus = [float(t) for t in sys.argv[4:]]
    torch.set_num_threads(threads)
    layers = [Layer(read_safetensors(f"{directory}/moe{b}.safetensors"),
                    np.load(f"{directory}/inputs{b}.npy")) for b in range(DEPTH)]
    with torch.inference_mode():
        dense_ms = median_ms(lambda: [l.dense() for l in layers], seconds)
        for tau in taus:
            moe_ms = median_ms(lambda: [l.moe(tau) for l in layers], seconds)
            moe_flops, dense_flops = map(sum, zip(*(l.flops(tau) for l in layers)))
            print(f"result impl=torch tau={tau:g} threads={threads} layers_ms={moe_ms:.4f} "
                  f"dense_layers_ms={dense_ms:.4f} layers_counted={dense_flops / moe_flops:.4f} "
                  f"layers_measured={dense_ms / moe_ms:.4f}", flush=True)


if __name__ == "__main__":
    main()
