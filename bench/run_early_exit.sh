#!/bin/sh
# Early-exit speed on Fashion-MNIST: trains (once) a CNN with SDN heads and a ViT with
# class-token heads in the mixed regime, then runs bench_early_exit on each: measured against
# FLOP-counted speedup of early-stopping inference over the backbone, batch 256 and batch 1.
# Medians of 15 interleaved rounds: a batch-1 pass lasts some 30 ms, and with 7 rounds a slow
# spell of a shared machine moved single rows by 0.15.
#
#   bench/run_early_exit.sh [threads] [build-dir]      defaults: 2, <repo>/build
#
# Checkpoints and logs go to <build-dir>/bench/early_exit; delete them to retrain.
set -eu
threads=${1:-2}
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${2:-$here/../build}" && pwd)
data=${FMNIST_DIR:-/usr/share/datasets/fashion-mnist}
work=$build/bench/early_exit
mkdir -p "$work"
ninja -C "$build" bench/bench_early_exit examples/early_exit_fmnist > /dev/null
echo "2 threads unless told; load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
for arch in cnn vit; do
    checkpoint=$work/$arch.safetensors
    if [ ! -s "$checkpoint" ]; then
        echo "training $arch (mixed regime, 2 + 2 epochs, 20000 images) ..." >&2
        "$build/examples/early_exit_fmnist" "$arch" mixed 1 "$work/$arch.json" 2 2 "$threads" \
            20000 "$checkpoint" > "$work/$arch-train.log"
    fi
    "$build/bench/bench_early_exit" -t "$threads" -r 15 "$checkpoint" \
        "$data/t10k-images-idx3-ubyte.gz" "$data/t10k-labels-idx1-ubyte.gz"
done
