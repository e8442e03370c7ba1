#!/usr/bin/python3
"""Hidden states exported from a PyTorch model into a probe (docs/probes.md): the last
token's hidden state after every layer of a transformer, written as one safetensors file
and read back by the library.

    export_torch_features.py [--layers 4] [--out features.safetensors]

A language model's probe is trained the same way, on prompts labelled safe (0) or unsafe
(1); with Hugging Face transformers the hidden states come from

    out = model(**tokenizer(prompts, return_tensors="pt", padding=True),
                output_hidden_states=True)
    states = [h[:, -1] for h in out.hidden_states[1:]]   # the last token, per layer

(left padding, so that the last position is each prompt's last token). No such model ships
with Debian, so this example makes its own stand-in: a small randomly initialised
transformer encoder over token sequences, where a sequence is "flagged" when it holds token
7 anywhere. The file holds "layer.0" ... "layer.L-1" ([N, width] each) and "labels";
the probe is fitted on the first half of the rows and scored on the second.
"""
import argparse
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bindings" / "python"))
import libadapt as ad  # noqa: E402

VOCAB, LENGTH, WIDTH = 32, 12, 64


def stand_in_model(layers, seed):
    torch.manual_seed(seed)
    embed = torch.nn.Embedding(VOCAB, WIDTH)
    layer = torch.nn.TransformerEncoderLayer(WIDTH, nhead=4, dim_feedforward=128,
                                             batch_first=True)
    return embed, torch.nn.TransformerEncoder(layer, num_layers=layers).eval()


def last_token_states(embed, encoder, tokens):
    """[layers] arrays [N, WIDTH]: the last position's output of every encoder layer,
    caught by forward hooks."""
    states = []
    hooks = [m.register_forward_hook(lambda _m, _in, out: states.append(out[:, -1].clone()))
             for m in encoder.layers]
    with torch.no_grad():
        encoder(embed(tokens))
    for h in hooks:
        h.remove()
    return [s.numpy().astype(np.float32) for s in states]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--samples", type=int, default=4000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="features.safetensors")
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    tokens = rng.integers(8, VOCAB, size=(args.samples, LENGTH))
    labels = (rng.random(args.samples) < 0.3).astype(np.int32)
    tokens[labels == 1, rng.integers(0, LENGTH, size=int(labels.sum()))] = 7
    embed, encoder = stand_in_model(args.layers, args.seed)
    states = last_token_states(embed, encoder, torch.as_tensor(tokens))
    tensors = {f"layer.{i}": s for i, s in enumerate(states)}
    tensors["labels"] = labels.astype(np.float32)
    ad.save_safetensors(tensors, args.out)
    print(f"wrote {args.out}: {args.layers} layers of [{args.samples}, {WIDTH}]")

    # What a user of the library does with such a file.
    layers = [ad.read_safetensors(args.out, f"layer.{i}") for i in range(args.layers)]
    y = ad.read_safetensors(args.out, "labels").astype(np.int32)
    half = args.samples // 2
    from sklearn.metrics import roc_auc_score
    probe = ad.Probe.fit([x[:half] for x in layers], y[:half])
    combined, per_layer = probe.score([x[half:] for x in layers], per_layer=True)
    for i in range(args.layers):
        print(f"layer {i}: AUROC {roc_auc_score(y[half:], per_layer[:, i]):.4f}, "
              f"weight in the combination {probe.combination[i]:+.2f}")
    print(f"combined: AUROC {roc_auc_score(y[half:], combined):.4f}")


if __name__ == "__main__":
    main()
